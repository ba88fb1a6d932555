"""The margin equations of a table, and which masked cells they give away.

A table's cells are linked by groups: a margin cell and the member cells it is the sum
of. Masked cells are the unknowns of these equations; a masked cell whose value the
visible cells fix, or a pair whose joint count they fix at 1..k-1, can be derived by
subtraction (Cox, 1980, "Properties of the sensitive-cell suppression problem";
Hundepool et al. 2012, "Statistical Disclosure Control", ch. 4). The check runs once per
round of complementary suppression (analysis.privacy.disclosure), so its per-round work
is vectorised and its per-set linear algebra is kept for the sets that recur unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components


class Table:
    """Cell values and the equations between them: each group is (margin cell, member
    cells), the margin being the sum of its members. The first ``real`` cells are the
    table's rows; any others are margins published elsewhere."""

    def __init__(self, values: list[float], groups: list[tuple[int, list[int]]],
                 real: int | None = None, free: set[int] | None = None) -> None:
        self.values = list(values)
        self.real = len(values) if real is None else real
        # Unpublished cells whose value needs no protection (a sensitive one that is 0
        # or at least k): unknowns of the equations, never a reason for a complement.
        self.free = free or set()
        self.groups = groups
        self.cells = [(parent, *members) for parent, members in groups]
        self.groups_of: list[list[int]] = [[] for _ in self.values]
        for g, cells in enumerate(self.cells):
            for i in cells:
                self.groups_of[i].append(g)
        # The same equations as arrays: one entry per (group, cell), margins flagged.
        (self.entry_group, self.entry_cell, self.group_start,
         self.entry_margin) = flattened(groups)
        self.parent = np.array([p for p, _ in groups], dtype=np.int64)
        self.array = np.array(self.values, dtype=np.float64)
        # What the equations reveal of each linked set of masked cells, by its cells.
        self.revealed: dict[tuple[int, ...], list[int]] = {}

    @classmethod
    def from_margins(cls, keys: list[tuple], values: list[float],
                     totals: list[tuple[int, Any]], external: bool) -> Table:
        """The equations of a table whose margin rows hold a total marker in a key."""
        keys, values = list(keys), list(values)
        real = len(keys)
        index = {key: i for i, key in enumerate(keys)}

        def is_total(key: tuple, pos: int, marker: Any) -> bool:
            return key[pos] is None if marker is None else key[pos] == marker

        # Margins assumed published elsewhere, closed over every margin column.
        grew = external
        while grew:
            grew = False
            for pos, marker in totals:
                sums: dict[tuple, float] = {}
                for key, value in zip(keys, values, strict=True):
                    if not is_total(key, pos, marker):
                        parent = key[:pos] + (marker,) + key[pos + 1:]
                        sums[parent] = sums.get(parent, 0) + value
                for parent, value in sums.items():
                    if parent not in index:
                        index[parent] = len(keys)
                        keys.append(parent)
                        values.append(value)
                        grew = True
        # One equation per margin cell and margin column: margin = sum of its members.
        groups: list[tuple[int, list[int]]] = []
        for pos, marker in totals:
            members: dict[tuple, list[int]] = {}
            for i, key in enumerate(keys):
                if not is_total(key, pos, marker):
                    members.setdefault(key[:pos] + (marker,) + key[pos + 1:], []).append(i)
            groups += [(index[p], m) for p, m in members.items() if p in index]
        return cls(values, groups, real)


def flattened(groups: Sequence[tuple[int, Sequence[int]]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Groups (margin, members) as arrays, group after group: each entry's group and
    cell, where each group's entries start (and, last, where they end), and whether an
    entry is its group's margin (the first of the group)."""
    sizes = [1 + len(members) for _, members in groups]
    group = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)
    cell = np.array([c for parent, members in groups for c in (parent, *members)],
                    dtype=np.int64)
    start = np.cumsum([0, *sizes], dtype=np.int64)
    margin = np.zeros(len(cell), dtype=bool)
    margin[start[:-1]] = True
    return group, cell, start, margin


def spans(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The integers of each [start, stop) one after the other, without a loop (the
    entries of some groups, when the entries are stored group after group)."""
    sizes = stops - starts
    ends = np.cumsum(sizes)
    return np.repeat(starts - ends + sizes, sizes) + np.arange(ends[-1] if len(ends) else 0)


def derivable(table: Table, masked: list[bool], k: int) -> list[list[int]]:
    """Masked cells whose value the margin equations fix, given the visible cells, per
    linked set of masked cells, and one cell of each pair whose joint count the equations
    fix at 1..k-1.

    A combination c of masked cells is fixed iff c is orthogonal to the null space of the
    homogeneous system A x = 0 on the masked cells (a basis: the eigenvectors of A'A with
    eigenvalue 0): cell j iff position j vanishes in every basis vector, the pair a + b
    iff positions a and b are opposite. Counts are not negative, so masked members of a
    shown margin that the visible members already add up to are all 0 and known: they
    count as visible here (e.g. a column whose margin is 0). The answer for a linked set
    depends on its cells only, so a set met in an earlier round is not solved again.
    """
    hidden = _known_zeros_visible(table, np.array(masked, dtype=bool))
    out = []
    for key, groups in _components(table, hidden):
        found = table.revealed.get(key)
        if found is None:
            found = table.revealed[key] = _revealed(table, key, groups(), hidden, k)
        if found:
            out.append(found)
    return out


def _revealed(table: Table, cells: tuple[int, ...], groups: np.ndarray, hidden: np.ndarray,
              k: int) -> list[int]:
    """What the equations of one linked set of masked cells reveal (see :func:`derivable`)."""
    if all(i in table.free for i in cells):
        return []  # nothing in it needs protection
    entries = spans(table.group_start[groups], table.group_start[groups + 1])
    entries = entries[hidden[table.entry_cell[entries]]]
    row = np.searchsorted(groups, table.entry_group[entries])
    cell = table.entry_cell[entries]
    a = np.zeros((max(len(groups), 1), len(cells)))
    a[row, np.searchsorted(cells, cell)] = np.where(
        cell == table.parent[table.entry_group[entries]], 1.0, -1.0)
    values, vectors = np.linalg.eigh(a.T @ a)
    null = vectors[:, values < 1e-9 * max(1.0, values[-1])]
    fixed = np.all(np.abs(null) < 1e-7, axis=1)
    small = [c for c in np.flatnonzero(~fixed) if table.values[cells[c]] < k]
    pairs = _opposite_pairs(null, small, [table.values[cells[c]] for c in small], k)
    return [cells[c] for c in (*np.flatnonzero(fixed), *pairs) if cells[c] not in table.free]


def _opposite_pairs(null: np.ndarray, small: list[int], values: list[float],
                    k: int) -> list[int]:
    """The first cell of each pair of small cells whose null-space rows are opposite
    (their sum is fixed) and whose joint count is 1..k-1; rows are matched by their
    rounded values instead of comparing every pair."""
    if not small:
        return []
    # Rounded rows as bytes (+ 0.0 turns -0.0 into 0.0, so equal rows give equal bytes).
    rows = np.round(null[small], 6) + 0.0
    opposite = np.round(-null[small], 6) + 0.0
    by_row: dict[bytes, list[int]] = {}
    for p in range(len(small)):
        by_row.setdefault(rows[p].tobytes(), []).append(p)
    out = []
    for p, x in enumerate(small):
        for q in by_row.get(opposite[p].tobytes(), []):
            y = small[q]
            if x < y and 0 < values[p] + values[q] < k \
                    and np.all(np.abs(null[x] + null[y]) < 1e-7):
                out.append(x)
    return out


def _known_zeros_visible(table: Table, masked: np.ndarray) -> np.ndarray:
    """The masking with every cell unmasked whose value non-negativity fixes at 0: the
    masked members of a shown margin that its visible members add up to. Unmasking such a
    cell (a 0) changes no sum, so the cells reached do not depend on the order in which
    the margins are looked at; all are looked at at once, until none is left."""
    masked = masked.copy()
    member = ~table.entry_margin
    cells, groups = table.entry_cell[member], table.entry_group[member]
    n = len(table.groups)
    while True:
        hid = masked[cells]
        shown = np.bincount(groups, weights=np.where(hid, 0.0, table.array[cells]),
                            minlength=n)
        some = np.bincount(groups[hid], minlength=n) > 0
        known = some & ~masked[table.parent] & (table.array[table.parent] == shown)
        if not known.any():
            return masked
        masked[cells[known[groups] & hid]] = False


def _components(table: Table, hidden: np.ndarray
                ) -> list[tuple[tuple[int, ...], Callable[[], np.ndarray]]]:
    """The masked cells split into sets linked by shared margin equations, each with the
    groups holding them (asked for only when needed): cells and groups ascending, the
    sets in the order of their first cell."""
    cells = np.flatnonzero(hidden)
    if not len(cells):
        return []
    touched = hidden[table.entry_cell]
    groups, edge_group = np.unique(table.entry_group[touched], return_inverse=True)
    edge_cell = np.searchsorted(cells, table.entry_cell[touched])
    size = len(cells) + len(groups)
    graph = coo_array((np.ones(len(edge_cell)), (edge_cell, len(cells) + edge_group)),
                      shape=(size, size))
    _, label = connected_components(graph, directed=False)
    # Number the sets by their first cell, as a scan of the cells in order meets them.
    first = np.full(label.max() + 1, size, dtype=np.int64)
    np.minimum.at(first, label[:len(cells)], np.arange(len(cells)))
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    cell_set, group_set = rank[label[:len(cells)]], rank[label[len(cells):]]
    n_sets = int(cell_set.max()) + 1
    by_cell = cells[np.argsort(cell_set, kind="stable")].tolist()
    by_group = groups[np.argsort(group_set, kind="stable")]
    cell_end = np.cumsum(np.bincount(cell_set, minlength=n_sets)).tolist()
    group_end = np.cumsum(np.bincount(group_set, minlength=n_sets)).tolist()
    return [(tuple(by_cell[a:b]), partial(by_group.__getitem__, slice(c, d)))
            for a, b, c, d in zip([0, *cell_end[:-1]], cell_end, [0, *group_end[:-1]],
                                  group_end, strict=True)]
