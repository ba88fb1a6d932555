"""Relative and net survival: hand-computed intervals, closed forms, period, standardisation."""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import polars as pl
import pytest
from lifelines import KaplanMeierFitter

from analysis.errors import InputError, UserError
from analysis.stats.relative_survival import (
    age_standardised,
    rate_table,
    relative_survival,
    standard_weights,
)
from analysis.stats.sparse_age_groups import merged_age_groups
from analysis.stats.survival import prepare_followup


def _lifetable(rate, years=range(2000, 2031), ages=range(0, 101), **extra) -> pl.DataFrame:
    """A life table whose hazard is rate(year, sex, age)."""
    rows = [{"year": y, "sex": s, "age": a, "mortality_rate": float(rate(y, s, a)), **extra}
            for y in years for s in (1, 2) for a in ages]
    return pl.DataFrame(rows)


def _data(time, event, sex=None, entry=None, age=70.0, dx=date(2010, 1, 1), **cols):
    n = len(time)
    return pl.DataFrame({
        "entry": entry or [0.0] * n, "time": [float(t) for t in time], "event": event,
        "sex": sex or [1] * n, "age_exact": [age] * n, "diagnosis_date": [dx] * n, **cols})


def _simulated(n, excess, pop, seed, age_range=(60, 80)) -> pl.DataFrame:
    """Exponential deaths at hazard excess + pop, uniform censoring over 10 years."""
    rng = np.random.default_rng(seed)
    t = rng.exponential(1 / (excess + pop), n)
    c = rng.uniform(0, 10, n)
    dx = np.datetime64("2005-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    return pl.DataFrame({
        "entry": 0.0, "time": np.minimum(t, c), "event": (t < c).astype(np.int64),
        "sex": rng.integers(1, 3, n), "age_exact": rng.uniform(*age_range, n),
        "diagnosis_date": dx}).with_columns(pl.col("diagnosis_date").cast(pl.Date))


def test_ederer2_hand_computed_annual_intervals() -> None:
    # Four patients, population hazard 0.1 for all, annual intervals (popEpi formulas):
    # interval 1: y = 0.5 + 1 + 1 + 1 = 3.5, d = 1, e = 0.35
    # interval 2: y = 0.5 + 0.25 + 1 = 1.75, d = 1, e = 0.175
    data = _data([0.5, 1.5, 1.25, 2.0], [1, 0, 1, 0])
    out = relative_survival(data, _lifetable(lambda y, s, a: 0.1), times=[1, 2],
                            method="ederer2", grid_per_year=1, min_cases=1)
    lam1, lam2 = (1 - 0.35) / 3.5, (1 - 0.175) / 1.75
    assert out["estimate"].to_list() == pytest.approx(
        [math.exp(-lam1), math.exp(-lam1 - lam2)], rel=1e-12)
    var2 = 1 / 3.5 ** 2 + 1 / 1.75 ** 2
    r2 = math.exp(-lam1 - lam2)
    assert out["se"][1] == pytest.approx(r2 * math.sqrt(var2), rel=1e-12)
    assert out["lower"][1] == pytest.approx(r2 * math.exp(-1.959964 * math.sqrt(var2)), rel=1e-6)
    assert out["expected"].to_list() == pytest.approx([math.exp(-0.1), math.exp(-0.2)])
    assert out["n_at_risk"].to_list() == [3, 1]
    assert out["n_events"].to_list() == [1, 1]  # deaths in each year
    # Pohar Perme equals Ederer II when everyone has the same expected hazard.
    pp = relative_survival(data, _lifetable(lambda y, s, a: 0.1), times=[1, 2],
                           method="pohar-perme", grid_per_year=1, min_cases=1)
    assert pp["estimate"].to_list() == pytest.approx(out["estimate"].to_list(), rel=1e-12)
    assert pp["se"].to_list() == pytest.approx(out["se"].to_list(), rel=1e-12)


def test_pohar_perme_hand_computed_weights() -> None:
    # Men hazard 0.1, women 0.3. Weight 1/S*(m) at the middle of the remaining
    # interval: m = 0.5 in interval 1 and 1.5 in interval 2 (everyone enters at 0).
    data = _data([0.5, 1.5, 1.25, 2.0], [1, 0, 1, 0], sex=[1, 2, 1, 2])
    lt = _lifetable(lambda y, s, a: 0.1 if s == 1 else 0.3)
    out = relative_survival(data, lt, times=[2], method="pohar-perme", grid_per_year=1,
                            min_cases=1)
    w = {(1, 1): math.exp(0.05), (2, 1): math.exp(0.15),
         (1, 2): math.exp(0.15), (2, 2): math.exp(0.45)}  # (sex, interval)
    h = {1: 0.1, 2: 0.3}
    # (sex, time at risk, died) per interval
    rows1 = [(1, 0.5, 1), (2, 1.0, 0), (1, 1.0, 0), (2, 1.0, 0)]
    rows2 = [(2, 0.5, 0), (1, 0.25, 1), (2, 1.0, 0)]
    lam, var = 0.0, 0.0
    for k, rows in ((1, rows1), (2, rows2)):
        yw = sum(y * w[s, k] for s, y, _ in rows)
        dw = sum(d * w[s, k] for s, _, d in rows)
        ew = sum(y * h[s] * w[s, k] for s, y, _ in rows)
        dw2 = sum(d * w[s, k] ** 2 for s, _, d in rows)
        lam += (dw - ew) / yw
        var += dw2 / yw ** 2
    assert out["estimate"][0] == pytest.approx(math.exp(-lam), rel=1e-12)
    assert out["se"][0] == pytest.approx(math.exp(-lam) * math.sqrt(var), rel=1e-12)


def test_expected_hazard_follows_attained_age_and_calendar_year() -> None:
    # Age 70.5 at diagnosis: 0.01 per year until the 71st birthday (t = 0.5), then 0.05.
    lt = _lifetable(lambda y, s, a: 0.01 if a <= 70 else 0.05)
    one = _data([1.0], [0], age=70.5)
    out = relative_survival(one, lt, times=[1], method="ederer2", min_cases=1)
    assert out["expected"][0] == pytest.approx(math.exp(-(0.5 * 0.01 + 0.5 * 0.05)), rel=1e-9)
    # Calendar year: 0.02 in 2010, 0.04 in 2011; beyond the table the last year is used.
    lt = _lifetable(lambda y, s, a: 0.02 if y == 2010 else 0.04, years=[2010, 2011])
    out = relative_survival(_data([3.0], [0]), lt, times=[1, 2, 3], method="ederer2",
                            min_cases=1)
    assert out["expected"].to_list() == pytest.approx(
        [math.exp(-0.02), math.exp(-0.06), math.exp(-0.10)], rel=1e-9)


def test_birthday_and_new_year_in_one_interval_and_beyond_the_table() -> None:
    # Diagnosed 2010-12-10 aged 70.98: every year the birthday (t = k + 0.02) and New
    # Year (t = k + 22/365) fall in the same month, so that month has three pieces of
    # hazard; ages above 72 and years after 2012 use the table's last. The hazard
    # differs in every cell: the expected survival must be exp(-Lambda*(t)) with
    # Lambda* integrated here piece by piece.
    def rate(year, _sex, age):
        return 0.001 * (age + 1) + 0.002 * (year - 2005)

    lt = _lifetable(rate, years=range(2008, 2013), ages=range(0, 73))
    age0, cal0 = 70.98, 2010 + 343 / 365

    def cumulative(t: float) -> float:
        cuts = sorted({0.0, t, *(k - age0 for k in range(71, 75) if 0 < k - age0 < t),
                       *(k - cal0 for k in range(2011, 2015) if 0 < k - cal0 < t)})
        return sum((hi - lo) * rate(min(math.floor(cal0 + (lo + hi) / 2), 2012), 1,
                                    min(math.floor(age0 + (lo + hi) / 2), 72))
                   for lo, hi in itertools.pairwise(cuts))

    times = [1 / 12, 1.0, 2.0, 3.0]
    out = relative_survival(_data([3.0], [0], age=age0, dx=date(2010, 12, 10)), lt,
                            times=times, method="ederer2", min_cases=1)
    assert out["expected"].to_list() == pytest.approx(
        [math.exp(-cumulative(t)) for t in times], rel=1e-12)


def test_regional_life_table_uses_patients_region() -> None:
    lt = pl.concat([_lifetable(lambda y, s, a: 0.05, region="norr"),
                    _lifetable(lambda y, s, a: 0.01, region="syd")])
    data = _data([1.0, 1.0], [0, 0], region=["norr", "syd"])
    out = relative_survival(data, lt, by=["region"], times=[1], method="ederer2", min_cases=1)
    assert out["expected"].to_list() == pytest.approx([math.exp(-0.05), math.exp(-0.01)])
    with pytest.raises(UserError, match="no rows for region vast"):
        relative_survival(_data([1.0], [0], region=["vast"]), lt, times=[1], min_cases=1)


def test_zero_population_hazard_gives_observed_and_close_to_km() -> None:
    data = _simulated(4000, 0.2, 0.0, seed=11)
    out = relative_survival(data, _lifetable(lambda y, s, a: 0.0), times=[1, 3, 5],
                            method="pohar-perme")
    assert out["estimate"].to_list() == pytest.approx(out["observed"].to_list(), rel=1e-12)
    km = KaplanMeierFitter().fit(data["time"].to_numpy(), data["event"].to_numpy())
    # The monthly interval-hazard estimate differs from the product-limit estimate only
    # by the within-interval approximation.
    assert out["estimate"].to_list() == pytest.approx(
        km.survival_function_at_times([1, 3, 5]).to_list(), abs=0.005)


@pytest.mark.parametrize("method", ["ederer2", "pohar-perme"])
def test_constant_hazards_closed_form(method: str) -> None:
    # Excess hazard 0.1 on top of population hazard 0.03: net survival exp(-0.1 t).
    data = _simulated(20000, 0.1, 0.03, seed=5)
    out = relative_survival(data, _lifetable(lambda y, s, a: 0.03), times=[1, 5],
                            method=method)
    for row, t in zip(out.iter_rows(named=True), [1, 5], strict=True):
        assert abs(row["estimate"] - math.exp(-0.1 * t)) < 3 * row["se"]
        assert row["lower"] < math.exp(-0.1 * t) < row["upper"]


def test_no_excess_deaths_gives_relative_survival_near_one() -> None:
    # Deaths only at a Gompertz population rate b exp(0.08 (age - 50)); the life table
    # holds it at the middle of each year of age, so table and simulation agree.
    rng = np.random.default_rng(8)
    n = 20000
    age = rng.uniform(50, 60, n)
    lt = _lifetable(lambda y, s, a: 0.002 * math.exp(0.08 * (a + 0.5 - 50)))
    hazard0 = 0.002 * np.exp(0.08 * (age - 50))
    # Inverse of the Gompertz cumulative hazard (hazard0 / 0.08) (exp(0.08 t) - 1).
    t = np.log1p(0.08 * -np.log(rng.uniform(size=n)) / hazard0) / 0.08
    c = rng.uniform(0, 10, n)
    data = pl.DataFrame({"entry": 0.0, "time": np.minimum(t, c),
                         "event": (t < c).astype(np.int64), "sex": 1, "age_exact": age,
                         "diagnosis_date": date(2010, 1, 1)})
    for method in ("ederer2", "pohar-perme"):
        out = relative_survival(data, lt, times=[5, 10], method=method)
        assert out["estimate"].to_list() == pytest.approx([1.0, 1.0], abs=0.02)
        assert all(lo < 1 < hi for lo, hi in zip(out["lower"], out["upper"], strict=True))


def test_period_analysis_hand_computed() -> None:
    # Delayed entry (Brenner & Gefeller 1996), zero population hazard, annual intervals:
    # interval 1: y = (0.75 - 0.5) + 1 = 1.25 with one death; interval 2: y = 1 + 0.25
    # (the third case enters at 1.5) = 1.25 with one death.
    data = _data([0.75, 2.0, 1.75], [1, 0, 1], entry=[0.5, 0.0, 1.5])
    out = relative_survival(data, _lifetable(lambda y, s, a: 0.0), times=[1, 2],
                            method="ederer2", grid_per_year=1, min_cases=1)
    assert out["estimate"].to_list() == pytest.approx([math.exp(-0.8), math.exp(-1.6)])
    assert out["n_at_risk"].to_list() == [1, 1]  # entry < t <= exit: only the second case
    # Pohar Perme weights run from diagnosis, not from entry: with hazard 0.1 the case
    # entering at 1.5 has weight exp(0.1 * 1.75) in interval 2 (middle of 1.5..2).
    lt = _lifetable(lambda y, s, a: 0.1)
    pp = relative_survival(data, lt, times=[2], method="pohar-perme", grid_per_year=1,
                           min_cases=1)
    w1 = [math.exp(0.1 * 0.75), math.exp(0.05)]  # interval 1: case 1 from 0.5, case 2
    y1 = [0.25, 1.0]
    w2 = [math.exp(0.15), math.exp(0.175)]  # interval 2: case 2, case 3 from 1.5
    y2 = [1.0, 0.25]
    lam = ((w1[0] - 0.1 * sum(a * b for a, b in zip(w1, y1, strict=True)))
           / sum(a * b for a, b in zip(w1, y1, strict=True))
           + (w2[1] - 0.1 * sum(a * b for a, b in zip(w2, y2, strict=True)))
           / sum(a * b for a, b in zip(w2, y2, strict=True)))
    assert pp["estimate"][0] == pytest.approx(math.exp(-lam), rel=1e-9)


def test_age_standardisation_weights() -> None:
    weights = standard_weights("icss1")
    assert weights["weight"].to_list() == [0.07, 0.12, 0.23, 0.29, 0.29]
    assert standard_weights("nordcan_icss1")["weight"].to_list() == [0.12, 0.17, 0.27, 0.29,
                                                                     0.15]
    lt = _lifetable(lambda y, s, a: 0.01 + 0.001 * a)
    groups = []
    for i, (lo, hi) in enumerate([(15, 44), (45, 54), (55, 64), (65, 74), (75, 89)]):
        part = _simulated(300, 0.05 * (i + 1), 0.0, seed=20 + i, age_range=(lo, hi + 1))
        groups.append(part.with_columns(pl.col("age_exact").floor().cast(pl.Int64).alias("age")))
    children = groups[0].head(5).with_columns(pl.lit(10, pl.Int64).alias("age"),
                                              pl.lit(10.5).alias("age_exact"))
    data = pl.concat([*groups, children])
    out = age_standardised(data, lt, "icss1", times=[1, 5]).sort("time")
    per_group = [relative_survival(g, lt, times=[1, 5]) for g in groups]
    for k in range(2):
        est = sum(w * g["estimate"][k] for w, g in zip(weights["weight"], per_group,
                                                        strict=True))
        se = math.sqrt(sum((w * g["se"][k]) ** 2 for w, g in zip(weights["weight"], per_group,
                                                                  strict=True)))
        assert out["estimate"][k] == pytest.approx(est, rel=1e-12)
        assert out["se"][k] == pytest.approx(se, rel=1e-12)
    assert out["n"][0] == 1500 and out["n_outside_standard"][0] == 5
    assert out["smallest_age_group"][0] == 300
    # Without merging (min_age_group_cases=0), an empty age group leaves no
    # standardised estimate, and says which.
    gap = age_standardised(pl.concat(groups[1:]), lt, "icss1", times=[1],
                           min_age_group_cases=0).row(0, named=True)
    assert gap["estimate"] is None and gap["reason"] == "no estimate in age group(s) 15-44"
    assert gap["smallest_age_group"] == 0 and gap["merged"] is None


def test_merged_age_groups_follow_nordcans_neighbour_rule() -> None:
    # Youngest sparse: merges upwards; oldest downwards; a middle one into its smaller
    # neighbour; repeated until every merged group reaches the minimum.
    assert merged_age_groups([3, 40, 50, 60, 70], 10) == [0, 0, 1, 2, 3]
    assert merged_age_groups([30, 40, 50, 60, 2], 10) == [0, 1, 2, 3, 3]
    assert merged_age_groups([30, 12, 4, 60, 70], 10) == [0, 1, 1, 2, 3]
    # 0 joins 4 (4), 3 joins that (7), still under 10: joins 60.
    assert merged_age_groups([0, 4, 3, 60, 70], 10) == [0, 0, 0, 0, 1]
    assert merged_age_groups([1, 2, 3], 10) == [0, 0, 0]  # one group left
    assert merged_age_groups([30, 40], 10) == [0, 1]


def test_a_sparse_age_group_is_merged_and_the_estimate_stays_standardised() -> None:
    # ICSS 1 with 15-44 holding 4 cases (< 10): it is merged with 45-54, the merged group
    # weighs 0.07 + 0.12 = 0.19, and the estimate is
    #   0.19 R(15-54) + 0.23 R(55-64) + 0.29 R(65-74) + 0.29 R(75+).
    lt = _lifetable(lambda y, s, a: 0.01 + 0.001 * a)
    groups = []
    for i, (lo, hi) in enumerate([(15, 44), (45, 54), (55, 64), (65, 74), (75, 89)]):
        part = _simulated(300, 0.05 * (i + 1), 0.0, seed=40 + i, age_range=(lo, hi + 1))
        groups.append(part.with_columns(pl.col("age_exact").floor().cast(pl.Int64).alias("age")))
    groups[0] = groups[0].head(4)
    out = age_standardised(pl.concat(groups), lt, "icss1", times=[1, 5]).sort("time")
    merged = relative_survival(pl.concat(groups[:2]), lt, times=[1, 5], min_cases=1)
    rest = [relative_survival(g, lt, times=[1, 5]) for g in groups[2:]]
    for k in range(2):
        parts = [(0.19, merged)] + list(zip([0.23, 0.29, 0.29], rest, strict=True))
        assert out["estimate"][k] == pytest.approx(
            sum(w * g["estimate"][k] for w, g in parts), rel=1e-12)
        assert out["se"][k] == pytest.approx(
            math.sqrt(sum((w * g["se"][k]) ** 2 for w, g in parts)), rel=1e-12)
    assert out["merged"].to_list() == ["15-44 + 45-54"] * 2
    assert out["smallest_age_group"][0] == 4
    # By group: only the sparse group merges; the other keeps the five ICSS groups.
    both = pl.concat([pl.concat(groups).with_columns(pl.lit("a").alias("g")),
                      pl.concat(groups[1:] + [groups[1].head(300).with_columns(
                          pl.lit(30, pl.Int64).alias("age"), pl.lit(30.5).alias("age_exact"))]
                      ).with_columns(pl.lit("b").alias("g"))])
    by_group = {r["g"]: r for r in age_standardised(both, lt, "icss1", ["g"], times=[1])
                .iter_rows(named=True)}
    assert by_group["a"]["merged"] == "15-44 + 45-54" and by_group["b"]["merged"] is None
    assert by_group["a"]["estimate"] == pytest.approx(out["estimate"][0], rel=1e-12)


def test_min_cases_zero_events_and_grid() -> None:
    lt = _lifetable(lambda y, s, a: 0.0)
    small = relative_survival(_data([1.0] * 3, [0] * 3), lt, times=[1]).row(0, named=True)
    assert small["estimate"] is None and small["reason"] == "fewer than 25 cases"
    none = relative_survival(_data([2.0] * 30, [0] * 30), lt, times=[1]).row(0, named=True)
    assert (none["estimate"], none["se"]) == (1.0, 0.0)
    with pytest.raises(UserError, match="multiples of 1/12"):
        relative_survival(_data([2.0], [0]), lt, times=[0.51], min_cases=1)


def test_reason_when_first_group_has_an_estimate_and_a_later_one_not() -> None:
    # Regression: the reason column starts with None here (group "a" has an estimate).
    lt = _lifetable(lambda y, s, a: 0.0)
    data = pl.concat([_data([2.0] * 30, [0] * 30, group=["a"] * 30),
                      _data([2.0] * 3, [0] * 3, group=["b"] * 3)])
    rows = {r["group"]: r for r in relative_survival(data, lt, by=["group"], times=[1])
            .iter_rows(named=True)}
    assert (rows["a"]["estimate"], rows["a"]["reason"]) == (1.0, None)
    assert (rows["b"]["estimate"], rows["b"]["reason"]) == (None, "fewer than 25 cases")


def test_life_table_errors() -> None:
    lt = _lifetable(lambda y, s, a: 0.01, years=[2010, 2011], ages=range(0, 3))
    with pytest.raises(UserError, match="no row for sex 2, age 1, year 2011"):
        rate_table(lt.filter(~((pl.col("sex") == 2) & (pl.col("age") == 1)
                               & (pl.col("year") == 2011))))
    with pytest.raises(InputError, match="row 13.*duplicate row for sex=1, age=0, year=2010"):
        rate_table(pl.concat([lt, lt.head(1)]))
    with pytest.raises(InputError, match="column 'mortality_rate', value '-1.0'"):
        rate_table(lt.with_columns(pl.when(pl.col("age") == 2).then(-1.0)
                                   .otherwise(pl.col("mortality_rate")).alias("mortality_rate")))


def test_prepared_cases_end_to_end() -> None:
    # prepare_followup output feeds relative_survival directly (exact ages from dates).
    cases = pl.DataFrame({
        "case_id": ["a", "b"], "person_id": ["x", "y"], "sex": [1, 2],
        "birth_date": [date(1940, 7, 2), date(1950, 1, 1)],
        "diagnosis_date": [date(2010, 1, 1), date(2010, 1, 1)],
        "death_date": [None, None], "vital_status_date": [date(2012, 1, 1)] * 2})
    data = prepare_followup(cases).data
    out = relative_survival(data, _lifetable(lambda y, s, a: 0.02), times=[1], min_cases=1,
                            method="ederer2")
    assert out["expected"][0] == pytest.approx(math.exp(-0.02))


def test_an_age_group_without_an_estimate_is_merged_too() -> None:
    # 75+: 30 cases (not sparse) who all die within a year: nobody is at risk at five
    # years, so that age group has no five-year estimate. It is merged with its smaller
    # neighbour 65-74 (weight 0.29 + 0.29) instead of leaving the group unstandardised.
    lt = _lifetable(lambda y, s, a: 0.01)
    groups = []
    for i, (lo, hi) in enumerate([(15, 44), (45, 54), (55, 64), (65, 74)]):
        part = _simulated(200, 0.05 * (i + 1), 0.0, seed=60 + i, age_range=(lo, hi + 1))
        groups.append(part.with_columns(pl.col("age_exact").floor().cast(pl.Int64).alias("age")))
    old = _data([0.5] * 30, [1] * 30, age=80.0).with_columns(pl.lit(80, pl.Int64).alias("age"))
    groups.append(old.select(groups[0].columns))
    out = age_standardised(pl.concat(groups), lt, "icss1", times=[5]).row(0, named=True)
    assert out["merged"] == "65-74 + 75+" and out["reason"] is None
    merged = relative_survival(pl.concat(groups[3:]), lt, times=[5]).row(0, named=True)
    rest = [relative_survival(g, lt, times=[5]).row(0, named=True) for g in groups[:3]]
    expected = 0.58 * merged["estimate"] + sum(
        w * r["estimate"] for w, r in zip([0.07, 0.12, 0.23], rest, strict=True))
    assert out["estimate"] == pytest.approx(expected, rel=1e-12)
