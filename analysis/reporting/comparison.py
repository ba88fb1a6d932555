"""The region among all regions (regional report): per subregistry, every indicator for
every region and the nation coloured by the target level reached, and each indicator's
time series for the region against the nation and the target band. Values come from the
run's protected release (Run.indicators); a masked cell keeps the symbol."""

from __future__ import annotations

import textwrap

import polars as pl

from analysis.data import dictionary as dd
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import (
    cell,
    region_label,
    regions_nation_last,
    suppressed_note,
)
from analysis.reporting.qmd import FigureSpec, Table
from analysis.reporting.run import Run
from analysis.reporting.sections.overview import judged_cells, level_rows
from analysis.reporting.tables import target_cell


def _names(run: Run, sid: str, width: int) -> dict[str, str]:
    """The subregistry's indicators in the registry's order, their names wrapped."""
    return {i.id: textwrap.fill(i.name(run.lang), width) for i in run.analyses.indicator_list
            if sid in i.subregistries}


def region_table(run: Run, doc_id: str, sid: str, region: str) -> Table | None:
    """One subregistry's indicators (rows) for the report's region, the other regions and
    the nation (columns) in the judged year (the last one not preliminary, so every
    colour is a judgement), each share coloured by the level reached as in the
    publication's overview; the report's region in the first column."""
    a, text = run.analyses, run.text
    by_cell = judged_cells(run)
    regions = [region, *(r for r in regions_nation_last() if r != region)]
    rows, fills = level_rows(run, by_cell, sid, regions)
    if not rows:
        return None
    caption = text("comparison.grid_caption", year=a.judged_year,
                   region=region_label(region, text))
    if a.preliminary:
        caption += "; " + text("comparison.grid_preliminary", year=a.year)
    return Table(f"tbl-{doc_id}", caption, [text("columns.indicator"),
                                            text("columns.target"),
                                            *(region_label(r, text) for r in regions)],
                 rows, ["l", "l", *("r" for _ in regions)], suppressed_note(text), fills)


def indicator_trend_figure(run: Run, doc_id: str, sid: str, region: str
                           ) -> FigureSpec | None:
    """Each indicator of a subregistry over the published years (the trend years): the
    region against the nation, with the target band; a preliminary year drawn open and
    never judged, a masked year a gap."""
    a, text = run.analyses, run.text
    names = _names(run, sid, 34)
    rows = run.indicators.filter((pl.col("subregistry") == sid)
                                 & pl.col("region").is_in([region, NATION])
                                 & pl.col("indicator").is_in(list(names)))
    if rows.filter(pl.col("estimate").is_not_null()).is_empty():
        return None
    shown = rows.select(
        pl.col("indicator").replace_strict(names), "year", "estimate", "preliminary",
        pl.col("region").replace_strict({region: region_label(region, text),
                                         NATION: text("nation")}))
    targets = rows.unique("indicator", maintain_order=True).select(
        pl.col("indicator").replace_strict(names), "high", "intermediate", "direction")
    first, last = int(rows["year"].min()), int(rows["year"].max())
    caption = text("comparison.trend_caption", first=first, last=last,
                   region=region_label(region, text))
    if a.preliminary:
        caption += "; " + text("comparison.trend_preliminary", year=a.year)
    if rows["estimate"].null_count():
        caption += f"; {text('notes.trend_gaps')}"
    labels = {"x": text("axes.year"), "y": text("axes.percent"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("comparison.trend_alt", region=region_label(region, text)),
              "preliminary": text("comparison.preliminary"),
              **text.section("legend")}
    return FigureSpec(f"fig-{doc_id}", caption, "indicator_trend_chart", {
        "frame": shown, "targets": targets, "labels": labels,
        "focus": region_label(region, text), "reference": text("nation"),
        "facet_order": [n for n in names.values() if n in set(shown["indicator"])]})


def county_table(run: Run, doc_id: str, sid: str, region: str) -> Table | None:
    """The region's counties beside the region on each indicator of a subregistry in the
    judged year: the share where a county has at least the indicator's min_n cases, the
    symbol where the release masks it. Only counties with enough cases for at least one
    indicator get a column, and only when two or more do (one county is the region)."""
    a, text, lang = run.analyses, run.text, run.lang
    frame = run.indicator_counties
    if frame.is_empty():
        return None
    min_n = {i.id: i.min_n for i in a.indicator_list}
    rows = frame.filter((pl.col("subregistry") == sid) & (pl.col("region") == region))
    enough = rows.filter(pl.col("n") >= pl.col("indicator").replace_strict(min_n))
    names = dict(dd.counties().select("county", "county_name").iter_rows())
    counties = [c for c in names if c in set(enough["county"].to_list())]
    if len(counties) < 2:
        return None
    whole = {r["indicator"]: r for r in run.indicators.filter(
        (pl.col("subregistry") == sid) & (pl.col("region") == region)
        & (pl.col("year") == a.judged_year)).iter_rows(named=True)}
    by_county = {(r["indicator"], r["county"]): r for r in rows.iter_rows(named=True)}

    def share(r: dict | None, ind: str) -> str:
        if r is None or (r["n"] is not None and r["n"] < min_n[ind]):
            return ""
        return cell(r, "estimate", lambda v: fmt.percent(v, 1, lang))

    table_rows = []
    for ind in a.indicator_list:
        if ind.id not in whole:
            continue
        table_rows.append([ind.name(lang), target_cell(whole[ind.id], text, lang),
                           *(share(by_county.get((ind.id, c)), ind.id) for c in counties),
                           share(whole[ind.id], ind.id)])
    headers = [text("columns.indicator"), text("columns.target"),
               *(names[c] for c in counties), region_label(region, text)]
    return Table(f"tbl-{doc_id}", text("comparison.county_caption", year=a.judged_year,
                                       region=region_label(region, text)),
                 headers, table_rows, ["l", "l", *("r" for _ in headers[2:])],
                 f"{text('comparison.county_note')} {suppressed_note(text)}")
