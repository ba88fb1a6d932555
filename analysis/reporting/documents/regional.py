"""The regional report: one region beside the nation, for its process leaders."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import (
    region_label,
    regions_nation_last,
    subregistries_present,
)
from analysis.reporting.comparison import (
    county_table,
    indicator_trend_figure,
    region_table,
)
from analysis.reporting.documents.page import single_page_job
from analysis.reporting.qmd import DocumentJob, Section
from analysis.reporting.run import Run
from analysis.reporting.sections.data_quality import data_quality_section
from analysis.reporting.sections.distributions import stage_section, volume_section
from analysis.reporting.sections.incidence import key_figures_section, regional_trend_section
from analysis.reporting.sections.methods import methods_section, provenance_section
from analysis.reporting.sections.prevalence import prevalence_table
from analysis.reporting.sections.quality import level_section, regional_hospitals_section
from analysis.reporting.sections.series import series_section
from analysis.reporting.sections.summary import summary_section
from analysis.reporting.sections.survival import regional_survival_section
from analysis.reporting.tables import incidence_table, indicator_table, survival_table


def per_subregistry_section(run: Run, region: str, sids: list[str]) -> Section:
    """A tab per subregistry: incidence by region, and the region's indicators and
    observed survival beside the nation's."""
    a, text, lang = run.analyses, run.text, run.lang
    pair = [region, NATION]
    label = lambda r: region_label(r, text)  # noqa: E731
    now = run.asr.filter(pl.col("year") == a.year)
    tabs = []
    for sid in sids:
        of_sid = pl.col("subregistry") == sid
        tab = Section(dd.subregistry(sid)[f"name_{lang}"])
        tab.tables.append(incidence_table(run, f"{sid}-inc", now.filter(of_sid), "region",
                                          regions_nation_last(), label))
        ind = run.indicators.filter(of_sid)  # the judged year and the preliminary one
        if ind.height:
            tab.tables.append(indicator_table(run, f"{sid}-ind", ind, "region", pair, label))
            # The region among all regions, and each indicator over the years.
            for table in (region_table(run, f"{sid}-regions", sid, region),
                          county_table(run, f"{sid}-counties", sid, region)):
                if table is not None:
                    tab.tables.append(table)
            trend = indicator_trend_figure(run, f"{sid}-ind-trend", sid, region)
            if trend is not None:
                tab.figures.append(trend)
        km = run.survival.filter(of_sid)
        if km.height:
            tab.tables.append(survival_table(run, f"{sid}-surv", km, "region", pair, label))
        prevalent = prevalence_table(run, f"{sid}-prev", sid, pair)
        if prevalent is not None:
            tab.tables.append(prevalent)
        tabs.append(tab)
    return Section(text("publication.chapters"), subsections=tabs, tabset=True)


def regional_report(run: Run, region: str) -> DocumentJob:
    """The report of one region for its process leaders: the region beside the nation."""
    a, text, lang = run.analyses, run.text, run.lang
    rname = dd.region_name(region, lang)
    sids = subregistries_present(a)
    sections = [summary_section(run, region=region),
                key_figures_section(run, region, sids), regional_trend_section(run, region),
                level_section(run, region, sids),
                per_subregistry_section(run, region, sids),
                stage_section(run, "stage", sids, [region, NATION]),
                regional_hospitals_section(run, region, sids),
                volume_section(run, "volumes", sids, region),
                regional_survival_section(run, region, sids),
                data_quality_section(run, "dq", region),
                series_section(run, "series", region=region), methods_section(run),
                provenance_section(run, "prov")]
    return single_page_job(run, f"region-{region}", f"region-{region}-{a.year}",
                           text("regional.title", region=rname, year=a.year),
                           text("regional.subtitle", registry=dd.registry()[f"name_{lang}"],
                                region=rname), sections)
