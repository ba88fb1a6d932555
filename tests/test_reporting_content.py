"""Issue 15's new report content, on the demo registry analysed once: the AML 30-day
mortality row, the indicators' three-part descriptions, the distributions of stage and
risk variables, hospital volumes, coverage over the years, the survival trend, the board's
overview and the automatic summary."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.reporting.documents.publication import publication
from analysis.reporting.documents.regional import regional_report
from analysis.reporting.documents.subregistry import subregistry_report
from analysis.reporting.publish import prepare
from analysis.reporting.qmd import Section, Table

REGION = "syd"


@pytest.fixture(scope="module")
def run():
    return prepare(None).run


def sections(doc) -> list[Section]:
    out: list[Section] = []

    def walk(items: list[Section]) -> None:
        for s in items:
            out.append(s)
            walk(s.subsections)

    for page in doc.pages:
        walk(page.sections)
    return out


def tables(doc) -> list[Table]:
    return [t for s in sections(doc) for t in s.tables]


def find(doc, title: str) -> Section:
    found = [s for s in sections(doc) if s.title == title]
    assert found, f"no section '{title}' in {[s.title for s in sections(doc)]}"
    return found[0]


def test_the_aml_report_has_the_30_day_mortality_row_and_its_descriptions(run):
    doc = subregistry_report(run, "aml")
    name = "Död inom 30 dagar från diagnos (AML, intensivbehandlade)"
    rows = [r for t in tables(doc) if t.id == "tbl-ind" for r in t.rows if r[0] == name]
    assert len(rows) == 7  # six regions and the nation
    assert all(r[5] == "Ingen målnivå" for r in rows)
    about = find(doc, "Om indikatorerna")
    described = {s.title: s for s in about.subsections}
    assert name in described
    text = "\n".join(described[name].paragraphs)
    for part in ("**Om indikatorn.**", "**Att läsa diagrammet.**", "**Teknisk beskrivning.**"):
        assert part in text
    assert "Lägre är bättre" in text and "Ingen målnivå" in text
