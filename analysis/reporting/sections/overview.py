"""The board's overview: every quality indicator of every subregistry by region, in one
table of the annual publication, coloured by the target level reached."""

from __future__ import annotations

import polars as pl

from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    LEVEL_FILLS,
    cell,
    region_label,
    regions_nation_last,
    subregistries_present,
    subregistry_label,
    suppressed_note,
)
from analysis.reporting.qmd import Section, Table, md
from analysis.reporting.run import Run
from analysis.reporting.tables import target_cell


def level_fill(r: dict | None) -> str:
    """The colour of a judged indicator cell: the level reached, grey where a target
    exists but the cases are too few; none without a target or where the release masks
    the cell (its level would tell about the masked count)."""
    if r is None or r["high"] is None or r.get(disclosure.FLAG) or r.get("preliminary"):
        return ""
    return LEVEL_FILLS[r["classification"] or "few"]


def level_rows(run: Run, by_cell: dict, sid: str, regions: list[str]
               ) -> tuple[list[list[str]], list[list[str]]]:
    """A subregistry's indicators in declaration order, each with its target level and
    its share per region of ``regions`` (``by_cell``: judged rows by indicator,
    subregistry and region), and the cells' colours (:func:`level_fill`); an indicator
    with no cell is left out."""
    lang = run.lang
    rows, fills = [], []
    for ind in run.analyses.indicator_list:
        found = [by_cell.get((ind.id, sid, r)) for r in regions]
        if sid not in ind.subregistries or not any(found):
            continue
        first = next(r for r in found if r)
        # A net survival whose follow-up is not complete is shown, never coloured.
        name = ind.name(lang) + (f" ({run.text('net_indicators.preliminary').lower()})"
                                 if first.get("preliminary") else "")
        rows.append([name, target_cell(first, run.text, lang),
                     *(cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)) if r else ""
                       for r in found)])
        fills.append(["", "", *(level_fill(r) for r in found)])
    return rows, fills


def judged_cells(run: Run) -> dict:
    """The indicator rows of the judged year (the last one not preliminary) by
    indicator, subregistry and region, and the net-survival indicators' rows (marked
    preliminary where their follow-up is not complete)."""
    judged = run.indicators.filter((pl.col("year") == run.analyses.judged_year)
                                   & ~pl.col("preliminary"))
    return {(r["indicator"], r["subregistry"], r["region"]): r
            for frame in (judged, run.net_indicators) for r in frame.iter_rows(named=True)}


def level_table(run: Run, doc_id: str, sids: list[str], regions: list[str],
                caption: str) -> Table | None:
    """Rows: each subregistry's indicators in declaration order; columns: ``regions`` on
    the judged year (Analyses.judged_year), each share coloured by the level reached; the
    target level beside the name. None where no indicator has a cell."""
    text, lang = run.text, run.lang
    by_cell = judged_cells(run)
    rows, fills = [], []
    for sid in sids:
        shares, colours = level_rows(run, by_cell, sid, regions)
        for i, (row, colour) in enumerate(zip(shares, colours, strict=True)):
            # The subregistry named on its first row only: the rows read as groups.
            rows.append(["" if i else subregistry_label(sid, lang), *row])
            fills.append(["", *colour])
    if not rows:
        return None
    return Table(f"tbl-{doc_id}", caption,
                 [text("columns.subregistry"), text("columns.indicator"),
                  text("columns.target"), *(region_label(r, text) for r in regions)],
                 rows, ["l", "l", "l", *("r" for _ in regions)], suppressed_note(text),
                 fills)


def overview_table(run: Run, doc_id: str) -> Table | None:
    """Every subregistry's indicators for every region and the nation (:func:`level_table`),
    the board's overview."""
    a = run.analyses
    return level_table(run, doc_id, subregistries_present(a), regions_nation_last(),
                       run.text("overview.caption", year=a.judged_year))


def overview_section(run: Run, doc_id: str) -> Section:
    """The overview table with how to read it, or a note where nothing can be judged."""
    text = run.text
    table = overview_table(run, doc_id)
    if table is None:
        return Section(text("overview.title"), paragraphs=[text("notes.not_available")])
    return Section(text("overview.title"), paragraphs=[md(text(
        "overview.intro", year=run.analyses.judged_year))], tables=[table], landscape=True)
