"""Quality sections: the indicators against their target levels, and hospitals on funnels."""

from __future__ import annotations

import polars as pl

from analysis.reporting.analyses import NATION
from analysis.reporting.cells import region_label, regions_nation_last
from analysis.reporting.figure_specs import (
    add_figure,
    funnel_figure,
    indicator_figure,
)
from analysis.reporting.qmd import Section
from analysis.reporting.run import Run
from analysis.reporting.sections.overview import level_table
from analysis.reporting.tables import hospital_table, indicator_table


def level_section(run: Run, region: str, sids: list[str]) -> Section:
    """Every indicator of a region beside the nation in one table, coloured by the target
    level reached (:func:`level_table`)."""
    a, text = run.analyses, run.text
    # Judged on the last year that is not preliminary: a preliminary year is never coloured
    # against a target level.
    table = level_table(run, "levels", sids, [region, NATION],
                        text("captions.level_table", year=a.judged_year,
                             region=region_label(region, text)))
    if table is None:
        return Section(text("sections.indicators"), paragraphs=[text("notes.not_available")])
    paragraphs = [text("notes.level_table", min_n=min(i.min_n for i in a.indicator_list))]
    if a.preliminary:
        paragraphs.append(text("notes.preliminary_indicators", year=a.year,
                               judged=a.judged_year))
    return Section(text("sections.indicators"), tables=[table], paragraphs=paragraphs)


def regional_hospitals_section(run: Run, region: str, sids: list[str]) -> Section:
    """A region's hospitals on the funnel plots of every subregistry, with their table."""
    text = run.text
    figure = funnel_figure(run, "funnel", sids, region)
    table = hospital_table(run, "hospitals", sids, region)
    return Section(text("sections.funnel"), figures=[figure] if figure else [],
                   tables=[table] if table else [],
                   paragraphs=[] if figure else [text("notes.not_available")])


def subregistry_quality_section(run: Run, sid: str) -> Section:
    """A subregistry's indicators by region with the figure, and its hospitals' funnel."""
    a, text = run.analyses, run.text
    regions = regions_nation_last()
    section = Section(text("sections.indicators"))
    ind = run.indicators.filter(pl.col("subregistry") == sid)
    judged = ind.filter(pl.col("year") == a.judged_year)
    if judged.height:
        section.tables.append(indicator_table(run, "ind", ind, "region", regions,
                                              lambda r: region_label(r, text)))
        figure = indicator_figure(run, "ind", judged, regions, None)
        figure.caption = text("captions.indicators_figure", year=a.judged_year)
        add_figure(run, section, figure)
    figure = funnel_figure(run, "funnel", [sid], None)
    if figure:
        section.figures.append(figure)
        section.tables.append(hospital_table(run, "hospitals", [sid], None))
    return section
