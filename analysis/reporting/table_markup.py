"""A table as raw HTML and raw typst, which the templates put inside a cross-referenced
``::: {#tbl-x}`` div (its caption the div's last paragraph).

Why not a pipe table: Quarto's Lua filters walk every cell of every Markdown table, which
was about half of Quarto's work on our documents (bench/RESULTS.md); raw blocks pass
through them untouched, and the same markup reaches the PDF on both render paths, so the
table rules (text size, colours, breaking across pages) are ours on both.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.reporting.qmd import Table

_ALIGN = {"l": "left", "r": "right"}
_NARROW = 72  # characters: pandoc's line width, below which a table keeps its own width
_SHORT = 14  # characters: a column this narrow is never wrapped


def html(table: Table) -> str:
    """``<table>`` with aligned cells and their fills (the browser sizes the columns)."""
    head = "".join(f'<th style="text-align: {_ALIGN[a]};">{escape(h)}</th>'
                   for h, a in zip(table.header, table.align, strict=True))
    rows = []
    for row in table.cells():
        cells = []
        for (value, fill), a in zip(row, table.align, strict=True):
            style = f"text-align: {_ALIGN[a]};" + (f" background: {fill};" if fill else "")
            cells.append(f'<td style="{style}">{escape(value)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="table bcr-table">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table>")


def _text(value: str) -> str:
    """A typst string literal: shown as written, no markup."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def typst(table: Table) -> str:
    """``#table(...)`` with fractional column widths, a repeated header row and each
    filled cell's background."""
    # A narrow table keeps its own width; in a wide one the short columns (numbers,
    # levels) keep theirs and the long text columns share the rest of the page.
    wide = sum(w + 2 for w in table.widths) + 1 > _NARROW
    columns = ", ".join(f"{w}fr" if wide and w > _SHORT else "auto" for w in table.widths)
    align = ", ".join(_ALIGN[a] for a in table.align)
    lines = [f"#table(columns: ({columns},), align: ({align},), stroke: none,",
             "  table.header(" + ", ".join(_text(h) for h in table.header) + "),",
             "  table.hline(stroke: 0.5pt),"]
    for row in table.cells():
        lines.append("  " + ", ".join(
            f'table.cell(fill: rgb("{fill}"), {_text(value)})' if fill else _text(value)
            for value, fill in row) + ",")
    lines += ["  table.hline(stroke: 0.5pt),", ")"]
    return "\n".join(lines)
