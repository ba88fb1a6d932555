"""Disclosure control: the one gate every published table passes through.

A table is a tidy frame: group-key columns, a count column ``n`` (cases in the group) and
estimate columns (rates, proportions, survival, medians, their confidence limits) that are
built on those cases. Rules (DESIGN.md §5; k, symbol and labels from the ``disclosure:``
section of data_dictionary/registry.yaml):

Primary suppression
    A count between 1 and k-1 is masked, and so is every estimate built on it. An estimate
    whose own base count (e.g. the cases with both dates of a lead time) lies in 1..k-1 is
    masked too. Zero counts are shown.

Secondary (complementary) suppression
    Rows whose key column holds the *total marker* (null by default) are margins: the sum
    of the rows that agree on every other key and hold any other value in that column.
    Several marked columns give linked and hierarchical tables (counties within regions
    and a national row, sexes and their total, hospitals within a region). Within every
    such margin group (the margin row plus its members)

    - a single masked cell would follow by subtraction, so the next smallest member is
      masked as well;
    - when the margin is shown, its masked members must together hold at least k cases,
      otherwise their joint count is itself a small count (and a joint count of 0 would
      reveal every masked member as 0);

    then every masked count is checked against the whole system of margin equations: a
    cell whose value is fixed by the visible cells (its unit vector lies in the row space
    of the equations restricted to the masked cells), or a pair of masked cells whose
    joint count is fixed at 1..k-1, gets a further complement, and the procedure repeats
    until stable. Counts are not negative: masked cells that a shown margin fixes at 0
    count as known. This is the classical cell-suppression heuristic (Cox,
    1980, "Properties of the sensitive-cell suppression problem"; Hundepool et al. 2012,
    "Statistical Disclosure Control", ch. 4) with an exact linear audit instead of a
    group-wise one. It protects against exact derivation by subtraction, not against the
    interval bounds a linear-programming attack could give. A table with no small cell
    is returned unchanged apart from the flag column.

With ``external_margins=True`` margins missing from the table are taken as published
elsewhere (e.g. the national figure in another table): they constrain the suppression
like visible cells but are never chosen as complements, since this table cannot hide
them.

Masked values become null; the column ``suppressed`` says why ("primary", "secondary",
or "estimate" when only estimates are masked) so renderers print the symbol and
:func:`footnote`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from analysis.data import dictionary
from analysis.data.dictionary import DictionaryError
from analysis.errors import UserError
from analysis.privacy.margins import Table, derivable

FLAG = "suppressed"
PRIMARY, SECONDARY, ESTIMATE = "primary", "secondary", "estimate"
LINKED = "linked"


@dataclass(frozen=True)
class Rules:
    """The disclosure settings of the registry: threshold k, symbol and footnote labels."""

    k: int = 5
    symbol: str = "–"
    labels: tuple[tuple[str, str], ...] = (("label_en", "insufficient data"),)

    def label(self, lang: str = "sv") -> str:
        return dictionary.localized(dict(self.labels), "label", lang)


def rules() -> Rules:
    """The ``disclosure:`` settings of registry.yaml (defaults for keys not given)."""
    raw = dictionary.registry().get("disclosure") or {}
    k = raw.get("k", Rules.k)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise DictionaryError(f"registry.yaml: disclosure.k must be a whole number >= 1, not {k!r}")
    labels = dict(Rules.labels) | {key: str(v) for key, v in raw.items()
                                   if key.startswith("label_")}
    return Rules(k=k, symbol=str(raw.get("symbol", Rules.symbol)),
                 labels=tuple(sorted(labels.items())))


def footnote(lang: str = "sv", config: Rules | None = None) -> str:
    """The footnote explaining the suppression symbol, e.g. ``– otillräckligt underlag``."""
    r = config or rules()
    return f"{r.symbol} {r.label(lang)}"


# --- drawing figures -----------------------------------------------------------------------

def min_group_size(kind: str) -> int:
    """The smallest group for which a figure element may be drawn.

    ``survival`` (a survival curve): ``survival.min_cases`` of registry.yaml;
    ``funnel`` (a funnel-plot point): ``disclosure.min_funnel_cases``, else k.
    """
    reg = dictionary.registry()
    if kind == "survival":
        return int((reg.get("survival") or {}).get("min_cases", rules().k))
    if kind == "funnel":
        return int((reg.get("disclosure") or {}).get("min_funnel_cases", rules().k))
    raise UserError(f"unknown figure kind '{kind}' (use survival or funnel)")


def may_draw(n: int | None, kind: str) -> bool:
    """Whether a survival curve or funnel point of a group of ``n`` cases may be drawn."""
    return n is not None and n >= min_group_size(kind)


def drawable(frame: pl.DataFrame, kind: str, n: str = "n") -> pl.Series:
    """Boolean Series, one per row: may this group's curve or funnel point be drawn."""
    return frame[n].fill_null(0).ge(min_group_size(kind)).alias("drawable")


# --- tables ------------------------------------------------------------------------------

def _spec(frame: pl.DataFrame, keys: Sequence[str], n: str,
          estimates: Sequence[str] | Mapping[str, str] | None,
          margins: Sequence[str] | Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    missing = [c for c in [*keys, n] if c not in frame.columns]
    if missing:
        raise UserError(f"disclosure control: table has no column {', '.join(missing)} "
                        f"(columns: {', '.join(frame.columns)})")
    if estimates is None:
        est = {c: n for c, t in frame.schema.items()
               if t.is_numeric() and c not in keys and c != n}
    elif isinstance(estimates, Mapping):
        est = dict(estimates)
    else:
        est = dict.fromkeys(estimates, n)
    totals = dict(margins) if isinstance(margins, Mapping) else dict.fromkeys(margins)
    for col in [*est, *est.values(), *totals]:
        if col not in frame.columns:
            raise UserError(f"disclosure control: table has no column '{col}'")
    bad = [c for c in totals if c not in keys]
    if bad:
        raise UserError(f"disclosure control: margin column(s) {', '.join(bad)} must be keys")
    if not frame[n].dtype.is_numeric():
        raise UserError(f"disclosure control: count column '{n}' must be numeric")
    nulls = frame[n].is_null() | frame[n].is_nan() if frame[n].dtype.is_float() \
        else frame[n].is_null()
    negative = frame[n] < 0
    for rule, mask in (("is empty", nulls), ("is negative", negative)):
        if mask.any():
            row = int(mask.arg_true()[0])
            where = ", ".join(f"{k}={frame[k][row]}" for k in keys)
            raise UserError(f"disclosure control: count '{n}' {rule} in row {row + 1} ({where})")
    if frame.select(keys).is_duplicated().any():
        raise UserError(f"disclosure control: key columns {', '.join(keys)} repeat a group")
    return est, totals


def _complement(table: Table, masked: list[bool], group: int, need_sum: bool) -> int | None:
    """The cell to mask next in a margin group: the smallest visible member, cells
    already linked to the group's masked ones first (a complement elsewhere needs its
    own), non-zero cells first (a masked zero protects little and must be protected
    itself), the margin only after the members."""
    return _choose(table, masked, group, _candidates(table, masked, group, need_sum))


def _candidates(table: Table, masked: list[bool], group: int, need_sum: bool) -> list[int]:
    """The cells of a group that may be masked as its complement, in the first class of
    the order of :func:`_complement`: non-zero before zero, members before the margin."""
    parent = table.groups[group][0]
    found = [i for i in table.cells[group] if i < table.real and not masked[i]
             and not (need_sum and table.values[i] == 0 and i != parent)]
    if not found:
        return found
    first = min((table.values[i] == 0, i == parent) for i in found)
    return [i for i in found if (table.values[i] == 0, i == parent) == first]


def _choose(table: Table, masked: list[bool], group: int, candidates: list[int]) -> int | None:
    """The complement among a group's :func:`_candidates`: those linked to its masked
    cells first (looked for only when there is a choice), then the smallest."""
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    near = _near(table, masked, [i for i in table.cells[group]
                                 if masked[i] and i not in table.free], group)
    return min(candidates, key=lambda i: (i not in near, table.values[i], i))


def _near(table: Table, masked: list[bool], start: list[int], group: int) -> set[int]:
    """The cells of the other groups reached from ``start`` through masked non-zero
    cells: masking one of them lets the masked cells share their slack there."""
    seen, frontier, near, done = set(start), list(start), set(), {group}
    while frontier:
        for g in set(table.groups_of[frontier.pop()]) - done:
            done.add(g)
            for i in (table.groups[g][0], *table.groups[g][1]):
                if not masked[i]:
                    near.add(i)
                elif i not in seen and table.values[i] != 0:
                    seen.add(i)
                    frontier.append(i)
    return near


def _group_needs(table: Table, masked: list[bool], group: int, k: int) -> tuple[bool, bool]:
    """(needs another masked cell, because of the joint-count rule)."""
    parent, members = table.groups[group]
    hidden = [i for i in members if masked[i]]
    if all(i in table.free for i in hidden) and (not masked[parent] or parent in table.free):
        return False, False
    count = len(hidden) + masked[parent]
    if count == 1:
        return True, False
    if count and not masked[parent] and sum(table.values[i] for i in hidden) < k:
        return True, True
    return False, False


def _secondary(table: Table, masked: list[bool], k: int,
               links: Sequence[tuple[int, Sequence[int]]] = ()) -> None:
    """Add complementary suppressions in place until no masked cell can be derived;
    ``links``: (cell, cells masked whenever it is), applied after every change so that
    linked cells follow the final masking, not a first guess of it.

    The margin groups are looked at in their order, pass after pass, until a pass masks
    nothing. Whether a group needs a complement depends on its own cells only, so a pass
    looks only at the groups with a cell masked since they were last looked at: the same
    complements, in the same order, as looking at every group."""
    todo = set(range(len(table.groups)))
    while True:
        changed = True
        while changed:
            added = _follow(links, masked)
            changed = bool(added)
            todo.update(g for i in added for g in table.groups_of[i])
            queue, todo = sorted(todo), set()
            queued = set(queue)
            while queue:
                g = heapq.heappop(queue)
                need, need_sum = _group_needs(table, masked, g, k)
                while need:
                    pick = _complement(table, masked, g, need_sum)
                    if pick is None:
                        break
                    masked[pick] = changed = True
                    for h in table.groups_of[pick]:
                        if h < g:
                            todo.add(h)  # looked at in the next pass
                        elif h > g and h not in queued:
                            queued.add(h)
                            heapq.heappush(queue, h)
                    need, need_sum = _group_needs(table, masked, g, k)
        # One complement per linked set per round: sets do not affect each other.
        picks = set()
        for fixed in derivable(table, masked, k):
            for j in fixed:
                pick = _reach(table, masked, j)
                if pick is not None:
                    picks.add(pick)
                    break
        if not picks:
            return
        for pick in picks:
            masked[pick] = True
            todo.update(table.groups_of[pick])


def _follow(links: Sequence[tuple[int, Sequence[int]]], masked: list[bool]) -> set[int]:
    """Mask the linked cells of every masked cell, in place; the cells added."""
    added = {i for cell, others in links if masked[cell] for i in others if not masked[i]}
    for i in added:
        masked[i] = True
    return added


def _reach(table: Table, masked: list[bool], start: int) -> int | None:
    """The complement for a derivable cell: from its own margin groups if they have a
    visible cell, else from groups reached through masked cells (breadth first); of the
    groups at the same distance, the smallest of their complements."""
    seen_groups: set[int] = set()
    frontier = [start]
    seen_cells = {start}
    while frontier:
        options = []
        nxt = []
        for cell in frontier:
            for g in table.groups_of[cell]:
                if g in seen_groups:
                    continue
                seen_groups.add(g)
                candidates = _candidates(table, masked, g, need_sum=False)
                if candidates:
                    options.append((min(_rank(table, i) for i in candidates), g, candidates))
                nxt += [i for i in table.cells[g] if masked[i] and i not in seen_cells]
        best = None
        # A group's complement is one of its candidates, so it is no smaller than the
        # smallest of them: groups are tried from that bound up, until none can win.
        for bound, g, candidates in sorted(options):
            if best is not None and bound >= _rank(table, best):
                break
            pick = _choose(table, masked, g, candidates)
            if best is None or _rank(table, pick) < _rank(table, best):
                best = pick
        if best is not None:
            return best
        seen_cells.update(nxt)
        frontier = nxt
    return None


def _rank(table: Table, cell: int) -> tuple[bool, float, int]:
    """The order in which complements of different groups are preferred: non-zero
    first, then the smallest."""
    return table.values[cell] == 0, table.values[cell], cell


def suppress_cells(values: Sequence[float], groups: Sequence[tuple[int, Sequence[int]]],
                   k: int, links: Sequence[tuple[int, Sequence[int]]] = (),
                   hidden: Sequence[bool] | None = None,
                   extra: Sequence[int] = (),
                   sensitive: Sequence[bool] | None = None) -> tuple[list[bool], list[bool]]:
    """Primary and secondary suppression of cells linked by explicit equations (each
    group: a margin cell and the cells it sums), as :func:`suppress` does for one table.

    ``links``: (cell, cells of a linked table that are masked whenever it is, e.g. an
    indicator's eligible cases with the new cases of the same region and year; primary
    when it is); ``hidden``: cells that are
    never published (they count as masked and are never chosen as complements, e.g. cases
    with no hospital); ``sensitive``: hidden cells protected as a primary is when they
    hold 1..k-1 (e.g. the cases a survival cohort leaves out) and otherwise unknowns that
    need no protection; ``extra``: cells to mask as further complements (from an audit).
    Returns (masked, primary) per cell.
    """
    hidden = list(hidden) if hidden is not None else [False] * len(values)
    sensitive = list(sensitive) if sensitive is not None else [False] * len(values)
    primary = [0 < v < k and not h for v, h in zip(values, hidden, strict=True)]
    for cell, others in links:
        for i in others if primary[cell] else ():
            primary[i] = not hidden[i]
    masked = [p or h for p, h in zip(primary, hidden, strict=True)]
    for i in extra:
        masked[i] = True
    # Hidden cells stay out of the choice of complements: they come after the real ones.
    order = sorted(range(len(values)), key=lambda i: hidden[i])
    position = {c: i for i, c in enumerate(order)}
    table = Table([values[c] for c in order],
                   [(position[p], [position[m] for m in ms]) for p, ms in groups],
                   real=len(values) - sum(hidden),
                   free={position[c] for c, s in enumerate(sensitive)
                         if (hidden[c] and not s) or (s and not 0 < values[c] < k)})
    shuffled = [masked[c] for c in order]
    _secondary(table, shuffled, k,
               [(position[c], [position[i] for i in others]) for c, others in links])
    masked = [shuffled[position[i]] for i in range(len(values))]
    return masked, primary


def suppress(
    frame: pl.DataFrame,
    keys: Sequence[str],
    *,
    n: str = "n",
    estimates: Sequence[str] | Mapping[str, str] | None = None,
    margins: Sequence[str] | Mapping[str, Any] = (),
    external_margins: bool = False,
    config: Rules | None = None,
    linked: Sequence[bool] | None = None,
) -> pl.DataFrame:
    """Apply primary and secondary suppression to a tidy table (see the module docstring).

    ``keys``: the group-key columns. ``n``: the count column. ``estimates``: the columns
    built on the cases (default: every other numeric column), or a mapping from estimate
    column to the count column it is built on. ``margins``: key columns whose total
    marker (null, or the value given in a mapping such as ``{"region": "national"}``)
    marks rows that are sums over that column. ``linked``: per row, True where a linked
    table masks the same cases (e.g. the region's new cases of the year), so this table
    must mask them too; such rows count as primary cells (flag ``linked``). Returns the
    frame in its row order, masked values null, plus the String column ``suppressed``.
    """
    r = config or rules()
    est, totals = _spec(frame, keys, n, estimates, margins)
    counts = frame[n].cast(pl.Float64).to_list()
    forced = list(linked) if linked is not None else [False] * len(counts)
    masked = [0 < v < r.k or f for v, f in zip(counts, forced, strict=True)]
    if totals:
        positions = [(list(keys).index(c), m) for c, m in totals.items()]
        table = Table.from_margins(frame.select(keys).rows(), counts, positions,
                                     external_margins)
        masked += [0 < v < r.k for v in table.values[table.real:]]
        primary = list(masked)
        _secondary(table, masked, r.k)
        masked = masked[:table.real]
        primary = primary[:table.real]
    else:
        primary = masked
    reason = [LINKED if f else PRIMARY if p else SECONDARY if m else None
              for p, m, f in zip(primary, masked, forced, strict=True)]
    out = frame.with_columns(pl.Series(FLAG, reason, dtype=pl.String))
    row_masked = pl.col(FLAG).is_not_null()
    # Base counts other than n: an estimate on 1..k-1 of them is masked, n stays visible.
    small_base = {b: pl.col(b).is_between(1, r.k - 1, closed="both")
                  for b in sorted(set(est.values()) - {n})}
    any_small = pl.any_horizontal(*small_base.values()) if small_base else pl.lit(False)
    no = pl.lit(False)
    out = out.with_columns(
        pl.when(row_masked).then(pl.col(FLAG)).when(any_small).then(pl.lit(ESTIMATE))
        .otherwise(None).alias(FLAG),
        *(pl.when(row_masked | small_base.get(b, no)).then(None).otherwise(pl.col(c)).alias(c)
          for c, b in est.items()),
        *(pl.when(row_masked | small_base[b]).then(None).otherwise(pl.col(b)).alias(b)
          for b in small_base if b not in est),
        pl.when(row_masked).then(None).otherwise(pl.col(n)).alias(n),
    )
    return out
