"""Cox proportional hazards model of region, adjusted for age and sex.

Fitted with lifelines' CoxPHFitter (Cox 1972; Efron's method for tied times, as R's
coxph). Region enters as indicator variables against a chosen reference region, sex as
an indicator for women, and age at diagnosis either linearly (per year) or as a cubic
B-spline with `spline_df` degrees of freedom. The proportional-hazards assumption is
checked per term (region, sex, age) and globally with the score test of Grambsch &
Therneau (1994) as R's survival package computes it since version 3.0 (``cox.zph``,
Therneau 2019): the score test, at the fitted coefficients, for adding each term times
g(t) = 1 - KM(t-) (transform "km", R's default), with Efron's handling of ties.

Convergence: lifelines' Newton-Raphson returns the point at which it computed its last
step, without taking that step, so its estimates are off by about the size of the last
step; with its default stopping rules (Newton decrement below 1e-7, or relative change
of the log-likelihood below 1e-9) hazard ratios differ from R's coxph by about 1e-5. We
stop when the Newton decrement, delta' H delta / 2, is below 1e-24, i.e. the last step
is about 1e-12 or smaller in lifelines' standardised covariates, or when the
log-likelihood changes by less than 1e-15 relative (a few rounding errors: it ends the
iterations when a coefficient runs off to infinity, as under separation). Newton's
method converges quadratically, so this takes one or two iterations more, and the
estimates agree with coxph (ties = "efron", default control) to about 1e-12
(tests/test_cox.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats

from analysis.data import dictionary as dd
from analysis.errors import UserError

METHOD = "Cox proportional hazards (lifelines, Efron ties), 95% Wald CI"
PH_METHOD = "Grambsch-Therneau score test per term, KM time transform (as R cox.zph)"
_REGION = "region_"
# lifelines stops when the norm of the step or the Newton decrement is below `precision`,
# or the relative change of the log-likelihood is below `r_precision` (module docstring).
FIT_OPTIONS = {"precision": 1e-24, "r_precision": 1e-15}


def _not_fitted(frame) -> UserError:  # noqa: ANN001 (the model's pandas frame)
    """The error for data too sparse to fit the model (or test it): cases and deaths."""
    return UserError(f"the Cox model could not be fitted on {len(frame)} cases with "
                     f"{int(frame['event'].sum())} deaths")


def cox_region(data: pl.DataFrame, reference: str | None = None, age: str = "linear",
               spline_df: int = 4) -> pl.DataFrame:
    """Hazard ratios of region (against `reference`), adjusted for age and sex.

    `data` is prepared follow-up (analysis.stats.survival.prepare_followup): time, event,
    region, sex, age_exact. `reference` defaults to the first region of regions.yaml
    present in the data. One row per model term: term, level, hazard_ratio, lower,
    upper, p_value (Wald), ph_statistic, ph_df and ph_p_value (the proportional-hazards
    test of the row's term: all region columns together, as R's cox.zph), the global
    test ph_global_statistic, ph_global_df and ph_global_p_value, n, n_events,
    reference, convergence_problem (lifelines' convergence warnings, e.g. separation
    when a region has no deaths; null when none) and method. Spline terms of age have
    no single hazard ratio; they are reported with their PH test only.
    """
    if age not in ("linear", "spline"):
        raise UserError(f"age must be 'linear' or 'spline', not '{age}'")
    needed = ["time", "event", "region", "sex", "age_exact"]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise UserError(f"survival data: missing column(s) {', '.join(missing)} for the Cox model")
    if "entry" in data.columns and data.get_column("entry").to_numpy().any():
        raise UserError("the Cox model is fitted on cohort data, not on a period window")
    if data.get_column("region").null_count():
        raise UserError("the Cox model needs a region for every case")
    seen = set(data.get_column("region").to_list())
    regions = [r for r in dd.region_ids() if r in seen]
    regions += sorted(seen - set(regions))
    reference = reference or (regions[0] if regions else None)
    if reference not in regions:
        raise UserError(f"reference region '{reference}' has no cases "
                        f"(regions present: {', '.join(regions)})")
    if len(regions) < 2:
        raise UserError("the Cox model of region needs cases from at least two regions")
    levels = [r for r in regions if r != reference]
    frame = data.select(
        pl.col("time").cast(pl.Float64), pl.col("event").cast(pl.Int64),
        pl.col("age_exact").alias("age"),
        (pl.col("sex") == 2).cast(pl.Int64).alias("sex_woman"),
        *[(pl.col("region") == r).cast(pl.Int64).alias(_REGION + r) for r in levels],
    ).to_pandas()
    covariates = [_REGION + r for r in levels] + ["sex_woman"]
    formula = " + ".join(covariates + (["age"] if age == "linear"
                                       else [f"bs(age, df={spline_df})"]))
    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            cph.fit(frame, duration_col="time", event_col="event", formula=formula,
                    fit_options=FIT_OPTIONS)
        except (ConvergenceError, np.linalg.LinAlgError):  # too few cases or deaths
            raise _not_fitted(frame) from None
    # Separation (e.g. a region without deaths) makes the estimates unreliable: say so.
    problems = list(dict.fromkeys(str(w.message).split(". ")[0] for w in caught
                                  if issubclass(w.category, ConvergenceWarning)))
    summary = cph.summary
    columns = []
    for name in summary.index:
        if name.startswith(_REGION):
            columns.append(("region", name[len(_REGION):]))
        elif name == "sex_woman":
            columns.append(("sex", "2"))
        else:
            columns.append(("age", "per year" if name == "age" else f"spline basis {name}"))
    terms = {t: [i for i, (u, _) in enumerate(columns) if u == t] for t, _ in columns}
    design = cph.regressors.transform_df(frame)["beta_"][list(summary.index)].to_numpy(float)
    try:
        ph = zph_test(frame["time"].to_numpy(float), frame["event"].to_numpy(), design,
                      cph.params_.to_numpy(), terms)
    except np.linalg.LinAlgError:  # a singular information matrix: too few deaths
        raise _not_fitted(frame) from None
    rows = []
    for name, (term, level) in zip(summary.index, columns, strict=True):
        hr_row = term != "age" or age == "linear"
        rows.append({
            "term": term, "level": level,
            "hazard_ratio": float(summary.loc[name, "exp(coef)"]) if hr_row else None,
            "lower": float(summary.loc[name, "exp(coef) lower 95%"]) if hr_row else None,
            "upper": float(summary.loc[name, "exp(coef) upper 95%"]) if hr_row else None,
            "p_value": float(summary.loc[name, "p"]),
            **dict(zip(("ph_statistic", "ph_df", "ph_p_value"), ph[term], strict=True)),
            **dict(zip(("ph_global_statistic", "ph_global_df", "ph_global_p_value"),
                       ph["global"], strict=True)),
        })
    out = pl.DataFrame(rows, schema={
        "term": pl.String, "level": pl.String, "hazard_ratio": pl.Float64,
        "lower": pl.Float64, "upper": pl.Float64, "p_value": pl.Float64,
        "ph_statistic": pl.Float64, "ph_df": pl.Int64, "ph_p_value": pl.Float64,
        "ph_global_statistic": pl.Float64, "ph_global_df": pl.Int64,
        "ph_global_p_value": pl.Float64})
    order = {f"region/{r}": i for i, r in enumerate(levels)}
    out = out.with_columns(
        pl.concat_str("term", pl.lit("/"), "level").replace_strict(
            order, default=len(order), return_dtype=pl.Int64).alias("_order"))
    return out.sort("_order", maintain_order=True).drop("_order").with_columns(
        pl.lit(frame.shape[0]).cast(pl.Int64).alias("n"),
        pl.lit(int(np.sum(frame["event"]))).cast(pl.Int64).alias("n_events"),
        pl.lit(reference).alias("reference"),
        pl.lit("; ".join(problems) or None, pl.String).alias("convergence_problem"),
        pl.lit(f"{METHOD}; PH check: {PH_METHOD}").alias("method"))


def zph_test(time: np.ndarray, event: np.ndarray, design: np.ndarray, beta: np.ndarray,
             terms: dict[str, list[int]]) -> dict[str, tuple[float, int, float]]:
    """Test of proportional hazards per term and globally (Grambsch & Therneau 1994), as
    R's survival::cox.zph computes it since version 3.0 (Therneau 2019).

    The score test, at the fitted `beta` (Efron ties), for adding the covariates times
    g(t) = 1 - KM(t-), the left-continuous Kaplan-Meier estimate of all cases (R's
    default transform "km"). A term's test uses the score of its own time-interaction
    columns and the information of those columns together with every coefficient of the
    model. Returns, per term and for "global", (chi-square, df, p-value).
    """
    order = np.argsort(-time, kind="stable")  # latest first: risk sets are prefixes
    t, dead = time[order], event[order] == 1
    x = design[order] - design.mean(axis=0)  # centring changes no mean or variance below
    risk = np.exp(x @ beta)
    at_risk = (np.cumsum(risk), np.cumsum(risk[:, None] * x, axis=0),
               np.cumsum(risk[:, None, None] * x[:, :, None] * x[:, None, :], axis=0))
    death_times, inverse = np.unique(t[dead], return_inverse=True)
    k = death_times.size
    last = np.searchsorted(-t, -death_times, side="right") - 1  # end of each risk set
    d = np.bincount(inverse, minlength=k)
    tied = [np.zeros((k, *a.shape[1:])) for a in at_risk]
    for total, value in zip(tied, (risk[dead], risk[dead][:, None] * x[dead],
                                   (risk[dead][:, None, None] * x[dead][:, :, None]
                                    * x[dead][:, None, :])), strict=True):
        np.add.at(total, inverse, value)
    summed_x = np.zeros((k, x.shape[1]))
    np.add.at(summed_x, inverse, x[dead])
    # Efron: the m-th of d tied deaths sees the risk set less m/d of the tied deaths.
    row = np.repeat(np.arange(k), d)
    frac = (np.arange(row.size) - np.repeat(np.cumsum(d) - d, d)) / np.repeat(d, d)
    s0 = at_risk[0][last][row] - frac * tied[0][row]
    mean = (at_risk[1][last][row] - frac[:, None] * tied[1][row]) / s0[:, None]
    var = ((at_risk[2][last][row] - frac[:, None, None] * tied[2][row]) / s0[:, None, None]
           - mean[:, :, None] * mean[:, None, :])
    # g(t) = 1 - KM just before t, from the Kaplan-Meier estimate of all cases.
    n_risk = last + 1
    survival = np.cumprod(1 - d / n_risk)  # death_times are in ascending order
    g = 1 - np.r_[1.0, survival[:-1]]
    residual = summed_x.copy()
    np.add.at(residual, row, -mean)
    p = x.shape[1]
    score = np.r_[np.zeros(p), (g[:, None] * residual).sum(axis=0)]
    gr = g[row][:, None, None]
    info = np.block([[var.sum(axis=0), (gr * var).sum(axis=0)],
                     [(gr * var).sum(axis=0), (gr * gr * var).sum(axis=0)]])
    out = {}
    for name, cols in {**terms, "global": list(range(p))}.items():
        keep = list(range(p)) + [p + c for c in cols]
        u = score[keep]
        chi2 = float(u @ np.linalg.solve(info[np.ix_(keep, keep)], u))
        out[name] = (chi2, len(cols), float(stats.chi2.sf(chi2, len(cols))))
    return out
