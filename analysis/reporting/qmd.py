"""Documents as data: sections of text, tables and figures, written to Quarto sources.

A document builder (``documents/``) describes each document as a ``DocumentJob``: its
template, front matter and sections, where every table holds already formatted and
disclosure-controlled cells and every figure a plot description. ``DocumentJob.write``
(run in a render worker) draws the figures into the document's own directory and fills
the jinja2 templates of ``templates/`` into ``.qmd`` files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from analysis import resources
from analysis.data import dictionary
from analysis.reporting import table_markup
from analysis.reporting.render import FIGURE_CACHE, TEMPLATES_DIR, RenderError

ROOT_QUARTO = resources.quarto_config()
CSS = TEMPLATES_DIR / "report.css"
LAYOUT_CSS = TEMPLATES_DIR / "layout.css"
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>#|@$~^"})


@dataclass
class Table:
    """A table ready to print: a header, formatted cells, column alignment ('l'/'r')."""

    id: str
    caption: str
    header: list[str]
    rows: list[list[str]]
    align: list[str]
    note: str = ""
    # A background colour per cell ("#8FD1BB", "" for none), e.g. the target level
    # reached: rows of the same shape as ``rows``, or empty for no colour at all.
    fills: list[list[str]] = field(default_factory=list)

    def cells(self) -> list[list[tuple[str, str]]]:
        """Each row's cells with their fill ("" where none)."""
        return [list(zip(row, self.fills[i] if self.fills else [""] * len(row),
                         strict=True)) for i, row in enumerate(self.rows)]

    @property
    def shown_note(self) -> str:
        """The note, without the footnote on the suppression symbol when no cell shows it."""
        symbol = str(dictionary.registry()["disclosure"]["symbol"])
        if self.note.startswith(f"{symbol} =") and not any(
                cell.strip() == symbol for row in self.rows for cell in row):
            return ""
        return self.note

    @property
    def widths(self) -> list[int]:
        """Relative column widths, in characters (``table_markup``)."""
        longest = [max([len(h)] + [len(r[i]) for r in self.rows]) for i, h in
                   enumerate(self.header)]
        # A one-word header gets room beyond its letters, or typst hyphenates it
        # ("Målni-vå") beside a wide text column.
        return [max(8, len(h) + 2 if " " not in h else 0, min(40, w))
                for h, w in zip(self.header, longest, strict=True)]


@dataclass
class FigureSpec:
    """A figure to draw: a function of analysis.reporting.figures and its arguments."""

    id: str
    caption: str
    function: str
    arguments: dict[str, Any]
    file: str = ""
    alt: str = ""

    @cached_property
    def key(self) -> str:
        """The same function and arguments give the same figure (and the same bytes).

        Frames enter by their schema and rows, not their pickle, which varies with
        how the frame was built (chunks), so one figure has one key in every run."""
        return hashlib.sha256(repr(_canonical((self.function, self.arguments)))
                              .encode()).hexdigest()

    def draw_cached(self, cache: Path) -> float:
        """Draw into ``cache/<key>.svg`` unless it is there; the seconds spent drawing."""
        cached = cache / f"{self.key}.svg"
        if cached.exists():
            return 0.0
        # plotnine only where figures are drawn (panel_figures: small multiples)
        from analysis.reporting import figures, panel_figures

        start = time.perf_counter()
        draw = getattr(figures, self.function, None) or getattr(panel_figures, self.function)
        made = draw(**self.arguments)
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{self.key}.{os.getpid()}.svg"
        figures.save(made, partial)
        os.replace(partial, cached)  # atomic: a parallel worker never sees half a file
        return time.perf_counter() - start

    def draw(self, directory: Path, cache: Path) -> None:
        """Draw into ``directory/figures/<id>.svg``. The same figure in another document of
        the run (a subregistry report's figures reappear in the publication) is drawn
        once and copied from ``cache``."""
        self.file = f"figures/{self.id}.svg"
        self.alt = self.arguments["labels"]["alt"]
        target = directory / self.file
        target.parent.mkdir(parents=True, exist_ok=True)
        self.draw_cached(cache)
        shutil.copyfile(cache / f"{self.key}.svg", target)


def _canonical(value: Any) -> Any:
    """A value as plain, ordered Python data: frames as (schema, rows)."""
    if isinstance(value, pl.DataFrame):
        return ("frame", str(value.schema), value.write_csv())
    if isinstance(value, dict):
        return ("dict", tuple((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_canonical(v) for v in value))
    return value


@dataclass
class Section:
    """A headed section: paragraphs, tables, figures and subsections in that order."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[FigureSpec] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    callout: str = ""  # a note shown in a box, e.g. "preliminary data"
    callout_title: str = ""  # the box's title, in the report's language
    tabset: bool = False  # subsections as tabs in Quarto HTML
    # On landscape pages in the PDF (a table too wide for A4 portrait); HTML ignores it.
    landscape: bool = False


@dataclass
class Page:
    """One .qmd file of a document: front matter (a dict) and sections."""

    file: str
    template: str
    front: dict[str, Any]
    sections: list[Section]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DocumentJob:
    """One document to write and render (see render.Job)."""

    name: str
    stem: str
    date: dt.date
    pages: list[Page]
    project: dict[str, Any] | None = None  # a book's _quarto.yml; None: a single document

    @property
    def kind(self) -> str:
        return "project" if self.project is not None else "document"

    def headings(self) -> list[str]:
        """The title of every top-level section (render.verify finds them in the HTML)."""
        return [s.title for page in self.pages for s in page.sections]

    def figure_specs(self) -> list[FigureSpec]:
        """Every figure of the document (render.render_all draws the distinct ones of a
        run first, spread over the workers, into the shared cache)."""
        return [f for page in self.pages for f in _all_figures(page.sections)]

    def write(self, directory: Path) -> dict[str, float]:
        start = time.perf_counter()
        for page in self.pages:
            for spec in _all_figures(page.sections):
                try:
                    spec.draw(directory, directory.parent / FIGURE_CACHE)
                except Exception as exc:
                    raise RenderError(self.name, f"drawing figure '{spec.id}'",
                                      f"{type(exc).__name__}: {exc}") from None
        drawn = time.perf_counter()
        for page in self.pages:
            try:
                text = environment().get_template(page.template).render(
                    front=yaml_block(page.front), sections=page.sections, **page.extra)
            except TemplateError as exc:
                raise RenderError(self.name, f"template '{page.template}'",
                                  f"{type(exc).__name__}: {exc}") from None
            (directory / page.file).write_text(text, encoding="utf-8")
        for sheet in (CSS, LAYOUT_CSS):
            shutil.copyfile(sheet, directory / sheet.name)
        if self.project is not None:
            (directory / "_quarto.yml").write_text(yaml_dump(self.project), encoding="utf-8")
        return {"figures": drawn - start, "templating": time.perf_counter() - drawn}


def _all_figures(sections: list[Section]) -> list[FigureSpec]:
    out = []
    for s in sections:
        out += s.figures + _all_figures(s.subsections)
    return out


def md(text: object) -> str:
    """Escape text for Markdown so names with * _ | @ etc. print as written."""
    return str(text).translate(_MARKDOWN_SPECIAL)


def yaml_dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def yaml_block(front: dict[str, Any]) -> str:
    return f"---\n{yaml_dump(front)}---"


@cache
def environment() -> Environment:
    """The jinja2 environment of templates/: strict (a missing value is an error)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                      autoescape=False)
    env.filters["md"] = md
    env.filters["table_html"] = table_markup.html
    env.filters["table_typst"] = table_markup.typst
    return env


def root_quarto() -> dict[str, Any]:
    """The repository's root _quarto.yml: the base of every document's options."""
    return yaml.safe_load(ROOT_QUARTO.read_text(encoding="utf-8"))


def front_matter(title: str, subtitle: str, lang: str, date_text: str) -> dict[str, Any]:
    """Front matter of a single document: the root _quarto.yml's options (except
    `project`, which only a project has) with the document's title and language."""
    front: dict[str, Any] = {"title": title, "subtitle": subtitle, "lang": lang,
                             "date": date_text}
    front.update({k: v for k, v in root_quarto().items() if k not in {"project", "lang"}})
    # The house page (layout.css) instead of Bootstrap: the same page from both renderers.
    front["format"]["html"].update(
        {"theme": "none", "css": [CSS.name, LAYOUT_CSS.name], "date-format": "long"})
    return front
