"""Every analysis the reports need, computed once per run (DESIGN.md §2).

``compute_all`` calls the analysis modules (incidence, indicators, funnel, survival,
relative survival, coverage) and returns their tidy frames; the report builders only
select, format and arrange them. National figures are stacked with the regional ones
under ``region == NATION`` so a table can put a region beside the nation.
No statistic is computed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis import coverage, funnel, incidence, indicators, survival
from analysis import dictionary as dd
from analysis.errors import UserError

NATION = "nation"
TREND_YEARS = 10  # incidence trends over the last ten diagnosis years
SIR_YEARS = 5  # SIR and age-specific rates pool five years for stable estimates
SURVIVAL_YEARS = 10  # survival of the cases diagnosed in the last ten years
FUNNEL_POINTS = 200


@dataclass
class Analyses:
    """The frames every document draws from (one instance per run)."""

    year: int
    first_year: int
    extract_date: dt.date
    asr: pl.DataFrame  # subregistry, region (or NATION), year, n, crude_rate, estimate, ...
    apc: pl.DataFrame  # subregistry, region: annual percent change over the trend years
    sir: pl.DataFrame  # subregistry, region: SIR over the last SIR_YEARS
    age_sex: pl.DataFrame  # subregistry, sex, age_group: crude rates, SIR_YEARS pooled
    indicators: pl.DataFrame  # indicator, subregistry, region (or NATION), year, ...
    hospitals: pl.DataFrame  # funnel: indicator, subregistry, hospital, region, limits
    funnel_curves: pl.DataFrame  # subregistry, n, side, limit, value, p0
    survival: pl.DataFrame  # subregistry, region (or NATION), time: Kaplan-Meier
    survival_curves: pl.DataFrame  # subregistry, region (or NATION): whole KM curves
    completeness: pl.DataFrame  # subregistry, region (or NATION), variable, estimate
    indicator_list: list[indicators.Indicator]


def report_year(cases: pl.DataFrame, extract_date: dt.date | None) -> int:
    """The last complete diagnosis year: the year before the extract date's year unless
    the extract reaches 31 December."""
    if cases.is_empty() or extract_date is None:
        raise UserError("the data hold no registered cases: nothing to report")
    last = int(cases.get_column("year").max())
    complete = extract_date.year if (extract_date.month, extract_date.day) == (12, 31) \
        else extract_date.year - 1
    return min(last, complete)


def _with_nation(national: pl.DataFrame, regional: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([regional, national.with_columns(pl.lit(NATION).alias("region"))],
                     how="diagonal_relaxed")


def _collapse(agg: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Counts and person-years summed to the keys and age group: the standardised rate
    weights the age-specific rates of exactly these cells (not of finer strata)."""
    return agg.group_by([*keys, "age_group", "age_start"]).agg(
        pl.col("n").sum(), pl.col("person_years").sum())


def _funnel_indicator(indicator_list: list[indicators.Indicator], sid: str
                      ) -> indicators.Indicator | None:
    """The subregistry's first proportion indicator reported by hospital."""
    for ind in indicator_list:
        if sid in ind.subregistries and ind.kind == "proportion" and "hospital" in ind.units:
            return ind
    return None


def _hospital_funnels(cases: pl.DataFrame, indicator_list: list[indicators.Indicator],
                      year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    hospital_region = {h["code"]: dd.counties().filter(pl.col("county") == h["county"])
                       ["region"].item() for h in dd.load("hospitals.yaml")["hospitals"]}
    units, curves = [], []
    current = cases.filter(pl.col("year") == year)
    for sid in dd.subregistry_ids():
        ind = _funnel_indicator(indicator_list, sid)
        if ind is None:
            continue
        counts = (indicators.compute_indicator(ind, current.filter(
            pl.col("subregistry") == sid), by=["hospital"])
            .filter(pl.col("hospital").is_not_null() & (pl.col("n") > 0)))
        if counts.is_empty():
            continue
        limits = funnel.funnel_limits(counts, "hospital")
        units.append(limits.with_columns(
            pl.lit(ind.id).alias("indicator"), pl.lit(sid).alias("subregistry"),
            pl.col("hospital").replace_strict(hospital_region, default=None).alias("region")))
        p0 = limits.get_column("target")[0]
        grid = np.unique(np.geomspace(1, counts["n"].max(), FUNNEL_POINTS).round())
        curves.append(funnel.funnel_curve(p0, grid).with_columns(
            pl.lit(sid).alias("subregistry"), pl.lit(p0).alias("p0")))
    if not units:
        return pl.DataFrame(), pl.DataFrame()
    return pl.concat(units, how="diagonal_relaxed"), pl.concat(curves, how="diagonal_relaxed")


def compute_all(data, year: int | None = None) -> Analyses:  # noqa: ANN001 (RegistryData)
    """Compute every analysis of the reports once: incidence, trends, SIR, indicators,
    funnels, survival and completeness for the report year (default: the last complete
    year in the data).
    """
    cases = data.require("cases")
    population = data.require("population")
    extract = data.extract_date()
    last = report_year(cases, extract) if year is None else year
    data_first = int(cases.get_column("year").min())
    pop_first = int(population.get_column("year").min())
    if last < data_first or last > int(cases.get_column("year").max()):
        raise UserError(f"--year {last}: the data hold diagnosis years {data_first}-"
                        f"{int(cases.get_column('year').max())}")
    first = max(last - TREND_YEARS + 1, data_first, pop_first)
    standard = incidence.load_standard(dd.registry()["incidence"]["standard_population"])

    agg = incidence.aggregate(cases, population, ["subregistry", "region", "sex", "year"],
                              years=(first, last))

    def rates(keys: list[str]) -> pl.DataFrame:
        return incidence.standardised_rates_from(_collapse(agg, keys), keys, standard)

    asr = _with_nation(rates(["subregistry", "year"]), rates(["subregistry", "region", "year"]))
    pooled = (max(first, last - SIR_YEARS + 1), last)
    age_sex = incidence.crude_rates(cases, population, ["subregistry", "sex", "age_group"],
                                    years=pooled)
    sir = incidence.sir(cases, population, "region", ["subregistry"], years=pooled)
    apc = _with_nation(
        incidence.annual_percent_change(cases, population, ["subregistry"], years=(first, last),
                                        adjust=["age_group", "sex"]),
        incidence.annual_percent_change(cases, population, ["subregistry", "region"],
                                        years=(first, last), adjust=["age_group", "sex"]))

    indicator_list = indicators.load_indicators()
    linked = (coverage.match_registries(cases, data.cancer_registry)
              if data.cancer_registry is not None else None)
    usable = [i for i in indicator_list if linked is not None or i.kind != "coverage"]
    recent = cases.filter(pl.col("year").is_between(last - 1, last))
    recent_linked = linked.filter(pl.col("year").is_between(last - 1, last)) \
        if linked is not None else None
    ind = _with_nation(
        indicators.compute_indicators(usable, recent, ["year"], recent_linked),
        indicators.compute_indicators(usable, recent, ["region", "year"], recent_linked))
    hospitals, curves = _hospital_funnels(cases, usable, last)

    followup = survival.prepare_followup(cases.filter(
        pl.col("year").is_between(last - SURVIVAL_YEARS + 1, last))).data
    times = survival.settings().times
    km = _with_nation(survival.kaplan_meier(followup, ["subregistry"], times),
                      survival.kaplan_meier(followup, ["subregistry", "region"], times))
    km_curves = _with_nation(survival.km_curve(followup, ["subregistry"]),
                             survival.km_curve(followup, ["subregistry", "region"]))

    current = cases.filter(pl.col("year") == last)
    key_vars = indicators.key_variables()
    completeness = _with_nation(coverage.completeness(current, key_vars),
                                coverage.completeness(current, key_vars, ["region"]))
    return Analyses(last, first, extract, asr, apc, sir, age_sex, ind, hospitals,
                    curves, km, km_curves, completeness, indicator_list)
