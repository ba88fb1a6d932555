"""Funnel-plot limits and flags (Spiegelhalter 2005) against scipy's binomial quantiles."""

import polars as pl
import pytest
from scipy import stats

from analysis.errors import UserError
from analysis.stats.funnel import funnel_curve, funnel_limits, overdispersion

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
    curve = funnel_curve(0.5, [1]).drop("^.*_od$")
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


# Spiegelhalter (2005) overdispersion by hand. p0 = 1000 / 2000 = 0.5; s^2 = 0.25 / n:
# s = 0.05 at n = 100 (w = 400) and 0.025 at n = 400 (w = 1600).
#   z = (p - 0.5) / s: A -4, B -2, C -1, D 0, E 1, F 2, G 4, H 0.
# Sorted: -4 -2 -1 0 0 1 2 4 (I = 8). Percentiles, linear (type 7): the 10th at position
# 0.1 * 7 = 0.7, -4 + 0.7 * 2 = -2.6; the 90th at 6.3, 2 + 0.3 * 2 = 2.6.
# Winsorised: -2.6 -2 -1 0 0 1 2 2.6; squares sum to 6.76 + 4 + 1 + 1 + 4 + 6.76 = 23.52,
# phi = 23.52 / 8 = 2.94 > 1.
# sum w = 4 * 400 + 4 * 1600 = 8000; sum w^2 = 4 * 160 000 + 4 * 2 560 000 = 10 880 000;
# sum w^2 / sum w = 1360; tau^2 = (8 * 2.94 - 7) / (8000 - 1360) = 16.52 / 6640.
OVERDISPERSED = pl.DataFrame({
    "hospital": list("ABCDEFGH"),
    "events": [30, 40, 190, 200, 210, 60, 70, 200],
    "n": [100, 100, 400, 400, 400, 100, 100, 400],
})
TAU2 = 16.52 / 6640


def test_overdispersion_phi_and_tau2_equal_the_hand_computation():
    od = overdispersion(OVERDISPERSED).row(0, named=True)
    assert od["units"] == 8 and od["p0"] == pytest.approx(0.5)
    assert od["phi"] == pytest.approx(2.94)
    assert od["tau2"] == pytest.approx(TAU2)


def test_overdispersed_limits_widen_by_tau2_and_both_limits_are_given():
    out = funnel_limits(OVERDISPERSED, "hospital")
    a = out.filter(pl.col("hospital") == "A").row(0, named=True)
    # n = 100: 0.5 +- z * sqrt(0.0025 + tau^2), z = 1.959964 (95 %), 3.090232 (99.8 %).
    half95, half998 = 1.959964 * (0.0025 + TAU2) ** 0.5, 3.090232 * (0.0025 + TAU2) ** 0.5
    assert a["upper_95_od"] == pytest.approx(0.5 + half95, abs=1e-6)
    assert a["lower_998_od"] == pytest.approx(0.5 - half998, abs=1e-6)
    assert a["phi"] == pytest.approx(2.94) and a["tau2"] == pytest.approx(TAU2)
    # 0.30 lies below the exact 99.8 % limit but inside the widened ones (0.5 - 0.229),
    # and below the widened 95 % limit (0.5 - 0.145).
    assert a["flag"] == "below_998" and a["flag_od"] == "below_95"
    assert a["lower_95"] > a["lower_95_od"]  # the plain exact limits are kept beside them
    assert "Spiegelhalter 2005" in a["method"] and "tau^2" in a["method"]


def test_no_overdispersion_keeps_the_exact_limits():
    # Every unit at p0: z = 0, phi = 0, no tau^2; the "overdispersed" limits and flags
    # are the exact ones.
    even = pl.DataFrame({"hospital": ["A", "B", "C"], "events": [50, 50, 100],
                         "n": [100, 100, 200]})
    od = overdispersion(even).row(0, named=True)
    assert od["phi"] == 0 and od["tau2"] == 0
    out = funnel_limits(even, "hospital")
    assert out["lower_95_od"].to_list() == out["lower_95"].to_list()
    assert out["flag_od"].to_list() == out["flag"].to_list()
