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

Overdispersion (Spiegelhalter 2005, Stat Med 24:1185-1202, section 4, and Spiegelhalter
2005, Qual Saf Health Care 14:347-351): with many units, true differences between them
put more units outside the limits than chance would. Each unit's z-score is
z_i = (y_i - p0) / s_i with s_i^2 = p0 (1 - p0) / n_i. The z-scores are winsorised at
their 10th and 90th percentiles (the more extreme ones are set to those values; the
percentiles interpolated linearly, R's ``quantile`` type 7), and phi = mean(z_w^2). When
phi > 1 an additive random-effects variance

    tau^2 = max(0, (I phi - (I - 1)) / (sum w_i - sum w_i^2 / sum w_i)),  w_i = 1 / s_i^2,

is added and the limits become p0 +- z_L sqrt(s^2 + tau^2) (normal approximation,
z_L the standard normal quantile of the level). With phi <= 1 the overdispersed limits
and flags are the exact ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import UserError
from analysis.stats.proportions import binomial_limit

FUNNEL_LEVELS = (0.95, 0.998)
WINSOR = 0.1  # Spiegelhalter (2005): z-scores winsorised at the 10th and 90th percentiles
OD_METHOD = ("overdispersion: winsorised z-scores (10 %/90 %), additive random effects "
             "tau^2 (Spiegelhalter 2005)")


def _suffix(level: float) -> str:
    return f"{level * 100:g}".replace(".", "")


def _method(interpolate: bool) -> str:
    return ("exact binomial limits, interpolated (Spiegelhalter 2005)" if interpolate
            else "exact binomial limits, simple quantile (Spiegelhalter 2005)")


def overdispersion(counts: pl.DataFrame, events: str = "events", n: str = "n",
                   winsor: float = WINSOR) -> pl.DataFrame:
    """The overdispersion of units' proportions around their pooled proportion
    (Spiegelhalter 2005; module docstring): one row with ``units`` (I, the units with
    n > 0), ``p0``, ``phi`` (mean squared winsorised z-score) and ``tau2`` (the additive
    random-effects variance, 0 when phi <= 1). With p0 = 0 or 1 (no variation possible)
    or fewer than two units, phi is null and tau2 0.
    """
    used = counts.filter(pl.col(n) > 0)
    size = used[n].to_numpy().astype(float)
    p0 = float(used[events].sum() / size.sum()) if size.size else float("nan")
    phi, tau2 = None, 0.0
    if size.size >= 2 and 0 < p0 < 1:
        var = p0 * (1 - p0) / size
        z = (used[events].to_numpy() / size - p0) / np.sqrt(var)
        low, high = np.quantile(z, [winsor, 1 - winsor])  # linear, R's type 7
        phi = float(np.mean(np.clip(z, low, high) ** 2))
        if phi > 1:
            w = 1 / var
            tau2 = max(0.0, (size.size * phi - (size.size - 1))
                       / (w.sum() - (w ** 2).sum() / w.sum()))
    return pl.DataFrame({"units": [int(size.size)], "p0": [p0], "phi": [phi],
                         "tau2": [tau2]}, schema={"units": pl.Int64, "p0": pl.Float64,
                                                  "phi": pl.Float64, "tau2": pl.Float64})


def funnel_curve(p0: float, denominators: Sequence[int] | np.ndarray,
                 levels: Sequence[float] = FUNNEL_LEVELS,
                 interpolate: bool = True, tau2: float = 0.0) -> pl.DataFrame:
    """Control limits around p0 for each denominator, e.g. a grid of n for drawing.

    Columns: ``n``, ``target``, ``lower_<L>`` / ``upper_<L>`` for each level L in per
    cent without the point (``lower_95``, ``upper_998``), and the overdispersed limits
    ``lower_<L>_od`` / ``upper_<L>_od``: p0 +- z_L sqrt(p0 (1 - p0) / n + tau2), clipped
    to [0, 1], when tau2 > 0, else the exact ones (module docstring).
    """
    n = np.asarray(denominators, dtype=np.int64)
    columns: dict[str, object] = {"n": n, "target": np.full(len(n), p0)}
    safe_n = np.where(n > 0, n, 1)
    for level in levels:
        tail, s = (1 - level) / 2, _suffix(level)
        columns[f"lower_{s}"] = binomial_limit(n, p0, tail, interpolate)
        columns[f"upper_{s}"] = binomial_limit(n, p0, 1 - tail, interpolate)
        half = stats.norm.ppf(1 - tail) * np.sqrt(p0 * (1 - p0) / safe_n + tau2)
        for side, sign in (("lower", -1), ("upper", 1)):
            columns[f"{side}_{s}_od"] = (np.where(n > 0, np.clip(p0 + sign * half, 0, 1),
                                                  np.nan) if tau2 > 0
                                         else columns[f"{side}_{s}"])
    return pl.DataFrame(columns).with_columns(pl.col(pl.Float64).fill_nan(None))


def funnel_limits(counts: pl.DataFrame, unit: str, events: str = "events", n: str = "n",
                  levels: Sequence[float] = FUNNEL_LEVELS,
                  interpolate: bool = True) -> pl.DataFrame:
    """Each unit's proportion with funnel limits around the pooled proportion, and a flag.

    ``counts`` has one row per unit with its numerator ``events`` and denominator ``n``.
    Returns the unit, ``events``, ``n``, ``estimate``, ``target`` (pooled proportion), the
    limits per level, ``flag``, the overdispersed limits (``lower_95_od``, ...), ``phi``,
    ``tau2``, ``flag_od`` and ``method``. The flag names the widest limit the unit is
    outside by the exact one-sided binomial tail (module docstring): ``above_998``,
    ``above_95``, ``within``, ``below_95``, ``below_998``; ``flag_od`` the same against the
    overdispersed limits (the flag itself when tau2 = 0). A unit with n = 0 has no
    estimate and null flags.
    """
    if counts.filter(pl.col(events) > pl.col(n)).height or counts.filter(
            (pl.col(events) < 0) | (pl.col(n) < 0)).height:
        raise UserError(f"funnel plot: every {unit} needs 0 <= {events} <= {n}")
    total_n = counts[n].sum()
    if not total_n:
        raise UserError("funnel plot: the denominators sum to zero")
    p0 = counts[events].sum() / total_n
    od = overdispersion(counts, events, n).row(0, named=True)
    curve = funnel_curve(p0, counts[n].to_numpy(), levels, interpolate, od["tau2"]).drop("n")
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
    flag = flag.otherwise(pl.lit("within"))
    flag_od = flag
    if od["tau2"] > 0:  # outside the widened limits (normal approximation)
        flag_od = pl.when(pl.col("estimate").is_null()).then(None)
        for level in sorted(levels, reverse=True):
            s = _suffix(level)
            flag_od = (flag_od.when(pl.col("estimate") > pl.col(f"upper_{s}_od"))
                       .then(pl.lit(f"above_{s}"))
                       .when(pl.col("estimate") < pl.col(f"lower_{s}_od"))
                       .then(pl.lit(f"below_{s}")))
        flag_od = flag_od.otherwise(pl.lit("within"))
    plain = [c for c in curve.columns if c != "target" and not c.endswith("_od")]
    return out.select(
        unit, "events", "n", "estimate", "target", *plain, flag.alias("flag"),
        *(c for c in curve.columns if c.endswith("_od")),
        pl.lit(od["phi"], pl.Float64).alias("phi"), pl.lit(od["tau2"]).alias("tau2"),
        flag_od.alias("flag_od"),
        pl.lit(f"{_method(interpolate)}; {OD_METHOD}").alias("method"),
    ).sort(unit, nulls_last=True)
