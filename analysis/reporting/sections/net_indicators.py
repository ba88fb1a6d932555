"""Net-survival indicators (analysis.quality.net_survival) in the reports: each region's
and the nation's net survival against the target level, with the level reached, or
marked preliminary where the follow-up is not yet complete."""

from __future__ import annotations

import polars as pl

from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    cell,
    region_label,
    regions_nation_last,
    shown_rows,
    suppressed_note,
)
from analysis.reporting.figures import LEVEL_FILLS
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


def net_indicator_table(run: Run, doc_id: str, sid: str) -> Table | None:
    """Rows: the subregistry's net-survival indicators by region and the nation; columns:
    the years, net survival with CI, n (the cohort's release cell), target and level."""
    frame = run.net_indicators
    if frame.is_empty() or not frame.filter(pl.col("subregistry") == sid).height:
        return None
    text, lang = run.text, run.lang
    names = {i.id: i.name(lang) for i in run.analyses.indicator_list}
    rows, fills = [], []
    for ind, part in frame.filter(pl.col("subregistry") == sid).partition_by(
            "indicator", as_dict=True, maintain_order=True).items():
        for r in shown_rows(part, "region", regions_nation_last()).iter_rows(named=True):
            level, fill = net_level(r, run)
            rows.append([names.get(ind[0], ind[0]), region_label(r["region"], text),
                         r["window"].replace("-", "\u2013"),
                         cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)),
                         percent_ci_cell(r, lang),
                         cell(r, "n", lambda v: fmt.number(v, 0, lang)),
                         target_cell(r, text, lang), level])
            fills.append([*[""] * 7, fill])
    return Table(f"tbl-{doc_id}", text("net_indicators.caption"),
                 [text("columns.indicator"), text("columns.region"),
                  text("net_indicators.years"), text("net_indicators.estimate"),
                  text("columns.ci"), text("columns.n"), text("columns.target"),
                  text("columns.level")], rows, ["l", "l", "l", "r", "r", "r", "l", "l"],
                 f"{text('net_indicators.note')} {suppressed_note(text)}", fills)


def net_indicator_section(run: Run, sid: str) -> Section | None:
    """The subregistry's net-survival indicators, or None where it has none."""
    table = net_indicator_table(run, "net-ind", sid)
    if table is None:
        return None
    return Section(run.text("net_indicators.title"), tables=[table])
