"""Incidence: counts, person-years, crude, age-specific and age-standardised rates, SIR,
rate ratios (DESIGN.md §4); trends are in ``analysis.stats.trend``.

Every estimator takes the canonical case frame (one row per case, with the derived `age`
and `year`) and the population frame (person-years by year, county, sex and single year
of age, the last age open) and returns a tidy polars frame: the group keys, `n`,
`estimate`, `lower`, `upper` and a `method` column naming the method.

Following popEpi, the work is done in two steps: `aggregate` reduces cases and population
to counts and person-years per group and age group (cheap at any registry size), and the
estimators work on those aggregates.

Group keys (`by`): subregistry, icd10, morphology (its four-digit code; "unknown" when
missing), year, period (multi-year periods of `period_length` years counted from the first
year), region, county, sex and age_group.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from analysis.errors import UserError
from analysis.frames import ordered_sum
from analysis.stats.standard_populations import (
    StandardPopulation,
    age_groups,
    default_age_breaks,
    default_standard,
    load_standard,
    reweight,
)

CASE_KEYS = ("subregistry", "icd10", "morphology")
POPULATION_KEYS = ("year", "period", "region", "county", "sex", "age_group")
BY_KEYS = CASE_KEYS + POPULATION_KEYS
UNITS = ("region", "county")
SEXES = (1, 2)
_SHOW = 5  # how many offending values an error message lists

POISSON_METHOD = "exact Poisson (Garwood 1936)"
FAY_FEUER = "gamma (Fay & Feuer 1997)"
TIWARI = "modified gamma (Tiwari, Clegg & Zou 2006)"
SIR_METHOD = "indirect standardisation, exact Poisson CI (Breslow & Day 1987)"
RATIO_METHOD = "ratio of direct standardised rates, log-normal CI with covariance (delta method)"


# --- confidence limits -------------------------------------------------------------------

def alpha(conf_level: float) -> float:
    if not 0.5 < conf_level < 1:
        raise UserError(f"confidence level {conf_level}: must lie between 0.5 and 1")
    return 1 - conf_level


def exact_poisson_limits(count: np.ndarray, conf_level: float = 0.95
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Exact limits for the mean of a Poisson count (Garwood 1936).

    lower = chi2(alpha/2; 2x) / 2 (0 when x = 0), upper = chi2(1 - alpha/2; 2x + 2) / 2.
    """
    a = alpha(conf_level)
    x = np.asarray(count, dtype=float)
    lower = np.where(x > 0, stats.chi2.ppf(a / 2, np.maximum(2 * x, 1e-300)) / 2, 0.0)
    upper = stats.chi2.ppf(1 - a / 2, 2 * x + 2) / 2
    return lower, upper


def gamma_limits(y: np.ndarray, v: np.ndarray, w_add: np.ndarray, w2_add: np.ndarray,
                 conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Gamma limits for a weighted sum of Poisson rates y with variance v.

    lower = G^-1(alpha/2; shape y^2/v, scale v/y) (0 when y = 0);
    upper = G^-1(1 - alpha/2; shape (y+w)^2/(v+w2), scale (v+w2)/(y+w)).
    Fay & Feuer (1997) take w = max_i(w_i) and w2 = w^2; Tiwari, Clegg & Zou (2006) take
    w = mean_i(w_i) and w2 = mean_i(w_i^2) (as asht::wspoissonTest wmtype "tcz").
    """
    a = alpha(conf_level)
    y, v = np.asarray(y, dtype=float), np.asarray(v, dtype=float)
    pos = y > 0
    safe_y, safe_v = np.where(pos, y, 1.0), np.where(pos, v, 1.0)
    lower = np.where(pos, stats.gamma.ppf(a / 2, safe_y**2 / safe_v, scale=safe_v / safe_y),
                     0.0)
    ys, vs = y + w_add, v + w2_add
    upper = stats.gamma.ppf(1 - a / 2, ys**2 / vs, scale=vs / ys)
    return lower, upper


# --- aggregation ---------------------------------------------------------------------------

def check_keys(by: Sequence[str], allowed: Sequence[str] = BY_KEYS) -> list[str]:
    keys = list(dict.fromkeys(by))
    unknown = [k for k in keys if k not in allowed]
    if unknown:
        raise UserError(f"cannot group by {', '.join(unknown)} (use any of "
                        f"{', '.join(allowed)})")
    return keys


def _require_columns(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"the {what} frame lacks the column(s) {', '.join(missing)}")


def _listing(frame: pl.DataFrame) -> str:
    rows = frame.head(_SHOW).iter_rows(named=True)
    text = "; ".join(", ".join(f"{k} {v}" for k, v in r.items()) for r in rows)
    return text + (f" (and {frame.height - _SHOW} more)" if frame.height > _SHOW else "")


def _year_range(cases: pl.DataFrame, years: tuple[int, int] | None) -> tuple[int, int]:
    if years is not None:
        first, last = int(years[0]), int(years[1])
        if first > last:
            raise UserError(f"years {first}-{last}: the first year is after the last")
        return first, last
    if cases.is_empty():
        raise UserError("there are no cases, so no years to report; give the years")
    return int(cases.get_column("year").min()), int(cases.get_column("year").max())


def _period_expr(first: int, last: int, length: int | None) -> pl.Expr:
    if not length or length < 1:
        raise UserError("grouping by period needs a period length of at least 1 year")
    start = pl.lit(first) + ((pl.col("year") - first) // length) * length
    end = pl.min_horizontal(start + length - 1, pl.lit(last))
    return (pl.when(start == end).then(start.cast(pl.String))
            .otherwise(start.cast(pl.String) + "-" + end.cast(pl.String)).alias("period"))


def age_group_expr(breaks: list[int]) -> pl.Expr:
    labels = age_groups(breaks).get_column("age_group").to_list()
    index = pl.sum_horizontal([(pl.col("age") >= b).cast(pl.Int32) for b in breaks]) - 1
    return index.replace_strict(dict(enumerate(labels)), return_dtype=pl.String
                                ).alias("age_group")


def _check_population(pop: pl.DataFrame, first: int, last: int,
                      breaks: list[int]) -> pl.DataFrame:
    """The population rows of the years, after checking they are complete and usable."""
    _require_columns(pop, ("year", "county", "sex", "age", "population", "region"),
                     "population")
    pop = pop.filter(pl.col("year").is_between(first, last))
    missing_years = sorted(set(range(first, last + 1)) - set(pop.get_column("year")))
    if missing_years:
        raise UserError(f"the population has no person-years for the year(s) "
                        f"{', '.join(map(str, missing_years))}; give population figures for "
                        f"every year of {first}-{last} or choose other years")
    bad = pop.filter(pl.col("population").is_null() | pl.col("population").is_nan()
                     | (pl.col("population") < 0))
    if not bad.is_empty():
        raise UserError("the population has missing or negative person-years for "
                        + _listing(bad.select("year", "county", "sex", "age", "population")))
    max_age = int(pop.get_column("age").max())
    if breaks[-1] > max_age:
        raise UserError(f"the population's last age is {max_age}+ (open), so it cannot give "
                        f"person-years for an age group starting at {breaks[-1]}")
    grid = (pop.select("year").unique()
            .join(pop.select("county").unique(), how="cross")
            .join(pl.DataFrame({"sex": list(SEXES)}, schema={"sex": pl.Int64}), how="cross")
            .join(pl.DataFrame({"age": range(max_age + 1)}, schema={"age": pl.Int64}),
                  how="cross"))
    absent = grid.join(pop, on=["year", "county", "sex", "age"], how="anti")
    if not absent.is_empty():
        raise UserError("the population has no row (missing person-years) for "
                        + _listing(absent.sort("year", "county", "sex", "age")))
    return pop


def _check_dated(cases: pl.DataFrame) -> None:
    for col in ("year", "age"):
        missing = cases.filter(pl.col(col).is_null())
        if not missing.is_empty():
            raise UserError(f"{missing.height} case(s) lack the {col} of diagnosis: "
                            + _listing(missing.select("subregistry", "case_id")))


def _check_cases(cases: pl.DataFrame, pop: pl.DataFrame, keys: list[str]) -> None:
    known = pop.get_column("county").unique().implode()
    outside = cases.filter(~pl.col("county").is_in(known) | pl.col("county").is_null())
    if not outside.is_empty():
        counts = outside.group_by("county").agg(pl.len().alias("cases")).sort("county")
        raise UserError("cases from counties the population does not cover: "
                        + _listing(counts))
    unknown_sex = cases.filter(~pl.col("sex").is_in(list(SEXES)) | pl.col("sex").is_null())
    if "sex" in keys and not unknown_sex.is_empty():
        raise UserError(f"{unknown_sex.height} case(s) have unknown sex, so they cannot be "
                        f"given sex-specific person-years ("
                        + _listing(unknown_sex.select("subregistry", "case_id", "sex"))
                        + "); correct the extract, or leave sex out of the grouping and "
                        "the reference strata")
    max_age = int(pop.get_column("age").max())
    # A case where its own stratum has no person-years would give an infinite rate.
    cells = (cases.filter(pl.col("sex").is_in(list(SEXES)))
             .select("year", "county", "sex", pl.col("age").clip(upper_bound=max_age))
             .unique())
    empty = (cells.join(pop.select("year", "county", "sex", "age", "population"),
                        on=["year", "county", "sex", "age"], how="left")
             .filter(pl.col("population").fill_null(0) <= 0))
    if not empty.is_empty():
        raise UserError("cases were diagnosed where the population has zero person-years: "
                        + _listing(empty.drop("population").sort("year", "county", "sex",
                                                                  "age")))


def aggregate(cases: pl.DataFrame, population: pl.DataFrame, by: Sequence[str] = (), *,
              years: tuple[int, int] | None = None, age_breaks: Sequence[int] | None = None,
              period_length: int | None = None) -> pl.DataFrame:
    """Counts and person-years per group of `by` (and age group, always).

    Returns one row per combination of the groups' levels (also those without cases):
    the keys, age_group, age_start, n (cases) and person_years. Levels of subregistry,
    icd10 and morphology are those seen among the cases. Cases younger than the first age
    break are outside the analysis (e.g. breaks from 18: adults only). Raises UserError for
    cases outside the population's years or counties, unknown sex where sex is a key, and
    zero or missing person-years.
    """
    keys = check_keys(by)
    needed = list(dict.fromkeys(("subregistry", "case_id", "year", "age", "county", "sex",
                                 "region", *[k for k in CASE_KEYS if k in keys])))
    _require_columns(cases, needed, "case")
    cases = cases.select(needed)  # a registry extract has dozens of columns we do not need
    breaks = list(age_breaks) if age_breaks is not None else default_age_breaks()
    groups = age_groups(breaks)
    _check_dated(cases)
    first, last = _year_range(cases, years)
    cases = cases.filter(pl.col("year").is_between(first, last) & (pl.col("age") >= breaks[0]))
    pop = _check_population(population, first, last, breaks)
    _check_cases(cases, pop, keys)
    pop = pop.filter(pl.col("age") >= breaks[0])

    derived = [age_group_expr(breaks)]
    if "period" in keys:
        derived.append(_period_expr(first, last, period_length))
    cases = cases.with_columns(*derived)
    if "morphology" in keys:
        cases = cases.with_columns(pl.col("morphology").str.slice(0, 4).fill_null("unknown"))
    pop = pop.with_columns(*derived)

    cell = [*[k for k in keys if k != "age_group"], "age_group"]
    pop_cell = [k for k in cell if k in POPULATION_KEYS]
    case_keys = [k for k in cell if k in CASE_KEYS]
    person_years = pop.group_by(pop_cell).agg(
        ordered_sum(pl.col("population")).alias("person_years"))
    grid = (cases.select(case_keys).unique().join(person_years, how="cross") if case_keys
            else person_years)
    counts = cases.group_by(cell).agg(pl.len().cast(pl.Int64).alias("n"))
    out = grid.join(counts, on=cell, how="left", nulls_equal=True).with_columns(
        pl.col("n").fill_null(0))
    lost = cases.height - int(out.get_column("n").sum())
    if lost:
        raise UserError(f"{lost} case(s) do not match a population group (region or county "
                        "of the cases differs from the population's)")
    return (out.join(groups.select("age_group", "age_start"), on="age_group")
            .select(*cell, "age_start", "n", "person_years")
            .sort([*[k for k in cell if k != "age_group"], "age_start"]))


def require_person_years(frame: pl.DataFrame, keys: list[str]) -> None:
    empty = frame.filter(pl.col("person_years") <= 0)
    if not empty.is_empty():
        raise UserError("zero person-years (no population) for "
                        + _listing(empty.select(keys).sort(keys))
                        + "; a rate cannot be computed there")


# --- estimators --------------------------------------------------------------------------

def crude_rates_from(agg: pl.DataFrame, by: Sequence[str], *, per: float = 100_000,
                     conf_level: float = 0.95) -> pl.DataFrame:
    """Crude rates per `per` person-years of aggregated counts, exact Poisson CI."""
    keys = list(by)
    grouped = (agg.group_by(keys).agg(pl.col("n").sum(), ordered_sum(pl.col("person_years")))
               if keys else agg.select(pl.col("n").sum(), ordered_sum(pl.col("person_years"))))
    require_person_years(grouped, keys)
    lower, upper = exact_poisson_limits(grouped.get_column("n").to_numpy(), conf_level)
    py = grouped.get_column("person_years").to_numpy()
    return sort_groups(grouped.with_columns(
        (pl.col("n") / pl.col("person_years") * per).alias("estimate"),
        pl.Series("lower", lower / py * per), pl.Series("upper", upper / py * per),
        pl.lit(per, dtype=pl.Float64).alias("per"),
        pl.lit(f"crude rate; {POISSON_METHOD}").alias("method"),
    ), keys, agg)


def crude_rates(cases: pl.DataFrame, population: pl.DataFrame, by: Sequence[str] = (), *,
                years: tuple[int, int] | None = None, age_breaks: Sequence[int] | None = None,
                period_length: int | None = None, per: float = 100_000,
                conf_level: float = 0.95) -> pl.DataFrame:
    """Counts, person-years and crude rates per `per` person-years with exact Poisson CI
    (Garwood 1936). With age_group in `by` these are the age-specific rates.

    Columns: the keys, n, person_years, estimate, lower, upper, per, method.
    """
    agg = aggregate(cases, population, by, years=years, age_breaks=age_breaks,
                    period_length=period_length)
    return crude_rates_from(agg, check_keys(by), per=per, conf_level=conf_level)


def _standard(standard: str | Path | StandardPopulation | None) -> StandardPopulation:
    if isinstance(standard, StandardPopulation):
        return standard
    return load_standard(standard if standard is not None else default_standard())


def _age_weights(agg: pl.DataFrame, standard: StandardPopulation) -> pl.DataFrame:
    breaks = (agg.select("age_start").unique().sort("age_start")
              .get_column("age_start").to_list())
    w = reweight(standard, breaks)
    return w.select("age_group", (pl.col("weight") / pl.col("weight").sum()).alias("w"))


def standardised_rates_from(agg: pl.DataFrame, by: Sequence[str],
                            standard: StandardPopulation, *, per: float = 100_000,
                            conf_level: float = 0.95, tiwari: bool = False) -> pl.DataFrame:
    """Directly age-standardised rates of aggregated counts (see standardised_rates).

    `agg` may be finer than `by` (e.g. still split by sex): counts and person-years are
    first summed to `by` x age group, as the rate of a group must be.
    """
    keys = list(by)
    if "age_group" in keys:
        raise UserError("age-standardised rates cannot be grouped by age group; use crude "
                        "(age-specific) rates for that")
    agg = agg.group_by([*keys, "age_group", "age_start"]).agg(
        pl.col("n").sum(), ordered_sum(pl.col("person_years")))
    require_person_years(agg, [*keys, "age_group"])
    terms = agg.join(_age_weights(agg, standard), on="age_group").with_columns(
        (pl.col("w") / pl.col("person_years")).alias("wi"))
    parts = [
        pl.col("n").sum(), ordered_sum(pl.col("person_years")),
        ordered_sum(pl.col("wi") * pl.col("n")).alias("y"),
        ordered_sum(pl.col("wi") ** 2 * pl.col("n")).alias("v"),
    ]
    if tiwari:
        parts += [pl.col("wi").mean().alias("w_add"), (pl.col("wi") ** 2).mean().alias("w2_add")]
    else:
        parts += [pl.col("wi").max().alias("w_add"), (pl.col("wi").max() ** 2).alias("w2_add")]
    grouped = terms.group_by(keys).agg(parts) if keys else terms.select(parts)
    lower, upper = gamma_limits(*(grouped.get_column(c).to_numpy()
                                  for c in ("y", "v", "w_add", "w2_add")), conf_level)
    method = f"age-standardised rate ({standard.name}); {TIWARI if tiwari else FAY_FEUER}"
    out = grouped.select(
        *keys, "n", "person_years",
        (pl.col("n") / pl.col("person_years") * per).alias("crude_rate"),
        (pl.col("y") * per).alias("estimate"),
        pl.Series("lower", lower * per), pl.Series("upper", upper * per),
        pl.lit(per, dtype=pl.Float64).alias("per"),
        pl.lit(standard.id).alias("standard"), pl.lit(method).alias("method"))
    return sort_groups(out, keys, agg)


def standardised_rates(cases: pl.DataFrame, population: pl.DataFrame,
                       by: Sequence[str] = (), *,
                       standard: str | Path | StandardPopulation | None = None,
                       years: tuple[int, int] | None = None,
                       age_breaks: Sequence[int] | None = None,
                       period_length: int | None = None, per: float = 100_000,
                       conf_level: float = 0.95, tiwari: bool = False) -> pl.DataFrame:
    """Directly age-standardised rates per `per` person-years with gamma CI.

    ASR = sum_i w_i x_i / n_i over age groups i, with the standard's weights w_i
    re-distributed to the age groups and normalised to sum 1; var = sum_i w_i^2 x_i / n_i^2.
    CI: Fay & Feuer (1997) gamma interval as in R epitools::ageadjust.direct and
    SEER*Stat; with `tiwari=True` the modified upper limit of Tiwari, Clegg & Zou (2006).
    A group without cases has rate 0 and a finite upper limit.

    Columns: the keys, n, person_years, crude_rate, estimate, lower, upper, per,
    standard, method.
    """
    agg = aggregate(cases, population, by, years=years, age_breaks=age_breaks,
                    period_length=period_length)
    return standardised_rates_from(agg, check_keys(by), _standard(standard), per=per,
                                   conf_level=conf_level, tiwari=tiwari)


def _unit_keys(by: Sequence[str], unit: str) -> list[str]:
    if unit not in UNITS:
        raise UserError(f"comparison unit '{unit}': use one of {', '.join(UNITS)}")
    keys = [k for k in check_keys(by) if k != unit]
    other = [k for k in keys if k in UNITS]
    if other:
        # Within a region the reference would be that region, not the nation.
        raise UserError(f"compare one unit at a time: the grouping has {unit} and "
                        f"{', '.join(other)}")
    if "age_group" in keys:
        raise UserError("a regional comparison is standardised over age; leave age_group "
                        "out of the grouping")
    return keys


def sir(cases: pl.DataFrame, population: pl.DataFrame, unit: str = "region",
        by: Sequence[str] = (), *, reference_strata: Sequence[str] = ("age_group", "sex"),
        years: tuple[int, int] | None = None, age_breaks: Sequence[int] | None = None,
        period_length: int | None = None, conf_level: float = 0.95) -> pl.DataFrame:
    """Standardised incidence ratio of each `unit` (region or county) within groups `by`.

    Expected E = sum_s r_s PY_unit,s with r_s the rate of stratum s (default age group x
    sex) in all units together (the nation, if the data are national), computed within
    each group of `by`. SIR = O / E with exact Poisson limits chi2(alpha/2; 2O) / 2E and
    chi2(1 - alpha/2; 2O + 2) / 2E (Breslow & Day 1987, vol. II, eq. 2.11), and an exact
    two-sided Poisson p-value for SIR = 1 (twice the smaller tail). E = 0 (no cases in the
    reference) leaves the SIR empty.

    Columns: the keys, unit, n (observed), expected, estimate, lower, upper, p_value,
    method.
    """
    keys = _unit_keys(by, unit)
    strata = check_keys(reference_strata, ("age_group", "sex", "year"))
    if "age_group" not in strata:
        strata = [*strata, "age_group"]
    agg = aggregate(cases, population, list(dict.fromkeys([*keys, unit, *strata])),
                    years=years, age_breaks=age_breaks, period_length=period_length)
    ref_keys = list(dict.fromkeys([*keys, *strata]))
    reference = agg.group_by(ref_keys).agg(
        (pl.col("n").sum() / ordered_sum(pl.col("person_years"))).fill_nan(0.0).alias("ref_rate"))
    grouped = (agg.join(reference, on=ref_keys, nulls_equal=True)
               .group_by([*keys, unit])
               .agg(pl.col("n").sum(),
                    ordered_sum(pl.col("ref_rate") * pl.col("person_years")).alias("expected")))
    observed = grouped.get_column("n").to_numpy().astype(float)
    expected = grouped.get_column("expected").to_numpy()
    lo, hi = exact_poisson_limits(observed, conf_level)
    has_e = expected > 0
    e = np.where(has_e, expected, 1.0)
    tails = np.minimum(stats.poisson.cdf(observed, e), stats.poisson.sf(observed - 1, e))
    out = grouped.with_columns(
        pl.Series("estimate", observed / e), pl.Series("lower", lo / e),
        pl.Series("upper", hi / e), pl.Series("p_value", np.minimum(1.0, 2 * tails)))
    out = out.with_columns(
        pl.when(pl.Series(has_e)).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("estimate", "lower", "upper", "p_value"))
    return sort_groups(out.with_columns(pl.lit(SIR_METHOD).alias("method")), [*keys, unit], agg)


def rate_ratios(cases: pl.DataFrame, population: pl.DataFrame, unit: str = "region",
                by: Sequence[str] = (), *,
                standard: str | Path | StandardPopulation | None = None,
                years: tuple[int, int] | None = None, age_breaks: Sequence[int] | None = None,
                period_length: int | None = None, per: float = 100_000,
                conf_level: float = 0.95) -> pl.DataFrame:
    """Ratio of each unit's age-standardised rate to that of all units (the nation).

    RR = R_u / R_N with R = sum_i w_i x_i / n_i (direct standardisation as in
    standardised_rates). The CI is log-normal: log RR +- z sqrt(V), with the delta-method
    V = V_u/R_u^2 + V_N/R_N^2 - 2 C/(R_u R_N), V = sum_i w_i^2 x_i / n_i^2 and
    C = sum_i w_i^2 x_ui / (n_ui n_Ni). The covariance term is why this method: a unit is
    part of the nation, so the two rates are not independent, which the F-based intervals
    of Fay (1999) and Tiwari et al. (2006) assume; ignoring the overlap would make the
    interval too wide. A unit without cases has ratio 0, lower limit 0 and no upper limit
    (the log-normal interval is undefined there).

    Columns: the keys, unit, n, rate and reference_rate (per `per` person-years),
    estimate, lower, upper, standard, method.
    """
    keys = _unit_keys(by, unit)
    std = _standard(standard)
    agg = aggregate(cases, population, [*keys, unit, "age_group"], years=years,
                    age_breaks=age_breaks, period_length=period_length)
    require_person_years(agg, [*keys, unit, "age_group"])
    nation = agg.group_by([*keys, "age_group"]).agg(
        pl.col("n").sum().alias("n_ref"), ordered_sum(pl.col("person_years")).alias("py_ref"))
    terms = (agg.join(nation, on=[*keys, "age_group"], nulls_equal=True)
             .join(_age_weights(agg, std), on="age_group"))
    rate, ref = pl.col("n") / pl.col("person_years"), pl.col("n_ref") / pl.col("py_ref")
    grouped = terms.group_by([*keys, unit]).agg(
        pl.col("n").sum(),
        ordered_sum(pl.col("w") * rate).alias("r_u"),
        ordered_sum(pl.col("w") * ref).alias("r_n"),
        ordered_sum(pl.col("w") ** 2 * rate / pl.col("person_years")).alias("v_u"),
        ordered_sum(pl.col("w") ** 2 * ref / pl.col("py_ref")).alias("v_n"),
        ordered_sum(pl.col("w") ** 2 * rate / pl.col("py_ref")).alias("c"))
    r_u, r_n, v_u, v_n, c = (grouped.get_column(k).to_numpy()
                             for k in ("r_u", "r_n", "v_u", "v_n", "c"))
    z = stats.norm.ppf(1 - alpha(conf_level) / 2)
    pos = (r_u > 0) & (r_n > 0)
    ru, rn = np.where(pos, r_u, 1.0), np.where(pos, r_n, 1.0)
    var = np.maximum(v_u / ru**2 + v_n / rn**2 - 2 * c / (ru * rn), 0.0)
    ratio = np.where(r_n > 0, r_u / np.where(r_n > 0, r_n, 1.0), np.nan)
    half = z * np.sqrt(var)
    out = grouped.select(
        *keys, unit, "n", (pl.col("r_u") * per).alias("rate"),
        (pl.col("r_n") * per).alias("reference_rate"),
        pl.Series("estimate", ratio).fill_nan(None),
        pl.Series("lower", np.where(pos, ratio * np.exp(-half), 0.0)),
        pl.Series("upper", np.where(pos, ratio * np.exp(half), np.nan)).fill_nan(None),
        pl.lit(std.id).alias("standard"), pl.lit(RATIO_METHOD).alias("method"))
    out = out.with_columns(pl.when(pl.col("estimate").is_null()).then(None)
                           .otherwise(pl.col("lower")).alias("lower"))
    return sort_groups(out, [*keys, unit], agg)


def sort_groups(frame: pl.DataFrame, keys: list[str], agg: pl.DataFrame) -> pl.DataFrame:
    """Rows in key order, age groups by age rather than alphabetically."""
    if not keys:
        return frame
    if "age_group" in keys:
        order = agg.select("age_group", "age_start").unique()
        return (frame.join(order, on="age_group").sort(
            [k if k != "age_group" else "age_start" for k in keys]).drop("age_start"))
    return frame.sort(keys)
