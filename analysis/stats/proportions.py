"""Proportions with confidence intervals, and exact binomial quantile limits.

Every proportion the toolkit publishes (coverage, completeness, timeliness, quality
indicators) gets a Wilson score interval (Wilson 1927), as DESIGN.md §4 asks. The exact
binomial limits used for funnel plots (Spiegelhalter 2005) live here as well, so that all
binomial arithmetic has one home.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import UserError

WILSON_METHOD = "Wilson score interval (Wilson 1927)"


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise UserError(f"confidence level must be between 0 and 1, got {level:g}")
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_exprs(events: pl.Expr, n: pl.Expr, level: float = 0.95) -> tuple[pl.Expr, pl.Expr]:
    """Polars expressions for the lower and upper Wilson score limits of events / n.

    Wilson (1927), J Am Stat Assoc 22:209-212; closed form as in Newcombe (1998), Stat Med
    17:857-872, method 3:
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.
    A group with n = 0 gets null limits.
    """
    z2 = _z(level) ** 2
    nf = pl.when(n > 0).then(n.cast(pl.Float64))
    p = events.cast(pl.Float64) / nf
    centre = p + z2 / (2 * nf)
    half = (z2 ** 0.5) * (p * (1 - p) / nf + z2 / (4 * nf * nf)).sqrt()
    denom = 1 + z2 / nf
    # At events = 0 (or n) the lower (upper) limit is exactly 0 (1); the closed form
    # reaches it only up to rounding.
    return (
        pl.when(n <= 0).then(None).when(events == 0).then(0.0)
        .otherwise(((centre - half) / denom).clip(0.0, 1.0)),
        pl.when(n <= 0).then(None).when(events == n).then(1.0)
        .otherwise(((centre + half) / denom).clip(0.0, 1.0)),
    )


def wilson_interval(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval (Wilson 1927) of one proportion events / n."""
    lower, upper = wilson_exprs(pl.lit(events), pl.lit(n), level)
    row = pl.select(lower=lower, upper=upper).row(0)
    return row[0], row[1]


def with_wilson(counts: pl.DataFrame, level: float = 0.95) -> pl.DataFrame:
    """Add ``estimate``, ``lower``, ``upper`` and ``method`` to a frame of events and n."""
    lower, upper = wilson_exprs(pl.col("events"), pl.col("n"), level)
    return counts.with_columns(
        estimate=pl.when(pl.col("n") > 0).then(pl.col("events") / pl.col("n")),
        lower=lower,
        upper=upper,
        method=pl.lit(WILSON_METHOD),
    )


def binomial_limit(n: np.ndarray | Sequence[int] | int, p0: float, prob: float,
                   interpolate: bool = True) -> np.ndarray:
    """The exact binomial control limit for a proportion from n trials around p0.

    With ``r`` the ``prob`` quantile of Binomial(n, p0) (the smallest r with
    F(r) >= prob, ``scipy.stats.binom.ppf``), the simple limit is r / n. With
    ``interpolate`` the limit is (r - a) / n with a = (F(r) - prob) / (F(r) - F(r - 1)),
    the interpolation of Spiegelhalter (2005), Stat Med 24:1185-1202, appendix A.1.1, which
    makes the limit a smooth function of n instead of a staircase. Limits are clipped to
    [0, 1]; n = 0 gives NaN; p0 = 0 or 1 gives p0.
    """
    n_arr = np.asarray(n, dtype=float)
    safe_n = np.where(n_arr > 0, n_arr, 1.0)
    r = stats.binom.ppf(prob, safe_n, p0)
    # With p0 = 0 or 1 all mass sits at one count and the limit is p0 itself; the
    # interpolation would move it off that point.
    if interpolate and 0 < p0 < 1:
        f_r = stats.binom.cdf(r, safe_n, p0)
        f_below = stats.binom.cdf(r - 1, safe_n, p0)
        step = f_r - f_below
        a = np.divide(f_r - prob, step, out=np.zeros_like(step), where=step > 0)
        r = r - a
    return np.where(n_arr > 0, np.clip(r / safe_n, 0.0, 1.0), np.nan)
