"""One regional report rendered on the demo registry (HTML + PDF, once per session)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pypdf
import pytest

from analysis import incidence
from analysis.ingest import load_data
from analysis.reporting import formatting as fmt
from analysis.reporting.publish import publish

REGION = "syd"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    pub = publish(None, out, regions=[REGION], subregistries=[], with_publication=False,
                  workers=1)
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
                                    "Åldersstand. incidens", "95 % KI"]
    assert "person_id" not in page and "Personnummer" not in page


def test_printed_numbers_equal_the_analysis_functions(rendered):
    pub, html, _ = rendered
    year = int(pub.out_dir.parent.name)
    data = load_data(None)
    expected = incidence.standardised_rates(
        data.cases, data.population, ["subregistry", "region"], years=(year, year)
    ).filter(pl.col("region") == REGION)
    rows = {r[0]: r for r in _tables(html)["tbl-key"][1:]}
    checked = 0
    for r in expected.iter_rows(named=True):
        label = {"aml": "AML", "all": "ALL", "cll": "KLL", "cml": "KML", "lymphoma": "Lymfom",
                 "myeloma": "Myelom", "mds": "MDS", "mpn": "MPN"}[r["subregistry"]]
        row = rows[label]
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
    assert "– = otillräckligt underlag (färre än 5 fall)." in html.read_text(encoding="utf-8")


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                       check=False, timeout=600)
        found = shutil.which("chromium")
    return found


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
    assert images >= 5 and broken == 0
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line
               and ("ERROR" in line or "Uncaught" in line)]
    assert console == []


def test_rendering_again_gives_the_same_bytes(rendered, tmp_path):
    pub, html, pdf = rendered
    again = publish(None, tmp_path, regions=[REGION], subregistries=[],
                    with_publication=False, workers=1)
    folder = again.out_dir / f"region-{REGION}"
    assert (folder / html.name).read_bytes() == html.read_bytes()
    assert (folder / pdf.name).read_bytes() == pdf.read_bytes()
