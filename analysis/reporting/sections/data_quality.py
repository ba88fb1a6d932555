"""The data-quality section: validation of the extract and completeness of key variables."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.quality.indicators import completeness_labels
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import cell, region_label, subregistry_label, suppressed_note
from analysis.reporting.qmd import (
    Section,
    Table,
)
from analysis.reporting.run import Run
from analysis.reporting.tables import validation_table


def data_quality_section(run: Run, doc_id: str, region: str = NATION) -> Section:
    """Completeness of the key variables in the region (validation is in provenance)."""
    text, lang = run.text, run.lang
    labels = {}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            labels.setdefault(f.name, f.label(lang))
    rows = []
    order = {s: i for i, s in enumerate(dd.subregistry_ids())}
    shown = run.completeness.filter(pl.col("region") == region)
    # Subregistries in the report's order, variables by their label as printed.
    for r in sorted(shown.iter_rows(named=True), key=lambda r: (
            order.get(r["subregistry"], len(order)), labels.get(r["variable"], r["variable"]))):
        rows.append([subregistry_label(r["subregistry"], lang),
                     labels.get(r["variable"], r["variable"]),
                     cell(r, "estimate", lambda v: fmt.percent(v, 0, lang)),
                     cell(r, "n", lambda v: fmt.number(v, 0, lang))])
    caption = f"{text('captions.completeness_table')}: {region_label(region, text)}"
    table = Table(f"tbl-{doc_id}-completeness", caption,
                  [text("columns.subregistry"), text("columns.variable"),
                   text("columns.completeness"), text("columns.n")], rows,
                  ["l", "l", "r", "r"], suppressed_note(text))
    among = completeness_labels(lang)
    if among:  # e.g. the treatment start date, among treated patients only
        table.note = (text("quality.among", variables=", ".join(
            f"{labels.get(v, v).lower()} {who}" for v, who in sorted(among.items())))
            + " " + table.note)
    return Section(text("sections.data_quality"), paragraphs=[text("quality.intro")],
                   tables=[validation_table(run, f"{doc_id}-validation"), table])
