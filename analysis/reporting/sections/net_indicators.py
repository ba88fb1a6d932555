"""Net-survival indicators (analysis.quality.net_survival) in the reports: each region's
and the nation's net survival against the target level, with the level reached, or
marked preliminary where the follow-up is not yet complete."""

from __future__ import annotations

import polars as pl

from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    LEVEL_FILLS,
    cell,
    region_label,
    regions_nation_last,
    shown_rows,
    suppressed_note,
)
from analysis.reporting.qmd import Section, Table
from analysis.reporting.run import Run
from analysis.reporting.tables import percent_ci_cell, target_cell


def net_level(r: dict, run: Run) -> tuple[str, str]:
    """The level reached and its colour: none where the release masks the row, the
    preliminary mark where the follow-up is not complete, "too few cases" without an
    estimate or below min_n."""
    text = run.text
    if r.get(disclosure.FLAG) or r["high"] is None:
        return "", ""
    if r["preliminary"]:
        return text("net_indicators.preliminary"), ""
    level = r["classification"] or "few"
    return text(f"levels.{level}"), LEVEL_FILLS[level]


def net_indicator_tables(run: Run, doc_id: str, sid: str) -> list[Table]:
    """A table per net-survival indicator of the subregistry (its name, years and
    approach in the caption); rows: the regions and the nation; columns: net survival
    with CI, n (the cohort's release cell), target and level."""
    frame = run.net_indicators
    if frame.is_empty():
        return []
    text, lang = run.text, run.lang
    names = {i.id: i.name(lang) for i in run.analyses.indicator_list}
    tables = []
    for (ind,), part in frame.filter(pl.col("subregistry") == sid).partition_by(
            "indicator", as_dict=True, maintain_order=True).items():
        rows, fills = [], []
        for r in shown_rows(part, "region", regions_nation_last()).iter_rows(named=True):
            level, fill = net_level(r, run)
            rows.append([region_label(r["region"], text),
                         cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)),
                         percent_ci_cell(r, lang),
                         cell(r, "n", lambda v: fmt.number(v, 0, lang)),
                         target_cell(r, text, lang), level])
            fills.append([*[""] * 5, fill])
        first, last = part["window"][0].split("-")
        window = text(f"net_indicators.{part['approach'][0]}", first=first, last=last)
        tables.append(Table(
            f"tbl-{doc_id}-{len(tables) + 1}",
            text("net_indicators.caption", indicator=names.get(ind, ind), window=window),
            [text("columns.region"), text("net_indicators.estimate"), text("columns.ci"),
             text("columns.n"), text("columns.target"), text("columns.level")], rows,
            ["l", "r", "r", "r", "l", "l"],
            f"{text('net_indicators.note')} {suppressed_note(text)}", fills))
    return tables


def net_indicator_section(run: Run, sid: str) -> Section | None:
    """The subregistry's net-survival indicators, or None where it has none."""
    tables = net_indicator_tables(run, "net-ind", sid)
    if not tables:
        return None
    return Section(run.text("net_indicators.title"), tables=tables)
