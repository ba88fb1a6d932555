"""Checking a rendered document before a run reports success (DESIGN.md §7): every
promised format written, non-empty and well formed (HTML that parses and shows the
document's sections, a PDF with pages); a file beside them as written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Protocol

from analysis.data import dictionary
from analysis.errors import UserError


class OutputError(UserError):
    """A promised output is missing, empty or malformed after rendering."""


class Checked(Protocol):
    """What a check needs of a document (render.Job)."""

    name: str
    kind: str
    stem: str

    def headings(self) -> list[str]: ...


class _Headings(HTMLParser):
    """The text of every h1-h6 of an HTML page, and whether it has an <html> element."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.has_html = False
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002
        self.has_html |= tag == "html"
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._open = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._open is not None:
            self.headings.append(" ".join("".join(self._open).split()))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def _check_html(files: Sequence[Path], headings: Sequence[str]) -> str:
    """What is wrong with a document's HTML pages ('' when nothing): each parses, has an
    <html> element, and together they show every top-level section title."""
    found: list[str] = []
    for f in files:
        parser = _Headings()
        try:
            parser.feed(f.read_text(encoding="utf-8"))
            parser.close()
        except (UnicodeDecodeError, ValueError) as exc:
            return f"{f.name} does not parse as HTML ({exc})"
        if not parser.has_html:
            return f"{f.name} has no <html> element"
        found += parser.headings
    shown = [_plain(t) for t in found]
    missing = [h for h in headings if not any(_plain(h) in t for t in shown)]
    return f"sections missing from the HTML: {', '.join(missing)}" if missing else ""


def _plain(text: str) -> str:
    """Text compared as words: whitespace collapsed, typographic quotes made straight
    (pandoc's smart punctuation)."""
    return " ".join(text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")).split())


class _Outside(HTMLParser):
    """Every attribute of the page's markup (scripts' text not included) that loads a
    resource (src, href, srcset, data), and the text of the JSON data element."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.data: list[str] = []
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.loads += [f"<{tag} {k}={v}>" for k, v in attrs
                       if k in {"src", "href", "srcset", "data"} and v]
        self._in_data = tag == "script" and ("id", "bcr-data") in attrs

    def handle_endtag(self, tag: str) -> None:  # noqa: ARG002
        self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data.append(data)


def _check_interactive(page: Path) -> str:
    """What is wrong with an interactive report ('' when nothing): it loads nothing from
    outside itself, holds its data as JSON, and stays under the configured size."""
    limit = int(dictionary.load("interactive.yaml")["max_bytes"])
    parser = _Outside()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    if parser.loads:
        return f"{page.name} loads a resource from outside the file: {parser.loads[0]}"
    try:
        json.loads("".join(parser.data))
    except ValueError:
        return f"{page.name} holds no readable data"
    size = page.stat().st_size
    return f"{page.name} is {size} bytes, over {limit}" if size > limit else ""


def _check_pdf(pdf: Path) -> str:
    """What is wrong with a PDF ('' when nothing): it opens and has at least one page."""
    import pypdf

    try:
        pages = len(pypdf.PdfReader(pdf).pages)
    except Exception as exc:  # pypdf raises its own PdfReadError and others
        return f"{pdf.name} is not a readable PDF ({type(exc).__name__}: {exc})"
    return "" if pages else f"{pdf.name} has no pages"


def verify(job: Checked, directory: Path, formats: Sequence[str], renderer: str) -> None:
    """Check every promised output of a rendered job; raise OutputError naming the
    document and what is missing, empty or malformed."""
    for fmt in formats:
        main = directory / main_output(job, fmt, renderer)
        if not main.is_file():
            raise OutputError(f"document '{job.name}': {fmt.upper()} output {main.name} "
                              f"was not written")
        pages = sorted(main.parent.glob("*.html")) if fmt == "html" else [main]
        empty = [p.name for p in pages if p.stat().st_size == 0]
        if empty:
            raise OutputError(f"document '{job.name}': {fmt.upper()} output "
                              f"{', '.join(empty)} is empty")
        problem = (_check_html(pages, job.headings()) if fmt == "html"
                   else _check_pdf(main))
        if not problem and job.kind == "interactive":
            problem = _check_interactive(main)
        if problem:
            raise OutputError(f"document '{job.name}': {problem}")


def verify_file(path: Path, content: bytes) -> None:
    """Check a file written beside the documents (e.g. release.csv): there, and holding
    exactly what was written (not cut short); raise OutputError naming it."""
    if not path.is_file():
        raise OutputError(f"{path.name} was not written")
    if path.read_bytes() != content:
        raise OutputError(f"{path.name} does not hold what was written "
                          f"({path.stat().st_size} of {len(content)} bytes)")


def main_output(job: Checked, fmt: str, renderer: str) -> str:
    """The file a reader opens, relative to the document's folder: ``<stem>.<fmt>``, or
    a Quarto book's ``_book/index.html``."""
    if fmt == "html" and job.kind == "project" and renderer == "quarto":
        return "_book/index.html"
    return f"{job.stem}.{fmt}"
