"""Funnel-plot limits and flags (Spiegelhalter 2005) against scipy's binomial quantiles."""

import polars as pl
import pytest
from scipy import stats

from analysis.errors import UserError
from analysis.stats.funnel import funnel_curve, funnel_limits

# Pooled proportion 210 / 420 = 1/2 exactly.
HOSPITALS = pl.DataFrame({
    "hospital": ["A", "B", "C", "E", "F", "G", "Z"],
    "events": [8, 2, 80, 20, 63, 37, 0],
    "n": [10, 10, 100, 100, 100, 100, 0],
})


def test_limits_are_binomial_quantiles_and_flags():
    out = funnel_limits(HOSPITALS, "hospital", interpolate=False)
    assert out["target"].unique().to_list() == [0.5]
    for row in out.filter(pl.col("n") > 0).iter_rows(named=True):
        n = row["n"]
        for col, prob in (("lower_95", 0.025), ("upper_95", 0.975),
                          ("lower_998", 0.001), ("upper_998", 0.999)):
            assert row[col] == pytest.approx(stats.binom.ppf(prob, n, 0.5) / n), (n, col)
    # n = 10: 95 % limits 2/10 and 8/10; A and B sit exactly on them and are within.
    # n = 100: 95 % limits 0.40 / 0.60, 99.8 % limits 0.35 / 0.65 (binom.ppf).
    flags = dict(zip(out["hospital"], out["flag"], strict=True))
    assert flags == {"A": "within", "B": "within", "C": "above_998", "E": "below_998",
                     "F": "above_95", "G": "below_95", "Z": None}
    z = out.filter(pl.col("hospital") == "Z").row(0, named=True)
    assert z["estimate"] is None and z["upper_95"] is None
    assert "simple quantile" in out["method"][0]


def test_interpolated_limits_lie_within_one_step_of_the_quantile():
    out = funnel_limits(HOSPITALS, "hospital").filter(pl.col("n") > 0)
    for row in out.iter_rows(named=True):
        n = row["n"]
        r = stats.binom.ppf(0.975, n, 0.5)
        assert (r - 1) / n <= row["upper_95"] <= r / n
    assert "interpolated" in out["method"][0]


def test_funnel_curve_hand_value():
    # n = 1 around 1/2: upper 95 % limit = (1 - (1 - 0.975) / 0.5) / 1 = 0.95,
    # 99.8 %: 1 - 0.001 / 0.5 = 0.998; lower limits clip at 0.
    curve = funnel_curve(0.5, [1])
    assert curve.row(0, named=True) == {
        "n": 1, "target": 0.5, "lower_95": 0.0, "upper_95": pytest.approx(0.95),
        "lower_998": 0.0, "upper_998": pytest.approx(0.998)}


def test_bad_counts_are_user_errors():
    with pytest.raises(UserError, match="0 <= events <= n"):
        funnel_limits(pl.DataFrame({"hospital": ["A"], "events": [3], "n": [2]}), "hospital")
    with pytest.raises(UserError, match="sum to zero"):
        funnel_limits(pl.DataFrame({"hospital": ["A"], "events": [0], "n": [0]}), "hospital")


def test_flags_follow_the_exact_tail_not_the_interpolated_upper_limit():
    # Pooled p0 = 870 / 1000 = 0.87. 1 of 1 and 21 of 21 lie above the interpolated
    # upper limits (which fall between r - 1 and r), but P(X >= 1) = 0.87 and
    # P(X >= 21) = 0.87^21 = 0.054: neither is unusual. 5 of 15: P(X <= 5) ~ 1e-6.
    units = pl.DataFrame({"unit": ["one", "all21", "low", "rest"],
                          "events": [1, 21, 5, 843], "n": [1, 21, 15, 963]})
    out = funnel_limits(units, "unit")
    assert out["target"][0] == pytest.approx(0.87)
    row = {r["unit"]: r for r in out.iter_rows(named=True)}
    assert row["one"]["estimate"] > row["one"]["upper_998"]
    assert row["all21"]["estimate"] > row["all21"]["upper_95"]
    assert (row["one"]["flag"], row["all21"]["flag"], row["low"]["flag"]) == (
        "within", "within", "below_998")
    assert stats.binom.sf(20, 21, 0.87) == pytest.approx(0.87 ** 21)
