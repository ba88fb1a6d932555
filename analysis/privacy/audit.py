"""The audit of a release: what an attacker can learn about each masked count.

Everything published is written as a linear programme: the visible counts are constants,
every masked or unpublished count a variable >= 0, every sum between cells an equation,
and every "part of" relation that is no sum (an indicator's eligible cases among the new
cases) an inequality. For each masked count the smallest and largest value consistent
with all of it is found with HiGHS (``highspy``); this is the attacker's best interval by
differencing (Hundepool et al. 2012, "Statistical Disclosure Control", §4.3 on the audit
of suppressed tables). A release passes when every masked count's interval is at least
k-1 wide: none is determined, and none is bounded inside 1..k-1. A sensitive count that
is never published (the cases a survival cohort leaves out) passes when its interval is
at least k-1 wide or holds no value in 1..k-1 (a known 0 is shown anyway, as zeros are).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from functools import cache

import highspy
import numpy as np

from analysis.privacy.margins import flattened, spans

Equations = Sequence[tuple[int, Sequence[int]]]
_TOL = 1e-6


class Relations:
    """The relations as arrays, built once for many audits of the same cells: one entry
    per (relation, cell) with the cell's sign (+1 the whole, -1 a part), relations
    numbered equations first, in their order; and the relations of each cell."""

    def __init__(self, eqs: Equations, ineqs: Equations = ()) -> None:
        self.equations = len(eqs)
        self.row, self.cell, self.start, whole = flattened([*eqs, *ineqs])
        self.sign = np.where(whole, 1.0, -1.0)
        by_cell = np.argsort(self.cell, kind="stable")
        self.rows_of_cell = self.row[by_cell]
        self.cell_start = np.searchsorted(self.cell[by_cell],
                                          np.arange(int(self.cell.max(initial=-1)) + 2))

    def rows_of(self, cells: np.ndarray) -> np.ndarray:
        """The relations holding any of ``cells``."""
        cells = cells[cells < len(self.cell_start) - 1]
        return np.unique(self.rows_of_cell[spans(self.cell_start[cells],
                                                  self.cell_start[cells + 1])])

    def entries(self, rows: np.ndarray) -> np.ndarray:
        """The entries of ``rows``, in the order of the relations."""
        return spans(self.start[rows], self.start[rows + 1])


def ranges(values: Sequence[float | None], masked: Sequence[bool], eqs: Equations,
           targets: Sequence[int] | None = None, ineqs: Equations = (),
           relations: Relations | None = None, enough: float | None = None,
           memo: dict | None = None) -> dict[int, tuple[float, float]]:
    """(lowest, highest) feasible value of each target cell (default: every masked one).

    ``eqs``: (cell, members) with cell = sum of members; ``ineqs``: (cell, members) with
    cell >= sum of members (or both as ``relations``, built once for many calls).
    ``values`` of masked cells are never read (null in a published file). Cells are
    solved per set linked by the relations through masked cells (found breadth first
    from the targets); an unbounded cell has highest ``inf``. With ``enough``, a target
    that the optimal solutions found so far for its set already put at least ``enough``
    apart is not solved: its interval is given as the values seen, a part of the true one
    that is wide enough for a judgement such as :func:`too_narrow` with ``k-1``.
    ``memo``: the answers for linked sets already solved, by their linear programme and
    targets, kept between calls (e.g. the audit rounds of one release).
    """
    system = relations if relations is not None else Relations(eqs, ineqs)
    hidden = np.asarray(masked, dtype=bool)
    shown = np.where(hidden, 0.0, np.array(values, dtype=np.float64))  # None: nan
    wanted = [i for i in (targets if targets is not None else range(len(masked)))
              if masked[i]]
    # The targets of each linked set, the sets in the order of their first target.
    label = np.full(len(hidden), -1, dtype=np.int64)
    sets: list[tuple[np.ndarray, np.ndarray, list[int]]] = []
    for i in wanted:
        if label[i] < 0:
            cols, rows = _linked(system, hidden, i)
            label[cols] = len(sets)
            sets.append((cols, rows, []))
        sets[label[i]][2].append(i)
    out: dict[int, tuple[float, float]] = {}
    for cols, rows, here in sets:
        if len(rows):
            lp, col, model = _programme(system, hidden, shown, rows, cols)
            key = (model, tuple(here), enough)
            found = memo.get(key) if memo is not None else None
            if found is None:
                found = _solve(lp, col, here, enough)
                if memo is not None:
                    memo[key] = found
            out.update(found)
        else:
            out.update({i: (0.0, math.inf) for i in here})
    return out


def _linked(system: Relations, hidden: np.ndarray, start: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """The masked cells linked to ``start`` through relations (ascending) and those
    relations (in their order)."""
    cell_in = np.zeros(len(hidden), dtype=bool)
    row_in = np.zeros(len(system.start) - 1, dtype=bool)
    cell_in[start] = True
    frontier = np.array([start], dtype=np.int64)
    while len(frontier):
        rows = system.rows_of(frontier)
        rows = rows[~row_in[rows]]
        row_in[rows] = True
        reached = system.cell[system.entries(rows)]
        frontier = np.unique(reached[hidden[reached] & ~cell_in[reached]])
        cell_in[frontier] = True
    return np.flatnonzero(cell_in), np.flatnonzero(row_in)


def _programme(system: Relations, hidden: np.ndarray, shown: np.ndarray, rows: np.ndarray,
               cols: np.ndarray) -> tuple[highspy.HighsLp, dict[int, int], bytes]:
    """The linear programme of one linked set: a variable >= 0 per masked cell, a row
    per relation, its visible cells moved to the bounds; and the bytes that determine
    it (its relations, cells and bounds)."""
    entries = system.entries(rows)
    cell, sign = system.cell[entries], system.sign[entries]
    local = np.repeat(np.arange(len(rows)), np.diff(system.start)[rows])
    unknown = hidden[cell]
    # A relation's visible part (0 when it has no visible cell, -0 when they add to 0).
    part = np.bincount(local[~unknown], weights=sign[~unknown] * shown[cell[~unknown]],
                       minlength=len(rows))
    some = np.bincount(local[~unknown], minlength=len(rows)) > 0
    lower = np.where(some, -part, 0.0)
    upper = np.where(rows < system.equations, lower, highspy.kHighsInf)
    col = np.searchsorted(cols, cell[unknown])
    order = np.argsort(col, kind="stable")
    n = len(cols)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(rows)
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n))])
    lp.a_matrix_.index_ = local[unknown][order].astype(np.int32)
    lp.a_matrix_.value_ = sign[unknown][order]
    model = b"|".join(a.tobytes() for a in (rows, cols, lower))
    return lp, {int(c): j for j, c in enumerate(cols)}, model


@cache
def _banner_shown() -> bool:
    """HiGHS prints a banner on stdout when its first solver of a process is made; it must
    not reach a command's output (a CSV on stdout), so the first one is made silently."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return True


def _highs() -> highspy.Highs:
    _banner_shown()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _solve(lp: highspy.HighsLp, col: dict[int, int], targets: list[int],
           enough: float | None = None) -> dict[int, tuple[float, float]]:
    """Minimum and maximum of each target over {x >= 0 : lower <= A x <= upper}: one
    HiGHS model per linked set, re-solved with a new objective per target (warm-started
    simplex). With ``enough``, the range of the values each variable took in the optimal
    solutions so far (feasible points) stands for a target's interval once it is wide
    enough (see :func:`ranges`)."""
    h = _highs()
    h.passModel(lp)
    seen = np.full((2, lp.num_col_), [[np.inf], [-np.inf]])  # lowest, highest seen
    track = seen if enough is not None else None

    def wide(c: int) -> bool:
        return enough is not None and seen[1, c] - seen[0, c] >= enough

    out = {}
    for i in targets:
        c = col[i]
        if not wide(c):
            h.changeColCost(c, 1.0)
            low = _optimum(h, highspy.ObjSense.kMinimize, track)
            if not wide(c):
                out[i] = (low, _optimum(h, highspy.ObjSense.kMaximize, track))
            h.changeColCost(c, 0.0)
        if i not in out:
            out[i] = (float(seen[0, c]), float(seen[1, c]))
    return out


def _optimum(h: highspy.Highs, sense: highspy.ObjSense, seen: np.ndarray | None) -> float:
    """The optimal objective value (``inf`` when unbounded); with ``seen``, the range of
    values seen per variable widened by the optimal solution."""
    h.changeObjectiveSense(sense)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kUnbounded:
        return math.inf
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"audit: the linear programme is {h.modelStatusToString(status)}")
    if seen is not None:
        x = np.asarray(h.getSolution().col_value)
        np.minimum(seen[0], x, out=seen[0])
        np.maximum(seen[1], x, out=seen[1])
    return h.getInfo().objective_function_value


def too_narrow(low: float, high: float, k: int) -> bool:
    """Whether an interval tells too much: narrower than k-1 (so also a determined value
    or one bounded inside 1..k-1)."""
    return high - low < k - 1 - _TOL


def exposes(low: float, high: float, k: int) -> bool:
    """Whether the interval of a sensitive count that is never published tells too much:
    narrower than k-1 and holding a value in 1..k-1 (so it is not judged by its value,
    which a reader of the published release does not know)."""
    return too_narrow(low, high, k) and high >= 1 - _TOL and low <= k - 1 + _TOL


def failures(values: Sequence[float], masked: Sequence[bool], primary: Sequence[bool],
             hidden: Sequence[bool], eqs: Equations, k: int,
             sensitive: Sequence[bool] | None = None, ineqs: Equations = (),
             memo: dict | None = None) -> list[int]:
    """The masked published cells whose feasible interval is too narrow, and the
    ``sensitive`` hidden ones whose interval exposes them (:func:`exposes`), by index.
    ``memo``: see :func:`ranges`."""
    sensitive = sensitive if sensitive is not None else [False] * len(values)
    # A count of 2k-2 or more lies in no interval narrower than k-1 that reaches 1..k-1.
    targets = [i for i, (m, h, s) in enumerate(zip(masked, hidden, sensitive, strict=True))
               if (m and not h) or (s and values[i] < 2 * k - 2)]
    found = ranges(values, masked, eqs, targets, ineqs, enough=k - 1, memo=memo)
    return sorted(i for i, (lo, hi) in found.items()
                  if (exposes(lo, hi, k) if sensitive[i] else too_narrow(lo, hi, k)))


def complements(values: Sequence[float], masked: Sequence[bool], hidden: Sequence[bool],
                eqs: Equations, failing: Sequence[int], k: int,
                sensitive: Sequence[bool] | None = None, ineqs: Equations = ()) -> list[int]:
    """Further cells to mask so that each failing cell's interval is wide enough.

    For each failing cell, the visible non-zero cells of the relations it is in are tried
    from the smallest count up, each by the linear programme: the first whose masking
    widens the failing cell's interval (and its own) to k-1 is taken, else the one that
    widens it most, and the search goes on from there (a minimum-cost choice per failing
    cell in one step; Fischetti & Salazar 2001, "Solving the cell suppression problem on
    tabular data with linear constraints"). A cell in no relation with a visible cell
    gets one from a relation reached through masked cells."""
    sensitive = sensitive if sensitive is not None else [False] * len(values)
    now = list(masked)
    of: dict[int, list[tuple[int, Sequence[int]]]] = {}
    for parent, members in (*eqs, *ineqs):
        for c in (parent, *members):
            of.setdefault(c, []).append((parent, members))

    relations = Relations(eqs, ineqs)

    def width(cells: Sequence[int]) -> dict[int, float]:
        found = ranges(values, now, eqs, cells, ineqs, relations)
        return {i: math.inf if sensitive[i] and not exposes(lo, hi, k) else hi - lo
                for i, (lo, hi) in found.items()}

    def visible(c: int) -> bool:
        return not now[c] and not hidden[c] and values[c] != 0

    picks: list[int] = []
    for start in failing:
        while width([start])[start] < k - 1 - _TOL:
            near = sorted({c for parent, members in of.get(start, [])
                           for c in (parent, *members) if visible(c)},
                          key=lambda c: (values[c], c))
            best, best_width = None, -1.0
            for c in near:
                now[c] = True
                found = width([start, c])
                now[c] = False
                if found[c] >= k - 1 - _TOL and found[start] > best_width + _TOL:
                    best, best_width = c, found[start]
                    if best_width >= k - 1 - _TOL:
                        break
            if best is None or best_width <= width([start])[start] + _TOL:
                best = _reached(values, now, hidden, of, start)
            if best is None:
                break
            now[best] = True
            picks.append(best)
    return sorted(set(picks))


def _reached(values: Sequence[float], masked: Sequence[bool], hidden: Sequence[bool],
             of: dict[int, list[tuple[int, Sequence[int]]]], start: int) -> int | None:
    """The smallest non-zero visible cell of a relation reached from ``start`` through
    masked cells (breadth first), else the smallest visible one."""
    seen, frontier = {start}, [start]
    while frontier:
        options, nxt = [], []
        for cell in frontier:
            for parent, members in of.get(cell, []):
                for c in (*members, parent):
                    if not masked[c] and not hidden[c]:
                        options.append(c)
                    elif masked[c] and c not in seen:
                        seen.add(c)
                        nxt.append(c)
        if options:
            return min(options, key=lambda c: (values[c] == 0, values[c], c))
        frontier = nxt
    return None
