"""Disclosure control: primary and complementary suppression, figure thresholds.

Hand-worked examples use k = 5 (registry.yaml). The property tests build random tables
with random hierarchies, knowing their true additive structure, and check the result
with an independent rank test: a masked cell x_j is derivable by subtraction iff the unit
vector e_j lies in the row space of the margin equations restricted to the masked cells,
i.e. iff appending e_j does not raise the rank.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import UserError
from analysis.privacy.disclosure import (
    FLAG,
    Rules,
    drawable,
    footnote,
    may_draw,
    min_group_size,
    rules,
    suppress,
)
from analysis.privacy.margins import Table, derivable

K5 = Rules(k=5)


def _one_dim(values: dict[str, int]) -> pl.DataFrame:
    total = sum(values.values())
    return pl.DataFrame({"region": [*values, None], "n": [*values.values(), total]},
                        schema={"region": pl.String, "n": pl.Int64})


def _visible(out: pl.DataFrame) -> dict:
    return dict(zip(out["region"].to_list(), out["n"].to_list(), strict=True))


# --- configuration -----------------------------------------------------------------------

def test_rules_come_from_registry_yaml() -> None:
    r = rules()
    assert (r.k, r.symbol, r.label("en")) == (5, "–", "insufficient data")
    assert footnote("sv") == "– otillräckligt underlag"
    assert footnote("en") == "– insufficient data"


def test_figure_thresholds() -> None:
    # registry.yaml: survival.min_cases = 25; funnel points fall back to k = 5.
    assert min_group_size("survival") == 25
    assert not may_draw(24, "survival") and may_draw(25, "survival")
    assert not may_draw(4, "funnel") and may_draw(5, "funnel")
    assert not may_draw(None, "funnel")
    frame = pl.DataFrame({"n": [0, 24, 25, None]})
    assert drawable(frame, "survival").to_list() == [False, False, True, False]
    with pytest.raises(UserError, match="unknown figure kind"):
        may_draw(10, "pie")


# --- primary suppression -----------------------------------------------------------------

def test_primary_masks_1_to_k_minus_1_and_their_estimates() -> None:
    frame = pl.DataFrame({"g": ["a", "b", "c", "d", "e"], "n": [0, 1, 4, 5, 100],
                          "rate": [0.0, 1.5, 6.0, 7.5, 150.0],
                          "lower": [0.0, 0.1, 1.0, 2.0, 120.0], "method": ["exact"] * 5})
    out = suppress(frame, ["g"], config=K5)
    assert out["n"].to_list() == [0, None, None, 5, 100]
    assert out["rate"].to_list() == [0.0, None, None, 7.5, 150.0]
    assert out["lower"].to_list() == [0.0, None, None, 2.0, 120.0]
    assert out["method"].to_list() == ["exact"] * 5          # text is not an estimate
    assert out[FLAG].to_list() == [None, "primary", "primary", None, None]


def test_single_case_table() -> None:
    out = suppress(pl.DataFrame({"g": ["x"], "n": [1], "p": [1.0]}), ["g"], config=K5)
    assert out.row(0) == ("x", None, None, "primary")


def test_empty_table() -> None:
    frame = pl.DataFrame({"g": [], "n": []}, schema={"g": pl.String, "n": pl.Int64})
    out = suppress(frame, ["g"], margins=["g"], config=K5)
    assert out.height == 0 and out.columns == ["g", "n", FLAG]


def test_estimate_with_its_own_base_count() -> None:
    # A lead-time median built on 3 treated cases out of 50: n stays, the median goes.
    frame = pl.DataFrame({"g": ["a", "b"], "n": [50, 50], "n_treated": [3, 40],
                          "median_days": [12.0, 20.0]})
    out = suppress(frame, ["g"], estimates={"median_days": "n_treated"}, config=K5)
    assert out["n"].to_list() == [50, 50]
    assert out["n_treated"].to_list() == [None, 40]
    assert out["median_days"].to_list() == [None, 20.0]
    assert out[FLAG].to_list() == ["estimate", None]


# --- secondary suppression, worked by hand -----------------------------------------------

def test_single_masked_cell_gets_the_next_smallest_complement() -> None:
    # a = 3 is primary; total 33 - b 10 - c 20 would give it back, so b (the smallest
    # other cell) goes too: then only a + b = 13 is derivable.
    out = suppress(_one_dim({"a": 3, "b": 10, "c": 20}), ["region"], margins=["region"],
                   config=K5)
    assert _visible(out) == {"a": None, "b": None, "c": 20, None: 33}
    assert out[FLAG].to_list() == ["primary", "secondary", None, None]


def test_linked_rows_are_masked_with_a_complement() -> None:
    # b = 12 is masked in a linked table (e.g. its new cases, secondarily there): masked
    # here too, and as 51 - 9 - 30 would give it back, a = 9 (next smallest) goes.
    out = suppress(_one_dim({"a": 9, "b": 12, "c": 30}), ["region"], margins=["region"],
                   config=K5, linked=[False, True, False, False])
    assert _visible(out) == {"a": None, "b": None, "c": 30, None: 51}
    assert out[FLAG].to_list() == ["secondary", "linked", None, None]


def test_masked_cells_must_hold_k_together() -> None:
    # a = 1 and b = 2 cannot be told apart, but 73 - 30 - 40 = 3 would publish their
    # joint count, itself below k: the next smallest, c = 30, is masked too.
    out = suppress(_one_dim({"a": 1, "b": 2, "c": 30, "d": 40}), ["region"],
                   margins=["region"], config=K5)
    assert _visible(out) == {"a": None, "b": None, "c": None, "d": 40, None: 73}


def test_zero_cells_are_not_used_as_complements() -> None:
    # Masking b = 0 would leave a = 12 - 0 - 10 = 2 derivable in effect; c = 10 is used.
    out = suppress(_one_dim({"a": 2, "b": 0, "c": 10}), ["region"], margins=["region"],
                   config=K5)
    assert _visible(out) == {"a": None, "b": 0, "c": None, None: 12}


def test_two_way_table_with_all_margins() -> None:
    # region x sex with margins. b/men = 3 is primary. The men row then needs a second
    # cell (a/men = 10, smallest), region b needs one (b/women = 8), region a needs one
    # (a/women = 12): the classic 2 x 2 pattern, every row and column keeps 0 or 2.
    cells = {("a", 1): 10, ("b", 1): 3, ("c", 1): 20,
             ("a", 2): 12, ("b", 2): 8, ("c", 2): 9}
    frame = _two_way(cells)
    out = suppress(frame, ["region", "sex"], margins=["region", "sex"], config=K5)
    hidden = {(r, s) for r, s, n, *_ in out.iter_rows() if n is None}
    assert hidden == {("a", 1), ("b", 1), ("a", 2), ("b", 2)}
    assert out.filter(pl.col("region").is_null() | pl.col("sex").is_null())["n"].null_count() == 0


def _two_way(cells: dict[tuple[str, int], int]) -> pl.DataFrame:
    rows = dict(cells)
    for (r, s), v in cells.items():
        rows[(None, s)] = rows.get((None, s), 0) + v
        rows[(r, None)] = rows.get((r, None), 0) + v
        rows[(None, None)] = rows.get((None, None), 0) + v
    return pl.DataFrame([(r, s, v) for (r, s), v in rows.items()],
                        schema={"region": pl.String, "sex": pl.Int64, "n": pl.Int64},
                        orient="row")


def test_margins_published_elsewhere() -> None:
    # Only the interior cells are in the table, but the totals are published in another
    # table: without external_margins nothing ties the cells together.
    cells = {("a", 1): 10, ("b", 1): 3, ("c", 1): 20,
             ("a", 2): 12, ("b", 2): 8, ("c", 2): 9}
    inner = _two_way(cells).drop_nulls()
    alone = suppress(inner, ["region", "sex"], margins=["region", "sex"], config=K5)
    assert alone["n"].null_count() == 1
    linked = suppress(inner, ["region", "sex"], margins=["region", "sex"],
                      external_margins=True, config=K5)
    assert linked["n"].null_count() == 4


def test_custom_total_marker_and_hierarchy() -> None:
    # Hospitals within regions, regions within the nation ("riket").
    frame = pl.DataFrame(
        {"region": ["syd", "syd", "syd", "vast", "vast", "vast", "riket"],
         "hospital": ["h1", "h2", "all", "h3", "h4", "all", "all"],
         "n": [2, 30, 32, 40, 41, 81, 113]})
    out = suppress(frame, ["region", "hospital"],
                   margins={"region": "riket", "hospital": "all"}, config=K5)
    # h1 = 2 primary; syd = h1 + h2, so h2 is the only complement; syd (32) stays.
    assert out["n"].to_list() == [None, None, 32, 40, 41, 81, 113]


def test_no_small_cells_leaves_the_table_unchanged() -> None:
    frame = _two_way({("a", 1): 10, ("b", 1): 0, ("a", 2): 7, ("b", 2): 25})
    out = suppress(frame, ["region", "sex"], margins=["region", "sex"], config=K5)
    assert out.drop(FLAG).equals(frame)
    assert out[FLAG].null_count() == out.height


def test_three_way_table_needs_the_global_audit() -> None:
    # Found by random search: with only the margin-by-margin rules, five masked cells
    # of this 3 x 3 x 2 table (every margin) stay derivable from the linked equations.
    leaves = [10, 3, 20, 8, 5, 0, 1, 30, 0, 2, 3, 30, 20, 5, 10, 10, 0, 1]
    levels = [["v00", "v01", "v02"], ["v10", "v11", "v12"], ["v20", "v21"]]
    value = dict(zip(itertools.product(*levels), leaves, strict=True))
    cells = list(itertools.product(*[[*lv, None] for lv in levels]))

    def total(c: tuple) -> int:
        return sum(v for leaf, v in value.items()
                   if all(a is None or a == b for a, b in zip(c, leaf, strict=True)))

    keys = ["d0", "d1", "d2"]
    frame = pl.DataFrame([(*c, total(c)) for c in cells], orient="row",
                         schema=[*[(k, pl.String) for k in keys], ("n", pl.Int64)])
    equations = [(c, [c[:i] + (v,) + c[i + 1:] for v in levels[i]])
                 for c in cells for i, p in enumerate(c) if p is None]
    out = suppress(frame, keys, margins=keys, config=K5)
    assert _derivable_cells(out, keys, equations) == []
    assert not out["n"].drop_nulls().is_between(1, 4).any()


def test_what_the_margin_equations_give_away() -> None:
    # 10 = x + 7: x is 3. 4 = x + y with x = 1, y = 3: the pair's joint count 4 is small.
    assert derivable(Table([10, 3, 7], [(0, [1, 2])]), [False, True, False], 5) == [[1]]
    assert derivable(Table([4, 1, 3], [(0, [1, 2])]), [False, True, True], 5) == [[1]]
    # 10 = x + y with x = 3, y = 7: only x is small, nothing follows.
    assert derivable(Table([10, 3, 7], [(0, [1, 2])]), [False, True, True], 5) == []
    # 5 = 5 + x + y: x and y are known zeros, so in 6 = x + z, z is 6 (asked twice: the
    # second answer comes from what the first kept, and is the same).
    table = Table([5, 5, 0, 0, 6, 6], [(0, [1, 2, 3]), (4, [2, 5])])
    masked = [False, False, True, True, False, True]
    assert derivable(table, masked, 5) == [[5]]
    assert derivable(table, masked, 5) == [[5]]
    assert list(table.revealed.values()) == [[5]]


# --- bad input -----------------------------------------------------------------------------

def test_bad_tables_are_user_errors() -> None:
    frame = pl.DataFrame({"g": ["a", "a"], "n": [5, 6]})
    with pytest.raises(UserError, match="repeat a group"):
        suppress(frame, ["g"], config=K5)
    with pytest.raises(UserError, match="no column count"):
        suppress(frame, ["g"], n="count", config=K5)
    with pytest.raises(UserError, match=r"count 'n' is empty in row 2 \(g=b\)"):
        suppress(pl.DataFrame({"g": ["a", "b"], "n": [5, None]}), ["g"], config=K5)
    with pytest.raises(UserError, match="is negative"):
        suppress(pl.DataFrame({"g": ["a"], "n": [-1]}), ["g"], config=K5)
    with pytest.raises(UserError, match="must be keys"):
        suppress(frame.with_columns(h=pl.lit("x")), ["g"], margins=["h"], config=K5)


# --- properties on random hierarchical tables ----------------------------------------------

@st.composite
def tables(draw: st.DrawFn, small: bool = True) -> tuple[pl.DataFrame, list[str], list]:
    """A random table with all its margins, and its equations (margin, members).

    Dimension 0 may be a two-level hierarchy (counties within regions, then the nation);
    the others are flat with a total. Three-way tables are where margin-by-margin rules
    fail and the global audit is needed. Leaf counts are drawn from 0..40 with small values
    frequent, or (small=False) from {0} and k..40 so that no cell or margin is small.
    """
    hier = draw(st.booleans())
    n_flat = draw(st.integers(1, 2 if hier else 3))
    dims: list[list[tuple]] = []   # positions per dimension; a position is a key tuple
    parents: list[dict[tuple, list[tuple]]] = []
    if hier:
        regions = {f"r{i}": [f"c{i}{j}" for j in range(draw(st.integers(1, 3)))]
                   for i in range(draw(st.integers(2, 3)))}
        pos = [(r, c) for r, cs in regions.items() for c in cs]
        pos += [(r, None) for r in regions] + [(None, None)]
        dims.append(pos)
        par = {(r, None): [(r, c) for c in cs] for r, cs in regions.items()}
        par[(None, None)] = [(r, None) for r in regions]
        parents.append(par)
    for d in range(n_flat):
        levels = [f"v{d}{i}" for i in range(draw(st.integers(2, 4)))]
        dims.append([(lv,) for lv in levels] + [(None,)])
        parents.append({(None,): [(lv,) for lv in levels]})
    leaf_values = st.integers(0, 40) if small else st.one_of(st.just(0), st.integers(5, 40))
    if small:
        leaf_values = st.one_of(st.integers(0, 6), leaf_values)
    leaves = [p for p in itertools.product(*dims)
              if all(pos not in parents[i] for i, pos in enumerate(p))]
    value = {leaf: draw(leaf_values) for leaf in leaves}

    def total(cell: tuple) -> int:
        if cell in value:
            return value[cell]
        i = next(i for i, pos in enumerate(cell) if pos in parents[i])
        value[cell] = sum(total(cell[:i] + (c,) + cell[i + 1:]) for c in parents[i][cell[i]])
        return value[cell]

    cells = list(itertools.product(*dims))
    equations = [(cell, [cell[:i] + (c,) + cell[i + 1:] for c in parents[i][pos]])
                 for cell in cells for i, pos in enumerate(cell) if pos in parents[i]]
    keys = (["region", "county"] if hier else []) + [f"d{d}" for d in range(n_flat)]
    rows = [tuple(itertools.chain.from_iterable(c)) + (total(c),) for c in cells]
    frame = pl.DataFrame(rows, schema=[*[(k, pl.String) for k in keys], ("n", pl.Int64)],
                         orient="row", )
    flat_eq = [(tuple(itertools.chain.from_iterable(p)),
                [tuple(itertools.chain.from_iterable(m)) for m in ms]) for p, ms in equations]
    return frame, keys, flat_eq


def _derivable_cells(out: pl.DataFrame, keys: list[str], equations: list,
                     truth: dict | None = None) -> list[tuple]:
    """Masked cells the margin equations fix, and (given the true counts) pairs of masked
    cells whose joint count they fix at 1..4."""
    masked = [tuple(r[:len(keys)]) for r in out.iter_rows() if r[len(keys)] is None]
    col = {cell: j for j, cell in enumerate(masked)}
    rows = []
    for parent, members in equations:
        row = np.zeros(len(masked))
        for cell, sign in ((parent, 1), *((m, -1) for m in members)):
            if cell in col:
                row[col[cell]] += sign
        rows.append(row)
    a = np.array(rows) if rows else np.zeros((0, len(masked)))
    rank = np.linalg.matrix_rank(a) if a.size else 0
    combos = [(cell,) for cell in col]
    if truth is not None:
        combos += [pair for pair in itertools.combinations(col, 2)
                   if 0 < truth[pair[0]] + truth[pair[1]] < 5]
    found = []
    for combo in combos:
        e = np.zeros((1, len(masked)))
        e[0, [col[c] for c in combo]] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            found.append(combo[0] if len(combo) == 1 else combo)
    return found


@settings(max_examples=120, deadline=None)
@given(tables())
def test_property_no_small_visible_and_nothing_derivable(table) -> None:
    frame, keys, equations = table
    out = suppress(frame, keys, margins=keys, config=K5)
    visible = out["n"].drop_nulls()
    assert not visible.is_between(1, 4).any()
    truth = dict(zip(frame.select(keys).rows(), frame["n"].to_list(), strict=True))
    assert _derivable_cells(out, keys, equations, truth) == []
    # The masked cells of every shown margin hold at least k cases between them.
    shown = dict(zip(out.select(keys).rows(), out["n"].to_list(), strict=True))
    for parent, members in equations:
        hidden = [truth[m] for m in members if shown[m] is None]
        if hidden and shown[parent] is not None:
            assert sum(hidden) >= 5


def test_two_masked_cells_in_different_margins_do_not_reveal_their_joint_count() -> None:
    # A 2 x 2 x 2 table with every margin. Suppressing the 1 and the 2 group-wise once
    # left x(00,11,20) + x(01,10,21) = 3 fixed by the margins (found by an LP audit).
    inner = {("00", "10", "20"): 39, ("00", "10", "21"): 38, ("00", "11", "20"): 1,
             ("00", "11", "21"): 24, ("01", "10", "20"): 34, ("01", "10", "21"): 2,
             ("01", "11", "20"): 36, ("01", "11", "21"): 8}
    truth: dict[tuple, int] = {}
    for key, v in inner.items():
        for drop in itertools.product([False, True], repeat=3):
            cell = tuple(None if d else x for x, d in zip(key, drop, strict=True))
            truth[cell] = truth.get(cell, 0) + v
    keys = ["a", "b", "c"]
    frame = pl.DataFrame([(*c, v) for c, v in truth.items()],
                         schema=[*[(k, pl.String) for k in keys], ("n", pl.Int64)], orient="row")
    equations = [(cell, [cell[:i] + (x,) + cell[i + 1:] for x in levels])
                 for cell in truth for i, levels in enumerate((("00", "01"), ("10", "11"),
                                                               ("20", "21")))
                 if cell[i] is None]
    out = suppress(frame, keys, margins=keys, config=K5)
    assert _derivable_cells(out, keys, equations, truth) == []


def test_a_zero_margin_gives_its_masked_members_away() -> None:
    # Column c1 adds up to 0, so masked cells in it are known to be 0 (counts are not
    # negative) and cannot hide the 3. Check with a linear programme over non-negative
    # counts: the visible cells and the margin equations must leave x(b, c2) a range.
    from scipy.optimize import linprog
    frame = pl.DataFrame({"r": ["a", "a", "b", "b", None, None, "a", "b", None],
                          "c": ["c1", "c2", "c1", "c2", "c1", "c2", None, None, None],
                          "n": [0, 27, 0, 3, 0, 30, 27, 3, 30]})
    out = suppress(frame, ["r", "c"], margins=["r", "c"], config=K5)
    cells = out.select("r", "c").rows()
    at = {cell: j for j, cell in enumerate(cells)}
    eqs = []
    for r in ("a", "b", None):
        eqs.append([(r, None), (r, "c1"), (r, "c2")])
    for c in ("c1", "c2", None):
        eqs.append([(None, c), ("a", c), ("b", c)])
    a_eq = [[(1 if cell == total else -1 if cell in members else 0) for cell in cells]
            for total, *members in eqs]
    b_eq = [0.0] * len(eqs)
    for cell, value in zip(cells, out["n"].to_list(), strict=True):
        if value is not None:
            a_eq.append([1 if c == cell else 0 for c in cells])
            b_eq.append(float(value))
    target = [1.0 if c == ("b", "c2") else 0.0 for c in cells]
    low = linprog(target, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
    high = -linprog([-t for t in target], A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
    assert out["n"][at[("b", "c2")]] is None and high - low > 0.5


@settings(max_examples=60, deadline=None)
@given(tables(small=False))
def test_property_table_without_small_cells_is_unchanged(table) -> None:
    frame, keys, _ = table
    out = suppress(frame, keys, margins=keys, config=K5)
    assert out.drop(FLAG).equals(frame)
