"""Wilson score intervals and exact binomial limits against closed forms and published values."""

from fractions import Fraction
from math import sqrt

import polars as pl
import pytest
from scipy import stats

from analysis.errors import UserError
from analysis.stats.proportions import (
    WILSON_METHOD,
    binomial_limit,
    wilson_interval,
    with_wilson,
)

Z95 = 1.959963984540054  # standard normal 0.975 quantile


def wilson_closed_form(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    # Wilson (1927); Newcombe (1998) Stat Med 17:857, method 3.
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


@pytest.mark.parametrize(("x", "n"), [(7, 10), (1, 3), (45, 50), (500, 1000)])
def test_wilson_matches_closed_form(x, n):
    lower, upper = wilson_interval(x, n)
    exp_lower, exp_upper = wilson_closed_form(x, n)
    assert lower == pytest.approx(exp_lower, abs=1e-12)
    assert upper == pytest.approx(exp_upper, abs=1e-12)


@pytest.mark.parametrize(("x", "n", "lower", "upper"), [
    # Newcombe (1998), Stat Med 17:857-872, Table II, method 3 (Wilson score).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe_table(x, n, lower, upper):
    lo, up = wilson_interval(x, n)
    assert lo == pytest.approx(lower, abs=5e-5)
    assert up == pytest.approx(upper, abs=5e-5)


def test_wilson_edges():
    # x = 0: lower exactly 0, upper z²/(n + z²); x = n: upper exactly 1.
    assert wilson_interval(0, 10) == (0.0, pytest.approx(Z95**2 / (10 + Z95**2)))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + Z95**2)), 1.0)
    # A single case: (1/(1+z²), 1).
    assert wilson_interval(1, 1) == (pytest.approx(1 / (1 + Z95**2)), 1.0)
    assert wilson_interval(0, 0) == (None, None)


def test_wilson_other_level():
    z99 = stats.norm.ppf(0.995)
    assert wilson_interval(7, 10, level=0.99) == pytest.approx(wilson_closed_form(7, 10, z99))
    with pytest.raises(UserError):
        wilson_interval(7, 10, level=95)


def test_with_wilson_frame():
    counts = pl.DataFrame({"g": ["a", "b", "c"], "events": [1, 2, 0], "n": [3, 2, 0]})
    out = with_wilson(counts)
    assert out["estimate"][:2].to_list() == pytest.approx([1 / 3, 1.0])
    assert out["estimate"][2] is None
    assert out["lower"][0] == pytest.approx(wilson_closed_form(1, 3)[0])
    assert out["upper"][1] == 1.0
    assert out["lower"][2] is None and out["upper"][2] is None  # empty group
    assert out["method"].unique().to_list() == [WILSON_METHOD]


def test_binomial_limit_simple_is_scipy_quantile():
    n = [1, 7, 10, 55, 100, 1000]
    for prob in (0.001, 0.025, 0.975, 0.999):
        expected = [stats.binom.ppf(prob, k, 0.3) / k for k in n]
        assert binomial_limit(n, 0.3, prob, interpolate=False) == pytest.approx(expected)


def test_binomial_limit_interpolated_by_hand():
    # Binomial(10, 1/2): F(7) = 968/1024, F(8) = 1013/1024, so the 0.975 quantile is r = 8
    # and a = (F(8) - 0.975) / (F(8) - F(7)); limit = (8 - a) / 10 (Spiegelhalter 2005, A.1.1).
    f8, f7 = Fraction(1013, 1024), Fraction(968, 1024)
    a = (f8 - Fraction(975, 1000)) / (f8 - f7)
    assert binomial_limit([10], 0.5, 0.975)[0] == pytest.approx(float((8 - a) / 10), abs=1e-12)
    # One case around 1/2: r = 1, a = (1 - 0.975) / (1 - 0.5) = 0.05, limit 0.95.
    assert binomial_limit([1], 0.5, 0.975)[0] == pytest.approx(0.95)
    # The lower limit would fall below zero there and is clipped.
    assert binomial_limit([1], 0.5, 0.025)[0] == 0.0


def test_binomial_limit_zero_denominator_and_degenerate_target():
    out = binomial_limit([0, 5], 0.0, 0.975)
    assert out[0] != out[0]  # NaN for n = 0
    assert out[1] == 0.0
    assert binomial_limit([5], 1.0, 0.025)[0] == 1.0
