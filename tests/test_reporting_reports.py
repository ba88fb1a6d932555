"""One regional report rendered on the demo registry (HTML + PDF, once per session)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pypdf
import pytest

from analysis.data import dictionary as dd
from analysis.privacy import cohorts, disclosure
from analysis.privacy import published as pb
from analysis.privacy import release as rl
from analysis.quality import indicators
from analysis.reporting import analyses, cells, figure_specs, qmd, tables
from analysis.reporting import formatting as fmt
from analysis.reporting.documents import regional
from analysis.reporting.documents.publication import publication
from analysis.reporting.publish import publish
from analysis.reporting.sections import methods
from analysis.reporting.sections import quality as quality_sections
from analysis.reporting.sections import survival as survival_sections
from analysis.stats import cox, incidence, relative_survival, survival

REGION = "syd"


@pytest.fixture(scope="module", autouse=True)
def builtin_renderer():
    """These tests read the built-in path's HTML and PDF, also where a Quarto is
    installed; tests/test_quarto_path.py checks Quarto's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BCR_RENDERER", "builtin")
        yield


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, prepared):
    out = tmp_path_factory.mktemp("reports")
    pub = publish(None, out, regions=[REGION], subregistries=[], with_publication=False,
                  workers=1, prepared=prepared)
    folder = pub.out_dir / f"region-{REGION}"
    html = next(folder.glob("*.html"))
    pdf = next(folder.glob("*.pdf"))
    return pub, html, pdf


class _Tables(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._id = dict(attrs).get("id", f"table-{len(self.tables)}")
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._id].append(self._row)
            self._row = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: Path) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html.read_text(encoding="utf-8"))
    return parser.tables


def test_pdf_has_title_pages_swedish_characters_and_decimal_commas(rendered):
    _, _, pdf = rendered
    reader = pypdf.PdfReader(pdf)
    text = "\n".join(p.extract_text() for p in reader.pages).replace("\u00a0", " ")
    assert 8 <= len(reader.pages) <= 60
    assert "Regionrapport Syd 2025" in text
    assert all(ch in text for ch in "åäöÅÖ")  # Överlevnad, Åldersstand., Sydöst, ...
    assert re.search(r"\d,\d %", text)  # "5,2 %"
    assert re.search(r"\d,\d–\d", text)  # a confidence interval "0,7–2,4"
    # No English words of the report's own wording in the Swedish report.
    for word in ("Table ", "Figure ", "Incidence", "Survival", "insufficient data"):
        assert word not in text


def test_html_has_the_sections_and_tables(rendered):
    _, html, _ = rendered
    page = html.read_text(encoding="utf-8")
    for heading in ("Nyckeltal", "Trend", "Delregister", "Sjukhus", "Överlevnad",
                    "Datakvalitet", "Metod", "Om rapporten"):
        assert f">{heading}</h1>" in page, heading
    tables = _tables(html)
    assert "tbl-key" in tables and "tbl-prov-files" in tables
    assert tables["tbl-key"][0] == ["Delregister", "Nya fall", "Grov incidens",
                                    "Åldersstand. incidens", "95 % KI",
                                    "Riket, åldersstand.", "95 % KI"]
    assert "person_id" not in page and "Personnummer" not in page


def test_printed_numbers_equal_the_analysis_functions(rendered, prepared):
    pub, html, _ = rendered
    year = int(pub.out_dir.parent.name)
    data = prepared.data
    expected = incidence.standardised_rates(
        data.cases, data.population, ["subregistry", "region"], years=(year, year)
    ).filter(pl.col("region") == REGION)
    nation = {r["subregistry"]: r for r in incidence.standardised_rates(
        data.cases, data.population, ["subregistry"], years=(year, year)).iter_rows(named=True)}
    rows = {r[0]: r for r in _tables(html)["tbl-key"][1:]}
    checked = 0
    for r in expected.iter_rows(named=True):
        label = {"aml": "AML", "all": "ALL", "cll": "KLL", "cml": "KML", "lymphoma": "Lymfom",
                 "myeloma": "Myelom", "mds": "MDS", "mpn": "MPN"}[r["subregistry"]]
        row = rows[label]
        whole = nation[r["subregistry"]]
        assert row[5:] == [fmt.number(whole["estimate"], 1, "sv"),
                           fmt.interval(whole["lower"], whole["upper"], 1, "sv")]
        if row[1] == "–":
            continue  # suppressed: see the disclosure test
        assert row[1] == fmt.number(r["n"], 0, "sv")
        assert row[2] == fmt.number(r["crude_rate"], 1, "sv")
        assert row[3] == fmt.number(r["estimate"], 1, "sv")
        assert row[4] == fmt.interval(r["lower"], r["upper"], 1, "sv")
        checked += 1
    assert checked >= 4


_COUNT_HEADERS = {"Nya fall", "Antal"}


def test_suppressed_cells_show_the_symbol_and_never_a_small_count(rendered):
    _, html, _ = rendered
    symbols = 0
    for tid, rows in _tables(html).items():
        header = rows[0]
        for row in rows[1:]:
            for head, cell in zip(header, row, strict=False):
                if head in _COUNT_HEADERS and cell != "–":
                    value = int(cell.replace("\u00a0", "").replace(" ", ""))
                    assert value == 0 or value >= 5, (tid, row)
                symbols += cell == "–"
    assert symbols > 0  # the demo region has small groups, so the symbol must appear
    note = "– = otillräckligt underlag: färre än 5 fall, eller dolt"
    assert note in html.read_text(encoding="utf-8")


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                       check=False, timeout=600)
        found = shutil.which("chromium")
    return found


def test_cases_masked_in_incidence_are_masked_in_indicators_and_completeness(prepared):
    run, a = prepared.run, prepared.analyses
    masked = run.asr.filter(pl.col("suppressed").is_in(["primary", "secondary"])
                            & (pl.col("region") != analyses.NATION))
    assert masked.height  # the demo has small regional cells (e.g. CML in Norr)
    cells = set(masked.select("subregistry", "region", "year").iter_rows())
    for r in run.indicators.iter_rows(named=True):
        if (r["subregistry"], r["region"], r["year"]) in cells:
            assert r["n"] is None and r["estimate"] is None, r
    for r in run.completeness.iter_rows(named=True):
        if (r["subregistry"], r["region"], a.year) in cells:
            assert r["n"] is None and r["estimate"] is None, r


def test_survival_and_completeness_numbers_in_a_report_are_release_cells(rendered, prepared):
    """The cohort sizes of net and observed survival and the completeness denominators
    printed are the cells of release.csv (or the symbol where it masks them)."""
    pub, html, _ = rendered
    run, a = prepared.run, prepared.analyses
    release = pb.read_published(str(pub.out_dir / pb.RELEASE_FILE))
    window = rl.window_label(a.survival_window)

    def printed(**key: str) -> str:
        row = {k: rl.TOTAL for k in rl.KEYS} | {"period": window} | key
        found = release.filter(*(pl.col(k) == v for k, v in row.items()))
        assert found.height == 1, key
        r = found.row(0, named=True)
        return fmt.number(r["n"], 0, "sv") if r["status"] == pb.SHOWN else cells.symbol()

    sids = {dd.subregistry(s)["short_sv"]: s for s in dd.subregistry_ids()}
    relsurv = _tables(html)["tbl-relsurv"][1:]
    for row in relsurv:  # net survival, period approach: the region and the nation
        key = {"subregistry": sids[row[0]], "region": REGION if row[1] == "Syd" else rl.TOTAL}
        crude, std = (printed(family=f, **key) for f in (cohorts.PERIOD,
                                                         cohorts.PERIOD_STANDARDISED))
        if row[2] == cells.symbol():
            assert cells.symbol() in (crude, std), row
        else:
            assert row[2] == (crude if "ej åldersstand." in row[5] else std), row
    assert any(r[2] == cells.symbol() for r in relsurv) or len(relsurv) > 4
    names = {f.label("sv"): f.name for sid in dd.subregistry_ids() for f in dd.fields(sid)}
    [completeness] = [t for i, t in _tables(html).items() if i.endswith("-completeness")]
    for row in completeness[1:]:
        variable = names[row[1]]
        family = cohorts.completeness_family(variable) or rl.CASES
        assert row[3] == printed(family=family, subregistry=sids[row[0]], region=REGION,
                                 period=str(a.year)), row
    assert any(names[r[1]] == "treatment_start_date" for r in completeness[1:])
    for sid in ("myeloma", "cml"):  # observed survival by age band and sex
        rows = {r[0]: r[1] for r in tables.survival_groups_table(run, "g", sid).rows}
        assert rows["Kvinnor"] == printed(family=cohorts.SURVIVAL, subregistry=sid, sex="2")
        assert rows["Alla"] == printed(family=cohorts.SURVIVAL, subregistry=sid)
        band = survival.age_band_labels(a.settings.survival_age_groups)[0]
        assert rows[band] == printed(family=cohorts.SURVIVAL, subregistry=sid,
                                     age_group=band)
    # A masked row shows no estimate, CI or n.
    for frame in (run.survival, run.survival_groups, run.relative, run.completeness):
        masked = frame.filter(pl.col("suppressed").is_not_null())
        assert masked.select("n", "estimate", "lower", "upper").null_count().row(0) == (
            masked.height,) * 4


def test_no_survival_curve_for_a_cohort_the_release_masks(prepared):
    run = prepared.run
    masked = run.survival.filter((pl.col("subregistry") == "cml")
                                 & pl.col("suppressed").is_not_null())["region"].unique()
    assert masked.len()  # the demo's CML cohorts of five regions leave out 1-4 cases each
    hidden = {cells.region_label(r, run.text) for r in masked.to_list()}
    km = figure_specs.survival_figure(run, "s", run.analyses.survival_curves.filter(
        pl.col("subregistry") == "cml"), None)
    net, _ = figure_specs.relative_figure(run, "rs", "cml")
    for figure in (km, net):
        drawn = set(figure.arguments["frame"]["region"].to_list())
        assert drawn and not drawn & hidden
        assert cells.region_label(analyses.NATION, run.text) in drawn


def test_html_in_headless_chromium_has_no_broken_images_or_console_errors(rendered, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed and could not be installed "
                    "(apt-get install -y chromium)")
    _, html, _ = rendered
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load', () => {"
              "const bad = Array.from(document.images).filter("
              "i => !(i.complete && i.naturalWidth > 0)).length;"
              "document.body.setAttribute('data-images', document.images.length);"
              "document.body.setAttribute('data-broken', bad);});</script>")
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                     encoding="utf-8")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    images = int(re.search(r'data-images="(\d+)"', proc.stdout).group(1))
    broken = int(re.search(r'data-broken="(\d+)"', proc.stdout).group(1))
    assert images >= 4 and broken == 0
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line
               and ("ERROR" in line or "Uncaught" in line)]
    assert console == []


def test_rendering_again_gives_the_same_bytes(rendered, tmp_path, monkeypatch):
    pub, html, pdf = rendered
    monkeypatch.delenv("BCR_FIGURE_CACHE")  # every figure drawn again
    again = publish(None, tmp_path, regions=[REGION], subregistries=[],
                    with_publication=False, workers=1)
    folder = again.out_dir / f"region-{REGION}"
    assert (folder / html.name).read_bytes() == html.read_bytes()
    assert (folder / pdf.name).read_bytes() == pdf.read_bytes()


# --- relative survival, Cox, validation, the publication's summary -------------------------

def _followup(prepared, sid: str) -> pl.DataFrame:
    a = prepared.analyses
    cases = prepared.data.cases.filter(
        (pl.col("subregistry") == sid)
        & pl.col("year").is_between(a.year - a.settings.survival_years + 1, a.year))
    return survival.prepare_followup(cases).data


def _rs_text(estimate: float, lower: float, upper: float) -> str:
    return f"{fmt.percent(estimate, 0, 'sv')} ({fmt.interval(lower, upper, 0, 'sv', True)})"


def test_regional_net_survival_equals_the_analysis_functions(rendered, prepared):
    _, html, _ = rendered
    a, lifetable = prepared.analyses, prepared.data.lifetable
    rows = {(r[0], r[1]): r for r in _tables(html)["tbl-relsurv"][1:]}
    assert _tables(html)["tbl-relsurv"][0] == ["Delregister", "Område", "Antal", "1 år",
                                                "5 år", "Anm."]
    for sid, label in (("myeloma", "Myelom"), ("mds", "MDS")):
        period = survival.period_window(
            _followup(prepared, sid).filter(pl.col("region") == REGION),
            dt.date(a.period[0], 1, 1), dt.date(a.period[1], 12, 31))
        row = rows[(label, "Syd")]
        # Always age-standardised: a sparse age group is merged, never dropped.
        expected = relative_survival.age_standardised(
            period, lifetable, relative_survival.standard_for(sid), [], [1, 5])
        one, five = expected.sort("time").iter_rows(named=True)
        assert row[3] == _rs_text(one["estimate"], one["lower"], one["upper"])
        assert row[4] == _rs_text(five["estimate"], five["lower"], five["upper"])
    assert not any("ej åldersstand." in r[5] for r in rows.values())
    assert "Pohar Perme" in html.read_text(encoding="utf-8")


def test_small_groups_get_no_net_survival_or_curve_and_the_reason(prepared):
    run, lifetable = prepared.run, prepared.data.lifetable
    fu = _followup(prepared, "cml")
    # Stockholm's CML cohort is one the release shows (it masks those of the others).
    data = pl.concat([fu.filter(pl.col("region") == "norr").head(20),
                      fu.filter(pl.col("region") == "stockholm_gotland")])
    by, cfg = ["subregistry", "region"], analyses.report_settings()
    frame = analyses._net_survival(data, lifetable, "cml", by, cfg)
    table = tables.relative_table(run, "x", frame, ["region"],
                                   [lambda r: cells.region_label(r, run.text)],
                                   [["norr", "stockholm_gotland"]], "caption", ["Region"])
    norr, syd = table.rows
    assert norr[0] == "Norr" and norr[2:4] == ["", ""] and norr[4] == "färre än 25 fall"
    assert syd[2] and syd[3] and "färre" not in syd[4]
    curves = relative_survival.relative_survival_curve(
        data, lifetable, ["subregistry", "region"], 5.0)
    small = replace(prepared.analyses, relative_curves=curves)
    figure, note = figure_specs.relative_figure(replace(run, analyses=small), "rs", "cml")
    drawn = set(figure.arguments["frame"]["region"].to_list())
    assert drawn == {"Stockholm Gotland"} and note == "Ingen kurva för Norr: färre än 25 fall."


def test_cox_table_equals_cox_region_and_states_the_ph_test(prepared):
    run = prepared.run
    # AML: every region's cohort is shown by the release (CML's mostly are not).
    expected = cox.cox_region(_followup(prepared, "aml"))
    section = survival_sections.cox_section(run, "cox", "aml")
    [table] = section.tables
    rows = {r[0]: r for r in table.rows}
    assert rows["Stockholm Gotland"][2] == "1 (referens)"
    for r in expected.filter(pl.col("term") == "region").iter_rows(named=True):
        row = rows[cells.region_label(r["level"], run.text)]
        assert row[2] == fmt.number(r["hazard_ratio"], 2, "sv")
        assert row[3] == fmt.interval(r["lower"], r["upper"], 2, "sv")
    [forest] = section.figures  # every region here has enough cases to be drawn
    regions = expected.filter(pl.col("term") == "region")
    assert forest.arguments["frame"]["estimate"].to_list() == regions["hazard_ratio"].to_list()
    assert forest.arguments["log_scale"] and forest.arguments["reference_line"] == 1.0
    violated = expected.filter(pl.col("ph_p_value") < 0.05).height
    words = " ".join(section.paragraphs)
    assert ("förkastades inte" in words) == (violated == 0)
    assert "Grambsch–Therneau" in words


def test_cox_counts_are_the_release_cohorts_and_a_masked_one_shows_nothing(prepared):
    run = prepared.run
    rows = {r[0]: r for r in survival_sections.cox_section(run, "cox", "cml").tables[0].rows}
    cohorts_ = run.survival.filter((pl.col("subregistry") == "cml")
                                   & (pl.col("region") != analyses.NATION)).unique("region")
    assert cohorts_["suppressed"].null_count() < cohorts_.height  # some masked
    for r in cohorts_.iter_rows(named=True):
        row = rows[cells.region_label(r["region"], run.text)]
        if r["suppressed"]:
            assert row[1:] == [cells.symbol()] * 4
        else:
            assert row[1] == fmt.number(r["n"], 0, "sv")


def test_cox_section_warns_when_the_model_did_not_converge(prepared):
    run = prepared.run
    section = survival_sections.cox_section(run, "cox", "cml")
    assert "konvergerade" not in " ".join(section.paragraphs)
    broken = run.analyses.cox.with_columns(
        pl.lit("Newton-Raphson convergence completed successfully but norm(delta) is "
               "still high").alias("convergence_problem"))
    bad_run = replace(run, analyses=replace(run.analyses, cox=broken))
    words = " ".join(survival_sections.cox_section(bad_run, "cox", "cml").paragraphs)
    assert "konvergerade inte väl" in words


def test_validation_table_counts_rows_and_shows_no_identity_number(rendered, prepared):
    _, html, _ = rendered
    summary = prepared.data.summary().filter(pl.col("dataset").is_in(dd.subregistry_ids()))
    rows = _tables(html)["tbl-dq-validation"][1:]
    assert [r[0] for r in rows] == summary["file"].to_list()
    for row, r in zip(rows, summary.iter_rows(named=True), strict=True):
        assert row[1:4] == [fmt.number(r[c], 0, "sv") for c in ("read", "accepted", "rejected")]
    page = html.read_text(encoding="utf-8")
    values = prepared.data.failures()["value"].drop_nulls().to_list()
    ids = prepared.data.cases["person_id"].head(2000).to_list()
    assert not any(v in page for v in ids)
    assert not any(v in page for v in values if len(v) >= 10 and v[:2] in ("19", "20")
                   and "-" in v[8:])


def test_publication_summary_key_numbers_and_indicators_that_moved(prepared):
    run, a = prepared.run, prepared.analyses
    sids = cells.subregistries_present(a)
    key = tables.key_numbers_table(run, "summary", sids)
    five = run.relative.filter((pl.col("region") == analyses.NATION)
                               & (pl.col("approach") == "period") & (pl.col("time") == 5))
    for row, sid in zip(key.rows, sids, strict=True):
        r = five.filter(pl.col("subregistry") == sid).row(0, named=True)
        if r["suppressed"]:  # the release masks the cohort (it leaves out 1..k-1 cases)
            assert row[4] == cells.symbol() and r["estimate"] is None
        else:
            assert row[4].startswith(_rs_text(r["estimate"], r["lower"], r["upper"]))
    moved = tables.moved_table(run, "moved")
    nation = run.indicators.filter(pl.col("region") == analyses.NATION)
    names = {i.name("sv"): i.id for i in a.indicator_list}
    changes = []
    for row in moved.rows:
        sid = next(s for s in sids if cells.subregistry_label(s, "sv") == row[1])
        pick = nation.filter((pl.col("indicator") == names[row[0]])
                             & (pl.col("subregistry") == sid))
        # Judged on the last year that is not preliminary, against the year before it.
        now = pick.filter(pl.col("year") == a.judged_year).row(0, named=True)
        before = pick.filter(pl.col("year") == a.judged_year - 1).row(0, named=True)
        assert row[2:4] == [fmt.percent(before["estimate"], 1, "sv"),
                            fmt.percent(now["estimate"], 1, "sv")]
        # The change is that of the shares as printed, so the three columns agree.
        printed = [float(v.replace("\u00a0", "").replace("%", "").replace(",", ".").strip())
                   for v in row[2:4]]
        change = round(printed[1] - printed[0], 1)
        assert row[4].lstrip("+") == fmt.number(change, 1, "sv")
        assert bool(row[5]) == (before["classification"] != now["classification"]
                                and None not in (before["classification"],
                                                 now["classification"]))
        changes.append((abs(change), bool(row[5])))
    top = [c for c, _ in changes[:a.settings.indicators_moved_rows]]
    assert top == sorted(top, reverse=True)
    assert all(crossed for _, crossed in changes[a.settings.indicators_moved_rows:])


def test_regional_report_draws_one_indicator_figure_per_subregistry(prepared):
    job = regional.regional_report(prepared.run, REGION)
    figures = [f for p in job.pages for f in qmd._all_figures(p.sections)]
    # Per subregistry, the indicators over the years; every indicator of the region at a
    # glance, and the region among all regions, are coloured tables.
    sids = cells.subregistries_present(prepared.analyses)
    assert [f.id for f in figures if f.function == "indicator_trend_chart"] == [
        f"fig-{s}-ind-trend" for s in sids]
    assert len(figures) <= 3 + len(sids)
    tables = [t.id for p in job.pages for s in p.sections for t in s.tables]
    assert "tbl-levels" in tables


def test_funnel_caption_names_the_indicator_of_every_panel(prepared):
    run = prepared.run
    sids = cells.subregistries_present(prepared.analyses)
    figure = figure_specs.funnel_figure(run, "funnel", sids, REGION)
    names = {i.id: i.name("sv") for i in prepared.analyses.indicator_list}
    units = prepared.analyses.hospitals.filter(pl.col("subregistry").is_in(sids))
    units = units.filter(disclosure.drawable(units, "funnel"))
    # A panel needs three hospitals to compare: exactly those subregistries get one (ALL
    # has three, at the limit); KML's hospitals, too small to draw, get none.
    shown = units.filter(pl.len().over("subregistry") >= 3)
    panels = {p.split(":")[0] for p in figure.arguments["units"]["subregistry"].to_list()}
    assert panels == {cells.subregistry_label(s, "sv") for s in shown["subregistry"]}
    assert units.filter(pl.col("subregistry") == "all").height == 3
    assert "cml" in prepared.analyses.hospitals["subregistry"].to_list()
    assert "KML" not in panels
    for sid, ind in shown.select("subregistry", "indicator").unique().iter_rows():
        name = cells.lower_first(names[ind])
        assert name in figure.caption, (sid, name)
    year = prepared.analyses.year
    assert figure.caption.startswith(f"Sjukhus i trattdiagram, diagnosår {year}: ")
    assert "fISH" not in figure.caption


def test_registered_within_12_months_counts_only_cases_whose_12_months_have_passed(prepared):
    a, data = prepared.analyses, prepared.data
    [ind] = [i for i in a.indicator_list if i.id == "registered_12m"]
    cases = data.cases.filter(pl.col("year") == a.year)
    expected = indicators.compute_indicator(ind, cases, ["year"], None, a.extract_date)
    shown = a.indicators.filter((pl.col("indicator") == "registered_12m")
                                & (pl.col("region") == analyses.NATION)
                                & (pl.col("year") == a.year))
    for sid in ("cll", "lymphoma"):
        want = expected.filter(pl.col("subregistry") == sid).row(0, named=True)
        got = shown.filter(pl.col("subregistry") == sid).row(0, named=True)
        assert (got["n"], got["events"]) == (want["n"], want["events"])
        # Diagnosed in the report year, the extract is 31 March: most 12 months not passed.
        assert want["n"] < cases.filter(pl.col("subregistry") == sid).height


def test_level_table_tells_too_few_cases_from_no_target(prepared):
    run, a = prepared.run, prepared.analyses
    sids = cells.subregistries_present(a)
    [table] = quality_sections.level_section(run, REGION, sids).tables
    assert table.header[3:] == ["Syd", "Riket"]
    judged = run.indicators.filter((pl.col("year") == a.judged_year) & ~pl.col("preliminary"))
    by_cell = {(r["indicator"], r["subregistry"], r["region"]): r
               for r in judged.iter_rows(named=True)}
    ids = {i.name("sv"): i.id for i in a.indicator_list}
    labels = {cells.subregistry_label(s, "sv"): s for s in sids}
    seen, sid = 0, None
    for row, fill in zip(table.rows, table.fills, strict=True):
        sid = labels.get(row[0], sid)  # the subregistry is named on its first row only
        for region, value, colour in zip([REGION, analyses.NATION], row[3:], fill[3:],
                                         strict=True):
            r = by_cell.get((ids.get(row[1]), sid, region))
            if r is None:  # a net-survival indicator (its own tests) or no cell
                continue
            seen += 1
            if r["estimate"] is None:
                assert value == cells.symbol() and colour == ""
            elif r["high"] is None:  # no target: never coloured
                assert colour == ""
            elif r["classification"] is None:  # a target, too few cases: grey
                assert colour == cells.LEVEL_FILLS["few"] and r["n"] < next(
                    i.min_n for i in a.indicator_list if i.id == r["indicator"])
            else:
                assert colour == cells.LEVEL_FILLS[r["classification"]]
    assert seen > 2 * len(sids)
    # Some region of the demo has an indicator with too few cases to judge.
    colours = {c for r in cells.regions_nation_last()[:-1]
               for f in quality_sections.level_section(run, r, sids).tables[0].fills
               for c in f[3:]}
    assert colours >= {cells.LEVEL_FILLS["high"], cells.LEVEL_FILLS["few"], ""}


def test_publication_has_a_data_dictionary_chapter(prepared):
    run = prepared.run
    job = publication(run)
    assert "dictionary.qmd" in [p.file for p in job.pages]
    section = methods.dictionary_section(run, "dd")
    codes, variables = section.tables
    aml = next(r for r in codes.rows if r[0] == "Akut myeloisk leukemi")
    assert aml[1] == ", ".join(dd.subregistry("aml")["icd10"])
    expected = dd.variable_table("sv")
    assert len(variables.rows) == expected.height
    sex = next(r for r in variables.rows if r[0] == "Alla delregister" and r[1] == "sex")
    assert sex[2:] == ["Kön", "heltal", "ja", "1 = Man; 2 = Kvinna"]


def test_subregistry_survival_by_age_and_sex_equals_kaplan_meier(prepared):
    run, a = prepared.run, prepared.analyses
    fu = _followup(prepared, "myeloma")
    table = tables.survival_groups_table(run, "g", "myeloma")
    rows = {r[0]: r for r in table.rows}
    women = survival.kaplan_meier(fu.filter(pl.col("sex") == 2), [], [1.0, 5.0])
    assert rows["Kvinnor"][1] == fmt.number(women["n"][0], 0, "sv")
    five = women.row(1, named=True)
    assert rows["Kvinnor"][4].startswith(fmt.percent(five["estimate"], 0, "sv"))  # 1, 3, 5 y
    first, *_ = a.settings.survival_age_groups[1:]
    young = survival.kaplan_meier(fu.filter(pl.col("age_exact") < first), [], [1.0])
    assert rows[f"0\u2013{first - 1}"][1] == fmt.number(young["n"][0], 0, "sv")
    assert rows["Alla"][1] == fmt.number(fu.height, 0, "sv")
    assert list(rows)[-1] == "Alla" and "Män" in rows


def test_hospital_table_lists_every_point_of_the_region_with_its_funnel_position(prepared):
    run = prepared.run
    sids = cells.subregistries_present(prepared.analyses)
    table = tables.hospital_table(run, "hospitals", sids, REGION)
    # Every hospital of the region is listed; one the release masks shows the symbol.
    listed = run.hospitals.filter(pl.col("subregistry").is_in(sids)
                                  & (pl.col("region") == REGION))
    assert len(table.rows) == listed.height > 0
    assert listed["suppressed"].is_not_null().any()
    units = cells.funnel_units(run, sids).filter(pl.col("region") == REGION)
    names = {h["code"]: h["name"] for h in dd.load("hospitals.yaml")["hospitals"]}
    flags = run.text.section("notes.funnel_flags")
    # Columns: number, subregistry, indicator, hospital, region, n, share, position (the
    # position against the limits drawn, widened for overdispersion where phi > 1).
    drawn = {(names[u["hospital"]], fmt.number(u["n"], 0, "sv"), flags[u["flag_od"]])
             for u in units.iter_rows(named=True)}
    assert drawn and drawn <= {(r[3], r[5], r[7]) for r in table.rows}
    symbol = dd.registry()["disclosure"]["symbol"]
    masked = {names[h] for h in listed.filter(pl.col("suppressed").is_not_null())["hospital"]}
    assert masked == {r[3] for r in table.rows if r[5] == symbol and r[6] == symbol}


def test_trend_lines_break_at_masked_years_and_the_caption_says_so(prepared):
    run, nation = prepared.run, analyses.NATION
    frame = run.asr.filter(pl.col("region").is_in([REGION, nation]))
    masked = frame.filter(pl.col(disclosure.FLAG).is_not_null())
    assert masked.height, "the demo region has masked years"
    figure = figure_specs.trend_figure(run, "trend", frame, [REGION, nation], REGION)
    drawn = figure.arguments["frame"]
    assert drawn.height == frame.height  # masked years are kept, as gaps
    assert drawn["estimate"].null_count() == masked.height
    assert figure.caption.endswith("ett avbrott i en linje är ett år med otillräckligt underlag")


def test_incidence_trends_show_the_preliminary_year_as_open_points(prepared):
    run, a = prepared.run, prepared.analyses
    assert a.preliminary  # the demo's extract is in March after the report year
    regions = cells.regions_nation_last()
    for figure in (figure_specs.trend_figure(run, "trend", run.asr, regions, None),
                   figure_specs.trend_figure(run, "trend", run.asr, regions, REGION)):
        drawn = figure.arguments["frame"]
        assert set(drawn.filter(pl.col("preliminary"))["year"]) == {a.year}
        assert drawn.filter(pl.col("year") < a.year)["preliminary"].not_().all()
        assert f"ofylld punkt = {a.year}, preliminärt" in figure.caption


# --- preliminary years, lead times, target levels (issue 15) -----------------------------

def test_the_judged_year_is_the_last_whose_12_months_have_passed(prepared):
    a = prepared.analyses
    # The demo's extract is 31 March of the year after the report year: the report year's
    # 12 months have not passed, the year before's have.
    assert (a.extract_date.month, a.extract_date.day) == (3, 31)
    assert a.extract_date.year == a.year + 1
    assert a.judged_year == a.year - 1 and a.preliminary
    assert dt.date(a.judged_year + 1, 12, 31) <= a.extract_date < dt.date(a.year + 1, 12, 31)


def test_no_preliminary_year_is_classified_or_listed_as_a_change(prepared):
    run, a = prepared.run, prepared.analyses
    ind = run.indicators
    # The trend years (each indicator's time series), with the judged year and the one
    # before it among them.
    assert set(ind["year"].unique().to_list()) == set(range(a.first_year, a.year + 1))
    assert a.first_year <= a.judged_year - 1
    late = ind.filter(pl.col("year") > a.judged_year)
    assert late["preliminary"].all() and late["classification"].is_null().all()
    assert not ind.filter(pl.col("year") <= a.judged_year)["preliminary"].any()
    # Without the rule the report year would have been classified: coverage is low for it
    # only because late registrations are missing.
    raw = indicators.compute_indicators(
        [i for i in a.indicator_list if i.kind != "coverage"],
        prepared.data.cases.filter(pl.col("year") == a.year), ["year"], None,
        a.extract_date)
    assert raw["classification"].is_not_null().any()
    # The publication's change table compares the judged year with the one before.
    moved = tables.moved_table(run, "moved")
    assert moved.header[2:4] == [str(a.judged_year - 1), str(a.judged_year)]
    assert str(a.year) not in moved.caption
    # The level table of the regional report colours the judged year only.
    job = regional.regional_report(run, REGION)
    [levels] = [t for p in job.pages for s in p.sections for t in s.tables
                if t.id == "tbl-levels"]
    assert str(a.judged_year) in levels.caption and str(a.year) not in levels.caption
    judged = ind.filter((pl.col("year") == a.judged_year) & (pl.col("region") == REGION))
    expected = {cells.LEVEL_FILLS[r["classification"]] for r in judged.iter_rows(named=True)
                if r["estimate"] is not None and r["classification"]}
    shown = {fill[3] for fill in levels.fills}  # the region's column
    assert expected <= shown and cells.LEVEL_FILLS["below"] in expected


def _all_tables(sections) -> list[qmd.Table]:
    return [t for s in sections for t in [*s.tables, *_all_tables(s.subsections)]]


def _indicator_tables(job) -> list[qmd.Table]:
    return [t for p in job.pages for t in _all_tables(p.sections)
            if t.header and t.header[0] == "Indikator" and t.id.endswith("-ind")]


def test_indicator_tables_judge_the_judged_year_and_mark_the_preliminary_one(prepared):
    run, a = prepared.run, prepared.analyses
    job = regional.regional_report(run, REGION)
    found = _indicator_tables(job)
    assert found
    names = {i.name("sv"): i.id for i in a.indicator_list}
    levels = {v: k for k, v in run.text.section("levels").items()}
    ind = run.indicators
    for table in found:
        assert str(a.judged_year) in table.caption
        assert table.header[-1] == f"{a.year} (prel.)"
        level_col = table.header.index("Nivå")
        sid = next(s for s in dd.subregistry_ids() if table.id == f"tbl-{s}-ind")
        for row in table.rows:
            region = REGION if row[1] != "Riket" else analyses.NATION
            pick = ind.filter((pl.col("indicator") == names[row[0]])
                              & (pl.col("subregistry") == sid) & (pl.col("region") == region))
            judged = pick.filter(pl.col("year") == a.judged_year).row(0, named=True)
            latest = pick.filter(pl.col("year") == a.year).row(0, named=True)
            if row[level_col] in levels and levels[row[level_col]] in ("high", "intermediate",
                                                                        "below"):
                assert levels[row[level_col]] == judged["classification"]
            if judged["estimate"] is not None:
                assert row[2:4] == [fmt.percent(judged["estimate"], 1, "sv"), fmt.interval(
                    fmt.printed_percent(judged["lower"]), fmt.printed_percent(
                        judged["upper"]), 1, "sv")]
            if latest["estimate"] is not None:
                assert row[-1] == fmt.percent(latest["estimate"], 1, "sv")
            # The preliminary cell is a share only, never a level.
            assert row[-1] not in levels


def test_median_lead_time_in_days_appears_and_equals_the_analysis(prepared):
    run, a, data = prepared.run, prepared.analyses, prepared.data
    [ind] = [i for i in a.indicator_list if i.id == "acute_leukaemia_svf_lead_time"]
    cases = data.cases.filter(pl.col("year") == a.judged_year)
    expected = indicators.compute_indicator(ind, cases, ["region", "year"], None,
                                            a.extract_date).filter(
        (pl.col("subregistry") == "aml") & (pl.col("region") == REGION)).row(0, named=True)
    assert expected["n"] >= 5 and expected["median"] is not None
    job = regional.regional_report(run, REGION)
    [table] = [t for t in _indicator_tables(job) if t.id == "tbl-aml-ind"]
    column = table.header.index("Ledtid, dagar")
    [row] = [r for r in table.rows if r[0] == ind.name("sv") and r[1] != "Riket"]
    assert row[column] == (f"{fmt.number(expected['median'], 0, 'sv')} "
                           f"({fmt.number(expected['q1'], 0, 'sv')}\u2013"
                           f"{fmt.number(expected['q3'], 0, 'sv')})")
    # Only lead-time indicators have the cell filled.
    others = [r for r in table.rows if names_kind(a, r[0]) != "lead_time"]
    assert others and all(r[column] == "" for r in others)


def names_kind(a, name: str) -> str:
    return {i.name("sv"): i.kind for i in a.indicator_list}[name]


def test_every_indicator_row_has_a_target_level_or_the_no_target_mark(prepared):
    run = prepared.run
    job = regional.regional_report(run, REGION)
    no_target = run.text("levels.none")
    assert no_target == "Ingen målnivå"
    marks = set()
    for table in _indicator_tables(job):
        column = table.header.index("Målnivå")
        for row in table.rows:
            assert row[column] == no_target or row[column].startswith("\u2265 "), row
            marks.add(row[column] == no_target)
    assert marks == {True, False}


def test_age_specific_rates_start_at_the_age_group_holding_18(prepared):
    """An adult registry (subregistries.yaml min_age 18): no age groups from 0."""
    a = prepared.analyses
    for sid in cells.subregistries_present(a):
        groups = a.age_sex.filter(pl.col("subregistry") == sid)["age_group"].unique()
        starts = sorted(int(g.split("-")[0].rstrip("+")) for g in groups)
        assert starts[0] == 15 and starts[-1] == 85, (sid, starts)
    figure = figure_specs.age_sex_figure(prepared.run, "agesex", "cml")
    assert figure.arguments["x_order"][0] == "15-19"


def test_prevalence_is_shown_for_the_configured_subregistries_from_the_release(prepared):
    """registry.yaml reports.prevalence names CML, MPN, CLL and myeloma: their reports
    show prevalence by region and by sex, every count the release's cell (masked with its
    rate where the release masks it); AML shows none."""
    from analysis.privacy import prevalence as pv
    from analysis.reporting.sections.prevalence import prevalence_section
    from analysis.stats.prevalence import prevalence

    run, data = prepared.run, prepared.data
    assert prevalence_section(run, "prev", "aml") is None
    section = prevalence_section(run, "prev", "cml")
    assert section is not None and len(section.tables) == 2
    at = pv.prevalence_date(run.analyses.judged_year)
    frame = run.prevalence.filter(pl.col("subregistry") == "cml")
    assert set(frame["date"].to_list()) == {at}
    found = run.release.lookup(frame.select(
        "family", "subregistry", pl.col("sex").fill_null(rl.TOTAL),
        region=pl.when(pl.col("region") == analyses.NATION).then(pl.lit(rl.TOTAL))
        .otherwise(pl.col("region")), period=pl.lit(pv.period_label(at))))
    assert frame["n"].to_list() == found["n"].to_list()
    masked = frame.filter(pl.col(disclosure.FLAG).is_not_null())
    assert masked["estimate"].is_null().all()
    # The nation's complete prevalence is the statistic's, on the same data.
    direct = prevalence(data.require("cases").filter(pl.col("subregistry") == "cml"),
                        data.require("population"), at, durations=[None])
    nation = frame.filter(pl.col("region") == analyses.NATION, pl.col("sex").is_null(),
                          pl.col("duration").is_null())
    assert nation["n"].item() == direct["n"].item() > 0


def test_cox_fits_run_beside_the_release_give_the_same_hazard_ratios(prepared):
    """Issue 18: the run's Cox fits (a worker process for a cohort this large) equal
    the same fits in this process, to the bit."""
    a, cases = prepared.analyses, prepared.data.cases
    window = rl.release_spec(cases, a.year, int(prepared.data.population["year"].min()))
    followup = survival.prepare_followup(
        cases.filter(pl.col("year").is_between(*window.survival))).data
    assert followup.height >= analyses._COX_WORKER_ROWS  # the worker was used
    assert a.cox.equals(analyses._cox_by_subregistry(followup))
