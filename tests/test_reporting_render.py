"""Rendering: the built-in pandoc + typst path, cross-references, determinism, atomicity."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import polars as pl
import pypdf
import pytest

from analysis.errors import UserError
from analysis.reporting import checks, qmd, render
from analysis.reporting.qmd import DocumentJob, FigureSpec, Page, Section, Table


@pytest.fixture(autouse=True)
def builtin(monkeypatch):
    monkeypatch.setenv("BCR_RENDERER", "builtin")


def _job(name: str = "doc-a", template: str = "report.qmd.j2") -> DocumentJob:
    table = Table("tbl-cases", "Nya fall per region", ["Region", "Nya fall", "Andel"],
                  [["Sydöst", "1\u00a0234", "5,2\u00a0%"], ["Syd", "–", "–"]],
                  ["l", "r", "r"], "– = otillräckligt underlag")
    figure = FigureSpec("fig-trend", "Incidens över tid", "spotlight_chart", {
        "frame": pl.DataFrame({"year": [2024, 2025, 2024, 2025], "estimate": [1.0, 2.0, 1.5, 1.2],
                               "region": ["Syd", "Syd", "Riket", "Riket"],
                               "panel": ["Syd"] * 4,
                               "role": ["focus", "focus", "reference", "reference"]}),
        "x": "year", "y": "estimate", "group": "region", "panel_order": ["Syd"],
        "labels": {"x": "År", "y": "Incidens", "alt": "Linjediagram över incidens",
                   "focus": "Syd", "reference": "Riket", "others": "Övriga"}})
    section = Section("Översikt", paragraphs=["Se @tbl-cases och @fig-trend."],
                      tables=[table], figures=[figure], callout="Preliminära uppgifter.",
                      callout_title="Observera")
    front = qmd.front_matter("Regionrapport Sydöst", "Blodcancerregistret", "sv",
                                   "31 mars 2026")
    return DocumentJob(name, name, dt.date(2026, 3, 31), [Page("index.qmd", template, front,
                                                                [section])])


def test_builtin_render_gives_html_and_pdf_with_numbered_references(tmp_path):
    [result] = render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1)
    html = (tmp_path / "doc-a" / "doc-a.html").read_text(encoding="utf-8")
    # @tbl-cases -> a link "Tabell 1"; the caption is numbered; the figure is embedded.
    assert '<a href="#tbl-cases">Tabell 1</a>' in html
    assert "Tabell 1: Nya fall per region" in html
    assert 'aria-label="Linjediagram över incidens"' in html or \
        'alt="Linjediagram över incidens"' in html
    assert 'src="data:image/svg+xml' in html
    assert "bcr-callout" in html and "<strong>Observera</strong>" in html
    # The house style and page layout, each embedded once (the document names both).
    assert html.count("nav#TOC > ul") == 1 and html.count("Segoe UI") == 1
    reader = pypdf.PdfReader(tmp_path / "doc-a" / "doc-a.pdf")
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Regionrapport Sydöst" in text
    text = text.replace("\u00a0", " ")
    assert "Tabell 1" in text and "Figur 1" in text
    assert "5,2 %" in text
    # The PDF's creation date is the data's date (fixed), not the clock.
    assert reader.metadata["/CreationDate"].startswith("D:20260331")
    assert [f.name for f in result.files] == ["doc-a.html", "doc-a.pdf"]



def test_builtin_html_has_a_side_table_of_contents_and_a_readable_measure(tmp_path):
    """Issue 15: the built-in HTML is not a bare page: the table of contents is a fixed
    side column on a wide window, text keeps a readable measure, the house style stays."""
    render.render_all([_job()], tmp_path, ["html"], workers=1)
    html = (tmp_path / "doc-a" / "doc-a.html").read_text(encoding="utf-8")
    assert '<nav id="TOC"' in html and 'href="#översikt"' in html.lower()
    style = "".join(re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S))
    side = re.search(r"@media screen and \(min-width: [\d.]+rem\) \{(.*?)\n\}", style,
                     flags=re.S)
    assert side and "nav#TOC" in side.group(1) and "position: fixed" in side.group(1)
    assert re.search(r"p, li[^{]*\{ max-width: 4\drem", style)
    assert "Segoe UI" in style  # report.css, the house style, is still there


def test_same_sources_give_the_same_bytes(tmp_path):
    render.render_all([_job()], tmp_path / "one", ["html", "pdf"], workers=1)
    render.render_all([_job()], tmp_path / "two", ["html", "pdf"], workers=1)
    for name in ("doc-a.html", "doc-a.pdf", "figures/fig-trend.svg"):
        assert (tmp_path / "one" / "doc-a" / name).read_bytes() == \
            (tmp_path / "two" / "doc-a" / name).read_bytes(), name


def test_a_broken_template_names_document_and_step_and_keeps_earlier_output(tmp_path,
                                                                            monkeypatch):
    render.render_all([_job()], tmp_path, ["html"], workers=1)
    before = (tmp_path / "doc-a" / "doc-a.html").read_bytes()
    broken = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, broken)
    (broken / "report.qmd.j2").write_text("{% for x in %}", encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATES_DIR", broken)
    monkeypatch.setattr(qmd, "TEMPLATES_DIR", broken)
    qmd.environment.cache_clear()
    try:
        with pytest.raises(render.RenderError) as err:
            render.render_all([_job()], tmp_path, ["html"], workers=1)
    finally:
        qmd.environment.cache_clear()
    assert "document 'doc-a'" in str(err.value) and "template 'report.qmd.j2'" in str(err.value)
    assert (tmp_path / "doc-a" / "doc-a.html").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_a_failing_render_step_names_the_step_and_keeps_earlier_output(tmp_path, monkeypatch):
    render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1)
    before = (tmp_path / "doc-a" / "doc-a.pdf").read_bytes()

    def fail(*args, **kwargs):
        raise RuntimeError("error: unknown font family")

    monkeypatch.setattr("typst.compile", fail)
    with pytest.raises(render.RenderError, match=r"'doc-a': typst \(typst -> pdf\) failed"):
        render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1)
    assert (tmp_path / "doc-a" / "doc-a.pdf").read_bytes() == before


def test_one_document_twice_in_a_run_is_refused(tmp_path):
    with pytest.raises(UserError, match="twice"):
        render.render_all([_job(), _job()], tmp_path, ["html"])


def test_parallel_workers_render_each_document_in_its_own_folder(tmp_path):
    results = render.render_all([_job("doc-a"), _job("doc-b")], tmp_path, ["html"],
                                workers=2)
    assert [r.name for r in results] == ["doc-a", "doc-b"]
    for name in ("doc-a", "doc-b"):
        assert (tmp_path / name / f"{name}.html").exists()
        assert (tmp_path / name / "figures" / "fig-trend.svg").exists()


def test_formats_are_checked():
    assert render.parse_formats("pdf, html") == ["html", "pdf"]
    with pytest.raises(UserError, match="docx"):
        render.parse_formats("html,docx")


def test_root_quarto_yml_is_the_base_of_every_front_matter():
    front = qmd.front_matter("T", "S", "en", "1 January 2026")
    base = qmd.root_quarto()
    assert front["format"]["typst"] == base["format"]["typst"]
    assert front["lang"] == "en" and "project" not in front


def test_markdown_special_characters_in_names_are_escaped():
    assert qmd.md("S:t Göran | *x* @y") == "S:t Göran \\| \\*x\\* \\@y"
    assert Path(render.LUA_FILTER).exists()


def test_quarto_is_found_by_env_then_beside_the_interpreter_then_on_path(tmp_path,
                                                                        monkeypatch):
    venv, elsewhere = tmp_path / "venv" / "bin", tmp_path / "path"
    for folder in (venv, elsewhere):
        folder.mkdir(parents=True)
        (folder / "quarto").write_text("#!/bin/sh\n")
        (folder / "quarto").chmod(0o755)
    monkeypatch.setattr(render.sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(elsewhere))
    monkeypatch.setenv("BCR_QUARTO", "/opt/quarto/bin/quarto")
    assert render.quarto_path() == "/opt/quarto/bin/quarto"
    monkeypatch.delenv("BCR_QUARTO")
    assert render.quarto_path() == str(venv / "quarto")
    (venv / "quarto").unlink()
    assert render.quarto_path() == str(elsewhere / "quarto")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert render.quarto_path() is None


def test_a_landscape_section_gets_landscape_pages_and_sections_run_on(tmp_path):
    """Issue 15: a wide table's section is on landscape A4 pages in the PDF (the pages
    around it portrait), and a single report's sections do not each start a new page
    (which left the page before half empty); the HTML ignores both."""
    job = _job()
    wide = Section("Bred tabell", tables=[Table(
        "tbl-wide", "Bred", [f"Kolumn {i}" for i in range(14)],
        [[f"{i * j}" for i in range(14)] for j in range(3)], ["r"] * 14)], landscape=True)
    job.pages[0].sections += [wide, Section("Efteråt", paragraphs=["Stående sida."])]
    render.render_all([job], tmp_path, ["html", "pdf"], workers=1)
    reader = pypdf.PdfReader(tmp_path / "doc-a" / "doc-a.pdf")
    shapes = [p.mediabox.width > p.mediabox.height for p in reader.pages]
    assert shapes[0] is False and True in shapes and shapes[-1] is False
    landscape = [p.extract_text() for p, wide_page in zip(reader.pages, shapes,
                                                          strict=True) if wide_page]
    assert any("Bred tabell" in t and "Kolumn 13" in t for t in landscape)
    # "Översikt" and its table and figure share the first page with the title: no page
    # break before the first section.
    assert "Översikt" in reader.pages[0].extract_text()
    html = (tmp_path / "doc-a" / "doc-a.html").read_text(encoding="utf-8")
    assert "flipped" not in html and "Kolumn 13" in html


def test_a_figure_has_one_key_however_its_frame_was_built():
    # The same rows built in one piece or from two chunks pickle differently; the figure
    # (and its cache entry) must not: a figure shared by documents is drawn once.
    whole = pl.DataFrame({"year": [2020, 2021], "estimate": [1.5, 2.5]})
    chunked = pl.concat([whole.head(1), whole.tail(1)], rechunk=False)
    assert chunked.n_chunks() == 2
    spec = {"function": "spotlight_chart", "caption": "c", "id": "fig-a"}
    labels = {"alt": "a", "x": "year"}
    one = FigureSpec(**spec, arguments={"frame": whole, "labels": labels})
    two = FigureSpec(**spec, arguments={"frame": chunked, "labels": dict(labels)})
    assert one.key == two.key
    changed = FigureSpec(**spec, arguments={"frame": whole.with_columns(estimate=2.0),
                                            "labels": labels})
    assert changed.key != one.key


def test_a_file_beside_the_documents_moves_into_place_with_them_or_not_at_all(tmp_path,
                                                                              monkeypatch):
    # release.csv of bcr publish: staged, checked and swapped with the documents, under
    # the folder's lock; a run that fails leaves the earlier file as it was.
    render.render_all([_job()], tmp_path, ["html"], workers=1, files={"release.csv": b"old\n"})
    assert (tmp_path / "release.csv").read_bytes() == b"old\n"

    def fail(*args, **kwargs):
        raise RuntimeError("error: unknown font family")

    monkeypatch.setattr("typst.compile", fail)
    with pytest.raises(render.RenderError):
        render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1,
                          files={"release.csv": b"new\n"})
    assert (tmp_path / "release.csv").read_bytes() == b"old\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_a_file_cut_short_fails_the_check(tmp_path):
    (tmp_path / "release.csv").write_bytes(b"family,n\ncases,1")
    with pytest.raises(checks.OutputError, match=r"release.csv does not hold .*16 of 18 bytes"):
        checks.verify_file(tmp_path / "release.csv", b"family,n\ncases,123")
    with pytest.raises(checks.OutputError, match="other.csv was not written"):
        checks.verify_file(tmp_path / "other.csv", b"")


def test_quarto_groups_balance_the_work_longest_first():
    """Graham's (1969) longest-processing-time rule, worked by hand: the costliest folder
    first, each to the group with the least work so far."""
    from analysis.reporting.quarto_project import balanced

    work = {"a": 5, "b": 4, "c": 3, "d": 3, "e": 3}
    # [5, 4] -> c to the second [5, 7] -> d to the first [8, 7] -> e to the second.
    assert balanced(work, [0, 0]) == [["a", "d"], ["b", "c", "e"]]
    # A book's HTML call (6) before the first group: that group gets less, and comes
    # last (a free worker takes the other first).
    assert balanced(work, [6, 0]) == [["a", "b", "e"], ["c", "d"]]
    assert balanced({"a": 1}, [0, 0, 0]) == [["a"]]
