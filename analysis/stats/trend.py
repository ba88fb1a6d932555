"""Trends in incidence: the annual percent change from a log-linear Poisson model
(DESIGN.md §4), on the aggregates of ``analysis.stats.incidence``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats

from analysis.errors import UserError
from analysis.frames import ordered_sum
from analysis.stats.incidence import (
    aggregate,
    alpha,
    check_keys,
    require_person_years,
    sort_groups,
)

APC_METHOD = "log-linear Poisson regression, person-years offset, Wald CI"


def _fit_trend(t: np.ndarray, n: np.ndarray, py: np.ndarray, stratum: np.ndarray,
               z: float) -> tuple[float, float, float, float] | str:
    """(b, lower b, upper b, p) of year t in a Poisson GLM with a term per stratum, or the
    reason there is no estimate. Pure numpy: polars' worker threads, woken by a query
    between fits, make BLAS many times slower.

    IRLS (statsmodels, as R's glm) takes the covariance from the weights of the last
    iteration, which are those at the previous estimate: se(b) is only as close to its
    value at the maximum likelihood estimate as that estimate is. Stopping when the
    deviance changes by less than 1e-8 (statsmodels' default; R's glm uses 1e-8 relative)
    leaves se(b) off by 1e-9 to 1e-6 relative, since the deviance is flat at its
    minimum. We stop when no coefficient moves by more than 1e-12 (IRLS is Newton's
    method here, so this costs one iteration more); b, se(b) and the CI then agree to
    about 1e-13 with R's glm refitted from its own estimate (tests/test_incidence.py)."""
    # Strata without any case carry no information on the trend (their MLE is -inf).
    keep = (py > 0) & (np.bincount(stratum, weights=n)[stratum] > 0)
    t, n, py, stratum = t[keep], n[keep], py[keep], stratum[keep]
    if n.sum() == 0:
        return "no cases"
    if np.unique(t).size < 2:
        return "fewer than two years"
    if _slope_unbounded(t, n, stratum):
        return "all cases in the first or all in the last year: no finite trend"
    levels = np.unique(stratum)
    dummies = (stratum[:, None] == levels[None, 1:]).astype(float)
    x = np.column_stack([np.ones_like(t), t, dummies])
    model = sm.GLM(n, x, family=sm.families.Poisson(), offset=np.log(py))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a perfect fit warns; its estimates are exact
        res = model.fit(wls_method="qr", tol=1e-12, tol_criterion="params")
    b, se = float(res.params[1]), float(res.bse[1])
    return b, b - z * se, b + z * se, float(res.pvalues[1])


def _slope_unbounded(t: np.ndarray, n: np.ndarray, stratum: np.ndarray) -> bool:
    """Whether the Poisson likelihood has no maximum in the slope: every stratum's cases
    all fall in that stratum's first year, or every stratum's all in its last year (the
    only recession directions of a model with one intercept per stratum and a common
    slope; Albert & Anderson 1984 for the logistic analogue)."""
    first = last = True
    for s in np.unique(stratum):
        ts, ns = t[stratum == s], n[stratum == s]
        with_cases = ts[ns > 0]
        first &= bool((with_cases == ts.min()).all())
        last &= bool((with_cases == ts.max()).all())
    return first or last


def annual_percent_change(cases: pl.DataFrame, population: pl.DataFrame,
                          by: Sequence[str] = (), *, years: tuple[int, int] | None = None,
                          adjust: Sequence[str] = (), age_breaks: Sequence[int] | None = None,
                          conf_level: float = 0.95) -> pl.DataFrame:
    """Annual percent change of the incidence rate per group of `by`.

    Fits log E[x_t] = log PY_t + a + b t (+ terms for `adjust`, e.g. age_group and sex, to
    give an age-adjusted trend) by Poisson maximum likelihood (statsmodels GLM) over the
    years t of the range; APC = 100 (exp(b) - 1), its CI 100 (exp(b +- z se(b)) - 1) from
    the Wald interval of b, and the Wald p-value for b = 0. With several `adjust`
    variables there is one term per combination (e.g. per age group x sex, as R's
    ``glm(n ~ year + age_group:sex, offset = log(py))``). A group without cases, with fewer
    than two years, or whose cases all lie at one end of the range (no finite maximum
    likelihood slope) gets no estimate and the reason.

    Columns: the keys, n, first_year, last_year, estimate, lower, upper, p_value, reason,
    method.
    """
    keys = check_keys(by)
    if {"year", "period"} & set(keys):
        raise UserError("a trend is estimated over the years; leave year and period out of "
                        "the grouping")
    adj = check_keys(adjust, ("age_group", "sex", "region", "county"))
    agg = aggregate(cases, population, [*keys, "year", *adj], years=years,
                    age_breaks=age_breaks)
    first, last = int(agg.get_column("year").min()), int(agg.get_column("year").max())
    require_person_years(agg.group_by("year", *keys).agg(ordered_sum(pl.col("person_years"))),
                     [*keys, "year"])
    cell = list(dict.fromkeys([*keys, "year", *adj]))
    strata = [a for a in adj if a not in keys]
    cells = (agg.group_by(cell).agg(pl.col("n").sum(), ordered_sum(pl.col("person_years")))
             .with_columns((pl.struct(strata).rank("dense") - 1 if strata else pl.lit(0))
                           .cast(pl.Int64).alias("stratum")))
    z = stats.norm.ppf(1 - alpha(conf_level) / 2)
    parts = cells.partition_by(keys, as_dict=True, maintain_order=True) if keys else {(): cells}
    arrays = {key: [part.get_column(c).to_numpy().astype(float if c != "stratum" else int)
                    for c in ("year", "n", "person_years", "stratum")]
              for key, part in parts.items()}
    rows = []
    for key, (t, n, py, stratum) in arrays.items():
        fit = _fit_trend(t - first, n, py, stratum, z)
        if isinstance(fit, str):
            rows.append((*key, int(n.sum()), first, last, None, None, None, None, fit))
        else:
            rows.append((*key, int(n.sum()), first, last,
                         *[100 * math.expm1(b) for b in fit[:3]], fit[3], None))
    schema = {**{k: cells.schema[k] for k in keys}, "n": pl.Int64, "first_year": pl.Int64,
              "last_year": pl.Int64, "estimate": pl.Float64, "lower": pl.Float64,
              "upper": pl.Float64, "p_value": pl.Float64, "reason": pl.String}
    terms = [a for a in adj if a not in keys]
    adjusted = f"; adjusted for {' x '.join(terms)}" if terms else ""
    out = pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        pl.lit(APC_METHOD + adjusted).alias("method"))
    return sort_groups(out, keys, agg)
