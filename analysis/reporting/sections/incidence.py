"""Incidence sections: the year's new cases and rates, trends, SIR and age-sex rates."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.reporting.cells import (
    lower_first,
    region_label,
    regions_nation_last,
    subregistry_label,
)
from analysis.reporting.figure_specs import add_figure, age_sex_figure, sir_figure, trend_figure
from analysis.reporting.qmd import Section, md
from analysis.reporting.run import Run
from analysis.reporting.tables import apc_table, incidence_table


def key_figures_section(run: Run, region: str, sids: list[str]) -> Section:
    """A region's new cases and age-standardised rate per subregistry, beside the nation's."""
    a, text, lang = run.analyses, run.text, run.lang
    rname = dd.region_name(region, lang)
    now = run.asr.filter(pl.col("year") == a.year)
    table = incidence_table(run, "key", now, "subregistry", sids,
                            lambda s: subregistry_label(s, lang),
                            show=pl.col("region") == region, with_nation=True)
    table.caption = text("captions.key_figures", year=a.year, region=rname)
    return Section(text("sections.key_figures"),
                   paragraphs=[md(text("regional.intro", region=rname, year=a.year))],
                   tables=[table], callout=text("notes.preliminary", year=a.year))


def regional_trend_section(run: Run, region: str) -> Section:
    """Age-standardised incidence by year, a panel per subregistry, the region emphasised."""
    section = Section(run.text("sections.trend"))
    add_figure(run, section, trend_figure(run, "trend", run.asr, regions_nation_last(),
                                          region, facet=True))
    return section


def subregistry_incidence_section(run: Run, sid: str) -> Section:
    """A subregistry's incidence: the year by region, trend, APC, SIR and age-sex rates."""
    a, text, lang = run.analyses, run.text, run.lang
    regions = regions_nation_last()
    label = lambda r: region_label(r, text)  # noqa: E731
    of_sid = pl.col("subregistry") == sid
    sname = dd.subregistry(sid)[f"name_{lang}"]
    section = Section(
        text("sections.incidence"),
        callout=text("notes.preliminary", year=a.year),
        paragraphs=[md(text("subregistry.intro", subregistry=lower_first(sname), year=a.year))],
        tables=[incidence_table(run, "inc", run.asr.filter(of_sid & (pl.col("year") == a.year)),
                                "region", regions, label),
                apc_table(run, "apc", run.apc.filter(of_sid), regions, label)])
    for figure in (trend_figure(run, "trend", run.asr.filter(of_sid), regions, None,
                                facet=False),
                   sir_figure(run, "sir", sid), age_sex_figure(run, "agesex", sid)):
        add_figure(run, section, figure)
    return section

