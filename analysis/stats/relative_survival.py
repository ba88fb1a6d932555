"""Relative and net survival: Ederer II and Pohar Perme, cohort or period, age-standardised.

Method (popEpi's "aggregate first" approach, Miettinen et al., popEpi::survtab with
``surv.method = "hazard"``; steps 1-3 in :mod:`analysis.stats.expected_hazard`):

1. Follow-up since diagnosis is split into intervals of 1/``grid_per_year`` years
   (monthly by default). For each patient and interval: person-time at risk y, death d,
   and the expected (population) number of deaths, the integral of the patient's
   population hazard over the time at risk.
2. The population hazard follows the patient: it is looked up in the life table by sex,
   attained age and calendar year (the ratetable logic of R's survival/relsurv), and
   the integral is exact for a piecewise-constant table (each interval is cut at the
   patient's birthday and at New Year). Ages and years outside the table use the
   nearest available ones. With a ``county`` or ``region`` column the table is
   regional and each patient uses their own.
3. Pohar Perme (Pohar Perme, Stare & Estève 2012) weights each patient's contribution
   in an interval by 1/S*_i(t), their expected survival since diagnosis evaluated at the
   middle of their remaining time in the interval (popEpi's "delta" weighting).
4. Per group and interval the sums are aggregated and the estimators applied:

   Ederer II (Ederer & Heise 1959):  R(t) = exp(-sum_k D_k (d_k - e_k) / y_k)
   Pohar Perme:                      N(t) = exp(-sum_k D_k (d^w_k - e^w_k) / y^w_k)

   with D_k the interval length, and d, e, y the (weighted) deaths, expected deaths and
   person-years. Standard errors are those of popEpi::survtab (hazard method), from a
   Poisson variance of the deaths: Var(log R(t)) = sum_k D_k^2 d_k / y_k^2 and, for Pohar
   Perme, sum_k D_k^2 d^{w2}_k / (y^w_k)^2 with d^{w2} the deaths weighted by 1/S*^2.
   The 95% CI is on the log scale by default, R(t) exp(+-1.96 SE/R(t)) (relsurv::rs.surv's
   default ``conf.type = "log"``, defined also when R(t) > 1); ``conf_type="log-log"``
   gives popEpi's default R(t)^exp(-+1.96 SE / (R(t) |log R(t)|)), undefined when R(t) >= 1.

The period approach (Brenner & Gefeller 1996) uses the follow-up inside a calendar
window: see :func:`analysis.stats.survival.period_window` (delayed entry at the window start,
censoring at its end); the expected survival and weights still run from diagnosis.

Age-standardised estimates (Corazziari, Quinn & Capocaccia 2004) are the weighted sums
of age-group estimates with the International Cancer Survival Standard weights of
data_dictionary/survival.yaml; Var = sum_g w_g^2 Var_g.

At five years the Pohar Perme estimate agrees with popEpi::survtab (relsurv.method =
"pp", monthly intervals) to 0.3 percentage point or better for groups of 25 to 1000
cases. relsurv::rs.surv with its defaults (``type = "kaplan-meier"``, population hazard
evaluated at the observed times only) differs by up to 5.3 points (median 0.8) at the
minimum group size of 25, a fifth of the CI's half-width there, 0.8 (0.09) at 200 and
0.24 (0.02) at 1000 cases (50 simulated cohorts per size, bench/compare_relsurv.py,
bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis.data import dictionary as dd
from analysis.errors import UserError
from analysis.frames import ordered_sum
from analysis.stats.expected_hazard import EPS, aggregate, count_from, rate_table
from analysis.stats.sparse_age_groups import estimate_merged, smallest_age_group
from analysis.stats.survival import Z95, settings

METHODS = {"ederer2": "Ederer II (Ederer & Heise 1959)",
           "pohar-perme": "Pohar Perme (Pohar Perme, Stare & Esteve 2012)"}
CONF_TYPES = ("log", "log-log")


def _ci(est: np.ndarray, se: np.ndarray, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """95% CI on the log or log(-log) scale from an estimate and its standard error."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            half = Z95 * se / est
            return est * np.exp(-half), est * np.exp(half)
        half = Z95 * se / (est * np.abs(np.log(est)))
        ok = (est > 0) & (est < 1)
        return (np.where(ok, est ** np.exp(half), np.nan),
                np.where(ok, est ** np.exp(-half), np.nan))


def _grid_times(times: Sequence[float], grid: int) -> np.ndarray:
    arr = np.asarray(times, dtype=float)
    steps = arr * grid
    if (arr <= 0).any() or (np.abs(steps - np.round(steps)) > 1e-6).any():
        raise UserError(f"survival times must be positive multiples of 1/{grid} year: "
                        f"{', '.join(f'{t:g}' for t in arr)}")
    return arr


def _cal_time(date_col: str) -> pl.Expr:
    d = pl.col(date_col)
    days_in_year = pl.when(d.dt.is_leap_year()).then(366.0).otherwise(365.0)
    return d.dt.year().cast(pl.Float64) + (d.dt.ordinal_day() - 1) / days_in_year


def _curves(data: pl.DataFrame, lifetable: pl.DataFrame, by: list[str], method: str,
            horizon: float, grid: int, conf_type: str, min_cases: int
            ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The estimate at the end of every interval up to `horizon` per group, and the
    group key frame (with n per group)."""
    if method not in METHODS:
        raise UserError(f"unknown relative survival method '{method}' "
                        f"(use {' or '.join(METHODS)})")
    if conf_type not in CONF_TYPES:
        raise UserError(f"unknown CI type '{conf_type}' (use {' or '.join(CONF_TYPES)})")
    needed = [*by, "entry", "time", "event", "age_exact", "diagnosis_date", "sex"]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise UserError(f"survival data: missing column(s) {', '.join(missing)}")
    rt = rate_table(lifetable)
    keys = (data.select(by).unique().sort(by, nulls_last=True) if by
            else pl.DataFrame({"_one": [0]})).with_row_index("_g")
    data = (data.join(keys, on=by, how="left", nulls_equal=True, maintain_order="left")
            if by else data.with_columns(pl.lit(0, pl.UInt32).alias("_g")))
    if rt.area:
        if rt.area not in data.columns:
            raise UserError(f"the life table is by {rt.area} but the cases have no {rt.area}")
        unknown = sorted(set(data.get_column(rt.area).unique().to_list()) - set(rt.areas),
                         key=str)
        if unknown:
            raise UserError(f"the life table has no rows for {rt.area} "
                            f"{', '.join(map(str, unknown))}")
        area = data.get_column(rt.area).replace_strict(rt.areas,
                                                       return_dtype=pl.Int64).to_numpy()
    else:
        area = np.zeros(data.height, dtype=np.int64)
    n_int = int(round(horizon * grid))
    time = data.get_column("time").to_numpy()
    event = data.get_column("event").to_numpy() * (time <= horizon + EPS)
    group = data.get_column("_g").to_numpy().astype(np.int64)
    sums = aggregate(
        entry=data.get_column("entry").to_numpy().astype(float),
        exit_=np.minimum(time, horizon), event=event,
        base=area * 2 + data.get_column("sex").to_numpy() - 1,
        age0=data.get_column("age_exact").to_numpy(),
        cal0=data.select(_cal_time("diagnosis_date")).to_series().to_numpy(),
        group=group, n_groups=keys.height, n_int=n_int, grid=grid, rt=rt)
    width = 1.0 / grid
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "ederer2":
            excess = (sums["d"] - sums["e"]) / sums["y"]
            var_terms = width ** 2 * sums["d"] / sums["y"] ** 2
        else:
            excess = (sums["dw"] - sums["ew"]) / sums["yw"]
            var_terms = width ** 2 * sums["dw2"] / sums["yw"] ** 2
        observed = np.exp(-np.cumsum(width * sums["d"] / sums["y"], axis=1))
        expected = np.exp(-np.cumsum(width * sums["e"] / sums["y"], axis=1))
    estimate = np.exp(-np.cumsum(width * excess, axis=1))
    se = estimate * np.sqrt(np.cumsum(var_terms, axis=1))
    lower, upper = _ci(estimate, se, conf_type)
    ends = np.arange(1, n_int + 1) / grid
    entry = data.get_column("entry").to_numpy()
    n = np.bincount(group, minlength=keys.height)
    at_risk = (count_from(group, np.searchsorted(ends, entry, side="right"), keys.height,
                           n_int)
               - count_from(group, np.searchsorted(ends, time, side="right"), keys.height,
                             n_int))
    died = event == 1
    deaths = count_from(group[died], np.searchsorted(ends, time[died] - EPS), keys.height,
                         n_int)
    no_fu = ~np.isfinite(estimate)
    small = n < min_cases
    reason = np.where(small[:, None], f"fewer than {min_cases} cases",
                      np.where(no_fu, "no follow-up in an interval up to this time",
                               np.where(np.isnan(lower), "log-log CI undefined for an "
                                        "estimate of 1 or more", None)))
    show = ~small[:, None] & ~no_fu
    flat = {
        "_g": np.repeat(np.arange(keys.height), n_int),
        "time": np.tile(ends, keys.height),
        "n": np.repeat(n, n_int),
        "n_at_risk": at_risk.ravel(),
        "n_events": deaths.ravel(),
        "estimate": np.where(show, estimate, np.nan).ravel(),
        "se": np.where(show, se, np.nan).ravel(),
        "lower": np.where(show, lower, np.nan).ravel(),
        "upper": np.where(show, upper, np.nan).ravel(),
        "observed": np.where(show, observed, np.nan).ravel(),
        "expected": np.where(show & (method == "ederer2"), expected, np.nan).ravel(),
    }
    label = f"{METHODS[method]}, {conf_type} 95% CI"
    # A list, not the object array: polars cannot cast an object array whose first
    # element is None to String.
    reasons = pl.Series("reason", reason.ravel().tolist(), pl.String)
    # Lists too, the same values: polars takes numpy arrays by way of numpy.ma, whose
    # import is 0.04 s of a `bcr survival` process.
    schema = {"_g": pl.UInt32, "time": pl.Float64,
              **dict.fromkeys(("n", "n_at_risk", "n_events"), pl.Int64),
              **dict.fromkeys(("estimate", "se", "lower", "upper", "observed", "expected"),
                              pl.Float64)}
    curve = (pl.DataFrame({k: v.tolist() for k, v in flat.items()}, schema=schema)
             .with_columns(reasons, pl.lit(label).alias("method")).fill_nan(None))
    out = keys.join(curve, on="_g").sort("_g", "time").drop("_g", "_one", strict=False)
    return out, keys


def relative_survival(data: pl.DataFrame, lifetable: pl.DataFrame, by: Sequence[str] = (),
                      times: Sequence[float] | None = None, method: str = "pohar-perme",
                      grid_per_year: int = 12, conf_type: str = "log",
                      min_cases: int | None = None) -> pl.DataFrame:
    """Relative (Ederer II) or net (Pohar Perme) survival at chosen times per group.

    `data` is prepared follow-up (analysis.stats.survival.prepare_followup, optionally
    period_window). One row per group and time: n, n_at_risk (entry < t <= exit),
    n_events (deaths since the previous time, as R's summary(..., times)), estimate, se,
    lower, upper, observed (interval-hazard
    observed survival), expected (Ederer II expected survival; Ederer II only), method
    and reason (why there is no estimate).
    """
    cfg = settings()
    grid_times = _grid_times(times if times is not None else cfg.times, grid_per_year)
    curve, _ = _curves(data, lifetable, list(by), method, float(grid_times.max()),
                       grid_per_year, conf_type,
                       cfg.min_cases if min_cases is None else min_cases)
    steps = np.round(grid_times * grid_per_year).astype(np.int64).tolist()
    return _events_since_previous(
        curve.filter((pl.col("time") * grid_per_year).round().cast(pl.Int64).is_in(steps)),
        list(by))


def _events_since_previous(curve: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Cumulative deaths per group turned into deaths since the group's previous row."""
    since = pl.col("n_events").diff().fill_null(pl.col("n_events"))
    return curve.with_columns(since.over(by) if by else since)


def relative_survival_curve(data: pl.DataFrame, lifetable: pl.DataFrame,
                            by: Sequence[str] = (), horizon: float = 5.0,
                            method: str = "pohar-perme", grid_per_year: int = 12,
                            conf_type: str = "log", min_cases: int | None = None
                            ) -> pl.DataFrame:
    """The whole relative/net survival curve (every interval end up to `horizon`),
    same columns as :func:`relative_survival` (n_events: deaths in the interval)."""
    _grid_times([horizon], grid_per_year)
    curve, _ = _curves(data, lifetable, list(by), method, horizon, grid_per_year, conf_type,
                       settings().min_cases if min_cases is None else min_cases)
    return _events_since_previous(curve, list(by))


# --- age standardisation ----------------------------------------------------------------

def standard_weights(name: str) -> pl.DataFrame:
    """An age-standardisation weight set of data_dictionary/survival.yaml: age_group,
    age_min, age_max (inclusive) and weight (summing to 1)."""
    sets = dd.load("survival.yaml")["standards"]
    if name not in sets:
        raise UserError(f"unknown survival standard '{name}' (known: {', '.join(sets)})")
    groups = sets[name]["groups"]
    frame = pl.DataFrame(
        [{"age_group": g["label"], "age_min": int(g["min"]), "age_max": int(g["max"]),
          "weight": float(g["weight"])} for g in groups],
        schema={"age_group": pl.String, "age_min": pl.Int64, "age_max": pl.Int64,
                "weight": pl.Float64})
    if abs(frame["weight"].sum() - 1) > 1e-9:
        raise dd.DictionaryError(f"survival.yaml: weights of '{name}' do not sum to 1")
    return frame


def standard_for(subregistry: str) -> str:
    """The weight set configured for a subregistry (subregistries.yaml)."""
    return dd.subregistry(subregistry)["survival_standard"]


def standard_group(weights: pl.DataFrame, data: pl.DataFrame) -> pl.Expr:
    """The age group of the standard ``weights`` (:func:`standard_weights`) of each case
    of prepared follow-up ``data``; null outside the standard's ages."""
    age = (pl.col("age") if "age" in data.columns
           else pl.col("age_exact").floor().cast(pl.Int64))
    label = pl.lit(None, pl.String)
    for g in weights.iter_rows(named=True):
        label = pl.when(age.is_between(g["age_min"], g["age_max"])).then(
            pl.lit(g["age_group"])).otherwise(label)
    return label


def age_standardised(data: pl.DataFrame, lifetable: pl.DataFrame, standard: str,
                     by: Sequence[str] = (), times: Sequence[float] | None = None,
                     method: str = "pohar-perme", grid_per_year: int = 12,
                     conf_type: str = "log", min_cases: int | None = None,
                     min_age_group_cases: int | None = None) -> pl.DataFrame:
    """Age-standardised relative/net survival: sum_g w_g R_g(t), with
    SE = sqrt(sum_g w_g^2 SE_g(t)^2) and the CI of :func:`relative_survival` built from
    it (Corazziari, Quinn & Capocaccia 2004).

    An age group of the standard with fewer than ``min_age_group_cases`` cases (default
    registry.yaml survival.min_age_group_cases; 0 never merges) is merged with its
    neighbour, as NORDCAN does (analysis.stats.sparse_age_groups): the merged group's estimate
    gets the sum of their weights, so the estimate stays standardised. ``merged`` names
    the merged age groups ("15-44 + 45-54"; null where none were). Cases outside the
    standard's age range (e.g. under 15 for ICSS) are not used; their number is in
    ``n_outside_standard``. ``smallest_age_group`` is the number of cases in the group's
    smallest age group of the standard, before merging. A group gets no estimate when it
    has fewer than `min_cases` cases or when an age group has no estimate at that time.
    """
    cfg = settings()
    min_n = cfg.min_cases if min_cases is None else min_cases
    merge_below = cfg.min_age_group_cases if min_age_group_cases is None \
        else min_age_group_cases
    by = list(by)
    weights = standard_weights(standard)
    marked = data.with_columns(standard_group(weights, data).alias("_std_group"))
    inside = marked.filter(pl.col("_std_group").is_not_null())
    outside = (marked.filter(pl.col("_std_group").is_null()).group_by(by).len("n_outside")
               if by else pl.DataFrame({"n_outside": [marked.height - inside.height]}))
    smallest = smallest_age_group(inside, weights, by)
    per_age, merged = estimate_merged(
        inside, weights, by, merge_below,
        lambda cases: relative_survival(cases, lifetable, [*by, "_std_group"], times, method,
                                        grid_per_year, conf_type, min_cases=1))
    # Every (group, age group, time) must exist, even for an age group with no cases.
    frame = (per_age.select(*by).unique() if by else pl.DataFrame({"_one": [0]}))
    group_weights = (frame.join(weights.select(pl.col("age_group").alias("_std_group"),
                                               "weight"), how="cross").drop("_one",
                                                                            strict=False)
                     .with_columns(pl.lit(None, pl.String).alias("_merged"))
                     if merged is None else
                     frame.drop("_one", strict=False).join(merged, on=by, how="left",
                                                           nulls_equal=True)
                     if by else merged)
    full = (group_weights
            .join(pl.DataFrame({"time": _grid_times(times if times is not None
                                                    else cfg.times, grid_per_year)}),
                  how="cross")
            .join(per_age, on=[*by, "_std_group", "time"], how="left", nulls_equal=True))
    missing_group = pl.when(pl.col("estimate").is_null()).then(pl.col("_std_group"))
    out = (full.group_by([*by, "time"], maintain_order=True).agg(
        pl.col("n").fill_null(0).sum().alias("n"),
        pl.col("n_at_risk").fill_null(0).sum().alias("n_at_risk"),
        pl.col("n_events").fill_null(0).sum().alias("n_events"),
        pl.col("_merged").drop_nulls().str.join("; ").alias("merged"),
        ordered_sum(pl.col("weight") * pl.col("estimate")).alias("estimate"),
        ordered_sum((pl.col("weight") * pl.col("se")) ** 2).sqrt().alias("se"),
        missing_group.drop_nulls().str.join(", ").alias("_missing"))
        .sort([*by, "time"], nulls_last=True))
    est, se = out["estimate"].to_numpy(), out["se"].to_numpy()
    lower, upper = _ci(est, se, conf_type)
    reason = (pl.when(pl.col("n") < min_n).then(pl.lit(f"fewer than {min_n} cases"))
              .when(pl.col("_missing") != "")
              .then(pl.lit("no estimate in age group(s) ") + pl.col("_missing")))
    out = out.with_columns(pl.Series("lower", lower), pl.Series("upper", upper),
                           reason.alias("reason")).with_columns(
        [pl.when(pl.col("reason").is_null()).then(pl.col(c)).alias(c)
         for c in ("estimate", "se", "lower", "upper")])
    out = (out.join(outside, on=by, how="left", nulls_equal=True) if by
           else out.with_columns(pl.lit(outside["n_outside"][0]).alias("n_outside")))
    out = (out.join(smallest, on=by, how="left", nulls_equal=True) if by
           else out.with_columns(pl.lit(smallest["smallest_age_group"][0])
                                 .alias("smallest_age_group")))
    name = dd.load("survival.yaml")["standards"][standard]["name"]
    return out.select(
        *by, "time", "n", pl.col("n_outside").fill_null(0).cast(pl.Int64)
        .alias("n_outside_standard"), "smallest_age_group",
        pl.when(pl.col("merged") != "").then(pl.col("merged")).alias("merged"),
        "n_at_risk", "n_events",
        "estimate", "se", "lower",
        "upper", pl.lit(f"{METHODS[method]}, age-standardised ({name}), {conf_type} 95% CI")
        .alias("method"), "reason").fill_nan(None)
