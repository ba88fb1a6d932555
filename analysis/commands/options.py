"""Parsing the option values the commands share (lists, year ranges, dates)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from analysis.demo.registry import cached_demo_dir, parse_years
from analysis.errors import UserError

# The options every analysis command shares, declared once.
DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Data folder (default: the demo registry).")]
SubregistryOption = Annotated[list[str] | None, typer.Option(
    "--subregistry", "-s", help="Only these subregistries.")]
ConfLevelOption = Annotated[float, typer.Option("--conf-level", help="Confidence level.")]
FormatOption = Annotated[str, typer.Option("--format", help="table, csv, parquet or xlsx.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write to this file.")]
PublicOption = Annotated[bool, typer.Option(
    "--public", help="Pass the table through disclosure control, as published.")]
YearsOption = Annotated[str | None, typer.Option(
    "--years", help="Years of diagnosis, e.g. 2016-2025 (default: the years of the cases).")]
ExtractDateOption = Annotated[str | None, typer.Option(
    "--extract-date", help="Date of the extract, YYYY-MM-DD (default: data_folder.yaml's "
    "extract_date, else the latest vital-status date).")]
IdSchemeOption = Annotated[str | None, typer.Option(
    "--id-scheme", help="What person_id holds: personnummer, fodselsnummer, or pseudonym "
    "(also research serial numbers); default: data_folder.yaml's, else registry.yaml's.")]
SheetOption = Annotated[str | None, typer.Option(
    "--sheet", help="The sheet to read from Excel files with several sheets (default: "
    "data_folder.yaml's).")]


def data_folder(data: Path | None) -> Path:
    """The --data folder, or the built-in demo registry when none is given."""
    return data if data is not None else cached_demo_dir()


def load(data: Path | None, subregistry: list[str] | None = None,  # noqa: ANN201
         id_scheme: str | None = None):
    """The data folder's accepted rows (analysis.data.ingest.load_data; `id_scheme`
    overrides the folder's identity scheme), with one line on stderr counting the rows
    validation left out, so that none go silently."""
    from rich.console import Console

    from analysis.data.ingest import load_data

    loaded = load_data(data_folder(data), subregistry or None, identity_scheme=id_scheme)
    files = loaded.summary().filter(pl.col("rejected") > 0)
    if files.height:
        each = ", ".join(f"{r['file']} {r['rejected']}" for r in files.iter_rows(named=True))
        Console(stderr=True).print(
            f"left out: {files['rejected'].sum()} row(s) that failed validation ({each}); "
            "`bcr validate` lists them", highlight=False, soft_wrap=True)
    return loaded


def split_list(text: str | None) -> list[str]:
    """``"region, sex"`` as ``["region", "sex"]`` (a repeated name once); empty for None."""
    return list(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))


def year_span(text: str | None) -> tuple[int, int] | None:
    """A --years value (``2016-2025`` or ``2020``) as (first, last), None when absent."""
    return parse_years(text) if text else None


def parse_date(text: str | None, option: str) -> date | None:
    """An ISO date option, or a clear error."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} '{text}': write a date as YYYY-MM-DD") from None


def in_years(frame: pl.DataFrame, years: str | None) -> pl.DataFrame:
    """Rows whose ``year`` lies in a --years range (all rows without one)."""
    span = year_span(years)
    return frame if span is None else frame.filter(pl.col("year").is_between(*span))


# Numeric columns that describe the table, not the cases: never masked.
_NOT_CASE_BASED = {"time", "year", "per", "person_years", "high", "intermediate", "sex",
                   "age_start", "region_code", "weight"}
# Count columns besides n: masked when they hold 1..k-1 themselves.
_COUNTS = ("n_events", "n_at_risk", "n_unknown", "observed", "n_cases")
# A share's numerator: published as the share and its n, as in the reports. Masking a small
# numerator beside its share would hide nothing (events = estimate x n).
_NUMERATORS = ("events",)


def public(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A result frame passed through disclosure control for publication (``--public``).

    Groups are the `keys` (plus `time` for survival tables); totals over every key are
    taken as published elsewhere, so complementary suppression protects against them.
    A share's numerator (``events``) is left out: the share and n are published (a
    proportion built on at least k cases may be shown, DESIGN.md §5).
    """
    from analysis.privacy.disclosure import suppress

    if "n" not in frame.columns:
        raise UserError("--public needs a table with a count column n")
    if "estimate" in frame.columns:
        frame = frame.drop(c for c in _NUMERATORS if c in frame.columns)
    keys = [k for k in keys if k in frame.columns]
    cells = [*keys, *(c for c in ("time", "indicator", "measure", "variable")
                      if c in frame.columns and c not in keys)]
    counts = {c: c for c in _COUNTS if c in frame.columns}
    estimates = {c: "n" for c, t in frame.schema.items()
                 if t.is_numeric() and c not in {*cells, "n", *counts, *_NOT_CASE_BASED}}
    # A key with one value here (e.g. one --subregistry) has its total over categories
    # this table does not hold: that total is no margin of these rows.
    margins = [k for k in keys if frame.get_column(k).n_unique() > 1]
    return suppress(frame, cells, n="n", estimates={**estimates, **counts},
                    margins=margins, external_margins=True)
