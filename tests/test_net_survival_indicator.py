"""Net-survival indicators: the reports' net survival, judged only on complete follow-up,
masked with their survival cohort's release cell."""

from __future__ import annotations

import math
from datetime import date
from types import SimpleNamespace

import polars as pl
import pytest

from analysis.privacy import cohorts
from analysis.privacy.disclosure import FLAG
from analysis.privacy.release import KEYS, TOTAL, Release, ReleaseSpec
from analysis.quality.indicators import Indicator
from analysis.quality.net_survival import followup_complete, net_survival_indicators
from analysis.reporting.analyses import NATION
from analysis.reporting.run import Run
from analysis.stats.relative_survival import age_standardised
from analysis.stats.survival import prepare_followup

N, DEATHS = 30, 6


def _indicator(high: float, approach: str = "cohort") -> Indicator:
    return Indicator(id="myeloma_net_survival", subregistries=("myeloma",),
                     kind="net_survival", names={"name_en": "5-year net survival"},
                     direction="higher_is_better", units=("region",), min_n=25, high=high,
                     intermediate=None, target_source="test", time=5.0, approach=approach)


@pytest.fixture(scope="module")
def relative() -> pl.DataFrame:
    """30 myeloma patients aged 70 diagnosed 1 January 2010, 6 dying on day 182, the
    others followed to 2020, with no population mortality: net survival is then the
    observed survival, as the survival section estimates it (ICSS-standardised)."""
    cases = pl.DataFrame({
        "subregistry": ["myeloma"] * N, "region": ["r1"] * N, "sex": [1] * N, "age": [70] * N,
        "year": [2010] * N, "birth_date": [date(1940, 1, 1)] * N,
        "diagnosis_date": [date(2010, 1, 1)] * N,
        "death_date": [date(2010, 7, 2)] * DEATHS + [None] * (N - DEATHS),
        "vital_status_date": [date(2020, 12, 31)] * N})
    lifetable = pl.DataFrame([{"year": y, "sex": s, "age": a, "mortality_rate": 0.0}
                              for y in range(2005, 2022) for s in (1, 2) for a in range(101)])
    out = age_standardised(prepare_followup(cases).data, lifetable, "icss1", ["subregistry"],
                           [1, 5])
    return out.with_columns(pl.lit(NATION).alias("region"), pl.lit("cohort").alias("approach"))


def test_indicator_is_the_net_survival_and_its_level_follows_the_target(relative) -> None:
    # Piecewise-constant hazards on a monthly grid: the deaths fall in the sixth month,
    # where 24 persons are at risk the whole month and 6 until day 182.
    at_risk = 24 / 12 + DEATHS * (182 / 365.25 - 5 / 12)
    hand = math.exp(-DEATHS / at_risk / 12)
    five = relative.filter(pl.col("time") == 5).row(0, named=True)
    assert five["estimate"] == pytest.approx(hand, rel=1e-9)  # 0.818
    # Reaching the level counts: a target equal to the estimate is reached.
    for high, level in ((0.75, "high"), (0.85, "below"), (five["estimate"], "high")):
        out = net_survival_indicators([_indicator(high)], relative, (2010, 2010),
                                      (2016, 2020), 2020, 2019)
        row = out.row(0, named=True)
        assert out.height == 1
        assert (row["estimate"], row["lower"], row["upper"], row["n"]) == (
            five["estimate"], five["lower"], five["upper"], N)
        assert row["complete"] and not row["preliminary"]
        assert row["classification"] == level
        assert row["window"] == "2010-2010"


def test_incomplete_follow_up_is_shown_preliminary_and_not_judged(relative) -> None:
    # Diagnoses up to 2017 have not had five years of follow-up by the end of 2020.
    out = net_survival_indicators([_indicator(0.75)], relative, (2010, 2017), (2016, 2020),
                                  2020, 2019)
    row = out.row(0, named=True)
    assert row["estimate"] == pytest.approx(0.818, abs=1e-3)
    assert row["preliminary"] and not row["complete"]
    assert row["classification"] is None


def test_follow_up_complete_rules() -> None:
    # Cohort: the last diagnosis year plus five years within the report year.
    assert followup_complete("cohort", 5, (2011, 2015), (2016, 2020), 2020, 2019)
    assert not followup_complete("cohort", 5, (2011, 2016), (2016, 2020), 2020, 2019)
    # Period: no preliminary year in the window, cases from five years before it.
    assert followup_complete("period", 5, (2011, 2020), (2016, 2020), 2020, 2020)
    assert not followup_complete("period", 5, (2011, 2020), (2016, 2020), 2020, 2019)
    assert not followup_complete("period", 5, (2012, 2020), (2016, 2020), 2020, 2020)


def _run(frame: pl.DataFrame, flag: str | None) -> Run:
    """A run whose release holds only the indicator's survival-cohort cell."""
    spec = ReleaseSpec(2020, 2011, ((2011, 2020),), (2016, 2020), (2010, 2010), (2016, 2020))
    cell = {k: TOTAL for k in KEYS} | {"family": cohorts.SURVIVAL_STANDARDISED,
                                        "subregistry": "myeloma", "period": "2010-2010"}
    cells = pl.DataFrame([cell | {"n": None if flag else N, "flag": flag, "hidden": False}],
                         schema={**{k: pl.String for k in KEYS}, "n": pl.Int64,
                                 "flag": pl.String, "hidden": pl.Boolean})
    analyses = SimpleNamespace(net_indicators=frame, release=Release(spec, cells))
    return Run(analyses, "en", pl.DataFrame(), {}, "builtin")


def test_masked_when_the_cohort_is_masked(relative) -> None:
    frame = net_survival_indicators([_indicator(0.75)], relative, (2010, 2010),
                                    (2016, 2020), 2020, 2019)
    shown = _run(frame, None).net_indicators.row(0, named=True)
    assert (shown["n"], shown["classification"], shown[FLAG]) == (N, "high", None)
    masked = _run(frame, "secondary").net_indicators.row(0, named=True)
    assert masked[FLAG] == "secondary"
    assert [masked[c] for c in ("n", "estimate", "lower", "upper", "classification")] == [
        None] * 5
