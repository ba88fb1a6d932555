"""The one protected release of a run (DESIGN.md §5): every published count is one of its cells.

Suppressing each table on its own cannot stop differencing (a ten-year total minus a
nine-year total is one year; a region minus its listed hospitals is the hospitals left
out). So a run builds one release: fixed tables over fixed dimensions and windows, and
suppresses them jointly with every linear relation between them (Hundepool et al. 2012,
"Statistical Disclosure Control", ch. 4: linked and hierarchical tables):

- ``cases``: new cases per subregistry by region (the nation as total ``*``) x sex x
  single diagnosis year and each pooled window; nationally by sex x age group over the
  pooled age window; by county (within its region) over each window;
- one family per quality indicator: its eligible cases (``n``) per subregistry by region
  and year over the trend years, and for the indicator drawn on the funnel plots by
  hospital in the report year.
  A hospital's cell is the sum over the patients' regions; the cells of one region at one
  hospital are published only where they are 0 (a hospital that serves no patient of that
  region: what an attacker knows of catchments) and stay hidden but sensitive otherwise;
  cases with no hospital are hidden unknowns of the sums;
- the survival cohorts and the completeness denominators (``analysis.privacy.cohorts``),
  each with the cases it leaves out as a hidden but sensitive cell;
- the stage and risk distributions and the hospitals' case volumes
  (``analysis.privacy.distributions``), adding up to the new cases;
- the prevalent persons at the end of the judged year (``analysis.privacy.prevalence``),
  each duration linked to the next wider one.

Relations: regions add to the nation, counties and hospitals to their region, sexes and
age groups to the total, single years to every window; a cohort and the cases it leaves
out add to its parent's count; an indicator's eligible cases are at most the new cases of
its region and year (an inequality; coverage indicators count cancer-registry cases and
have none); built in ``analysis.privacy.relations``. An indicator or cohort cell is also
masked with the new cases of its group (linked tables, within the one suppression
pass). Complements are added until the linear-programming audit
(``analysis.privacy.audit``) finds no masked count, and no sensitive hidden one, pinned
down or bounded inside 1..k-1. The windows and tables are set in ``release:`` of
registry.yaml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from analysis.data import dictionary as dd
from analysis.data.ingest import RegistryData
from analysis.errors import UserError
from analysis.privacy import audit as lp_audit
from analysis.privacy import cohorts, prevalence
from analysis.privacy import pooled as pooled_counts
from analysis.privacy.cohorts import CASES, TOTAL, window_label
from analysis.privacy.counties import county_cells, county_indicator_rows
from analysis.privacy.disclosure import rules, suppress_cells
from analysis.privacy.distributions import distribution_cells
from analysis.privacy.relations import KEYS, equations, inequalities
from analysis.quality.coverage import match_registries
from analysis.quality.indicators import (
    Indicator,
    compute_indicator,
    compute_indicators,
    funnel_indicator,
    load_indicators,
)
from analysis.quality.preliminary import judged_year
from analysis.stats.incidence import age_group_expr
from analysis.stats.standard_populations import age_groups, default_age_breaks

UNKNOWN = "unknown"  # cases with no hospital: never published, part of the sums
AUDIT_ROUNDS = 20


@dataclass(frozen=True)
class ReleaseSpec:
    """The release's years: single years ``first``..``year``, the pooled windows (among
    them the age groups' and the survival cohort's diagnosis years) and the calendar years
    of the period approach."""

    year: int
    first: int
    windows: tuple[tuple[int, int], ...]
    age_window: tuple[int, int]
    survival: tuple[int, int]
    period: tuple[int, int]

    @property
    def periods(self) -> list[str]:
        return [*(str(y) for y in range(self.first, self.year + 1)),
                *(window_label(w) for w in self.windows)]


@dataclass
class Release:
    """The protected cells: ``n`` as published (null where masked), the flag, and the
    equations between cells (margin cell, member cells) for the audit."""

    spec: ReleaseSpec
    cells: pl.DataFrame  # KEYS, n (published; null = masked), flag, hidden, sensitive
    equations: list[tuple[int, list[int]]] = field(default_factory=list)
    inequalities: list[tuple[int, list[int]]] = field(default_factory=list)

    def lookup(self, rows: pl.DataFrame) -> pl.DataFrame:
        """The release cell of each row (columns: release dimensions; a dimension not
        given is the total, the family new cases), in row order: n as published and the
        flag. A row with no cell in the release is an error naming it (nothing is
        published off-release)."""
        probe = rows.select(*(pl.col(k).cast(pl.String) if k in rows.columns
                              else pl.lit(CASES if k == "family" else TOTAL).alias(k)
                              for k in KEYS))
        found = probe.join(self.cells.select(*KEYS, "n", "flag", "hidden"), on=list(KEYS),
                           how="left", maintain_order="left")
        missing = found.filter(pl.col("hidden").is_null() | pl.col("hidden"))
        if missing.height:
            row = missing.row(0, named=True)
            raise UserError("not in the published release: " + ", ".join(
                f"{k}={row[k]}" for k in KEYS if row[k] != TOTAL))
        return found.drop("hidden")


def report_year(cases: pl.DataFrame, extract_date: dt.date | None) -> int:
    """The last complete diagnosis year: the year before the extract date's year unless
    the extract reaches 31 December."""
    if cases.is_empty() or extract_date is None:
        raise UserError("the data hold no registered cases: nothing to report")
    last = int(cases.get_column("year").max())
    complete = extract_date.year if (extract_date.month, extract_date.day) == (12, 31) \
        else extract_date.year - 1
    return min(last, complete)


def release_spec(cases: pl.DataFrame, year: int, first_allowed: int | None = None
                 ) -> ReleaseSpec:
    """The windows ending with ``year``: the reports' trend, pooled and survival years
    (registry.yaml ``reports:``) and any further ``release: windows``, clipped to the
    data's first year (and ``first_allowed``, e.g. the population's); and the period
    approach's last ``reports.period_years`` calendar years."""
    reports = dd.registry().get("reports") or {}
    extra = (dd.registry().get("release") or {}).get("windows") or []
    try:
        pooled, cohort = int(reports["pooled_years"]), int(reports["survival_years"])
        lengths = sorted({int(reports["trend_years"]), pooled, cohort,
                          *(int(n) for n in extra)}, reverse=True)
        period = (year - int(reports["period_years"]) + 1, year)
    except (KeyError, TypeError, ValueError):
        raise dd.DictionaryError(
            f"{dd.dictionary_dir() / 'registry.yaml'}: reports.trend_years, pooled_years, "
            "survival_years, period_years and release.windows must be numbers of years"
        ) from None
    floor = int(cases.get_column("year").min())
    if first_allowed is not None:
        floor = max(floor, first_allowed)
    first = max(floor, year - lengths[0] + 1)
    # Pooled periods (analysis.privacy.pooled) follow the windows ending with the year.
    windows = tuple(dict.fromkeys([*((max(floor, year - n + 1), year) for n in lengths),
                                   *pooled_counts.periods(year, first)]))
    return ReleaseSpec(year, windows[0][0], windows, (max(floor, year - pooled + 1), year),
                       (max(floor, year - cohort + 1), year), period)


def cohort_rows(cases: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    """The counts of the survival and completeness families (analysis.privacy.cohorts)
    of the release's subregistries."""
    sids = _subregistries(cases)
    bands = [int(a) for a in dd.registry()["reports"]["survival_age_groups"]]
    return pl.concat([cohorts.survival_counts(cases, sids, spec.survival, spec.period,
                                              bands),
                      cohorts.completeness_counts(cases, sids, spec.year)],
                     how="diagonal_relaxed")


def _subregistries(cases: pl.DataFrame) -> list[str]:
    present = set(cases.get_column("subregistry").unique().to_list())
    return [s for s in dd.subregistry_ids() if s in present]


def indicator_years(year: int, extract_date: dt.date | None) -> tuple[int, int]:
    """The diagnosis years whose indicators are published: the reports' trend years
    (registry.yaml reports.trend_years, for each indicator's time series), and at least
    from the year before the judged year (the last one not preliminary,
    analysis.quality.indicators.final_year, at most the report year), to the report year.
    The judged year is compared with the one before it; the years after it are shown as
    preliminary."""
    trend = int((dd.registry().get("reports") or {}).get("trend_years", 1))
    return min(judged_year(year, extract_date) - 1, year - trend + 1), year


def indicator_rows(cases: pl.DataFrame, linked: pl.DataFrame | None,
                   indicator_list: Sequence[Indicator], year: int,
                   extract_date: dt.date | None,
                   regional: pl.DataFrame | None = None) -> pl.DataFrame:
    """The counts the indicator families hold: each indicator's eligible cases by region
    for the indicator years (:func:`indicator_years`, as the reports compute them), and by
    region and hospital in the report year for the indicator on the funnel plots.
    ``regional``: the indicators by region and year when the caller has them already."""
    first, _ = indicator_years(year, extract_date)
    recent = cases.filter(pl.col("year").is_between(first, year))
    recent_linked = (linked.filter(pl.col("year").is_between(first, year))
                     if linked is not None else None)
    usable = [i for i in indicator_list if linked is not None or i.kind != "coverage"]
    if not usable:
        return pl.DataFrame()
    if regional is None:
        regional = compute_indicators(usable, recent, ["region", "year"], recent_linked,
                                      extract_date)
    regional = regional.select(
        pl.col("indicator").alias("family"), "subregistry", "region",
        pl.lit(None, pl.String).alias("hospital"), "year", "n")
    parts = [regional]
    current = cases.filter(pl.col("year") == year)
    for sid in dd.subregistry_ids():
        ind = funnel_indicator(usable, sid)
        if ind is None or "region" not in ind.units:
            continue
        counts = compute_indicator(ind, current.filter(pl.col("subregistry") == sid),
                                   ["region", "hospital", "year"])
        parts.append(counts.select(pl.col("indicator").alias("family"), "subregistry",
                                   "region", "hospital", "year", "n"))
    # The hospital rows replace the regional row of the same indicator and year.
    by_hospital = pl.concat(parts[1:]) if len(parts) > 1 else None
    if by_hospital is None:
        return regional
    keys = ["family", "subregistry", "year"]
    return pl.concat([regional.join(by_hospital.select(keys).unique(), on=keys, how="anti"),
                      by_hospital], how="diagonal_relaxed")


# --- the cells and their equations ----------------------------------------------------------

def _explode(frame: pl.DataFrame, column: str, values: pl.Expr) -> pl.DataFrame:
    return frame.with_columns(values.alias(column)).explode(column)


def _periods_of(spec: ReleaseSpec, windows: bool, years: bool) -> pl.Expr:
    """The release periods a diagnosis year counts in: itself and the windows holding it."""
    parts = []
    if years:
        parts.append(pl.col("year").cast(pl.String))
    if windows:
        for w in spec.windows:
            parts.append(pl.when(pl.col("year").is_between(*w)).then(pl.lit(window_label(w))))
    return pl.concat_list(parts).list.drop_nulls()


def _cases_cells(cases: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    """Counts of every cell of the cases family, zeros included (full crosses)."""
    regions = dd.region_ids()
    counties = dd.counties().select("county", "region")
    breaks = default_age_breaks()
    labels = age_groups(breaks).get_column("age_group").to_list()
    # Aggregate first (as popEpi does), then spread the counts over the margins.
    base = cases.lazy().filter(pl.col("year").is_between(spec.first, spec.year)).select(
        "subregistry", "region", "county", pl.col("sex").cast(pl.String), "year",
        age_group_expr(breaks)).group_by(
        "subregistry", "region", "county", "sex", "year", "age_group").len("n").collect()
    sids = _subregistries(cases)

    def tally(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.group_by("subregistry", "region", "county", "sex", "age_group",
                              "period").agg(pl.col("n").sum())

    by_area = _explode(_explode(base, "region", pl.concat_list("region", pl.lit(TOTAL))),
                       "sex", pl.concat_list("sex", pl.lit(TOTAL)))
    t1 = tally(_explode(by_area, "period", _periods_of(spec, True, True)).with_columns(
        pl.lit(TOTAL).alias("county"), pl.lit(TOTAL).alias("age_group")))
    aged = base.filter(pl.col("year").is_between(*spec.age_window))
    t2 = tally(_explode(_explode(aged, "sex", pl.concat_list("sex", pl.lit(TOTAL))),
                        "age_group", pl.concat_list("age_group", pl.lit(TOTAL))).with_columns(
        pl.lit(TOTAL).alias("region"), pl.lit(TOTAL).alias("county"),
        pl.lit(window_label(spec.age_window)).alias("period")))
    t3 = tally(_explode(base, "period", _periods_of(spec, True, False)).with_columns(
        pl.lit(TOTAL).alias("sex"), pl.lit(TOTAL).alias("age_group")))
    sexes = [TOTAL, "1", "2"]
    grid = [
        pl.DataFrame({"region": [TOTAL, *regions]}).join(
            pl.DataFrame({"sex": sexes}), how="cross").join(
            pl.DataFrame({"period": spec.periods}), how="cross").with_columns(
            pl.lit(TOTAL).alias("county"), pl.lit(TOTAL).alias("age_group")),
        pl.DataFrame({"sex": sexes}).join(pl.DataFrame({"age_group": [TOTAL, *labels]}),
                                          how="cross").with_columns(
            pl.lit(TOTAL).alias("region"), pl.lit(TOTAL).alias("county"),
            pl.lit(window_label(spec.age_window)).alias("period")),
        counties.join(pl.DataFrame({"period": [window_label(w) for w in spec.windows]}),
                      how="cross").with_columns(pl.lit(TOTAL).alias("sex"),
                                                pl.lit(TOTAL).alias("age_group")),
    ]
    full = pl.concat([g.select("region", "county", "sex", "age_group", "period")
                      for g in grid]).unique(maintain_order=True)
    full = pl.DataFrame({"subregistry": sids}).join(full, how="cross")
    counts = pl.concat([t1, t2, t3]).unique(maintain_order=True)
    return full.join(counts, on=["subregistry", "region", "county", "sex", "age_group",
                                 "period"], how="left", maintain_order="left").with_columns(
        pl.col("n").fill_null(0).cast(pl.Int64), pl.lit(CASES).alias("family"),
        pl.lit(TOTAL).alias("hospital"), pl.lit(False).alias("hidden"))


def indicator_cells(rows: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    """Cells of the indicator families from counts ``rows`` (indicator, subregistry,
    region, hospital (null: none), year, n) by region, hospital and year.

    Regions and the nation for every year of ``rows`` up to the report year (at least
    the report year and the one before); for the indicators
    counted by hospital, every hospital (over all patients' regions) and its cells per
    region in the report year: published where 0, hidden otherwise."""
    hospitals = [h["code"] for h in dd.load("hospitals.yaml")["hospitals"]]
    base = rows.with_columns(
        pl.when(pl.col("hospital").is_in(hospitals)).then(pl.col("hospital"))
        .otherwise(pl.lit(UNKNOWN)).alias("hospital"),
        pl.col("year").cast(pl.String).alias("period"))
    by_hospital = set(base.filter(pl.col("hospital") != UNKNOWN)
                      .select("family").unique()["family"].to_list())
    regions = [TOTAL, *dd.region_ids()]
    first = min(spec.year - 1, *(int(y) for y in rows["year"].unique().to_list()))
    periods = [str(y) for y in range(first, spec.year + 1)]
    parts = []
    for (family, sid), part in base.partition_by("family", "subregistry", as_dict=True,
                                                  maintain_order=True).items():
        units = [TOTAL, *hospitals, UNKNOWN] if family in by_hospital else [TOTAL]
        full = pl.DataFrame({"region": regions}).join(
            pl.DataFrame({"hospital": units}), how="cross").join(
            pl.DataFrame({"period": periods}), how="cross").filter(
            (pl.col("hospital") == TOTAL) | (pl.col("period") == str(spec.year)))
        sums = _explode(_explode(part, "region", pl.concat_list("region", pl.lit(TOTAL))),
                        "hospital", pl.concat_list("hospital", pl.lit(TOTAL))).group_by(
            "region", "hospital", "period").agg(pl.col("n").sum())
        cells = full.join(sums, on=["region", "hospital", "period"], how="left",
                          maintain_order="left").with_columns(pl.col("n").fill_null(0))
        parts.append(cells.with_columns(
            pl.lit(family).alias("family"), pl.lit(sid).alias("subregistry"),
            # A region's cases at one hospital are published only as a known 0.
            ((pl.col("hospital") == UNKNOWN)
             | ((pl.col("region") != TOTAL) & (pl.col("hospital") != TOTAL)
                & (pl.col("n") > 0))).alias("hidden")))
    if not parts:
        return pl.DataFrame(schema={**{k: pl.String for k in KEYS}, "n": pl.Int64,
                                    "hidden": pl.Boolean})
    return pl.concat(parts).with_columns(
        pl.lit(TOTAL).alias("county"), pl.lit(TOTAL).alias("sex"),
        pl.lit(TOTAL).alias("age_group"), pl.col("n").cast(pl.Int64))


def build_release(cases: pl.DataFrame, spec: ReleaseSpec,
                  indicator_rows: pl.DataFrame | None = None,
                  cohort_rows: pl.DataFrame | None = None,
                  county_rows: pl.DataFrame | None = None,
                  prevalence_rows: pl.DataFrame | None = None) -> Release:
    """Cells, primary and complementary suppression over all relations, and the audit
    repeated with further complements until it passes (else a UserError naming a cell).
    ``cohort_rows``: the counts of the survival and completeness families
    (:func:`cohort_rows`); ``county_rows``: indicators by county
    (:func:`county_indicator_rows`); ``prevalence_rows``: the prevalence family's cells
    (analysis.privacy.prevalence.prevalence_cells)."""
    k = rules().k
    cells = _cases_cells(cases, spec)
    if indicator_rows is not None and indicator_rows.height:
        cells = pl.concat([cells, indicator_cells(indicator_rows, spec)],
                          how="diagonal_relaxed")
    if county_rows is not None and county_rows.height:
        cells = pl.concat([cells, county_cells(county_rows)], how="diagonal_relaxed")
    sids = cells["subregistry"].unique(maintain_order=True).to_list()
    cells = pl.concat([cells, distribution_cells(cases, sids, spec.age_window, spec.year)],
                      how="diagonal_relaxed")
    if cohort_rows is not None and cohort_rows.height:
        cells = pl.concat([cells, cohort_rows.with_columns(
            pl.lit(TOTAL).alias("county"), pl.lit(TOTAL).alias("hospital"),
            pl.lit(False).alias("hidden"))], how="diagonal_relaxed")
    if prevalence_rows is not None and prevalence_rows.height:
        cells = pl.concat([cells, prevalence_rows], how="diagonal_relaxed")
    # A region's cases at one hospital (a patient treated outside the region) and its
    # cases with no hospital are protected as a small count is: never published, but
    # the published sums must not pin them inside 1..k-1 either.
    cells = cells.select(*KEYS, "n", "hidden", pl.col("hidden").alias("sensitive"))
    cells = pl.concat([cells, cohorts.excluded_cells(cells, KEYS)])
    eqs, ineqs = equations(cells), inequalities(cells)
    values = cells["n"].cast(pl.Float64).to_list()
    hidden = cells["hidden"].to_list()
    sensitive = cells["sensitive"].to_list()
    links = _links(cells)
    extra: list[int] = []
    solved: dict = {}  # the audit's linear programmes, solved once across rounds
    for _ in range(AUDIT_ROUNDS):
        masked, primary = suppress_cells(values, eqs, k, links, hidden, extra, sensitive)
        failing = lp_audit.failures(values, masked, primary, hidden, eqs, k, sensitive,
                                    ineqs, solved)
        if not failing:
            break
        more = lp_audit.complements(values, masked, hidden, eqs, failing, k, sensitive,
                                    ineqs)
        if not more:
            raise UserError(_cell_text(cells, failing[0]) + ": the release cannot protect "
                            "this count; nothing was written")
        extra += more
    else:
        raise UserError(_cell_text(cells, failing[0]) + ": the release's audit still fails "
                        f"after {AUDIT_ROUNDS} rounds of complements; nothing was written")
    flag = ["hidden" if h else "primary" if p else "secondary" if m else None
            for m, p, h in zip(masked, primary, hidden, strict=True)]
    out = cells.with_columns(pl.Series("flag", flag, dtype=pl.String)).with_columns(
        pl.when(pl.col("flag").is_null()).then(pl.col("n")).alias("n"))
    return Release(spec, out, eqs, ineqs)


def release_for(data: RegistryData, year: int | None = None,
                linked: pl.DataFrame | None = None,
                regional: pl.DataFrame | None = None,
                counties: pl.DataFrame | None = None) -> Release:
    """The release of a loaded data folder for a report year (default: the last complete
    year): what ``bcr publish`` publishes and ``--public`` answers from. ``linked``: the
    registries' match (analysis.quality.coverage.match_registries), ``regional``: the
    indicators by region and year and ``counties``: by county
    (:func:`county_indicator_rows`), each computed here if absent."""
    cases = data.require("cases")
    last = report_year(cases, data.extract_date()) if year is None else year
    first = (int(data.population.get_column("year").min())
             if data.population is not None else None)
    if linked is None and data.cancer_registry is not None:
        linked = match_registries(cases, data.cancer_registry,
                                  subregistries=data.subregistries)
    spec = release_spec(cases, last, first)
    rows = indicator_rows(cases, linked, load_indicators(), last, data.extract_date(),
                          regional)
    if counties is None:
        counties = county_indicator_rows(cases, linked, load_indicators(), last,
                                         data.extract_date())
    prevalent = None
    if data.population is not None:
        at = prevalence.prevalence_date(judged_year(last, data.extract_date()))
        prevalent = prevalence.prevalence_cells(cases, data.population, at,
                                                prevalence.settings()[0])
    return build_release(cases, spec, rows, cohort_rows(cases, spec), counties, prevalent)


def _links(cells: pl.DataFrame) -> list[tuple[int, list[int]]]:
    """(new cases of a group, [the other families' cells of the same group]): an
    indicator or cohort is about the same patients, so it is masked whenever they are
    (linked tables), else its count would bound the masked one."""
    keyed = cells.select(*KEYS).with_row_index("_i").filter(pl.col("hospital") == TOTAL)
    same = [k for k in KEYS if k not in ("family", "hospital")]
    pairs = keyed.filter(pl.col("family") == CASES).join(
        keyed.filter(pl.col("family") != CASES), on=same, suffix="_other")
    return [(int(c), sorted(part["_i_other"].cast(pl.Int64).to_list()))
            for (c,), part in pairs.partition_by("_i", as_dict=True,
                                                 maintain_order=True).items()]


def _cell_text(cells: pl.DataFrame, i: int) -> str:
    row = cells.row(i, named=True)
    return "release cell " + ", ".join(f"{k}={row[k]}" for k in KEYS if row[k] != TOTAL)
