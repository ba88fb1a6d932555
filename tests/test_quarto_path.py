"""The Quarto render path, run when a `quarto` executable is present.

`pip install quarto-cli` downloads a binary at install time, which the offline build
machines cannot do; there the built-in path (tests/test_reporting_render.py) is what runs.
"""

from __future__ import annotations

import shutil
import subprocess

import pypdf
import pytest
import yaml
from test_reporting_render import _job

from analysis.demo import registry
from analysis.reporting import publish, render

pytestmark = pytest.mark.skipif(
    render.quarto_path() is None,
    reason="no quarto executable on PATH (or BCR_QUARTO); the built-in pandoc + typst "
           "path is tested instead")


def test_quarto_renders_the_same_qmd_to_html_and_pdf(tmp_path, monkeypatch):
    monkeypatch.delenv("BCR_RENDERER", raising=False)  # Quarto is used when found
    render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1)
    html = (tmp_path / "doc-a" / "doc-a.html").read_text(encoding="utf-8")
    assert "Tabell\u00a01" in html and 'src="data:image/svg+xml' in html
    # The house page, as from the built-in path, not Bootstrap: the side table of
    # contents, the callout's title in the report's language and the date as written.
    assert "--bs-" not in html and "nav#TOC > ul" in html
    assert "Observera" in html and "Note" not in html and "31 mars 2026" in html
    text = "".join(p.extract_text() for p in
                   pypdf.PdfReader(tmp_path / "doc-a" / "doc-a.pdf").pages)
    assert "Regionrapport Sydöst" in text and "5,2" in text


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A small registry (one subregistry) published through Quarto: one subregistry
    report and the annual publication, HTML and PDF."""
    folder = tmp_path_factory.mktemp("registry")
    demo = registry.generate_demo(seed=3, scale=0.02, years=(2024, 2025), error_rate=0.0)
    for name in ("myeloma", "population", "lifetable", "cancer_registry"):
        demo.frames[name].write_csv(folder / f"{name}.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("BCR_RENDERER", raising=False)
        return publish.publish(folder, tmp_path_factory.mktemp("reports"), regions=[],
                               subregistries=["myeloma"], workers=2)


def test_the_publication_is_a_book_whose_pages_share_their_resources(published):
    book = published.out_dir / "publication" / "_book"
    config = yaml.safe_load((published.out_dir / "publication" / "_quarto.yml").read_text(
        encoding="utf-8"))
    pages = [book / chapter.replace(".qmd", ".html") for chapter in config["book"]["chapters"]]
    assert all(p.stat().st_size > 0 for p in pages)
    assert (book / "site_libs").is_dir() and (book / "figures").is_dir()
    size = sum(f.stat().st_size for f in book.rglob("*") if f.is_file())
    assert size < 30e6
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "data:image/svg+xml" not in html  # figures are files the pages share
        assert "quarto-other-formats" not in html  # no link to a format not beside it
    # A subregistry's chapter shows its figures from the shared folder.
    assert 'src="figures/' in (book / "myeloma.html").read_text(encoding="utf-8")


def test_the_publication_pdf_is_one_typst_document_of_every_chapter(published):
    [pdf] = list((published.out_dir / "publication").glob("publication-*.pdf"))
    reader = pypdf.PdfReader(pdf)
    text = " ".join(p.extract_text() for p in reader.pages).replace("\u00a0", " ")
    assert len(reader.pages) > 5
    for title in ("Sammanfattning", "Myelom", "Datakvalitet", "Metod"):
        assert title in text
    if shutil.which("pdfinfo"):
        checked = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                 check=False)
        assert checked.returncode == 0 and checked.stderr == ""


def test_a_report_through_quarto_is_one_self_contained_html_and_a_pdf(published):
    folder = published.out_dir / "subregistry-myeloma"
    [html] = list(folder.glob("*.html"))
    text = html.read_text(encoding="utf-8")
    assert 'src="data:image/svg+xml' in text and "quarto-other-formats" not in text
    [pdf] = list(folder.glob("*.pdf"))
    assert len(pypdf.PdfReader(pdf).pages) > 1


def test_typst_table_rules_reach_quartos_table_figures(published):
    # Quarto's tables are figures of kind quarto-float-tbl: the house rule (8 pt tables)
    # must reach them as it reaches pandoc's kind: table.
    [pdf] = list((published.out_dir / "subregistry-myeloma").glob("*.pdf"))
    sizes: dict[str, set[float]] = {}

    def seen(text, cm, tm, font, size):  # noqa: ANN001 (pypdf's visitor)
        sizes.setdefault(text.strip(), set()).add(round(size * tm[0] * cm[0], 1))

    for page in pypdf.PdfReader(pdf).pages[:3]:
        page.extract_text(visitor_text=seen)
    assert sizes["Region"] == {8.0}  # a table header
    assert any(10.0 in size for text, size in sizes.items() if len(text) > 40)  # prose
