"""Writing result frames: a readable terminal table, or a file keeping full precision."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import UserError

if TYPE_CHECKING:  # imported inside the functions: `bcr --help` starts without them
    import polars as pl
    from rich.console import Console

FORMATS = ("table", "csv", "parquet", "xlsx")


def _decimals(values: list[object]) -> int | None:
    """One precision for a column of floats, from its largest value: 0 decimals from 100,
    1 from 10, else 2 (so 8.5 and 14.0 line up as 8.5 and 14.0, not 8.50 and 14.0)."""
    finite = [abs(v) for v in values if isinstance(v, float) and v == v]
    if not finite:
        return None
    top = max(finite)
    return 0 if top >= 100 else 1 if top >= 10 else 2


def _cell(value: object, decimals: int | None = None) -> str:
    """A value as printed; floats with the column's ``decimals`` (a small non-zero value,
    e.g. a p-value, keeps three significant digits)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value != 0 and abs(value) < 0.01:
            return f"{value:.3g}"
        if decimals is None:
            decimals = _decimals([value])
        return f"{value:,.{decimals}f}".replace(",", " ")
    return str(value)


def print_table(frame: pl.DataFrame, title: str | None = None,
                console: Console | None = None, lang: str = "en") -> None:
    """Print a frame as a rich table with numbers rounded for reading."""
    from rich.console import Console
    from rich.table import Table

    from analysis.privacy.disclosure import FLAG, footnote, rules

    masked = frame.get_column(FLAG).is_not_null().to_list() if FLAG in frame.columns \
        else [False] * frame.height
    table = Table(title=title, show_lines=False, header_style="bold")
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left")
    symbol = rules().symbol
    decimals = [_decimals(frame.get_column(c).to_list()) if dtype.is_float() else None
                for c, dtype in frame.schema.items()]
    for row, hidden in zip(frame.iter_rows(), masked, strict=True):
        table.add_row(*(symbol if hidden and v is None else _cell(v, d)
                        for v, d in zip(row, decimals, strict=True)))
    console = console or Console()
    # On a console wider than any table: the table keeps its own width, running off the
    # edge of a narrower terminal rather than cutting numbers to "…" (the same lines as
    # measuring it first, which cost as much as printing it).
    Console(width=10_000, file=console.file).print(table)
    if any(masked):
        console.print(footnote(lang))


def write_frame(frame: pl.DataFrame, fmt: str = "table", out: Path | None = None,
                title: str | None = None, lang: str = "en") -> None:
    """Write a result frame in one of FORMATS; files keep full precision.

    With ``fmt="table"`` and an ``out`` path, the format is taken from the file suffix.
    """
    if out is not None and fmt == "table":
        fmt = out.suffix.lstrip(".").lower() or "csv"
    if fmt not in FORMATS:
        raise UserError(f"unknown output format '{fmt}' (use one of {', '.join(FORMATS)})")
    if fmt == "table":
        if "method" in frame.columns and frame.get_column("method").n_unique() == 1:
            # The method is the same on every row: named once, in the title.
            title = f"{title or ''}\n{frame.get_column('method')[0]}".strip()
            frame = frame.drop("method")
        print_table(frame, title, lang=lang)
        return
    if out is None:
        if fmt != "csv":
            raise UserError(f"--format {fmt} needs --out FILE")
        print(frame.write_csv(), end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.write_csv(out)
    elif fmt == "parquet":
        frame.write_parquet(out)
    else:
        frame.write_excel(out)
    from rich.console import Console  # here: a CSV on stdout needs no rich

    Console(stderr=True).print(f"wrote {out}")
