"""Cox proportional hazards model of region, adjusted for age and sex.

Fitted with lifelines' CoxPHFitter (Cox 1972; Efron's method for tied times, as R's
coxph). Region enters as indicator variables against a chosen reference region, sex as
an indicator for women, and age at diagnosis either linearly (per year) or as a cubic
B-spline with `spline_df` degrees of freedom. The proportional-hazards assumption is
checked per term with the scaled Schoenfeld residual test of Grambsch & Therneau (1994)
(lifelines' proportional_hazard_test, rank-transformed time) and reported in the same
frame.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from analysis import dictionary as dd
from analysis.errors import UserError

METHOD = "Cox proportional hazards (lifelines, Efron ties), 95% Wald CI"
PH_METHOD = "Grambsch-Therneau test of scaled Schoenfeld residuals (rank time)"
_REGION = "region_"


def cox_region(data: pl.DataFrame, reference: str | None = None, age: str = "linear",
               spline_df: int = 4) -> pl.DataFrame:
    """Hazard ratios of region (against `reference`), adjusted for age and sex.

    `data` is prepared follow-up (analysis.survival.prepare_followup): time, event,
    region, sex, age_exact. `reference` defaults to the first region of regions.yaml
    present in the data. One row per model term: term, level, hazard_ratio, lower,
    upper, p_value (Wald), ph_statistic and ph_p_value (proportional-hazards test), n,
    n_events, reference, method. Spline terms of age have no single hazard ratio; they
    are reported with their PH test only.
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
    cph.fit(frame, duration_col="time", event_col="event", formula=formula)
    summary = cph.summary
    ph = proportional_hazard_test(cph, frame, time_transform="rank").summary
    rows = []
    for name in summary.index:
        if name.startswith(_REGION):
            term, level = "region", name[len(_REGION):]
        elif name == "sex_woman":
            term, level = "sex", "2"
        elif name == "age":
            term, level = "age", "per year"
        else:
            term, level = "age", f"spline basis {name}"
        hr_row = term != "age" or age == "linear"
        rows.append({
            "term": term, "level": level,
            "hazard_ratio": float(summary.loc[name, "exp(coef)"]) if hr_row else None,
            "lower": float(summary.loc[name, "exp(coef) lower 95%"]) if hr_row else None,
            "upper": float(summary.loc[name, "exp(coef) upper 95%"]) if hr_row else None,
            "p_value": float(summary.loc[name, "p"]),
            "ph_statistic": float(ph.loc[name, "test_statistic"]),
            "ph_p_value": float(ph.loc[name, "p"]),
        })
    out = pl.DataFrame(rows, schema={
        "term": pl.String, "level": pl.String, "hazard_ratio": pl.Float64,
        "lower": pl.Float64, "upper": pl.Float64, "p_value": pl.Float64,
        "ph_statistic": pl.Float64, "ph_p_value": pl.Float64})
    order = {f"region/{r}": i for i, r in enumerate(levels)}
    out = out.with_columns(
        pl.concat_str("term", pl.lit("/"), "level").replace_strict(
            order, default=len(order), return_dtype=pl.Int64).alias("_order"))
    return out.sort("_order", maintain_order=True).drop("_order").with_columns(
        pl.lit(frame.shape[0]).cast(pl.Int64).alias("n"),
        pl.lit(int(np.sum(frame["event"]))).cast(pl.Int64).alias("n_events"),
        pl.lit(reference).alias("reference"),
        pl.lit(f"{METHOD}; PH check: {PH_METHOD}").alias("method"))
