"""The Quarto render path, run when a `quarto` executable is present.

`pip install quarto-cli` downloads a binary at install time, which the offline build
machines cannot do; there the built-in path (tests/test_reporting_render.py) is what runs.
"""

from __future__ import annotations

import pypdf
import pytest
from test_reporting_render import _job

from analysis.reporting import render

pytestmark = pytest.mark.skipif(
    render.quarto_path() is None,
    reason="no quarto executable on PATH (or BCR_QUARTO); the built-in pandoc + typst "
           "path is tested instead")


def test_quarto_renders_the_same_qmd_to_html_and_pdf(tmp_path, monkeypatch):
    monkeypatch.delenv("BCR_RENDERER", raising=False)  # Quarto is used when found
    render.render_all([_job()], tmp_path, ["html", "pdf"], workers=1)
    html = (tmp_path / "doc-a" / "doc-a.html").read_text(encoding="utf-8")
    assert "Tabell\u00a01" in html and 'src="data:image/svg+xml' in html
    text = "".join(p.extract_text() for p in
                   pypdf.PdfReader(tmp_path / "doc-a" / "doc-a.pdf").pages)
    assert "Regionrapport Sydöst" in text and "5,2" in text
