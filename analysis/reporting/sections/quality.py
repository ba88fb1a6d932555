"""Quality sections: the indicators against their target levels, and hospitals on funnels."""

from __future__ import annotations

import polars as pl

from analysis.reporting.cells import region_label, regions_nation_last
from analysis.reporting.figure_specs import (
    add_figure,
    funnel_figure,
    indicator_figure,
    level_grid_figure,
)
from analysis.reporting.qmd import Section
from analysis.reporting.run import Run
from analysis.reporting.tables import hospital_table, indicator_table


def level_grid_section(run: Run, region: str, sids: list[str]) -> Section:
    """Every indicator of a region in one grid, coloured by the target level reached."""
    a, text = run.analyses, run.text
    grid = level_grid_figure(run, "levels", run.indicators.filter(pl.col("year") == a.year),
                             region, sids)
    if grid is None:
        return Section(text("sections.indicators"), paragraphs=[text("notes.not_available")])
    return Section(text("sections.indicators"), figures=[grid], paragraphs=[
        text("notes.level_grid", min_n=min(i.min_n for i in a.indicator_list))])


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
    ind = run.indicators.filter((pl.col("subregistry") == sid) & (pl.col("year") == a.year))
    if ind.height:
        section.tables.append(indicator_table(run, "ind", ind, "region", regions,
                                              lambda r: region_label(r, text)))
        add_figure(run, section, indicator_figure(run, "ind", ind, regions, None))
    figure = funnel_figure(run, "funnel", [sid], None)
    if figure:
        section.figures.append(figure)
        section.tables.append(hospital_table(run, "hospitals", [sid], None))
    return section
