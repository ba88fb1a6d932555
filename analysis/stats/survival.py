"""Observed survival: follow-up preparation, Kaplan-Meier, median survival, log-rank.

Conventions (DESIGN.md §4, settings in data_dictionary/registry.yaml ``survival:``):

* Follow-up runs from ``diagnosis_date`` to ``death_date`` (an event) or else to
  ``vital_status_date`` (censored), in years of 365.25 days.
* NORDCAN exclusions: age above ``max_age`` at diagnosis, and a basis of diagnosis in
  ``exclude_basis_of_diagnosis`` (death certificate only, autopsy). Excluded cases are
  counted by reason in :class:`FollowUp`, never dropped silently.
* A death on the day of diagnosis gets ``same_day_death_days`` days of survival instead
  of 0, so that it counts as an early death rather than vanishing at time 0.
* A group with fewer than ``min_cases`` cases gets no estimate; its row says why in the
  ``reason`` column.

Kaplan-Meier estimates (Kaplan & Meier 1958) are computed here, with R's
counting-process risk set for delayed entry (period windows), Greenwood (1926) variance
and the log(-log) confidence interval of Kalbfleisch & Prentice (2002); as in R's
``survfit(conf.type = "log-log")`` the band is undefined where S(t) is 1 or 0. They equal
lifelines' KaplanMeierFitter (Davidson-Pilon 2019) on cohort data (tests); lifelines is not
used for the fit because with delayed entry it stops where the risk set empties for a
while and its Greenwood terms count cases entering at the event time.

The median and its confidence interval (Brookmeyer & Crowley 1982: where the curve and
the pointwise log(-log) band cross 0.5) follow R's
``quantile.survfit`` (Therneau, survival package): the smallest time with S(t) <= 0.5,
or, when S(t) stays exactly at 0.5, the midpoint of that flat stretch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from analysis.data import dictionary as dd
from analysis.errors import InputError, UserError

DAYS_PER_YEAR = 365.25
KM_METHOD = "Kaplan-Meier, Greenwood SE, log-log 95% CI"
MEDIAN_METHOD = "Kaplan-Meier median (midpoint rule), Brookmeyer-Crowley log-log 95% CI"
LOGRANK_METHOD = "log-rank test (Mantel-Haenszel)"
Z95 = 1.959963984540054

_CASE_COLUMNS = ("diagnosis_date", "death_date", "vital_status_date", "birth_date", "sex")


@dataclass(frozen=True)
class SurvivalSettings:
    """The ``survival:`` section of registry.yaml."""

    max_age: int
    exclude_basis_of_diagnosis: tuple[str, ...]
    same_day_death_days: float
    min_cases: int
    times: tuple[float, ...]
    min_age_group_cases: int  # a sparser age group of a standard is merged (NORDCAN)


def settings() -> SurvivalSettings:
    """Survival settings from the data dictionary."""
    cfg = dd.registry()["survival"]
    return SurvivalSettings(
        max_age=int(cfg["max_age"]),
        exclude_basis_of_diagnosis=tuple(cfg.get("exclude_basis_of_diagnosis", ())),
        same_day_death_days=float(cfg["same_day_death_days"]),
        min_cases=int(cfg["min_cases"]),
        times=tuple(float(t) for t in cfg["times"]),
        min_age_group_cases=int(cfg["min_age_group_cases"]),
    )


@dataclass(frozen=True)
class FollowUp:
    """Cases prepared for survival analysis and the count of excluded cases by reason.

    ``data`` holds the included cases with ``entry`` (years since diagnosis at which the
    case enters the risk set; 0 except in period analysis), ``time`` (years at exit) and
    ``event`` (1 death, 0 censored), plus ``age_exact`` (years at diagnosis) and every
    original column. ``excluded`` has columns reason and n.
    """

    data: pl.DataFrame
    excluded: pl.DataFrame


def _require(frame: pl.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{source}: missing column(s) {', '.join(missing)} needed for survival")


def _first_bad_row(frame: pl.DataFrame, bad: pl.Expr, column: str, rule: str,
                   source: str) -> None:
    rows = frame.with_row_index("_row", offset=1).filter(bad)
    if rows.height:
        first = rows.row(0, named=True)
        case = f" (case_id {first['case_id']})" if "case_id" in rows.columns else ""
        raise InputError(source, f"{rule}{case}; {rows.height} row(s) break this rule",
                         row=int(first["_row"]), column=column, value=first[column])


def prepare_followup(cases: pl.DataFrame, config: SurvivalSettings | None = None,
                     source: str = "cases") -> FollowUp:
    """Follow-up time and event for each case, with the NORDCAN survival exclusions.

    Raises InputError for a vital-status or death date before diagnosis (the row,
    column and value are named; never the person_id).
    """
    cfg = config or settings()
    _require(cases, _CASE_COLUMNS, source)
    _first_bad_row(cases, pl.col("vital_status_date") < pl.col("diagnosis_date"),
                   "vital_status_date", "vital status date before diagnosis date", source)
    _first_bad_row(cases, pl.col("death_date") < pl.col("diagnosis_date"),
                   "death_date", "death date before diagnosis date", source)
    days = (pl.coalesce("death_date", "vital_status_date") - pl.col("diagnosis_date")
            ).dt.total_days().cast(pl.Float64)
    event = pl.col("death_date").is_not_null()
    age_exact = ((pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days()
                 / DAYS_PER_YEAR)
    completed = pl.col("age") if "age" in cases.columns else age_exact.floor().cast(pl.Int64)
    basis = (pl.col("basis_of_diagnosis") if "basis_of_diagnosis" in cases.columns
             else pl.lit(None, pl.String))
    reason = (pl.when(completed > cfg.max_age)
              .then(pl.lit(f"age above {cfg.max_age} at diagnosis"))
              .when(basis.is_in(list(cfg.exclude_basis_of_diagnosis)))
              .then(pl.lit("basis of diagnosis: ") + basis))
    marked = cases.with_columns(
        reason.alias("_reason"),
        pl.lit(0.0).alias("entry"),
        (pl.when(event & (days == 0)).then(pl.lit(cfg.same_day_death_days)).otherwise(days)
         / DAYS_PER_YEAR).alias("time"),
        event.cast(pl.Int64).alias("event"),
        age_exact.alias("age_exact"),
    )
    excluded = (marked.filter(pl.col("_reason").is_not_null())
                .group_by("_reason").agg(pl.len().cast(pl.Int64).alias("n"))
                .rename({"_reason": "reason"}).sort("reason"))
    data = marked.filter(pl.col("_reason").is_null()).drop("_reason")
    return FollowUp(data=data, excluded=excluded)


def age_band_labels(starts: Sequence[int]) -> list[str]:
    """'0–49', '50–64', ... for bands starting at `starts`, the last to max_age."""
    ends = [*(b - 1 for b in starts[1:]), settings().max_age]
    return [f"{a}\u2013{b}" for a, b in zip(starts, ends, strict=True)]


def age_band(starts: Sequence[int]) -> pl.Expr:
    """The age band at diagnosis (:func:`age_band_labels`) of each prepared case."""
    band = pl.lit(None, pl.String)
    for start, label in zip(starts, age_band_labels(starts), strict=True):
        band = pl.when(pl.col("age_exact") >= start).then(pl.lit(label)).otherwise(band)
    return band


def period_window(data: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Restrict follow-up to a calendar window for the period approach (Brenner &
    Gefeller 1996): a case enters the risk set at the window start (left truncation,
    ``entry`` > 0 for those diagnosed earlier) and is censored at the window end.

    ``start`` and ``end`` are the first and last days in the window. Follow-up is counted
    in whole days, a date d at d - diagnosis_date days, so a day's death lies in
    (day before, day]: the window covers (start - 1 day, end]. A death on the window's
    first day counts, one on the day after its last day does not (Stata's strs, with
    ``enter(time start)``, drops the first and censors the second). Cases with no
    follow-up inside the window are left out.
    """
    if end < start:
        raise UserError(f"period window ends ({end}) before it starts ({start})")
    _require(data, ("diagnosis_date", "death_date", "vital_status_date"), "survival data")
    exit_date = pl.coalesce("death_date", "vital_status_date")
    since = pl.col("diagnosis_date")
    # Dates, not times, decide what is inside: a same-day death sits at half a day.
    return data.filter((exit_date >= start) & (since <= end)).with_columns(
        pl.max_horizontal(pl.col("entry"), ((pl.lit(start) - since).dt.total_days() - 1)
                          / DAYS_PER_YEAR).alias("entry"),
        pl.when(exit_date > end).then((pl.lit(end) - since).dt.total_days() / DAYS_PER_YEAR)
        .otherwise(pl.col("time")).alias("time"),
        (pl.col("event") * (exit_date <= end).cast(pl.Int64)).alias("event"),
    ).filter(pl.col("time") > pl.col("entry"))


def _check_by(data: pl.DataFrame, by: Sequence[str]) -> list[str]:
    by = list(by)
    _require(data, [*by, "entry", "time", "event"], "survival data")
    if "person_id" in by:
        raise UserError("person_id cannot be a grouping variable (it is never shown)")
    return by


def _groups(data: pl.DataFrame, by: list[str]) -> list[tuple[dict, pl.DataFrame]]:
    """The groups of `data` by the `by` columns in sorted order (one group if none)."""
    if not by:
        return [({}, data)]
    parts = data.sort(by, nulls_last=True).partition_by(by, maintain_order=True,
                                                          as_dict=True)
    return [(dict(zip(by, key, strict=True)), part) for key, part in parts.items()]


@dataclass(frozen=True)
class _Curve:
    """A Kaplan-Meier step curve at 0 and at every distinct exit time."""

    times: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_censored: np.ndarray
    estimate: np.ndarray
    greenwood: np.ndarray  # cumulative sum d / (n (n - d))
    lower: np.ndarray  # NaN where S is 1 or 0
    upper: np.ndarray


def _product_limit(part: pl.DataFrame) -> _Curve:
    """Kaplan-Meier (1958) with R's counting-process risk set: a case followed from
    diagnosis is at risk at t while t <= exit, a case entering later (period window)
    once entry < t <= exit, so a curve carries on across a stretch with nobody at risk.
    Deaths come before censorings at the same time. Greenwood (1926) variance and the
    log(-log) band S^exp(+-z sqrt(G) / |log S|) (Kalbfleisch & Prentice 2002), as
    survfit(conf.type = "log-log")."""
    entry = part.get_column("entry").to_numpy().astype(float)
    time = part.get_column("time").to_numpy().astype(float)
    event = part.get_column("event").to_numpy() == 1
    times = np.unique(np.r_[0.0, time])
    exits = np.sort(time)
    late = np.sort(entry[entry > 0])
    n = ((len(exits) - np.searchsorted(exits, times, side="left"))
         - (len(late) - np.searchsorted(late, times, side="left")))
    at = np.searchsorted(times, time)
    d = np.bincount(at[event], minlength=len(times))
    c = np.bincount(at[~event], minlength=len(times))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        gw = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))
        half = Z95 * np.sqrt(gw) / np.abs(np.log(surv))
        defined = (surv > 0) & (surv < 1)
        lower = np.where(defined, surv ** np.exp(half), np.nan)
        upper = np.where(defined, surv ** np.exp(-half), np.nan)
    return _Curve(times, n, d, c, surv, gw, lower, upper)


def _crossing(times: np.ndarray, surv: np.ndarray, p: float = 0.5) -> float:
    """When the step curve `surv` (at `times`, NaN where undefined) falls to `p`: R's
    quantile.survfit rule (survival package, Therneau): the first time with
    S <= p, the midpoint up to the next drop where S stays at p, NaN if never reached."""
    tol = np.sqrt(np.finfo(float).eps)
    x, y = np.r_[0.0, times], np.r_[0.0, 1 - surv]
    xmax = x[-1]
    _, first = np.unique(np.where(np.isnan(y), -1.0, y), return_index=True)
    x, y = x[np.sort(first)], y[np.sort(first)]  # a level's first time; censorings add none
    ends_undefined = np.isnan(y[-1])
    x, y = x[~np.isnan(y)], y[~np.isnan(y)]
    if y.max() + tol < p:
        return np.nan
    reached, below = np.flatnonzero(y + tol >= p), np.flatnonzero(y - tol >= p)
    if not reached.size:
        return np.nan
    if not ends_undefined and abs(p - y[-1]) < tol:  # the curve ends on the flat at p
        return float((x[reached[0]] + xmax) / 2)
    return float((x[reached[0]] + x[below[0]]) / 2) if below.size else np.nan


def _step(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A right-continuous step function given at `times`, evaluated at `at`."""
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan)


def _row_schema(by_schema: dict[str, pl.DataType], columns: dict[str, pl.DataType]
                ) -> dict[str, pl.DataType]:
    return {**by_schema, **columns}


_KM_COLUMNS = {"time": pl.Float64, "n": pl.Int64, "n_at_risk": pl.Int64,
               "n_events": pl.Int64, "estimate": pl.Float64, "se": pl.Float64,
               "lower": pl.Float64, "upper": pl.Float64, "method": pl.String,
               "reason": pl.String}


def kaplan_meier(data: pl.DataFrame, by: Sequence[str] = (),
                 times: Sequence[float] | None = None,
                 min_cases: int | None = None) -> pl.DataFrame:
    """Kaplan-Meier survival at chosen times (years) per group.

    One row per group and time: n (cases in the group), n_at_risk (cases with
    entry < t <= time, as R's summary.survfit), n_events (deaths since the previous
    time, from 0 for the first, as summary.survfit(times = ...) and Stata's sts list),
    estimate S(t), se (Greenwood 1926: S(t) * sqrt(sum d / (n (n - d)))), lower and
    upper (log(-log) 95% CI), method and reason (why no estimate). Beyond
    the last follow-up time S(t) is not given unless it has reached 0.
    """
    cfg = settings()
    by = _check_by(data, by)
    times_arr = np.asarray(times if times is not None else cfg.times, dtype=float)
    if (times_arr < 0).any() or not np.isfinite(times_arr).all():
        raise UserError(f"survival times must be 0 or more years: {times_arr.tolist()}")
    min_n = cfg.min_cases if min_cases is None else min_cases
    rows = []
    for keys, part in _groups(data, by):
        n = part.height
        time = part.get_column("time").to_numpy()
        entry = part.get_column("entry").to_numpy()
        event = part.get_column("event").to_numpy()
        # At time 0 everyone followed from diagnosis is at risk (R's summary.survfit).
        started = (entry[:, None] < times_arr) | ((entry[:, None] == 0) & (times_arr == 0))
        at_risk = (started & (time[:, None] >= times_arr)).sum(0)
        upto = ((event[:, None] == 1) & (time[:, None] <= times_arr)).sum(0)
        order = np.argsort(times_arr, kind="stable")
        events = np.empty_like(upto)
        events[order] = np.diff(upto[order], prepend=0)
        base = {**keys, "n": n, "method": KM_METHOD}
        if n < min_n:
            rows += [{**base, "time": t, "n_at_risk": int(r), "n_events": int(e),
                      "reason": f"fewer than {min_n} cases"}
                     for t, r, e in zip(times_arr, at_risk, events, strict=True)]
            continue
        km = _product_limit(part)
        surv, lower, upper, gw = (_step(km.times, v, times_arr)
                                  for v in (km.estimate, km.lower, km.upper, km.greenwood))
        with np.errstate(invalid="ignore"):  # S = 0 after n = d: se is set to 0 below
            se = surv * np.sqrt(gw)
        for i, t in enumerate(times_arr):
            row = {**base, "time": t, "n_at_risk": int(at_risk[i]),
                   "n_events": int(events[i])}
            if t > time.max() and surv[i] > 0:
                row["reason"] = "follow-up ends before this time"
            elif surv[i] in (0.0, 1.0):  # no confidence interval at 0 or 1
                row.update(estimate=float(surv[i]), se=0.0)
            else:
                row.update(estimate=float(surv[i]), se=float(se[i]),
                           lower=float(lower[i]), upper=float(upper[i]))
            rows.append(row)
    return pl.DataFrame(rows, schema=_row_schema(data.select(by).schema, _KM_COLUMNS))


def km_curve(data: pl.DataFrame, by: Sequence[str] = (),
             min_cases: int | None = None) -> pl.DataFrame:
    """The whole Kaplan-Meier step curve per group, for plots.

    One row per group and distinct time (starting at 0): estimate, lower, upper
    (log(-log) 95% CI, null where S is 1 or 0), n_at_risk, n_events and n_censored at
    that time. Groups below the minimum size are left out of the curve (their table row
    says why).
    """
    by = _check_by(data, by)
    min_n = settings().min_cases if min_cases is None else min_cases
    parts = []
    for keys, part in _groups(data, by):
        if part.height < min_n:
            continue
        km = _product_limit(part)
        frame = pl.DataFrame({
            "time": km.times, "estimate": km.estimate, "lower": km.lower, "upper": km.upper,
            "n_at_risk": km.n_at_risk.astype(np.int64),
            "n_events": km.n_events.astype(np.int64),
            "n_censored": km.n_censored.astype(np.int64)}).fill_nan(None)
        parts.append(frame.select(*(pl.lit(v).alias(k) for k, v in keys.items()), pl.all()))
    schema = {**data.select(by).schema, "time": pl.Float64, "estimate": pl.Float64,
              "lower": pl.Float64, "upper": pl.Float64, "n_at_risk": pl.Int64,
              "n_events": pl.Int64, "n_censored": pl.Int64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts])


def km_median(data: pl.DataFrame, by: Sequence[str] = (),
              min_cases: int | None = None) -> pl.DataFrame:
    """Median survival (years) per group with a 95% CI (Brookmeyer & Crowley 1982).

    The median is the smallest time with S(t) <= 0.5 (the midpoint of the stretch where
    S(t) stays exactly at 0.5); its CI runs from where the lower log(-log) band to where
    the upper band cross 0.5, by the same rule (R's quantile.survfit). A bound never
    reached within follow-up, or only where the band is undefined (S = 0), is null, with
    the reason given.
    """
    by = _check_by(data, by)
    min_n = settings().min_cases if min_cases is None else min_cases
    rows = []
    for keys, part in _groups(data, by):
        row = {**keys, "n": part.height, "n_events": int(part.get_column("event").sum()),
               "method": MEDIAN_METHOD}
        if part.height < min_n:
            rows.append({**row, "reason": f"fewer than {min_n} cases"})
            continue
        km = _product_limit(part)
        values = {k: _crossing(km.times, getattr(km, k)) for k in ("estimate", "lower",
                                                                    "upper")}
        unreached = [k for k, v in values.items() if not np.isfinite(v)]
        row.update({k: v for k, v in values.items() if np.isfinite(v)})
        if unreached:
            row["reason"] = f"not reached within follow-up: {', '.join(unreached)}"
        rows.append(row)
    columns = {"n": pl.Int64, "n_events": pl.Int64, "estimate": pl.Float64,
               "lower": pl.Float64, "upper": pl.Float64, "method": pl.String,
               "reason": pl.String}
    return pl.DataFrame(rows, schema=_row_schema(data.select(by).schema, columns))


def logrank(data: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Log-rank test of equal survival across the groups formed by `by` (Mantel 1966;
    Peto & Peto 1972), with lifelines' multivariate_logrank_test.

    One row: groups (the grouping variables), n_groups, n, statistic (chi-square),
    df, p_value and method. Needs at least two groups.
    """
    by = _check_by(data, by)
    if not by:
        raise UserError("the log-rank test needs a grouping (--by)")
    labelled = data.with_columns(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("(missing)") for c in by],
                      separator=" / ").alias("_group"))
    n_groups = labelled.get_column("_group").n_unique()
    if n_groups < 2:
        raise UserError(f"the log-rank test needs at least two groups of {', '.join(by)}")
    if labelled.get_column("entry").to_numpy().any():
        raise UserError("the log-rank test is for cohort data, not a period window")
    from lifelines.statistics import multivariate_logrank_test  # slow import, rarely used

    result = multivariate_logrank_test(labelled.get_column("time").to_numpy(),
                                       labelled.get_column("_group").to_numpy(),
                                       labelled.get_column("event").to_numpy())
    return pl.DataFrame({
        "groups": [", ".join(by)], "n_groups": [n_groups], "n": [data.height],
        "statistic": [float(result.test_statistic)], "df": [int(result.degrees_of_freedom)],
        "p_value": [float(result.p_value)], "method": [LOGRANK_METHOD]})
