"""Funnel-plot control limits for comparing hospitals on a proportion (Spiegelhalter 2005).

Each unit's proportion events / n is set against its denominator n. The target is the
pooled (national) proportion p0 = sum(events) / sum(n); the control limits at n are the
exact binomial quantiles of Binomial(n, p0) divided by n, at 95 % (two-sided, quantiles
0.025 and 0.975) and 99.8 % (0.001 and 0.999). By default the quantiles are interpolated
as in Spiegelhalter (2005), Stat Med 24:1185-1202, appendix A.1.1; ``interpolate=False``
gives the simple staircase quantile r / n (``scipy.stats.binom.ppf``).

A unit is flagged by the exact binomial test behind the limits: above level L when
P(X >= events) < (1 - L) / 2, below when P(X <= events) < (1 - L) / 2, X ~ Binomial(n,
p0); that is, outside the staircase limits. The interpolated limits are for drawing: on
the upper side they fall below the count r itself, so comparing with them would flag,
say, 1 of 1 against p0 = 0.87, the most likely outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import UserError
from analysis.stats.proportions import binomial_limit

FUNNEL_LEVELS = (0.95, 0.998)


def _suffix(level: float) -> str:
    return f"{level * 100:g}".replace(".", "")


def _method(interpolate: bool) -> str:
    return ("exact binomial limits, interpolated (Spiegelhalter 2005)" if interpolate
            else "exact binomial limits, simple quantile (Spiegelhalter 2005)")


def funnel_curve(p0: float, denominators: Sequence[int] | np.ndarray,
                 levels: Sequence[float] = FUNNEL_LEVELS,
                 interpolate: bool = True) -> pl.DataFrame:
    """Control limits around p0 for each denominator, e.g. a grid of n for drawing.

    Columns: ``n``, ``target`` and ``lower_<L>`` / ``upper_<L>`` for each level L in per
    cent without the point (``lower_95``, ``upper_998``).
    """
    n = np.asarray(denominators, dtype=np.int64)
    columns: dict[str, object] = {"n": n, "target": np.full(len(n), p0)}
    for level in levels:
        tail = (1 - level) / 2
        columns[f"lower_{_suffix(level)}"] = binomial_limit(n, p0, tail, interpolate)
        columns[f"upper_{_suffix(level)}"] = binomial_limit(n, p0, 1 - tail, interpolate)
    return pl.DataFrame(columns).with_columns(pl.col(pl.Float64).fill_nan(None))


def funnel_limits(counts: pl.DataFrame, unit: str, events: str = "events", n: str = "n",
                  levels: Sequence[float] = FUNNEL_LEVELS,
                  interpolate: bool = True) -> pl.DataFrame:
    """Each unit's proportion with funnel limits around the pooled proportion, and a flag.

    ``counts`` has one row per unit with its numerator ``events`` and denominator ``n``.
    Returns the unit, ``events``, ``n``, ``estimate``, ``target`` (pooled proportion), the
    limits per level, ``flag`` and ``method``. The flag names the widest limit the unit is
    is outside by the exact one-sided binomial tail (module docstring): ``above_998``,
    ``above_95``, ``within``, ``below_95``, ``below_998``. A unit with n = 0 has no estimate
    and a null flag.
    """
    if counts.filter(pl.col(events) > pl.col(n)).height or counts.filter(
            (pl.col(events) < 0) | (pl.col(n) < 0)).height:
        raise UserError(f"funnel plot: every {unit} needs 0 <= {events} <= {n}")
    total_n = counts[n].sum()
    if not total_n:
        raise UserError("funnel plot: the denominators sum to zero")
    p0 = counts[events].sum() / total_n
    curve = funnel_curve(p0, counts[n].to_numpy(), levels, interpolate).drop("n")
    out = pl.concat(
        [counts.select(unit, pl.col(events).alias("events"), pl.col(n).alias("n")), curve],
        how="horizontal",
    ).with_columns(estimate=pl.when(pl.col("n") > 0).then(pl.col("events") / pl.col("n")))
    x, size = out["events"].to_numpy(), out["n"].to_numpy()
    upper_tail = pl.Series(stats.binom.sf(x - 1, size, p0))  # P(X >= x)
    lower_tail = pl.Series(stats.binom.cdf(x, size, p0))  # P(X <= x)
    flag = pl.when(pl.col("estimate").is_null()).then(None)
    # Widest level first, so a unit outside 99.8 % is not reported as outside 95 %.
    for level in sorted(levels, reverse=True):
        tail, s = (1 - level) / 2, _suffix(level)
        flag = (flag.when(pl.lit(upper_tail) < tail).then(pl.lit(f"above_{s}"))
                .when(pl.lit(lower_tail) < tail).then(pl.lit(f"below_{s}")))
    limit_cols = [c for c in curve.columns if c != "target"]
    return out.select(
        unit, "events", "n", "estimate", "target", *limit_cols,
        flag=flag.otherwise(pl.lit("within")),
        method=pl.lit(_method(interpolate)),
    ).sort(unit, nulls_last=True)
