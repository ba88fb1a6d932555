"""Relative and net survival against a slow reference written from the published formulas.

The reference below shares no code with analysis.relative_survival. It works from the raw
dates (birth, diagnosis, death, vital status, period window) patient by patient:

* Expected cumulative hazard Lambda*_i(t): exact for the piecewise-constant life table.
  Every birthday (attained age = days since birth / 365.25, as R's survival ratetables)
  and every New Year is a breakpoint; between breakpoints the rate is constant, so
  Lambda*_i is piecewise linear and exact. The calendar year is either the real date's
  year (R's ratetable convention, "dates") or the decimal year year + (day of year - 1) /
  days in year that the module uses ("decimal"). Ages and years beyond the table use the
  nearest ones.
* Interval estimators, per interval (a, b] of 1/grid years and per group (popEpi::survtab,
  surv.method = "hazard", R/survival_utility_functions.R comp.st.r.e2.haz/comp.st.r.pp.haz):
  Ederer II  R(t) = exp(-sum_k D (d_k - e_k) / y_k), SE = R sqrt(sum_k D^2 d_k / y_k^2);
  Pohar Perme N(t) = exp(-sum_k D (d^w_k - e^w_k) / y^w_k),
  SE = N sqrt(sum_k D^2 d^{w2}_k / (y^w_k)^2), weights 1/S*_i at the middle of the
  patient's remaining time in the interval (popEpi's "delta" weighting).
* Continuous-time Pohar Perme (Pohar Perme, Stare & Esteve 2012, eq. for Lambda_E):
  Lambda_E(t) = int [sum_i w_i dN_i - sum_i w_i Y_i lambda*_i ds] / sum_i w_i Y_i, with
  w_i = 1/S*_i(s) = exp(Lambda*_i(s)). Since dw_i/ds = lambda*_i w_i, on a stretch with a
  fixed risk set the expected part is exactly log W(s1) - log W(s0), W = sum_i w_i Y_i; no
  numerical integration is needed. Ties: every death at s adds w_i(s) / W(s). The
  variance is sum_i w_i^2 dN_i / W^2. Unweighted (w = 1) this is the continuous limit of
  the hazard-form Ederer II.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import polars as pl
import pytest

from analysis.stats.relative_survival import relative_survival_curve
from analysis.stats.survival import Z95, period_window, prepare_followup, settings

DAYS = 365.25
YEARS = range(2003, 2020)  # later years (to the 2023 closing date) use 2019's rates
AGES = range(30, 100)  # older ages use age 99's rates
CLOSING = date(2023, 12, 31)
WINDOW = (date(2015, 1, 1), date(2019, 12, 31))


def pop_rate(year: int, sex: int, age: int) -> float:
    """Gompertz in age with a falling calendar trend; women lower."""
    return ((0.012 if sex == 1 else 0.008) * math.exp(0.085 * (age - 60))
            * math.exp(-0.015 * (year - 2010)))


def table_rate(sex: int, age: int, year: int) -> float:
    age = min(max(age, AGES[0]), AGES[-1])
    year = min(max(year, YEARS[0]), YEARS[-1])
    return pop_rate(year, sex, age)


LIFETABLE = pl.DataFrame([{"year": y, "sex": s, "age": a, "mortality_rate": pop_rate(y, s, a)}
                          for y in YEARS for s in (1, 2) for a in AGES])


# --- the cohort ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    sex: int
    birth: date
    dx: date
    death: date | None
    vital: date
    group: str


def _cases(seed: int, n: int) -> list[Case]:
    """n random cases plus fixed ones for the edge cases."""
    rng = np.random.default_rng(seed)
    first, span = date(2005, 1, 1), (date(2020, 12, 31) - date(2005, 1, 1)).days
    out = []
    for i in range(n):
        sex = int(rng.integers(1, 3))
        dx = first + timedelta(days=int(rng.integers(0, span + 1)))
        age = rng.uniform(40, 90)
        birth = dx - timedelta(days=int(age * DAYS))
        # Excess hazard 0.15 on top of roughly the population's; any pattern would do.
        hazard = 0.15 + pop_rate(dx.year, sex, int(age))
        death_days = int(rng.exponential(1 / hazard) * DAYS)
        if rng.random() < 0.3:  # ties in follow-up time
            death_days = 30 * round(death_days / 30)
        end_days = min(int(rng.uniform(0, 25) * DAYS), (CLOSING - dx).days)
        if death_days <= end_days:
            death = dx + timedelta(days=death_days)
            out.append(Case(sex, birth, dx, death, death, "main"))
        else:
            out.append(Case(sex, birth, dx, None, dx + timedelta(days=end_days),
                            "alive" if i % 9 == 0 else "main"))
    # Everyone in group "alive" survives (some of the random censored cases and these).
    out += [Case(s, date(1940 + s, 3, 1), date(2006 + s, 5, 17), None, CLOSING, "alive")
            for s in (1, 2)]

    def dead(sex, birth, dx, days):
        d = dx + timedelta(days=days)
        return Case(sex, birth, dx, d, d, "main")

    def censored(sex, birth, dx, days):
        return Case(sex, birth, dx, None, dx + timedelta(days=days), "main")

    b = date(1945, 6, 30)
    out += [
        censored(1, b, date(2010, 3, 15), 0),  # censored at time 0
        dead(2, b, date(2012, 6, 1), 0),  # death on the day of diagnosis
        dead(1, b, date(2017, 3, 3), 0),  # ... and one inside the period window
        censored(2, b, date(2018, 1, 10), 0),
        # Ties: three deaths and a censoring 400 days after diagnosis.
        dead(1, b, date(2008, 2, 29), 400), dead(2, date(1930, 1, 1), date(2009, 7, 1), 400),
        dead(2, b, date(2016, 10, 1), 400), censored(1, b, date(2011, 1, 1), 400),
        # 1461 days = exactly 4 years: a death and a censoring on an interval end.
        dead(1, b, date(2007, 9, 9), 1461), censored(2, b, date(2013, 9, 9), 1461),
        # The period window: a death on its first day, on its last day, on the day after.
        dead(1, b, date(2013, 5, 5), (WINDOW[0] - date(2013, 5, 5)).days),
        dead(2, b, date(2016, 8, 8), (WINDOW[1] - date(2016, 8, 8)).days),
        dead(1, b, date(2014, 2, 2), (WINDOW[1] - date(2014, 2, 2)).days + 1),
        # Very old at the end of follow-up (beyond the table's ages and years).
        censored(2, date(1915, 3, 1), date(2005, 1, 3), (CLOSING - date(2005, 1, 3)).days),
    ]
    return out


def _module_data(cases: list[Case], window: bool) -> pl.DataFrame:
    frame = pl.DataFrame({
        "sex": [c.sex for c in cases], "birth_date": [c.birth for c in cases],
        "diagnosis_date": [c.dx for c in cases], "death_date": [c.death for c in cases],
        "vital_status_date": [c.vital for c in cases], "group": [c.group for c in cases]},
        schema_overrides={"death_date": pl.Date})
    data = prepare_followup(frame).data
    assert data.height == len(cases)
    return period_window(data, *WINDOW) if window else data


# --- the reference ---------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUp:
    case: Case
    entry: Fraction  # days since diagnosis, exact
    exit: Fraction
    died: bool

    def years(self, days: Fraction) -> float:
        return float(days) / DAYS


def _follow_up(case: Case, window: bool) -> FollowUp | None:
    """Time at risk from the dates. A death on the day of diagnosis gets the configured
    part of a day. A death dated D is at (D - dx) days: day D is the stretch
    ((D - dx - 1), (D - dx)] days. The window [start, end] covers its days start..end,
    i.e. the times ((start - dx - 1) days, (end - dx) days]: a death on its first day
    and one on its last day are in it, one on the day after its last day is not."""
    if case.death is not None:
        days = (case.death - case.dx).days
        exit_ = Fraction(settings().same_day_death_days) if days == 0 else Fraction(days)
    else:
        exit_ = Fraction((case.vital - case.dx).days)
    died, entry = case.death is not None, Fraction(0)
    if window:
        if (case.death or case.vital) < WINDOW[0] or case.dx > WINDOW[1]:
            return None
        entry = max(entry, Fraction((WINDOW[0] - case.dx).days - 1))
        end = Fraction((WINDOW[1] - case.dx).days)
        if (case.death or case.vital) > WINDOW[1]:
            exit_, died = end, False
        if exit_ <= entry:
            return None
    return FollowUp(case, entry, exit_, died)


def _cumulative_hazard(case: Case, horizon: float, cal: str):
    """Lambda*(t), t in years since diagnosis, exact (piecewise linear)."""
    age0 = (case.dx - case.birth).days / DAYS
    cuts = {0.0, horizon}
    birthday = math.floor(age0) + 1
    while birthday - age0 < horizon:
        cuts.add(birthday - age0)
        birthday += 1
    year = case.dx.year + 1
    if cal == "dates":
        while (t := (date(year, 1, 1) - case.dx).days / DAYS) < horizon:
            cuts.add(t)
            year += 1

        def year_at(t: float) -> int:
            return (case.dx + timedelta(days=t * DAYS)).year
    else:
        cal0 = case.dx.year + (case.dx.timetuple().tm_yday - 1) / (
            366 if calendar.isleap(case.dx.year) else 365)
        while (t := year - cal0) < horizon:
            cuts.add(t)
            year += 1

        def year_at(t: float) -> int:
            return math.floor(cal0 + t)
    ts = sorted(cuts)
    cum = [0.0]
    for t0, t1 in zip(ts, ts[1:], strict=False):
        mid = (t0 + t1) / 2
        cum.append(cum[-1] + (t1 - t0) * table_rate(case.sex, math.floor(age0 + mid),
                                                    year_at(mid)))
    ts_arr, cum_arr = np.array(ts), np.array(cum)
    return lambda t: float(np.interp(t, ts_arr, cum_arr))


def _finish(d, e, d2, width, y):
    """Cumulate (weighted) interval sums into the estimate exp(-sum D (d - e) / y) and
    its SE (popEpi hazard method)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.cumsum(width * (d - e) / y)
        var = np.cumsum(width ** 2 * d2 / y ** 2)
    est = np.exp(-log_r)
    se = est * np.sqrt(var)
    return est, se


def reference_intervals(follow: list[FollowUp], method: str, grid: int, horizon: float,
                        cal: str = "dates", weight_at: str = "exact") -> dict[str, dict]:
    """Per group: the interval estimator at every interval end, patient by patient and
    interval by interval. weight_at "exact": 1/S*(m) with the exact Lambda*; "linear":
    Lambda* interpolated linearly within the interval (what the module documents)."""
    n_int = round(horizon * grid)
    width = 1 / grid
    horizon_days = Fraction(horizon) * Fraction(DAYS)
    out = {}
    for group in sorted({f.case.group for f in follow}):
        s = {k: np.zeros(n_int) for k in ("y", "d", "e", "yw", "dw", "ew", "dw2")}
        ends = [Fraction(k + 1, grid) * Fraction(DAYS) for k in range(n_int)]  # in days
        at_risk, events = np.zeros(n_int, int), np.zeros(n_int, int)
        members = [f for f in follow if f.case.group == group]
        for f in members:
            lam = _cumulative_hazard(f.case, horizon, cal)
            stop = min(f.exit, horizon_days)
            died = f.died and f.exit <= horizon_days
            for k in range(n_int):
                a, b = (ends[k - 1] if k else Fraction(0)), ends[k]
                lo, hi = max(a, f.entry), min(b, stop)
                at_risk[k] += f.entry < b <= f.exit
                events[k] += died and a < f.exit <= b  # deaths in the interval
                if hi <= lo:
                    continue
                ya, yb, ylo, yhi = (f.years(x) for x in (a, b, lo, hi))
                m = (ylo + yb) / 2
                if weight_at == "exact":
                    w = math.exp(lam(m))
                else:
                    w = math.exp(lam(ya) + (lam(yb) - lam(ya)) * (m - ya) / (yb - ya))
                death = 1.0 if died and a < f.exit <= b else 0.0
                expected = lam(yhi) - lam(ylo)
                for key, v in (("y", yhi - ylo), ("d", death), ("e", expected),
                               ("yw", (yhi - ylo) * w), ("dw", death * w),
                               ("ew", expected * w), ("dw2", death * w * w)):
                    s[key][k] += v
        if method == "ederer2":
            est, se = _finish(s["d"], s["e"], s["d"], width, s["y"])
        else:
            est, se = _finish(s["dw"], s["ew"], s["dw2"], width, s["yw"])
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = np.exp(-np.cumsum(width * s["d"] / s["y"]))
            expected_surv = np.exp(-np.cumsum(width * s["e"] / s["y"]))
        out[group] = {"n": len(members), "n_at_risk": at_risk, "n_events": events,
                      "estimate": est, "se": se, "observed": observed,
                      "expected": expected_surv if method == "ederer2" else None}
    return out


def reference_continuous(follow: list[FollowUp], method: str, times: list[float],
                         cal: str = "dates") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per group: continuous-time estimate and SE at `times` (years), exact (module
    docstring above). Ederer II here is its hazard form's limit: the Nelson-Aalen
    observed hazard minus the mean expected hazard of those at risk."""
    horizon = max(times)
    out = {}
    for group in sorted({f.case.group for f in follow}):
        members = [f for f in follow if f.case.group == group]
        lams = [_cumulative_hazard(f.case, horizon, cal) for f in members]
        entry = np.array([f.years(f.entry) for f in members])
        exit_ = np.array([f.years(f.exit) for f in members])
        died = np.array([f.died for f in members])
        # The risk set changes only at entries and exits.
        points = sorted({0.0, *times, *entry[entry < horizon], *exit_[exit_ < horizon]})
        cum, var, at = 0.0, 0.0, {}
        for s0, s1 in zip(points, points[1:], strict=False):
            risk = np.flatnonzero((entry <= s0) & (exit_ >= s1))
            if len(risk) == 0:
                cum = var = math.nan
            else:
                l0 = np.array([lams[i](s0) for i in risk])
                l1 = np.array([lams[i](s1) for i in risk])
                dying = died[risk] & (exit_[risk] == s1)
                if method == "ederer2":
                    cum += (dying.sum() - (l1 - l0).sum()) / len(risk)
                    var += dying.sum() / len(risk) ** 2
                else:
                    w1 = np.exp(l1)
                    cum += (w1[dying].sum() / w1.sum()
                            - (np.log(w1.sum()) - np.log(np.exp(l0).sum())))
                    var += (w1[dying] ** 2).sum() / w1.sum() ** 2
            at[s1] = (cum, var)
        est = np.array([math.exp(-at[t][0]) for t in times])
        out[group] = (est, est * np.sqrt([at[t][1] for t in times]))
    return out


# --- checks ----------------------------------------------------------------------------

def _module(data: pl.DataFrame, method: str, grid: int, horizon: float,
            conf_type: str = "log") -> dict[str, pl.DataFrame]:
    curve = relative_survival_curve(data, LIFETABLE, by=["group"], horizon=horizon,
                                    method=method, grid_per_year=grid, conf_type=conf_type,
                                    min_cases=1)
    return {g: part.sort("time") for (g,), part in curve.partition_by(
        "group", as_dict=True).items()}


def _col(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


COHORT = _cases(seed=2024, n=140)


@pytest.fixture(scope="module", params=[False, True], ids=["cohort", "period"])
def design(request):
    window = request.param
    follow = [f for c in COHORT if (f := _follow_up(c, window)) is not None]
    data = _module_data(COHORT, window)
    assert data.height == len(follow)
    return follow, data


def test_reference_lambda_star_against_fine_integration() -> None:
    # The reference's exact Lambda* against a brute-force Riemann sum on 1e-5-year steps
    # looking every step's rate up from its date (checks the reference itself).
    for case in COHORT[:4] + COHORT[-1:]:
        lam = _cumulative_hazard(case, 10.0, "dates")
        step = 1e-5
        t = (np.arange(round(10 / step)) + 0.5) * step
        age = np.floor((case.dx - case.birth).days / DAYS + t).astype(int)
        dx_day = np.datetime64(case.dx, "D").astype(np.int64)
        when = (dx_day + np.floor(t * DAYS).astype(np.int64)).astype("datetime64[D]")
        year = when.astype("datetime64[Y]").astype(int) + 1970
        table = np.array([[table_rate(case.sex, a, y) for y in range(1990, 2040)]
                          for a in range(0, 130)])
        riemann = np.cumsum(table[age, year - 1990]) * step
        for k in (1, 3, 7, 10):
            # Midpoint sums are exact between rate changes; each of the ~2 changes a year
            # costs at most step x rate step (< 1e-5 x 0.03).
            assert lam(k) == pytest.approx(riemann[round(k / step) - 1], abs=1e-6)


@pytest.mark.parametrize("method", ["ederer2", "pohar-perme"])
def test_monthly_intervals_identical_discretisation(design, method) -> None:
    """Same intervals and the module's documented conventions (decimal calendar year,
    Lambda* linear within a month for the weight): agreement to rounding error."""
    follow, data = design
    got = _module(data, method, grid=12, horizon=10)
    ref = reference_intervals(follow, method, grid=12, horizon=10, cal="decimal",
                              weight_at="linear")
    assert set(got) == set(ref) == {"main", "alive"}
    for group, r in ref.items():
        g = got[group]
        assert g["n"][0] == r["n"]
        assert g["n_at_risk"].to_list() == r["n_at_risk"].tolist()
        assert g["n_events"].to_list() == r["n_events"].tolist()
        cols = ["estimate", "se", "observed"] + (["expected"] if method == "ederer2" else [])
        for name in cols:
            np.testing.assert_allclose(_col(g, name), r[name], rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=f"{group} {name}")
        # The log CI, R exp(+-1.96 SE / R).
        est, se = r["estimate"], r["se"]
        with np.errstate(invalid="ignore", divide="ignore"):
            np.testing.assert_allclose(_col(g, "lower"), est * np.exp(-Z95 * se / est),
                                       rtol=1e-9, equal_nan=True)
    alive = ref["alive"]["estimate"]
    # No deaths: R(t) = 1 / S*(t) > 1 with SE 0 (Ederer II: exactly 1 / expected).
    assert np.all(alive[np.isfinite(alive)] > 1)
    assert np.all(_col(got["alive"], "se")[np.isfinite(alive)] == 0)
    assert np.isfinite(ref["main"]["estimate"]).all()


@pytest.mark.parametrize("method", ["ederer2", "pohar-perme"])
def test_monthly_intervals_exact_expected_hazard(design, method) -> None:
    """The reference with the real calendar (life-table year = the date's year, as R's
    ratetables) and the exact S*(m) in the weights, against the module's approximations:
    * its decimal-year New Year (cal0 + t, t in 365.25-day years) lies within about a day
      (0.003 y) of the real one, where the rate steps by 1.5%: at most ~1.5e-5 on one
      patient's Lambda* per New Year at age 99 (rate 0.33), ~1e-7 at typical ages;
    * for the Pohar Perme weights Lambda* is linear within a month, missing a birthday's
      8.9% rate step by up to (1/12) x step / 4 in log weight (~1e-4 at age 99).
    Diluted over the risk set, measured: Ederer II <= 1.6e-6, Pohar Perme <= 1.1e-5
    (relative); the tolerances leave a factor ~4 over that."""
    follow, data = design
    got = _module(data, method, grid=12, horizon=10)
    ref = reference_intervals(follow, method, grid=12, horizon=10)
    rtol = 5e-6 if method == "ederer2" else 5e-5
    for group, r in ref.items():
        for name in ("estimate", "se") + (("expected",) if method == "ederer2" else ()):
            np.testing.assert_allclose(_col(got[group], name), r[name], rtol=rtol,
                                       equal_nan=True, err_msg=f"{group} {name}")


@pytest.mark.parametrize("method", ["ederer2", "pohar-perme"])
def test_continuous_time_limit(design, method) -> None:
    """1461 intervals a year are quarter days: every entry and exit (whole days since
    diagnosis, or half a day) falls on an interval end (interval ends are whole years only
    at integers, hence the times), so the interval estimator should reproduce the exact
    continuous-time estimator (same calendar convention here).
    Ederer II: the risk set is constant within each quarter day and the expected hazard
    is integrated exactly, so the two are the same number (1e-9).
    Pohar Perme: a death's weight and W are taken at the middle of its quarter day, not at
    the death: relative error (lambda*_i - mean lambda*) x D / 2 <= 0.33 / 2922 ~ 1e-4 on
    each jump w_i / W of ~1/100, ~1e-6 per death (measured: 1.3e-6 estimate, 3e-6 SE)."""
    follow, data = design
    times = [1.0, 2.0, 3.0, 4.0, 5.0]
    got = _module(data, method, grid=1461, horizon=5)
    exact = reference_continuous(follow, method, times, cal="decimal")
    rtol = 1e-9 if method == "ederer2" else 2e-5
    for group, (est, se) in exact.items():
        at = got[group].filter(pl.col("time").is_in(times))
        assert at["time"].to_list() == pytest.approx(times, rel=1e-12)
        np.testing.assert_allclose(_col(at, "estimate"), est, rtol=rtol, equal_nan=True)
        np.testing.assert_allclose(_col(at, "se"), se, rtol=rtol, atol=1e-12,
                                   equal_nan=True)


def test_monthly_close_to_continuous(design) -> None:
    """The default monthly grid against the exact continuous-time Pohar Perme estimator
    (real calendar): the difference is the monthly discretisation (a month's deaths
    divided by its person-time rather than each by the risk set at its time; weights
    held over a month). With ~100 cases at risk it is a small fraction of the standard
    error (measured: 0.02-0.07 SE, SEs within 1%)."""
    follow, data = design
    times = [1.0, 2.0, 3.0, 5.0]
    got = _module(data, "pohar-perme", grid=12, horizon=5)["main"]
    est, se = reference_continuous(follow, "pohar-perme", times)["main"]
    at = got.filter(pl.col("time").is_in(times))
    assert np.all(np.abs(_col(at, "estimate") - est) < 0.15 * se)
    np.testing.assert_allclose(_col(at, "se"), se, rtol=0.02)


def test_the_order_of_the_cases_does_not_matter(design) -> None:
    # Patients are taken one interval at a time, sorted by follow-up, each carrying their
    # population hazard from one birthday or New Year to the next: the order of the rows
    # must not change the estimates (only the order of floating-point sums).
    follow, data = design
    whole = _module(data, "pohar-perme", grid=12, horizon=10)
    shuffled = _module(data.sample(fraction=1.0, shuffle=True, seed=3), "pohar-perme",
                       grid=12, horizon=10)
    for group, frame in whole.items():
        for col in ("estimate", "se"):
            np.testing.assert_allclose(_col(shuffled[group], col), _col(frame, col),
                                       rtol=1e-12, equal_nan=True)


def test_zero_follow_up_last_and_alone() -> None:
    # A case censored at time 0 as the last row, or as the only case of a group.
    cases = [c for c in COHORT if c.group == "main"][:40]
    zero = Case(1, date(1950, 1, 1), date(2015, 5, 5), None, date(2015, 5, 5), "main")
    lone = Case(2, date(1950, 1, 1), date(2015, 5, 5), None, date(2015, 5, 5), "lone")
    for extra in ([zero], [lone]):
        data = _module_data(cases + extra, window=False)
        follow = [f for c in cases + extra if (f := _follow_up(c, False)) is not None]
        got = _module(data, "ederer2", grid=12, horizon=2)
        ref = reference_intervals(follow, "ederer2", grid=12, horizon=2, cal="decimal")
        np.testing.assert_allclose(_col(got["main"], "estimate"), ref["main"]["estimate"],
                                   rtol=1e-9)
        if "lone" in got:
            assert got["lone"]["estimate"].null_count() == got["lone"].height
            assert set(got["lone"]["reason"]) == {"no follow-up in an interval up to "
                                                  "this time"}
