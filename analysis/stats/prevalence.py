"""Prevalence: persons alive at a date who were diagnosed before it, per 100 000.

The counting method of SEER*Stat and NORDCAN (Gail et al. 1999, "Estimating prevalence
from population-based cancer registries", in SEER*Stat's documentation; Engholm et al.
2010, NORDCAN, Acta Oncol 49:725-36): from registered cases with complete follow-up, the
prevalence at a date is the number of persons

- diagnosed on or before the date (a diagnosis on the date counts), and
- alive at the end of the date (a death on the date does not count), and
- whose vital status is known up to the date: a person neither dead by the date nor
  followed up to it (``vital_status_date`` before the date: emigrated, lost to follow-up)
  is left out and counted in ``n_unknown_vital_status``.

A person counts once per subregistry, from the first diagnosis of that subregistry (a
second registration in the same subregistry does not count again; a person in two
subregistries counts in each). Limited-duration prevalence counts only the persons whose
first diagnosis lies within d years before the date, i.e. after the same day d years
earlier (1-, 5- and 10-year); complete prevalence counts every diagnosis since the
registry began (the first diagnosis date of the cases, reported as ``registry_start``),
so it is complete only for diseases whose patients have all been diagnosed since then.

Group attributes are those at the first diagnosis (county, region) and at the date (age
group, from the birth date); the rate is per ``per`` persons of the population of the
date's year in the same group, with the exact Poisson interval of the count (Garwood
1936), as NORDCAN and SEER*Stat give for prevalence proportions of rare counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analysis.data.ingest import age_group_expr
from analysis.data.validate import age_at
from analysis.errors import UserError
from analysis.frames import ordered_sum
from analysis.stats.incidence import exact_poisson_limits

BY_KEYS = ("region", "county", "sex", "age_group")
DURATIONS = (1, 5, 10, None)  # None: complete prevalence
METHOD = ("counting method (SEER*Stat, NORDCAN): persons diagnosed on or before the date "
          "and alive at its end, once per subregistry; exact Poisson CI (Garwood 1936)")
_CASE_COLUMNS = ("subregistry", "person_id", "diagnosis_date", "death_date",
                 "vital_status_date", "birth_date", "sex", "county", "region")


def _persons(cases: pl.DataFrame, at: dt.date) -> pl.DataFrame:
    """One row per person and subregistry diagnosed by `at`: the first diagnosis (and its
    county and region), the person's death date and the latest date followed up to."""
    missing = [c for c in _CASE_COLUMNS if c not in cases.columns]
    if missing:
        raise UserError(f"prevalence needs the case columns {', '.join(missing)}")
    # Sorted, so that the first diagnosis of a person is one row whatever the input order.
    diagnosed = cases.filter(pl.col("diagnosis_date") <= at).sort(
        "subregistry", "person_id", "diagnosis_date", *(["case_id"] if "case_id" in
                                                          cases.columns else []))
    first = pl.col("diagnosis_date").arg_min()
    return diagnosed.group_by("subregistry", "person_id").agg(
        pl.col("diagnosis_date").min(),
        *(pl.col(c).get(first) for c in ("county", "region", "sex", "birth_date")),
        pl.col("death_date").min(),
        pl.col("vital_status_date").max(),
    )


def _status(persons: pl.DataFrame, at: dt.date) -> pl.DataFrame:
    """Each person's status at the end of `at`: prevalent, dead or unknown."""
    dead = pl.col("death_date").is_not_null() & (pl.col("death_date") <= at)
    followed = pl.col("vital_status_date") >= at
    return persons.with_columns(
        status=pl.when(dead).then(pl.lit("dead"))
        .when(followed).then(pl.lit("prevalent")).otherwise(pl.lit("unknown")),
        age=age_at(pl.col("birth_date"), pl.lit(at)))


def _since(at: dt.date, years: int) -> dt.date:
    """The same day `years` earlier (28 February for 29 February in a common year)."""
    try:
        return at.replace(year=at.year - years)
    except ValueError:
        return at.replace(year=at.year - years, day=28)


def prevalence(cases: pl.DataFrame, population: pl.DataFrame, at: dt.date,
               by: Sequence[str] = (), durations: Sequence[int | None] = DURATIONS, *,
               per: float = 100_000, conf_level: float = 0.95) -> pl.DataFrame:
    """Complete and limited-duration prevalence at the end of `at`, per subregistry and
    the groups of `by` (region, county, sex, age_group at the date).

    ``population``: year, county, region, sex, age, population; the year of `at` is the
    denominator. Returns subregistry, the keys, ``duration`` (years; null = complete),
    ``date``, ``registry_start``, ``n`` (prevalent persons), ``population``, ``estimate``,
    ``lower``, ``upper`` (per `per`), ``per``, ``n_unknown_vital_status`` (persons left
    out: vital status not known up to the date) and ``method``; one row per subregistry,
    group and duration, also for groups without prevalent persons.
    """
    keys = list(dict.fromkeys(by))
    bad = [k for k in keys if k not in BY_KEYS]
    if bad:
        raise UserError(f"prevalence cannot be grouped by {', '.join(bad)} "
                        f"(use {', '.join(BY_KEYS)})")
    if cases.is_empty():
        raise UserError("prevalence: there are no cases")
    start = cases.get_column("diagnosis_date").min()
    persons = _status(_persons(cases, at), at).with_columns(
        age_group_expr(pl.col("age")).alias("age_group"))
    pop = population.filter(pl.col("year") == at.year)
    if pop.is_empty():
        raise UserError(f"prevalence at {at.isoformat()}: the population has no figures for "
                        f"{at.year}")
    pop = pop.with_columns(age_group_expr(pl.col("age")).alias("age_group")).group_by(keys or
        [pl.lit(0).alias("_all")]).agg(ordered_sum(pl.col("population")).alias("population"))
    subs = cases.select(pl.col("subregistry").unique().sort())
    parts = []
    for years in durations:
        window = (persons if years is None
                  else persons.filter(pl.col("diagnosis_date") > _since(at, years)))
        counts = window.group_by("subregistry", *keys).agg(
            n=(pl.col("status") == "prevalent").sum().cast(pl.Int64),
            n_unknown_vital_status=(pl.col("status") == "unknown").sum().cast(pl.Int64))
        grid = subs.join(pop, how="cross")
        parts.append(grid.join(counts, on=["subregistry", *keys], how="left",
                               nulls_equal=True)
                     .with_columns(pl.col("n", "n_unknown_vital_status").fill_null(0),
                                   pl.lit(years, pl.Int64).alias("duration")))
    out = pl.concat(parts).drop("_all", strict=False)
    orphans = out.filter(pl.col("population") <= 0)
    if orphans.filter(pl.col("n") > 0).height:
        raise UserError("prevalent persons where the population is zero: "
                        + ", ".join(str(r) for r in orphans.filter(pl.col("n") > 0)
                                    .select(keys).unique().rows()[:5]))
    lower, upper = exact_poisson_limits(out.get_column("n").to_numpy(), conf_level)
    size = out.get_column("population").to_numpy()
    return out.with_columns(
        pl.lit(at).alias("date"), pl.lit(start).alias("registry_start"),
        pl.when(pl.col("population") > 0).then(pl.col("n") / pl.col("population") * per)
        .alias("estimate"),
        pl.Series("lower", lower / size * per), pl.Series("upper", upper / size * per),
        pl.lit(per, pl.Float64).alias("per"), pl.lit(METHOD).alias("method"),
    ).select("subregistry", *keys, "duration", "date", "registry_start", "n", "population",
             "estimate", "lower", "upper", "per", "n_unknown_vital_status", "method",
             ).sort("subregistry", *keys, pl.col("duration").fill_null(10**6))
