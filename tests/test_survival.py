"""Observed survival: follow-up preparation, Kaplan-Meier, median, log-rank, period window."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from analysis.errors import InputError, UserError
from analysis.stats.survival import (
    kaplan_meier,
    km_curve,
    km_median,
    logrank,
    period_window,
    prepare_followup,
)

# Freireich et al. (1963) leukaemia remission data, 6-MP arm (weeks; 0 = censored), the
# worked example of Klein & Moeschberger (2003), Survival Analysis, Table 4.1A/4.3.
MP6_TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP6_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
# Placebo arm: every patient relapsed.
PLACEBO_TIME = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def _frame(time: list[float], event: list[int], group: str = "a") -> pl.DataFrame:
    return pl.DataFrame({"group": group, "entry": 0.0, "time": [float(t) for t in time],
                         "event": event})


def _cases(rows: list[dict]) -> pl.DataFrame:
    schema = {"case_id": pl.String, "person_id": pl.String, "sex": pl.Int64,
              "birth_date": pl.Date, "diagnosis_date": pl.Date, "death_date": pl.Date,
              "vital_status_date": pl.Date, "basis_of_diagnosis": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _case(i: int, birth: date, dx: date, death: date | None, vital: date,
          basis: str = "histology") -> dict:
    return {"case_id": f"c{i}", "person_id": f"19500101-{i:04d}", "sex": 1,
            "birth_date": birth, "diagnosis_date": dx, "death_date": death,
            "vital_status_date": vital, "basis_of_diagnosis": basis}


def test_km_6mp_matches_klein_moeschberger() -> None:
    out = kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[6, 7, 10, 13, 16, 22, 23],
                       min_cases=1)
    # Klein & Moeschberger Table 4.1A: S(t) and Greenwood standard errors.
    expected_s = [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    expected_se = [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135]
    assert out["estimate"].to_list() == pytest.approx(expected_s, abs=5e-4)
    assert out["se"].to_list() == pytest.approx(expected_se, abs=5e-4)
    assert out["n_at_risk"].to_list() == [21, 17, 15, 12, 11, 7, 6]
    # Deaths since the previous time, as summary.survfit(times = ...).
    assert out["n_events"].to_list() == [3, 1, 1, 1, 1, 1, 1]
    # Log(-log) interval at 6 weeks, Klein & Moeschberger eq. 4.3.2 / Table 4.3: (0.620, 0.952).
    first = out.row(0, named=True)
    s, v = 18 / 21, 3 / (21 * 18)
    theta = math.exp(1.959964 * math.sqrt(v) / math.log(s))
    assert first["lower"] == pytest.approx(s ** (1 / theta), rel=1e-6)
    assert first["upper"] == pytest.approx(s ** theta, rel=1e-6)
    assert (round(first["lower"], 3), round(first["upper"], 3)) == (0.620, 0.952)


def test_km_edge_cases() -> None:
    # No events: S = 1 with zero standard error.
    none = kaplan_meier(_frame([1, 2, 3], [0, 0, 0]), times=[1.5], min_cases=1).row(0, named=True)
    assert (none["estimate"], none["se"]) == (1.0, 0.0)
    # A single case that dies: S drops to 0 and stays there.
    one = kaplan_meier(_frame([2], [1]), times=[1, 3], min_cases=1)
    assert one["estimate"].to_list() == [1.0, 0.0]
    # Censoring at time 0 changes no estimate (the case is never at risk after 0).
    base = kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[10, 23], min_cases=1)
    zero = kaplan_meier(_frame([0, *MP6_TIME], [0, *MP6_EVENT]), times=[10, 23], min_cases=1)
    assert zero["estimate"].to_list() == pytest.approx(base["estimate"].to_list(), rel=1e-12)
    # At time 0 every case is at risk and S = 1; a negative time is an error.
    start = kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[0], min_cases=1).row(0, named=True)
    assert (start["n_at_risk"], start["estimate"]) == (21, 1.0)
    with pytest.raises(UserError, match="0 or more years"):
        kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[-1], min_cases=1)
    # Beyond the last (censored) follow-up: no estimate, with the reason.
    beyond = kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[40], min_cases=1).row(0, named=True)
    assert beyond["estimate"] is None and "follow-up ends" in beyond["reason"]


def test_km_equals_lifelines_on_cohort_data_with_ties() -> None:
    # Random follow-up on a coarse grid: many tied deaths and censorings at death times.
    from lifelines import KaplanMeierFitter
    rng = np.random.default_rng(7)
    time = rng.integers(0, 40, 300) / 4
    event = (rng.random(300) < 0.6).astype(int)
    times = [0.5, 1, 2.25, 4, 6.5, 8]
    ours = kaplan_meier(_frame(time, event), times=times, min_cases=1)
    kmf = KaplanMeierFitter().fit(time, event)
    sf = kmf.survival_function_at_times(times).to_numpy()
    band = kmf.confidence_interval_survival_function_
    idx = np.searchsorted(band.index.to_numpy(), times, side="right") - 1
    assert ours["estimate"].to_numpy() == pytest.approx(sf, rel=1e-12)
    assert ours["lower"].to_numpy() == pytest.approx(band.iloc[idx, 0].to_numpy(), rel=1e-9)
    assert ours["upper"].to_numpy() == pytest.approx(band.iloc[idx, 1].to_numpy(), rel=1e-9)


def test_km_delayed_entry_greenwood_counts_only_cases_already_at_risk() -> None:
    # Two cases enter at 2, when a death occurs: they are not at risk then (R's (start,
    # stop]). At 2: 6 at risk, 1 death, S = 5/6, SE = S sqrt(1 / (6 * 5)).
    data = pl.DataFrame({"entry": [0.0, 0, 0, 2, 2, 0, 1, 0],
                         "time": [2.0, 3, 4, 5, 6, 2, 3, 5], "event": [1, 1, 0, 1, 0, 0, 1, 1]})
    out = kaplan_meier(data, times=[2], min_cases=1).row(0, named=True)
    assert out["n_at_risk"] == 6 and out["estimate"] == pytest.approx(5 / 6)
    assert out["se"] == pytest.approx(5 / 6 * math.sqrt(1 / 30))


def test_km_carries_on_across_an_empty_risk_set() -> None:
    # Nobody is at risk between 2 and 3; the curve stays at 1/2 until the death at 5 of
    # one of the two who entered at 3: S(5) = 1/2 x 1/2 (R's survfit does the same).
    data = pl.DataFrame({"entry": [0.0, 0, 3, 3], "time": [1.0, 2, 5, 6],
                         "event": [1, 0, 1, 0]})
    out = kaplan_meier(data, times=[2.5, 4, 5], min_cases=1)
    assert out["estimate"].to_list() == pytest.approx([0.5, 0.5, 0.25])
    assert out["n_at_risk"].to_list() == [0, 2, 2]
    # S is exactly 1/2 from 1 to 5: the median is the midpoint, 3.
    assert km_median(data, min_cases=1)["estimate"][0] == 3.0


def test_median_of_a_curve_ending_on_the_flat_at_one_half() -> None:
    # Deaths at 1..4, censorings at 5..8: S = 7/8 6/7 5/6 4/5 = 1/2 from 4 to the end
    # (8), so the median is (4 + 8) / 2 (quantile.survfit), although the product is
    # not exactly 0.5 in floating point.
    out = km_median(_frame(range(1, 9), [1] * 4 + [0] * 4), min_cases=1).row(0, named=True)
    assert out["estimate"] == 6.0


def test_km_min_cases_gives_reason_not_estimate() -> None:
    out = kaplan_meier(_frame(MP6_TIME, MP6_EVENT), times=[10], min_cases=25).row(0, named=True)
    assert out["estimate"] is None and out["reason"] == "fewer than 25 cases"
    assert out["n"] == 21


def test_median_6mp() -> None:
    out = km_median(_frame(MP6_TIME, MP6_EVENT), min_cases=1).row(0, named=True)
    # Median: first time with S(t) <= 0.5 is 23 weeks (S = 0.448).
    assert out["estimate"] == 23.0
    # Lower limit: first time the lower log(-log) band is <= 0.5 (Brookmeyer-Crowley).
    # Lower band at 13 and 16 weeks, from the Greenwood sums of Table 4.1A.
    gw, s = 0.0, 1.0
    lower = {}
    for t, n, d in [(6, 21, 3), (7, 17, 1), (10, 15, 1), (13, 12, 1), (16, 11, 1)]:
        s *= 1 - d / n
        gw += d / (n * (n - d))
        lower[t] = s ** (1 / math.exp(1.959964 * math.sqrt(gw) / math.log(s)))
    assert lower[10] > 0.5 >= lower[13]
    assert out["lower"] == 13.0
    # The upper band never falls to 0.5 within follow-up.
    assert out["upper"] is None and "upper" in out["reason"]


def _loglog_lower(s: float, greenwood: float) -> float:
    return s ** (1 / math.exp(1.959964 * math.sqrt(greenwood) / math.log(s)))


def test_median_midpoint_rule_and_undefined_band_as_r_survfit() -> None:
    # Four deaths at 1..4: S = 3/4, 1/2, 1/4, 0. S stays exactly at 0.5 from 2 to 3, so
    # the median is the midpoint 2.5 (R quantile.survfit). The upper band is undefined
    # at S = 0 (R: NA) and above 0.5 before, so the upper limit is not estimable.
    four = km_median(_frame([1, 2, 3, 4], [1] * 4), min_cases=1).row(0, named=True)
    assert four["estimate"] == 2.5
    assert _loglog_lower(0.75, 1 / 12) <= 0.5 and four["lower"] == 1.0
    assert four["upper"] is None and four["reason"] == "not reached within follow-up: upper"
    # Ten deaths at 1..10: S(5) = 0.5 exactly, S(6) = 0.4: median (5 + 6) / 2.
    ten = km_median(_frame(range(1, 11), [1] * 10), min_cases=1).row(0, named=True)
    assert ten["estimate"] == 5.5
    # A curve that ends on the flat at 0.5 (censored at 3 and 4): midpoint of 2 and the
    # last follow-up time 4.
    flat = km_median(_frame([1, 2, 3, 4], [1, 1, 0, 0]), min_cases=1).row(0, named=True)
    assert flat["estimate"] == 3.0
    # No event before 1.5: S = 1 there and, as in R, no confidence interval.
    start = kaplan_meier(_frame([2, 3, 4], [1, 1, 0]), times=[1.5, 2.5], min_cases=1)
    assert start.row(0, named=True)["lower"] is None and start["estimate"][0] == 1.0
    assert start.row(1, named=True)["lower"] == pytest.approx(_loglog_lower(2 / 3, 1 / 6))
    curve = km_curve(_frame([1, 2], [1, 1]), min_cases=1)
    assert curve["lower"].to_list()[0] is None and curve["lower"].to_list()[-1] is None


def test_logrank_freireich() -> None:
    data = pl.concat([_frame(MP6_TIME, MP6_EVENT, "6-MP"),
                      _frame(PLACEBO_TIME, [1] * 21, "placebo")])
    out = logrank(data, ["group"]).row(0, named=True)
    # Kleinbaum & Klein (2012), Survival Analysis, ch. 2: log-rank chi-square 16.79, 1 df.
    assert out["statistic"] == pytest.approx(16.79, abs=0.005)
    assert out["df"] == 1 and out["p_value"] < 1e-4


def test_curve_numbers_at_risk() -> None:
    curve = km_curve(_frame(MP6_TIME, MP6_EVENT), min_cases=1)
    row = curve.filter(pl.col("time") == 6).row(0, named=True)
    assert (row["n_at_risk"], row["n_events"], row["n_censored"]) == (21, 3, 1)
    assert curve["time"][0] == 0.0 and curve["estimate"][0] == 1.0


def test_prepare_followup_exclusions_and_same_day_death() -> None:
    cases = _cases([
        _case(1, date(1950, 1, 1), date(2020, 1, 1), date(2020, 1, 1), date(2020, 1, 1)),
        _case(2, date(1950, 1, 1), date(2020, 1, 1), None, date(2021, 1, 1)),
        _case(3, date(1925, 1, 1), date(2020, 1, 1), None, date(2021, 1, 1)),  # age 95
        _case(4, date(1950, 1, 1), date(2020, 1, 1), date(2020, 1, 1), date(2020, 1, 1), "dco"),
        _case(5, date(1930, 1, 2), date(2020, 1, 1), None, date(2020, 6, 1)),  # age 89
    ])
    fu = prepare_followup(cases)
    assert fu.data["case_id"].to_list() == ["c1", "c2", "c5"]
    # Same-day death: 0.5 days (registry.yaml) in years of 365.25 days.
    assert fu.data["time"].to_list()[:2] == pytest.approx([0.5 / 365.25, 366 / 365.25])
    assert fu.data["event"].to_list() == [1, 0, 0]
    assert dict(fu.excluded.iter_rows()) == {"age above 89 at diagnosis": 1,
                                             "basis of diagnosis: dco": 1}


def test_prepare_followup_bad_dates_name_row_not_person() -> None:
    cases = _cases([
        _case(1, date(1950, 1, 1), date(2020, 1, 1), None, date(2021, 1, 1)),
        _case(2, date(1950, 1, 1), date(2020, 5, 1), None, date(2020, 4, 1)),
    ])
    with pytest.raises(InputError) as err:
        prepare_followup(cases, source="aml.csv")
    message = str(err.value)
    assert "aml.csv, row 2, column 'vital_status_date', value '2020-04-01'" in message
    assert "c2" in message and "19500101" not in message


def test_period_window_delayed_entry_and_censoring() -> None:
    cases = _cases([
        # Diagnosed before the window, dies inside it.
        _case(1, date(1950, 1, 1), date(2019, 1, 1), date(2022, 1, 1), date(2022, 1, 1)),
        # Diagnosed inside the window, dies after it: censored at the window end.
        _case(2, date(1950, 1, 1), date(2022, 7, 1), date(2024, 3, 1), date(2024, 3, 1)),
        # Follow-up ends before the window: not in the period analysis.
        _case(3, date(1950, 1, 1), date(2015, 1, 1), None, date(2019, 12, 31)),
        # Deaths on the window's first day (in), on the day after its last day (censored),
        # and on the day of diagnosis the day before the window (not in it).
        _case(4, date(1950, 1, 1), date(2020, 6, 1), date(2021, 1, 1), date(2021, 1, 1)),
        _case(5, date(1950, 1, 1), date(2023, 6, 1), date(2024, 1, 1), date(2024, 1, 1)),
        _case(6, date(1950, 1, 1), date(2020, 12, 31), date(2020, 12, 31), date(2020, 12, 31)),
    ])
    out = period_window(prepare_followup(cases).data, date(2021, 1, 1), date(2023, 12, 31))
    assert out["case_id"].to_list() == ["c1", "c2", "c4", "c5"]
    # Day D is the stretch (D - dx - 1, D - dx] days: c1 enters at the end of 2020-12-31,
    # 730 days after diagnosis, and dies at 1096 days; c4 enters at 213 and dies at 214.
    assert out["entry"].to_list() == pytest.approx([730 / 365.25, 0.0, 213 / 365.25, 0.0])
    # c2 and c5 are censored at the end of 2023-12-31: 548 and 213 days after diagnosis.
    assert out["time"].to_list() == pytest.approx(
        [1096 / 365.25, 548 / 365.25, 214 / 365.25, 213 / 365.25])
    assert out["event"].to_list() == [1, 0, 1, 0]


def test_km_with_delayed_entry() -> None:
    # Left truncation by hand: at risk on (entry, time]; a death at 2 with 3 at risk
    # (the first three cases) and at 4 with 3 at risk (the last three), so
    # S(5) = (1 - 1/3) (1 - 1/3) = 4/9.
    data = pl.DataFrame({"entry": [0.0, 1.0, 1.5, 3.0], "time": [2.0, 4.0, 6.0, 6.0],
                         "event": [1, 1, 0, 0]})
    out = kaplan_meier(data, times=[5], min_cases=1).row(0, named=True)
    assert out["estimate"] == pytest.approx(4 / 9)
    assert out["n_at_risk"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--cox", "--by", "sex"], "--cox models region adjusted for age and sex: leave out --by"),
    (["--median", "--method", "ederer2"], "--median is observed survival"),
    (["--logrank", "--by", "sex", "--times", "1"], "--logrank does not take --times"),
])
def test_cli_refuses_an_option_the_analysis_would_ignore(args, message) -> None:
    from typer.testing import CliRunner

    from analysis.cli import app
    # Refused before any data is read (bcr's entry point turns a UserError into one line).
    result = CliRunner().invoke(app, ["survival", *args])
    assert isinstance(result.exception, UserError) and message in str(result.exception)
