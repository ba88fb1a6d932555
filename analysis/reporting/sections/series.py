"""Coverage and timeliness over the diagnosis years: a region's subregistries, or a
subregistry's regions, year by year, the preliminary years marked and never judged."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    cell,
    region_label,
    regions_nation_last,
    subregistries_present,
    subregistry_label,
    suppressed_note,
)
from analysis.reporting.qmd import Section, Table, md
from analysis.reporting.run import Run
from analysis.reporting.sections.overview import level_fill

# The measures of data quality over the years: coverage against the cancer registry and
# timeliness of registration (every indicator of these kinds, grouped by kind and months).
SERIES_KINDS = ("coverage", "timeliness")


def _measures(run: Run) -> list[tuple[str, list[str]]]:
    """The measures shown over the years, in declaration order: (name, indicator ids),
    the indicators of one kind and months together (lymphoma's own 3-month level is the
    same measure as the others')."""
    groups: dict[tuple, tuple[str, list[str]]] = {}
    shown = set(run.indicators["indicator"].unique().to_list())
    for ind in run.analyses.indicator_list:
        if ind.kind in SERIES_KINDS and ind.id in shown:
            groups.setdefault((ind.kind, ind.months), (ind.name(run.lang), []))[1].append(ind.id)
    return list(groups.values())


def _series_table(run: Run, doc_id: str, caption: str, frame: pl.DataFrame, key: str,
                  order: Sequence[str], label: Callable[[str], str]) -> Table | None:
    """Rows: ``order`` of ``key``; columns: the diagnosis years; cells: the share, coloured
    by the level reached unless the year is preliminary."""
    text, lang = run.text, run.lang
    if frame.is_empty():
        return None
    years = sorted(frame["year"].unique().to_list())
    preliminary = set(frame.filter(pl.col("preliminary"))["year"].unique().to_list())
    by_cell = {(r[key], r["year"]): r for r in frame.iter_rows(named=True)}
    rows, fills = [], []
    for k in order:
        found = [by_cell.get((k, y)) for y in years]
        if not any(found):
            continue
        rows.append([label(k), *(cell(r, "estimate", lambda v: fmt.percent(v, 1, lang))
                                 if r else "" for r in found)])
        fills.append(["", *("" if r is None or r["preliminary"] else level_fill(r)
                            for r in found)])
    header = [text(f"columns.{key}"), *(text("series.preliminary", year=y)
                                        if y in preliminary else str(y) for y in years)]
    return Table(f"tbl-{doc_id}", caption, header, rows, ["l", *("r" for _ in years)],
                 suppressed_note(text), fills)


def series_section(run: Run, doc_id: str, region: str | None = None,
                   sid: str | None = None) -> Section:
    """Per measure, a region's subregistries (``region``) or a subregistry's regions and
    the nation (``sid``) over the diagnosis years."""
    text, lang = run.text, run.lang
    tables = []
    for n, (name, ids) in enumerate(_measures(run)):
        frame = run.indicators.filter(pl.col("indicator").is_in(ids))
        if region is not None:
            table = _series_table(
                run, f"{doc_id}-{n}", text("series.caption_region", indicator=name,
                                           region=region_label(region, text)),
                frame.filter(pl.col("region") == region), "subregistry",
                subregistries_present(run.analyses), lambda s: subregistry_label(s, lang))
        else:
            table = _series_table(
                run, f"{doc_id}-{n}", text("series.caption_subregistry", indicator=name),
                frame.filter(pl.col("subregistry") == sid), "region", regions_nation_last(),
                lambda r: region_label(r, text))
        if table is not None:
            tables.append(table)
    if not tables:
        return Section(text("series.title"), paragraphs=[text("notes.not_available")])
    return Section(text("series.title"), paragraphs=[md(text("series.intro"))], tables=tables)
