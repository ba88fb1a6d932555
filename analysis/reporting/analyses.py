"""Every analysis the reports need, computed once per run (DESIGN.md §2).

``compute_all`` calls the analysis modules (incidence, indicators, funnel, survival,
relative survival, coverage) and returns their tidy frames; the report builders only
select, format and arrange them. National figures are stacked with the regional ones
under ``region == NATION`` so a table can put a region beside the nation.
No statistic is computed here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analysis.data import dictionary as dd
from analysis.errors import UserError
from analysis.frames import ordered_sum
from analysis.privacy import prevalence as prevalent
from analysis.privacy import release as rel
from analysis.quality import coverage, indicators
from analysis.quality.net_survival import diagnosis_cohorts, net_survival_indicators
from analysis.quality.preliminary import judged_year, mark_preliminary
from analysis.reporting.workers import InProcess, worker_pool
from analysis.stats import cox, funnel, incidence, survival, trend
from analysis.stats import relative_survival as rs

NATION = "nation"


@dataclass(frozen=True)
class ReportSettings:
    """What the reports show (registry.yaml, section reports)."""

    trend_years: int
    pooled_years: int
    survival_years: int
    period_years: int
    net_survival_times: tuple[float, ...]
    net_survival_curve_years: float
    survival_age_groups: tuple[int, ...]
    funnel_points: int
    indicators_moved_rows: int


def report_settings() -> ReportSettings:
    """The reports section of registry.yaml."""
    cfg = dd.registry().get("reports") or {}
    missing = [name for name in ReportSettings.__dataclass_fields__ if name not in cfg]
    if missing:
        raise dd.DictionaryError(f"{dd.dictionary_dir() / 'registry.yaml'}: section "
                                 f"'reports' lacks {', '.join(missing)}")
    def value(name: str) -> object:
        if name == "net_survival_times":
            return tuple(float(t) for t in cfg[name])
        if name == "survival_age_groups":
            return tuple(int(a) for a in cfg[name])
        return float(cfg[name]) if name == "net_survival_curve_years" else int(cfg[name])

    return ReportSettings(**{name: value(name) for name in ReportSettings.__dataclass_fields__})


@dataclass
class Analyses:
    """The frames every document draws from (one instance per run)."""

    year: int
    first_year: int
    extract_date: dt.date
    asr: pl.DataFrame  # subregistry, region (or NATION), year, n, crude_rate, estimate, ...
    apc: pl.DataFrame  # subregistry, region: annual percent change over the trend years
    sir: pl.DataFrame  # subregistry, region: SIR over the pooled years
    age_sex: pl.DataFrame  # subregistry, sex, age_group: crude rates over the pooled years
    # indicator, subregistry, region (or NATION), year, ..., preliminary (the trend years,
    # at least from the one before the judged year, to the report year; preliminary rows
    # unclassified)
    indicators: pl.DataFrame
    hospitals: pl.DataFrame  # funnel: indicator, subregistry, hospital, region, limits
    # subregistry, n, p0, phi, tau2, exact and overdispersed limits (analysis.stats.funnel)
    funnel_curves: pl.DataFrame
    survival: pl.DataFrame  # subregistry, region (or NATION), time: Kaplan-Meier
    survival_curves: pl.DataFrame  # subregistry, region (or NATION): whole KM curves
    # subregistry, grouping (age or sex), group (age band, sex code or NATION), time: KM
    survival_groups: pl.DataFrame
    completeness: pl.DataFrame  # subregistry, region (or NATION), variable, estimate
    indicator_list: list[indicators.Indicator]
    # subregistry, region (or NATION), approach (cohort/period), time, n, n_in_standard (n
    # counts only the standard's ages), estimate, lower, upper, standardised, standard,
    # reason, method: net survival (Pohar Perme)
    relative: pl.DataFrame = field(default_factory=pl.DataFrame)
    relative_curves: pl.DataFrame = field(default_factory=pl.DataFrame)  # whole curves
    cox: pl.DataFrame = field(default_factory=pl.DataFrame)  # subregistry + cox_region rows
    period: tuple[int, int] = (0, 0)  # the period window's first and last calendar year
    settings: ReportSettings = field(default_factory=report_settings)
    release: rel.Release | None = None  # the run's protected release (DESIGN.md §5)
    # indicator, subregistry, region, county, year (the judged one), n, estimate, ...
    indicator_counties: pl.DataFrame = field(default_factory=pl.DataFrame)
    # subregistry, region (NATION), period ("2011-2015"), time, ...: net survival of
    # successive diagnosis periods (cohort approach), the survival trend
    survival_trend: pl.DataFrame = field(default_factory=pl.DataFrame)
    # indicator, subregistry, region (or NATION), approach, time, window, n, estimate, ...,
    # complete, preliminary, classification: the net-survival indicators, rows of relative
    # (or of relative_groups for an indicator of a diagnosis group)
    net_indicators: pl.DataFrame = field(default_factory=pl.DataFrame)
    # as relative, with diagnosis_group: net survival of the diagnosis groups of the
    # net-survival indicators (e.g. Hodgkin lymphoma of lymphoma), their approach only
    relative_groups: pl.DataFrame = field(default_factory=pl.DataFrame)
    # subregistry, region (or NATION), sex (null: both), family, duration, n, estimate,
    # lower, upper, ...: prevalence at 31 December of the judged year
    prevalence: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def judged_year(self) -> int:
        """The diagnosis year the indicators are judged on: the last one that is not
        preliminary at the extract date (registry.yaml ``preliminary``), at most the
        report year. Later years are shown, marked preliminary, never classified."""
        return judged_year(self.year, self.extract_date)

    @property
    def survival_window(self) -> tuple[int, int]:
        """The diagnosis years of the survival cohort (the release's)."""
        return self.release.spec.survival

    @property
    def preliminary(self) -> bool:
        """Whether the report year is preliminary (its indicators are not judged)."""
        return self.judged_year < self.year


def _with_nation(national: pl.DataFrame, regional: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([regional, national.with_columns(pl.lit(NATION).alias("region"))],
                     how="diagonal_relaxed")


def _collapse(agg: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Counts and person-years summed to the keys and age group: the standardised rate
    weights the age-specific rates of exactly these cells (not of finer strata)."""
    return agg.group_by([*keys, "age_group", "age_start"]).agg(
        pl.col("n").sum(), ordered_sum(pl.col("person_years")))


def _hospital_funnels(cases: pl.DataFrame, indicator_list: list[indicators.Indicator],
                      year: int, points: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    hospital_region = {h["code"]: dd.counties().filter(pl.col("county") == h["county"])
                       ["region"].item() for h in dd.load("hospitals.yaml")["hospitals"]}
    units, curves = [], []
    current = cases.filter(pl.col("year") == year)
    for sid in dd.subregistry_ids():
        ind = indicators.funnel_indicator(indicator_list, sid)
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
        p0, tau2 = limits.get_column("target")[0], limits.get_column("tau2")[0]
        grid = np.unique(np.geomspace(1, counts["n"].max(), points).round())
        curves.append(funnel.funnel_curve(p0, grid, tau2=tau2).with_columns(
            pl.lit(sid).alias("subregistry"), pl.lit(p0).alias("p0"),
            pl.lit(limits.get_column("phi")[0], pl.Float64).alias("phi"),
            pl.lit(tau2).alias("tau2")))
    if not units:
        return pl.DataFrame(), pl.DataFrame()
    return pl.concat(units, how="diagonal_relaxed"), pl.concat(curves, how="diagonal_relaxed")


def _from_min_age(rates: pl.DataFrame) -> pl.DataFrame:
    """Age-specific rates from the age group holding each subregistry's minimum age
    (subregistries.yaml min_age): an adult registry shows no age groups from 0."""
    width = int(dd.registry()["age_groups"]["width"])
    min_age = pl.col("subregistry").replace_strict(
        {s: int(dd.subregistry(s).get("min_age", 0)) for s in dd.subregistry_ids()},
        default=0, return_dtype=pl.Int64)
    start = pl.col("age_group").str.extract(r"^(\d+)").cast(pl.Int64)
    return rates.filter(start + width > min_age)


def _net_survival(data: pl.DataFrame, lifetable: pl.DataFrame, sid: str, by: list[str],
                  cfg: ReportSettings) -> pl.DataFrame:
    """Net survival (Pohar Perme) per group, age-standardised with the subregistry's ICSS
    weights at the report's times; a sparse age group is merged with its neighbour
    (analysis.stats.relative_survival.age_standardised, as NORDCAN does), so every group
    and the nation stay on the one standardised basis. Groups under survival.min_cases
    keep their reason and no estimate."""
    standard = rs.standard_for(sid)
    out = rs.age_standardised(data, lifetable, standard, by, cfg.net_survival_times)
    name = dd.load("survival.yaml")["standards"][standard]["name"]
    # n_in_standard: n counts the cases inside the standard's ages (always standardised:
    # a sparse age group is merged, never the standardisation dropped).
    return out.select(*by, "time", "n", pl.lit(True).alias("n_in_standard"), "estimate",
                      "lower", "upper", "reason", "method",
                      pl.col("estimate").is_not_null().alias("standardised"),
                      "smallest_age_group", "merged",
                      pl.lit(name).alias("standard")).sort([*by, "time"])


_RELATIVE = ["subregistry", "region", "approach", "time", "n", "n_in_standard", "estimate",
             "lower", "upper", "standardised", "standard", "smallest_age_group", "merged",
             "reason", "method"]


def _regions_and_nation(sub: pl.DataFrame, lifetable: pl.DataFrame, sid: str,
                        approach: str, cfg: ReportSettings) -> list[pl.DataFrame]:
    """The net survival (:func:`_net_survival`) of one subregistry's cases ``sub`` by
    region and for the nation."""
    return [_net_survival(sub, lifetable, sid, ["subregistry", "region"], cfg)
            .with_columns(pl.lit(approach).alias("approach")).select(_RELATIVE),
            _net_survival(sub, lifetable, sid, ["subregistry"], cfg)
            .with_columns(pl.lit(NATION).alias("region"),
                          pl.lit(approach).alias("approach")).select(_RELATIVE)]


def _approaches(followup: pl.DataFrame, window: tuple[int, int]) -> dict[str, pl.DataFrame]:
    """The cohort followed up and its follow-up in the period window (Brenner)."""
    return {"cohort": followup, "period": survival.period_window(
        followup, dt.date(window[0], 1, 1), dt.date(window[1], 12, 31))}


def _group_survival(followup: pl.DataFrame, lifetable: pl.DataFrame,
                    window: tuple[int, int], groups: Sequence[tuple[str, str, str]],
                    cfg: ReportSettings) -> pl.DataFrame:
    """Net survival (as :func:`_relative_survival`) of each diagnosis group (subregistry,
    group, approach: analysis.quality.net_survival.diagnosis_cohorts) by region and for
    the nation. A group with no case in its subregistry's cohort has a national row of
    n 0 and no estimate (too few cases), so its indicator says so instead of vanishing."""
    frames, parts = _approaches(followup, window), []
    present = set(followup.get_column("subregistry").unique().to_list())
    none = pl.lit(None, pl.Float64)
    for sid, group, approach in (g for g in groups if g[0] in present):
        frame = frames[approach]
        sub = frame.filter(dd.in_diagnosis_group(frame, sid, group))
        rows = _regions_and_nation(sub, lifetable, sid, approach, cfg) if sub.height else [
            pl.DataFrame({"time": list(cfg.net_survival_times)}).select(
                pl.lit(sid).alias("subregistry"), pl.lit(NATION).alias("region"),
                pl.lit(approach).alias("approach"), "time", pl.lit(0).alias("n"),
                none.alias("estimate"), none.alias("lower"), none.alias("upper"),
                pl.lit(f"fewer than {survival.settings().min_cases} cases").alias("reason"),
                pl.lit(None, pl.String).alias("method"))]
        parts += [r.with_columns(pl.lit(group).alias("diagnosis_group")) for r in rows]
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


def _relative_survival(followup: pl.DataFrame, lifetable: pl.DataFrame,
                       window: tuple[int, int], cfg: ReportSettings
                       ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Net survival by subregistry and region (and the nation): the cohort followed up
    (the survival years) and the period window's calendar years (Brenner), plus whole
    cohort curves for the figures."""
    parts = []
    for approach, frame in _approaches(followup, window).items():
        for sid in dd.subregistry_ids():
            sub = frame.filter(pl.col("subregistry") == sid)
            if sub.is_empty():
                continue
            parts += _regions_and_nation(sub, lifetable, sid, approach, cfg)
    relative = pl.concat(parts) if parts else pl.DataFrame()
    curves = _with_nation(
        rs.relative_survival_curve(followup, lifetable, ["subregistry"],
                                   cfg.net_survival_curve_years),
        rs.relative_survival_curve(followup, lifetable, ["subregistry", "region"],
                                   cfg.net_survival_curve_years))
    return relative, curves


def _survival_trend(cases: pl.DataFrame, lifetable: pl.DataFrame, last: int,
                    cfg: ReportSettings) -> pl.DataFrame:
    """Net survival (Pohar Perme 2012, ICSS-standardised as the reports' other net
    survival) of successive diagnosis periods of cfg.period_years years, nationally per
    subregistry (cohort approach): the last period ends five years (the longest
    net-survival time) before the report year, so that its follow-up is complete; up to
    registry.yaml reports.survival_trend_periods periods, from the data's first year."""
    count = int((dd.registry().get("reports") or {}).get("survival_trend_periods", 0))
    end = last - int(max(cfg.net_survival_times))
    start = int(cases.get_column("year").min())
    parts = []
    for i in range(count):
        first, final = end - (i + 1) * cfg.period_years + 1, end - i * cfg.period_years
        if first < start:
            break
        followup = survival.prepare_followup(cases.filter(
            pl.col("year").is_between(first, final))).data
        for sid in dd.subregistry_ids():
            sub = followup.filter(pl.col("subregistry") == sid)
            if sub.is_empty():
                continue
            parts.append(_net_survival(sub, lifetable, sid, ["subregistry"], cfg)
                         .with_columns(pl.lit(NATION).alias("region"),
                                       pl.lit(f"{first}-{final}").alias("period")))
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


def _prevalence(cases: pl.DataFrame, population: pl.DataFrame, year: int) -> pl.DataFrame:
    """Prevalence (analysis.stats.prevalence, counting method) at 31 December of the
    judged ``year`` of the configured subregistries, by region and by sex (the nation as
    NATION, both sexes as null), with each row's release family."""
    sids = [s for s in prevalent.settings()[0]
            if s in set(cases.get_column("subregistry").unique().to_list())]
    if not sids:
        return pl.DataFrame()
    at = prevalent.prevalence_date(year)
    parts = [prevalent.prevalence_frame(cases, population, at, sids, by)
             for by in (["region"], [], ["sex"])]
    return pl.concat([parts[0], *(p.with_columns(pl.lit(NATION).alias("region"))
                                  for p in parts[1:])], how="diagonal_relaxed")


def _km_by_age_and_sex(followup: pl.DataFrame, starts: Sequence[int],
                       times: Sequence[float]) -> pl.DataFrame:
    """Kaplan-Meier of each subregistry by age band and by sex, with the whole
    subregistry as the margin (group NATION) of each grouping."""
    band = survival.age_band(starts)
    total = survival.kaplan_meier(followup, ["subregistry"], times)
    parts = []
    for grouping, group in (("age", band), ("sex", pl.col("sex").cast(pl.String))):
        by_group = survival.kaplan_meier(followup.with_columns(group.alias("group")),
                                         ["subregistry", "group"], times)
        parts += [by_group.with_columns(pl.lit(grouping).alias("grouping")),
                  total.with_columns(pl.lit(NATION).alias("group"),
                                     pl.lit(grouping).alias("grouping"))]
    return pl.concat(parts, how="diagonal_relaxed")


def _cox_by_subregistry(followup: pl.DataFrame) -> pl.DataFrame:
    """Hazard ratios of region adjusted for age and sex (analysis.stats.cox) per subregistry,
    with each region's number of cases (``region_n``; the reference's too)."""
    parts = []
    for sid in dd.subregistry_ids():
        sub = followup.filter(pl.col("subregistry") == sid)
        if sub.is_empty():
            continue
        try:
            fitted = cox.cox_region(sub)
        except UserError:  # fewer than two regions: no comparison to make
            continue
        counts = sub.group_by("region").len("region_n")
        parts.append(fitted.with_columns(pl.lit(sid).alias("subregistry")).join(
            counts, left_on="level", right_on="region", how="left", maintain_order="left")
            .join(counts.rename({"region_n": "reference_n"}), left_on="reference",
                  right_on="region", how="left", maintain_order="left"))
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


# Below this many follow-up rows the Cox fits take less time than starting a process.
_COX_WORKER_ROWS = 20_000


def _beside(rows: int, workers: int | None) -> contextlib.AbstractContextManager:
    """Where the Cox fits run: a worker process beside the main one for a large cohort
    in a run allowed more than one process (with the run's kill-on-interrupt rules),
    else here."""
    if rows < _COX_WORKER_ROWS or workers == 1 or (os.cpu_count() or 1) == 1:
        return contextlib.nullcontext(InProcess())
    return worker_pool(1)


def compute_all(data, year: int | None = None,  # noqa: ANN001 (RegistryData)
                workers: int | None = None) -> Analyses:
    """Compute every analysis of the reports once: incidence, trends, SIR, indicators,
    funnels, survival and completeness for the report year (default: the last complete
    year in the data). ``workers``: processes the run may use (default: one per core;
    1: all in this process).
    """
    cfg = report_settings()
    cases = data.require("cases")
    population = data.require("population")
    extract = data.extract_date()
    last = rel.report_year(cases, extract) if year is None else year
    data_first = int(cases.get_column("year").min())
    pop_first = int(population.get_column("year").min())
    if last < data_first or last > int(cases.get_column("year").max()):
        raise UserError(f"--year {last}: the data hold diagnosis years {data_first}-"
                        f"{int(cases.get_column('year').max())}")
    first = max(last - cfg.trend_years + 1, data_first, pop_first)
    standard = incidence.load_standard(dd.registry()["incidence"]["standard_population"])

    agg = incidence.aggregate(cases, population, ["subregistry", "region", "sex", "year"],
                              years=(first, last))

    def rates(keys: list[str]) -> pl.DataFrame:
        return incidence.standardised_rates_from(_collapse(agg, keys), keys, standard)

    asr = _with_nation(rates(["subregistry", "year"]), rates(["subregistry", "region", "year"]))
    pooled = (max(first, last - cfg.pooled_years + 1), last)
    age_sex = _from_min_age(incidence.crude_rates(
        cases, population, ["subregistry", "sex", "age_group"], years=pooled))
    sir = incidence.sir(cases, population, "region", ["subregistry"], years=pooled)
    apc = _with_nation(
        trend.annual_percent_change(cases, population, ["subregistry"], years=(first, last),
                                        adjust=["age_group", "sex"]),
        trend.annual_percent_change(cases, population, ["subregistry", "region"],
                                        years=(first, last), adjust=["age_group", "sex"]))

    indicator_list = indicators.load_indicators()
    linked = (coverage.match_registries(cases, data.cancer_registry,
                                        subregistries=data.subregistries)
              if data.cancer_registry is not None else None)
    usable = [i for i in indicator_list if linked is not None or i.kind != "coverage"]
    # The trend years (each indicator's time series), including the judged year (the last
    # one not preliminary) and the one before, for the change between them, up to the
    # report year (shown, marked preliminary, never classified).
    ind_first, _ = rel.indicator_years(last, extract)
    recent = cases.filter(pl.col("year").is_between(ind_first, last))
    recent_linked = linked.filter(pl.col("year").is_between(ind_first, last)) \
        if linked is not None else None
    regional = indicators.compute_indicators(usable, recent, ["region", "year"],
                                             recent_linked, extract)
    ind = mark_preliminary(_with_nation(
        indicators.compute_indicators(usable, recent, ["year"], recent_linked, extract),
        regional), extract)
    hospitals, curves = _hospital_funnels(cases, usable, last, cfg.funnel_points)
    counties = rel.county_indicator_rows(cases, linked, usable, last, extract)
    # The survival cohort is the release's (its counts are cells of the release): the
    # Cox fits, the slowest analysis, run beside the release in a worker process.
    followup = survival.prepare_followup(cases.filter(pl.col("year").is_between(
        *rel.release_spec(cases, last, pop_first).survival))).data
    with _beside(len(followup), workers) as pool:
        cox_fits = pool.submit(_cox_by_subregistry, followup)
        protected = rel.release_for(data, last, linked, regional, counties)
        # The reports' years are the release's.
        if protected.spec.first != first or (first, last) not in protected.spec.windows:
            raise UserError(f"the release (from {protected.spec.first}, windows "
                            f"{protected.spec.windows}) does not hold the trends' years "
                            f"{first}-{last}")
        times = survival.settings().times
        km = _with_nation(survival.kaplan_meier(followup, ["subregistry"], times),
                          survival.kaplan_meier(followup, ["subregistry", "region"], times))
        km_curves = _with_nation(survival.km_curve(followup, ["subregistry"]),
                                 survival.km_curve(followup, ["subregistry", "region"]))
        km_groups = _km_by_age_and_sex(followup, cfg.survival_age_groups, times)

        current = cases.filter(pl.col("year") == last)
        key_vars = indicators.key_variables()
        # e.g. treatment dates: asked of treated patients only
        asked = indicators.completeness_populations()
        completeness = _with_nation(
            coverage.completeness(current, key_vars, populations=asked),
            coverage.completeness(current, key_vars, ["region"], populations=asked))
        window = protected.spec.period
        relative, relative_curves = (
            _relative_survival(followup, data.lifetable, window, cfg)
            if data.lifetable is not None else (pl.DataFrame(), pl.DataFrame()))
        net_trend = (_survival_trend(cases, data.lifetable, last, cfg)
                     if data.lifetable is not None else pl.DataFrame())
        groups = (_group_survival(followup, data.lifetable, window,
                                  diagnosis_cohorts(indicator_list), cfg)
                  if data.lifetable is not None else pl.DataFrame())
        # The net-survival indicators are rows of the survival section's net survival
        # (or of their diagnosis group's).
        judged = judged_year(last, extract)
        net_ind = net_survival_indicators(indicator_list, relative, protected.spec.survival,
                                          window, last, judged, groups)
        return Analyses(last, first, extract, asr, apc, sir, age_sex, ind, hospitals,
                        curves, km, km_curves, km_groups, completeness, indicator_list,
                        relative, relative_curves, cox_fits.result(), window, cfg,
                        protected, counties, survival_trend=net_trend,
                        net_indicators=net_ind, relative_groups=groups,
                        prevalence=_prevalence(cases, population, judged))
