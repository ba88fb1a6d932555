"""Issue 15's new report content, on the demo registry analysed once: the AML 30-day
mortality row, the indicators' three-part descriptions, the distributions of stage and
risk variables, hospital volumes, coverage over the years, the survival trend, the board's
overview and the automatic summary."""

from __future__ import annotations

import re
from dataclasses import replace

import polars as pl
import pytest

from analysis.reporting.documents.publication import publication
from analysis.reporting.documents.regional import regional_report
from analysis.reporting.documents.subregistry import subregistry_report
from analysis.reporting.qmd import Section, Table

REGION = "syd"


@pytest.fixture(scope="module")
def run(prepared):
    return prepared.run


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


def _level_counts(doc, region_name: str) -> tuple[int, int]:
    """(judged, high) over the region's rows of the document's indicator tables."""
    judged = high = 0
    for t in tables(doc):
        if not t.id.endswith("-ind"):
            continue
        col = {h: i for i, h in enumerate(t.header)}
        for row in t.rows:
            if row[col["Region"]] == region_name and row[col["Nivå"]] in ("Hög", "Mellan",
                                                                          "Under"):
                judged += 1
                high += row[col["Nivå"]] == "Hög"
    return judged, high


def test_the_regional_summary_reads_the_tables_in_swedish(run):
    doc = regional_report(run, REGION)
    first = sections(doc)[0]
    assert first.title == "Sammanfattning"
    text = "\n".join(first.paragraphs)
    judged, high = _level_counts(doc, "Syd")
    assert judged > 10
    assert f"Diagnosår 2024: {high} av {judged} bedömda indikatorer" in text
    assert "Störst förändring sedan 2023" in text and "2025 är preliminärt" in text
    # Every share named as differing from the nation is the one the tables print.
    printed = {c for t in tables(doc) for row in t.rows for c in row}
    differs = text.split("Skiljer sig från riket utöver konfidensintervallet: ")[1]
    shares = re.findall(r"(\d+,\d\u00a0%) mot rikets (\d+,\d\u00a0%)", differs)
    assert shares and all(a in printed and b in printed for a, b in shares)


def test_the_summary_is_in_english_for_an_english_run_and_in_every_document(run):
    english = replace(run, lang="en")
    text = "\n".join(sections(regional_report(english, REGION))[0].paragraphs)
    assert text.startswith("Diagnosis year 2024: ") and "judged indicators" in text
    assert "Differs from the nation beyond the confidence interval" in text
    assert "Diagnosår" not in text and "procentenheter" not in text
    sub = sections(subregistry_report(run, "aml"))[0]
    assert sub.title == "Sammanfattning" and "i riket" in sub.paragraphs[0]
    summary = sections(publication(run))[0]
    assert any(p.startswith("Diagnosår 2024: ") for p in summary.paragraphs)


def test_the_board_overview_has_every_indicator_by_region_coloured_by_level(run):
    doc = publication(run)
    overview = find(doc, "Alla indikatorer per region")
    assert overview.landscape
    [table] = overview.tables
    assert table.header[3:] == ["Stockholm Gotland", "Mellansverige", "Sydöst", "Syd",
                                "Väst", "Norr", "Riket"]
    judged = run.indicators.filter((pl.col("year") == 2024) & (pl.col("region") == "nation"))
    assert len(table.rows) == judged.height  # one row per subregistry's indicator
    names = [r[1] for r in table.rows]
    assert "Död inom 30 dagar från diagnos (AML, intensivbehandlade)" in names
    assert "Diagnos på kirurgisk biopsi" in names  # lymphoma's, in the same table
    colours = {f for row in table.fills for f in row if f}
    assert {"#8FD1BB", "#F4A582"} <= colours  # high and below, as in the level grid
    for row, fills in zip(table.rows, table.fills, strict=True):
        if row[2] == "Ingen målnivå":
            assert not any(fills)  # no target level: never coloured


def test_stage_tables_count_not_stated_from_the_release(run):
    """Issue 15: each stage or risk variable by region, "not stated" counted, every count
    a release cell (its categories add up to the region's new cases of the window)."""
    from analysis.privacy.distributions import distribution_family

    doc = subregistry_report(run, "lymphoma")
    stage = find(doc, "Stadium och riskgrupp")
    captions = [t.caption for t in stage.tables]
    assert any(c.startswith("Ann Arbor-stadium") for c in captions)
    assert any(c.startswith("IPI") for c in captions)
    ann = next(t for t in stage.tables if t.caption.startswith("Ann Arbor"))
    assert ann.header[1:] == ["Stockholm Gotland", "Mellansverige", "Sydöst", "Syd", "Väst",
                              "Norr", "Riket"]
    labels = [r[0] for r in ann.rows]
    assert labels == ["I", "II", "III", "IV", "Ej angivet", "Totalt"]
    cells = run.release.cells
    first, last = run.release.spec.age_window

    def count(family: str, region: str) -> int:
        row = cells.filter((pl.col("family") == family) & (pl.col("subregistry") == "lymphoma")
                           & (pl.col("region") == region)
                           & (pl.col("period") == f"{first}-{last}")
                           & (pl.col("sex") == "*") & (pl.col("age_group") == "*")
                           & (pl.col("county") == "*"))
        return row["n"].item()

    not_stated = count(distribution_family("ann_arbor_stage", "not_stated"), "syd")
    total = count("cases", "syd")
    syd = ann.header.index("Syd")
    shown = ann.rows[labels.index("Ej angivet")][syd].replace("\u00a0", " ")
    assert not_stated > 0
    assert shown == f"{not_stated} ({round(100 * not_stated / total)} %)"
    assert ann.rows[-1][syd].replace("\u00a0", "") == str(total)
    regional = find(regional_report(run, REGION), "Stadium och riskgrupp")
    assert [s.title for s in regional.subsections][:2] == ["Akut myeloisk leukemi",
                                                           "Akut lymfatisk leukemi"]
    assert regional.subsections[0].tables[0].header[1:] == ["Syd", "Riket"]


def test_participating_hospitals_are_listed_with_their_volumes(run):
    from analysis.data import dictionary as dd

    doc = regional_report(run, REGION)
    [table] = find(doc, "Rapporterande sjukhus").tables
    assert table.header[:3] == ["Sjukhus", "Region", "AML"]
    assert {r[1] for r in table.rows} == {"Syd"}
    names = {h["name"] for h in dd.load("hospitals.yaml")["hospitals"]}
    assert {r[0] for r in table.rows} <= names and len(table.rows) >= 3
    sus = next(r for r in table.rows if r[0] == "Skånes universitetssjukhus")
    code = next(h["code"] for h in dd.load("hospitals.yaml")["hospitals"]
                if h["name"] == "Skånes universitetssjukhus")
    n = run.release.cells.filter((pl.col("family") == "volume")
                                 & (pl.col("subregistry") == "lymphoma")
                                 & (pl.col("hospital") == code))["n"].item()
    assert sus[table.header.index("Lymfom")] == str(n)
    pub = publication(run)
    [everyone] = find(pub, "Rapporterande sjukhus").tables
    assert len({r[1] for r in everyone.rows}) == 6  # every region's hospitals


def test_coverage_and_timeliness_over_the_years_per_region_mark_the_preliminary_year(run):
    doc = regional_report(run, REGION)
    series = find(doc, "Täckningsgrad och aktualitet över tid")
    coverage = next(t for t in series.tables if t.caption.startswith("Täckningsgrad"))
    assert coverage.header == ["Delregister", *(str(y) for y in range(2016, 2025)),
                               "2025 prel."]
    assert [r[0] for r in coverage.rows][:2] == ["AML", "ALL"]
    aml = coverage.rows[0]
    value = run.indicators.filter((pl.col("indicator") == "coverage")
                                  & (pl.col("subregistry") == "aml")
                                  & (pl.col("region") == REGION)
                                  & (pl.col("year") == 2016))["estimate"].item()
    assert aml[1].replace("\u00a0", " ") == f"{100 * value:.1f} %".replace(".", ",")
    # Judged years are coloured by the level reached; the preliminary one never is.
    assert all(row[-1] == "" for row in coverage.fills)
    assert any(f for row in coverage.fills for f in row[1:-1])
    names = [t.caption.split(",")[0] for t in series.tables]
    assert names == ["Täckningsgrad mot cancerregistret", "Anmälda inom 3 månader",
                     "Anmälda inom 12 månader"]
    # The subregistry report: its regions and the nation over the years.
    sub = find(subregistry_report(run, "lymphoma"), "Täckningsgrad och aktualitet över tid")
    assert [r[0] for r in sub.tables[1].rows][-1] == "Riket"


def test_the_release_of_the_cli_holds_the_same_coverage_series_as_the_reports(run):
    """--public and the reports publish from one release: the coverage families of
    every trend year are computed the same way by both."""
    from analysis.commands.options import load
    from analysis.privacy.release import release_for

    alone = release_for(load(None)).cells
    series = pl.col("family").is_in(["coverage", "registered_3m"]) & (pl.col("period") == "2016")
    mine = run.release.cells.filter(series).sort("family", "subregistry", "region", "hospital")
    theirs = alone.filter(series).sort("family", "subregistry", "region", "hospital")
    assert mine.height > 50
    assert mine.select("family", "subregistry", "region", "n", "flag").equals(
        theirs.select("family", "subregistry", "region", "n", "flag"))


def test_survival_trend_gives_five_year_net_survival_per_diagnosis_period(run):
    """Issue 15: five-year net survival for successive diagnosis periods (Pohar Perme,
    ICSS-standardised), the latest by the period approach as in the net-survival table."""
    from analysis.api import demo_folder, load_data
    from analysis.reporting import formatting as fmt
    from analysis.stats import relative_survival as rs
    from analysis.stats import survival as sv

    section = find(subregistry_report(run, "myeloma"), "Överlevnad över tid")
    [table] = section.tables
    periods = [r[0] for r in table.rows]
    assert periods == ["2001–2005", "2006–2010", "2011–2015", "2016–2020",
                       "2021–2025 (periodansats)"]
    five = table.header.index("5 år")
    data = load_data(demo_folder())
    cohort = sv.prepare_followup(data.cases.filter(
        (pl.col("subregistry") == "myeloma") & pl.col("year").is_between(2016, 2020))).data
    direct = rs.age_standardised(cohort, data.lifetable, rs.standard_for("myeloma"),
                                 ["subregistry"], [5.0]).row(0, named=True)
    assert table.rows[3][five].startswith(fmt.percent(direct["estimate"], 0, "sv"))
    period = run.relative.filter((pl.col("subregistry") == "myeloma")
                                 & (pl.col("region") == "nation")
                                 & (pl.col("approach") == "period") & (pl.col("time") == 5))
    assert table.rows[4][five].startswith(fmt.percent(period["estimate"].item(), 0, "sv"))
