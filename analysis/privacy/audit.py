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

Equations = Sequence[tuple[int, Sequence[int]]]
_TOL = 1e-6


def ranges(values: Sequence[float | None], masked: Sequence[bool], eqs: Equations,
           targets: Sequence[int] | None = None, ineqs: Equations = ()
           ) -> dict[int, tuple[float, float]]:
    """(lowest, highest) feasible value of each target cell (default: every masked one).

    ``eqs``: (cell, members) with cell = sum of members; ``ineqs``: (cell, members) with
    cell >= sum of members. ``values`` of masked cells are never read (null in a
    published file). Cells are solved per set linked by the relations through masked
    cells; an unbounded cell has highest ``inf``.
    """
    wanted = [i for i in (targets if targets is not None else range(len(masked)))
              if masked[i]]
    root = {i: i for i, m in enumerate(masked) if m}

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    rows = []
    for relations, upper in ((eqs, True), (ineqs, False)):
        for parent, members in relations:
            cells = [(parent, 1.0), *((m, -1.0) for m in members)]
            hidden = [c for c, _ in cells if masked[c]]
            if not hidden:
                continue
            for c in hidden[1:]:
                root[find(c)] = find(hidden[0])
            rhs = -sum(sign * float(values[c]) for c, sign in cells if not masked[c])
            rows.append(([(c, s) for c, s in cells if masked[c]], rhs,
                         rhs if upper else highspy.kHighsInf))
    by_set: dict[int, list] = {}  # the relations of each linked set, once all are joined
    for cells, lower, upper in rows:
        by_set.setdefault(find(cells[0][0]), []).append((cells, lower, upper))
    out: dict[int, tuple[float, float]] = {}
    groups: dict[int, list[int]] = {}
    for i in wanted:
        groups.setdefault(find(i), []).append(i)
    for key, targets_here in groups.items():
        eq = by_set.get(key, [])
        if not eq:
            out.update({i: (0.0, math.inf) for i in targets_here})
            continue
        cols = sorted({c for cells, _, _ in eq for c, _ in cells})
        col = {c: j for j, c in enumerate(cols)}
        out.update(_solve(eq, col, [i for i in targets_here if i in col]))
        out.update({i: (0.0, math.inf) for i in targets_here if i not in col})
    return out


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


def _solve(eq: list, col: dict[int, int], targets: list[int]
           ) -> dict[int, tuple[float, float]]:
    """Minimum and maximum of each target over {x >= 0 : lower <= A x <= upper}: one
    HiGHS model per linked set, re-solved with a new objective per target (warm-started
    simplex)."""
    n = len(col)
    columns: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for r, (cells, _, _) in enumerate(eq):
        for c, s in cells:
            columns[col[c]].append((r, s))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(eq)
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, highspy.kHighsInf)
    lp.row_lower_ = np.array([lower for _, lower, _ in eq])
    lp.row_upper_ = np.array([upper for _, _, upper in eq])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.cumsum([0, *(len(c) for c in columns)])
    lp.a_matrix_.index_ = np.array([r for c in columns for r, _ in c], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([s for c in columns for _, s in c])
    h = _highs()
    h.passModel(lp)
    out = {}
    for i in targets:
        h.changeColCost(col[i], 1.0)
        bounds = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            h.changeObjectiveSense(sense)
            h.run()
            status = h.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                bounds.append(h.getInfo().objective_function_value)
            elif status == highspy.HighsModelStatus.kUnbounded:
                bounds.append(math.inf)
            else:
                raise RuntimeError("audit: the linear programme is "
                                   f"{h.modelStatusToString(status)}")
        h.changeColCost(col[i], 0.0)
        out[i] = (bounds[0], bounds[1])
    return out


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
             sensitive: Sequence[bool] | None = None, ineqs: Equations = ()) -> list[int]:
    """The masked published cells whose feasible interval is too narrow, and the
    ``sensitive`` hidden ones whose interval exposes them (:func:`exposes`), by index."""
    sensitive = sensitive if sensitive is not None else [False] * len(values)
    # A count of 2k-2 or more lies in no interval narrower than k-1 that reaches 1..k-1.
    targets = [i for i, (m, h, s) in enumerate(zip(masked, hidden, sensitive, strict=True))
               if (m and not h) or (s and values[i] < 2 * k - 2)]
    found = ranges(values, masked, eqs, targets, ineqs)
    return sorted(i for i, (lo, hi) in found.items()
                  if (exposes(lo, hi, k) if sensitive[i] else too_narrow(lo, hi, k)))


def complements(values: Sequence[float], masked: Sequence[bool], hidden: Sequence[bool],
                eqs: Equations, failing: Sequence[int]) -> list[int]:
    """One further cell to mask for each failing cell: the smallest non-zero visible cell
    of an equation it is in, else of an equation reached through masked cells."""
    of: dict[int, list[int]] = {}
    for g, (parent, members) in enumerate(eqs):
        for c in (parent, *members):
            of.setdefault(c, []).append(g)
    picks: list[int] = []
    for start in failing:
        seen, frontier = {start}, [start]
        while frontier:
            options, nxt = [], []
            for cell in frontier:
                for g in of.get(cell, []):
                    parent, members = eqs[g]
                    for c in (*members, parent):
                        if not masked[c] and not hidden[c] and c not in picks:
                            options.append(c)
                        elif masked[c] and c not in seen:
                            seen.add(c)
                            nxt.append(c)
            if options:
                picks.append(min(options, key=lambda c: (values[c] == 0, values[c], c)))
                break
            frontier = nxt
    return sorted(set(picks))
