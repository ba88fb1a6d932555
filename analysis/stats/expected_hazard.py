"""The expected (population) hazard of a cohort, split by interval of follow-up and
aggregated: the first step of relative and net survival
(:mod:`analysis.stats.relative_survival`), popEpi's "aggregate first" approach
(Miettinen et al., popEpi::survtab with ``surv.method = "hazard"``).

The population hazard follows the patient: it is looked up in the life table by sex,
attained age and calendar year (the ratetable logic of R's survival/relsurv), and its
integral over an interval is exact for a piecewise-constant table (each interval is cut
at the patient's birthday and at New Year). Ages and years outside the table use the
nearest available ones. With a ``county`` or ``region`` column the table is regional.
Pohar Perme's weights (Pohar Perme, Stare & Estève 2012) are 1/S*_i(t), the patient's
expected survival since diagnosis at the middle of their time at risk in the interval
(popEpi's "delta" weighting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.errors import InputError, UserError

# Tolerance of follow-up times against the ends of the intervals.
EPS = 1e-9


@dataclass(frozen=True)
class RateTable:
    """A life table as a dense array of hazards indexed by area, sex, age and year."""

    rates: np.ndarray  # flat, index ((area * 2 + sex - 1) * n_age + age) * n_year + year
    area: str | None  # "county", "region" or None (national table)
    areas: dict[str, int]
    age_min: int
    n_age: int
    year_min: int
    n_year: int


def _area_column(frame: pl.DataFrame) -> str | None:
    for col in ("county", "region"):
        if col in frame.columns and frame.get_column(col).null_count() < frame.height:
            return col
    return None


def rate_table(lifetable: pl.DataFrame, source: str = "lifetable") -> RateTable:
    """Check a life table (year, sex, age, mortality_rate; optional county or region)
    and arrange it for lookup. Every area, sex, age and year in its range must occur
    exactly once."""
    missing = [c for c in ("year", "sex", "age", "mortality_rate") if c not in lifetable.columns]
    if missing:
        raise UserError(f"{source}: missing column(s) {', '.join(missing)}")
    area = _area_column(lifetable)
    lt = lifetable.with_row_index("_row", offset=1)
    for col, bad, rule in (
            ("mortality_rate", pl.col("mortality_rate").is_null()
             | (pl.col("mortality_rate") < 0) | pl.col("mortality_rate").is_nan(),
             "mortality rate must be a number >= 0"),
            ("sex", ~pl.col("sex").is_in([1, 2]) | pl.col("sex").is_null(), "sex must be 1 or 2"),
            ("age", pl.col("age").is_null(), "age is required"),
            ("year", pl.col("year").is_null(), "year is required"),
            *([(area, pl.col(area).is_null(), f"{area} is required in a regional table")]
              if area else [])):
        rows = lt.filter(bad)
        if rows.height:
            raise InputError(source, rule, row=int(rows["_row"][0]), column=col,
                             value=rows[col][0])
    keys = [*([area] if area else []), "sex", "age", "year"]
    dup = lt.filter(~pl.struct(keys).is_first_distinct())
    if dup.height:
        first = dup.row(0, named=True)
        raise InputError(source, f"duplicate row for {', '.join(f'{k}={first[k]}' for k in keys)}",
                         row=int(first["_row"]))
    areas = sorted(lt.get_column(area).unique().to_list()) if area else [""]
    area_idx = {a: i for i, a in enumerate(areas)}
    age_min, age_max = int(lt["age"].min()), int(lt["age"].max())
    year_min, year_max = int(lt["year"].min()), int(lt["year"].max())
    n_age, n_year = age_max - age_min + 1, year_max - year_min + 1
    rates = np.full(len(areas) * 2 * n_age * n_year, np.nan)
    a_i = (lt.get_column(area).replace_strict(area_idx, return_dtype=pl.Int64).to_numpy()
           if area else np.zeros(lt.height, dtype=np.int64))
    idx = (((a_i * 2 + lt["sex"].to_numpy() - 1) * n_age + lt["age"].to_numpy() - age_min)
           * n_year + lt["year"].to_numpy() - year_min)
    rates[idx] = lt["mortality_rate"].to_numpy()
    if np.isnan(rates).any():
        gap = int(np.flatnonzero(np.isnan(rates))[0])
        year, rest = year_min + gap % n_year, gap // n_year
        age, rest = age_min + rest % n_age, rest // n_age
        sex, a = rest % 2 + 1, areas[rest // 2]
        where = f"{area} {a}, " if area else ""
        raise UserError(f"{source}: no row for {where}sex {sex}, age {age}, year {year}; the "
                        f"table must cover ages {age_min}-{age_max} and years "
                        f"{year_min}-{year_max} for every sex{' and ' + area if area else ''}")
    return RateTable(rates, area, area_idx, age_min, n_age, year_min, n_year)


def _hazard(rt: RateTable, base: np.ndarray, age: np.ndarray, cal: np.ndarray) -> np.ndarray:
    """Population hazard at an attained age and calendar time (nearest age/year beyond
    the table)."""
    return _hazard_floored(rt, base, np.floor(age), np.floor(cal))


def _hazard_floored(rt: RateTable, base: np.ndarray, age: np.ndarray, cal: np.ndarray
                    ) -> np.ndarray:
    """:func:`_hazard` of ages and calendar times already rounded down to whole years."""
    # np.minimum/np.maximum rather than np.clip, whose Python wrapper costs more than
    # the clipping of a few thousand values.
    ia = np.minimum(np.maximum(age.astype(np.int64) - rt.age_min, 0), rt.n_age - 1)
    iy = np.minimum(np.maximum(cal.astype(np.int64) - rt.year_min, 0), rt.n_year - 1)
    return rt.rates[(base * rt.n_age + ia) * rt.n_year + iy]


def _integrate(rt: RateTable, base: np.ndarray, age0: np.ndarray, cal0: np.ndarray,
               start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Integral of the population hazard over [start, stop] (years since diagnosis,
    stop - start <= 1), cut at the next birthday and the next New Year so that each
    piece has one table value; each piece is looked up at its midpoint."""
    birthday = np.floor(age0 + start) + 1 - age0
    new_year = np.floor(cal0 + start) + 1 - cal0
    cut1 = np.minimum(np.minimum(birthday, new_year), stop)
    cut2 = np.minimum(np.maximum(birthday, new_year), stop)
    mid = (start + cut1) / 2
    total = (cut1 - start) * _hazard(rt, base, age0 + mid, cal0 + mid)
    # A birthday or New Year falls inside few intervals (about 1 in 6 of monthly ones):
    # the second and third pieces are looked up only where they have a length (a piece of
    # length 0 adds 0, so the sums are the same to the bit).
    for lo, hi in ((cut1, cut2), (cut2, stop)):
        at = np.flatnonzero(hi > lo)
        if not at.size:
            continue
        lo, hi = lo[at], hi[at]
        mid = (lo + hi) / 2
        total[at] += (hi - lo) * _hazard(rt, base[at], age0[at] + mid, cal0[at] + mid)
    return total


_SUMS = ("y", "d", "e", "yw", "dw", "ew", "dw2")


def _constant_piece(rt: RateTable, base: np.ndarray, age0: np.ndarray, cal0: np.ndarray,
                    start: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The population hazard from `start` (years since diagnosis) on, and when it next
    changes: the next birthday or New Year, whichever comes first, and the other one
    (the same expressions as :func:`_integrate`, so that both cut an interval at the
    same points)."""
    age, year = np.floor(age0 + start), np.floor(cal0 + start)
    birthday, new_year = age + 1 - age0, year + 1 - cal0
    return (_hazard_floored(rt, base, age, year), np.minimum(birthday, new_year),
            np.maximum(birthday, new_year))


def aggregate(entry: np.ndarray, exit_: np.ndarray, event: np.ndarray, base: np.ndarray,
              age0: np.ndarray, cal0: np.ndarray, group: np.ndarray, n_groups: int,
              n_int: int, grid: int, rt: RateTable) -> dict[str, np.ndarray]:
    """Per group and interval: person-years y, deaths d, expected deaths e, and their
    Pohar Perme weighted versions yw, dw, ew, plus dw2 (deaths weighted by 1/S*^2).

    One interval at a time, over the patients still in follow-up at its start (sorted
    by decreasing follow-up, they are a prefix of the arrays, so each step works on
    views of at most one value per patient). Each patient's population hazard is
    constant between birthdays and New Years: it is carried from interval to interval
    and looked up again only where one of these falls inside the interval (about one
    monthly interval in six), where the interval is integrated piece by piece. The
    expected cumulative hazard since diagnosis is carried along as a running sum.
    """
    n_cells = np.ceil(exit_ * grid - EPS).astype(np.int64).clip(0, n_int)
    order = np.argsort(-n_cells, kind="stable")
    entry, exit_, event, base, age0, cal0, group, n_cells = (
        v[order] for v in (entry, exit_, event, base, age0, cal0, group, n_cells))
    # In follow-up in interval j: the first in_fu[j] patients.
    in_fu = np.searchsorted(-n_cells, -np.arange(n_int + 1), side="left")
    # ... and of each group.
    followed = (np.bincount(group, minlength=n_groups)[:, None]
                - count_from(group, n_cells, n_groups, n_int))
    sums = {k: np.zeros((n_groups, n_int)) for k in _SUMS}
    piece = _constant_piece(rt, base, age0, cal0, 0.0)
    cum = np.zeros(len(base))  # expected cumulative hazard at the start of the interval
    last_weight = np.zeros(len(base))  # the weight in the patient's last interval
    delayed = bool((entry > 0).any())  # period approach: some enter after diagnosis
    # Each patient's last cell depends on no running sum: all of them at once, rather
    # than a few hundred per interval (the same arithmetic, value by value).
    last = n_cells - 1
    exits = _edge_cells(rt, np.arange(len(base)), entry, exit_, base, age0, cal0,
                        last / grid, (last + 1) / grid)
    # The steps' arrays of one value per patient in follow-up, reused from interval to
    # interval: allocating them anew cost more than the arithmetic in them.
    work = np.empty((4, len(base)))
    for j in range(n_int):
        m, m_next = in_fu[j], in_fu[j + 1]
        if m == 0:
            break
        a, b = j / grid, (j + 1) / grid
        full = _interval_hazard(rt, piece, base, age0, cal0, m, a, b, work[0, :m])
        # Cells not at risk throughout the interval: the last ones, and in the period
        # approach those before or at the entry; the others need no lo, hi or y.
        edge = np.arange(m_next, m)
        cells = [v[m_next:m] for v in exits]
        if delayed:
            entering = np.flatnonzero(entry[:m_next] > a)
            edge = np.concatenate([entering, edge])
            cells = [np.concatenate(pair) for pair in zip(
                _edge_cells(rt, entering, entry, exit_, base, age0, cal0, a, b), cells,
                strict=True)]
        if edge.size:
            lo, y, whole, own = cells
            expected = np.where(whole, full[edge], own)
            weight_edge = np.exp(cum[edge] + full[edge] * grid * ((lo + b) / 2 - a))
        # 1/S* at the middle of the remaining time in the interval, interpolating the
        # cumulative hazard linearly within the interval.
        weight = np.multiply(full, grid, out=work[1, :m])
        weight *= (a + b) / 2 - a
        weight += cum[:m]
        np.exp(weight, out=weight)
        cum[:m] += full
        y_weight = np.multiply(weight, b - a, out=work[2, :m])
        # Person-time as whole intervals less what the edge cells lack: one rounding
        # instead of one per patient (a sum of 100 000 equal lengths is off by 1e-12).
        sums["y"][:, j] = followed[:, j] * (b - a)
        if edge.size:
            full[edge], weight[edge], y_weight[edge] = expected, weight_edge, y * weight_edge
            sums["y"][:, j] -= np.bincount(group[edge], weights=(b - a) - y,
                                           minlength=n_groups)
        last_weight[m_next:m] = weight[m_next:m]
        key = group[:m]
        for name, values in (("e", full), ("yw", y_weight),
                             ("ew", np.multiply(full, weight, out=work[3, :m]))):
            sums[name][:, j] = (values.sum() if n_groups == 1  # bincount: 5-10 ns a value
                                else np.bincount(key, weights=values, minlength=n_groups))
    # A death is in the patient's last interval.
    died = (event == 1) & (n_cells > 0)
    key, weight = group[died] * n_int + n_cells[died] - 1, last_weight[died]
    for name, values in (("d", np.ones(len(key))), ("dw", weight), ("dw2", weight ** 2)):
        sums[name] = np.bincount(key, weights=values, minlength=n_groups * n_int).reshape(
            n_groups, n_int)
    return sums


def _edge_cells(rt: RateTable, edge: np.ndarray, entry: np.ndarray, exit_: np.ndarray,
                base: np.ndarray, age0: np.ndarray, cal0: np.ndarray,
                a: float | np.ndarray, b: float | np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The cells of the patients `edge` in the intervals [a, b] (one interval, or one
    each): the start of their time at risk, its length y, whether they are at risk
    throughout (their expected deaths are then the interval's integral, known only in
    the loop), and otherwise their expected deaths (0 without time at risk)."""
    lo = np.maximum(entry[edge], a)
    hi = np.minimum(exit_[edge], b)
    y = np.maximum(hi - lo, 0.0)
    partial = (y > 0) & ((lo > a) | (hi < b))
    own = np.zeros(len(edge))
    at = np.flatnonzero(partial)
    if at.size:
        who = edge[at]
        own[at] = _integrate(rt, base[who], age0[who], cal0[who], lo[at], hi[at])
    return lo, y, (y > 0) & ~partial, own


def _interval_hazard(rt: RateTable, piece: tuple[np.ndarray, np.ndarray, np.ndarray],
                     base: np.ndarray, age0: np.ndarray, cal0: np.ndarray, m: int, a: float,
                     b: float, out: np.ndarray) -> np.ndarray:
    """The integral of the population hazard over [a, b] for the first m patients (in
    `out`), from `piece` (each patient's hazard and its next two changes,
    :func:`_constant_piece`), which is moved on to b where a birthday or a New Year falls
    inside."""
    hazard, change, change2 = piece
    full = np.multiply(hazard[:m], b - a, out=out)
    cut = np.flatnonzero(change[:m] < b)
    if cut.size:
        # The hazard so far up to the first change, the one from b on after the second
        # (carried to the next intervals), and the one in between, up to the second
        # change or b: the pieces of _integrate. The middle piece has a length nearly
        # always; where it has none (a birthday on New Year's Day) it adds exactly 0.
        c_base, c_age, c_cal = base[cut], age0[cut], cal0[cut]
        first, second = change[cut], np.minimum(change2[cut], b)
        after = _constant_piece(rt, c_base, c_age, c_cal, b)
        inside = (first - a) * hazard[cut]
        mid = (first + second) / 2
        inside += (second - first) * _hazard(rt, c_base, c_age + mid, c_cal + mid)
        full[cut] = inside + (b - second) * after[0]
        hazard[cut], change[cut], change2[cut] = after
    return full


def count_from(group: np.ndarray, first: np.ndarray, n_groups: int, n_int: int
               ) -> np.ndarray:
    """Per group and interval end k: how many patients have first <= k (first = index of
    the first interval end at or after which the patient counts)."""
    keep = first < n_int
    counts = np.bincount(group[keep] * n_int + first[keep], minlength=n_groups * n_int)
    return np.cumsum(counts.reshape(n_groups, n_int), axis=1)
