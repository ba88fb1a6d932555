"""Parsing the option values the commands share (lists, year ranges, dates)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analysis.data import dictionary as dd
from analysis.demo.years import parse_years
from analysis.errors import UserError

if TYPE_CHECKING:  # imported inside the functions: `bcr --help` starts without them
    import polars as pl

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
    if data is not None:
        return data
    # Imported only here: a command given --data needs no demo generator.
    from analysis.demo.registry import cached_demo_dir

    return cached_demo_dir()


def load(data: Path | None, subregistry: list[str] | None = None,  # noqa: ANN201
         id_scheme: str | None = None):
    """The data folder's accepted rows (analysis.data.ingest.load_data; `id_scheme`
    overrides the folder's identity scheme), with one line on stderr counting the rows
    validation left out, so that none go silently."""
    import polars as pl

    from analysis.data.ingest import load_data

    loaded = load_data(data_folder(data), subregistry or None, identity_scheme=id_scheme)
    files = loaded.summary().filter(pl.col("rejected") > 0)
    if files.height:
        from rich.console import Console  # only with something to say

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
    import polars as pl

    span = year_span(years)
    return frame if span is None else frame.filter(pl.col("year").is_between(*span))


# Numeric columns that describe the table, not the cases: never masked.
_NOT_CASE_BASED = {"time", "year", "per", "person_years", "high", "intermediate", "sex",
                   "age_start", "region_code", "weight"}
# A share's numerator: published as the share and its n, as in the reports. Masking a small
# numerator beside its share would hide nothing (events = estimate x n).
_NUMERATORS = ("events",)


# What the release publishes, per family of counts, for the message refusing a query.
_PUBLISHED = ("--public answers only from the published release: new cases by subregistry "
              "and region, sex, single year or window ({windows}), by sex and age group over "
              "{age}, by county over the windows; indicators by region for {years}, by "
              "county for {judged} and by hospital for {year}")


def public_release(frame: pl.DataFrame, data: Any, keys: list[str], years: str | None,
                   subregistries: list[str] | None = None,
                   family: str | None = None) -> pl.DataFrame:
    """A result frame as published (``--public``): each row's count is the cell of the
    run's protected release (analysis.privacy.release), masked as the reports mask it,
    and the estimates built on a masked count are masked with it. A row that is no cell
    of the release (another year range, a grouping the release does not publish) makes
    the whole query refused: two queries must never be differenced into a masked count.

    ``family``: the column naming the indicator (indicator tables), else new cases;
    ``years``: the --years option, which must be a release window unless ``year`` is a key;
    ``subregistries``: the --subregistry option (one of them names an ungrouped table's).
    """
    import polars as pl

    from analysis.privacy.disclosure import FLAG
    from analysis.privacy.release import (
        indicator_years,
        judged_year,
        release_for,
        window_label,
    )

    release = release_for(data)
    spec = release.spec
    first_indicator, _ = indicator_years(spec.year, data.extract_date())
    refuse = UserError(_PUBLISHED.format(
        windows=", ".join(window_label(w) for w in spec.windows),
        age=window_label(spec.age_window), years=f"{first_indicator}-{spec.year}",
        judged=judged_year(spec.year, data.extract_date()), year=spec.year))
    if "subregistry" not in frame.columns and len(subregistries or []) == 1:
        frame = frame.with_columns(pl.lit(subregistries[0]).alias("subregistry"))
    dims = {"subregistry", "region", "county", "hospital", "sex", "age_group", "year"}
    if "n" not in frame.columns or "subregistry" not in frame.columns or not set(
            keys) <= dims:
        raise refuse
    cell = {k: pl.col(k).cast(pl.String) for k in keys if k not in ("year", "subregistry")}
    cell["subregistry"] = pl.col("subregistry")
    if "county" in keys and "region" not in keys:
        regions = dict(dd.counties().select("county", "region").iter_rows())
        cell["region"] = pl.col("county").replace_strict(regions, default=None)
    if family is not None:
        cell["family"] = pl.col(family)
    if "year" in keys:
        cell["period"] = pl.col("year").cast(pl.String)
    else:
        span = year_span(years)
        if span is None:
            raise refuse
        cell["period"] = pl.lit(window_label(span) if span[0] != span[1] else str(span[0]))
    # Cases with no hospital are no published cell; their counts stay in the sums.
    frame = frame.drop_nulls([k for k in keys if k == "hospital"])
    try:
        found = release.lookup(frame.select(**cell))
    except UserError as exc:
        raise UserError(f"{exc}; {refuse}") from None
    masked = found["flag"].is_not_null()
    estimates = [c for c, t in frame.schema.items() if t.is_numeric() and c not in {
        *keys, *_NOT_CASE_BASED, "n"}]
    out = frame.drop(c for c in (*_NUMERATORS, "enough_cases", "classification")
                     if c in frame.columns and c not in keys)
    out = out.with_columns(
        pl.when(masked).then(None).otherwise(pl.col(c)).alias(c) for c in [
            *(e for e in estimates if e in out.columns), "n"])
    kept = [c for c in ("enough_cases", "classification") if c in frame.columns]
    # A masked row shows no classification and no enough_cases (they would bound it).
    out = out.with_columns(*(pl.when(masked).then(None).otherwise(frame[c]).alias(c)
                             for c in kept))
    return out.with_columns(pl.when(masked).then(pl.lit("masked")).alias(FLAG))


def not_in_release(what: str) -> UserError:
    """The refusal of --public for a table the release does not hold."""
    return UserError(f"--public: {what} are not counts of the published release; they are "
                     "published in the reports (bcr publish), protected there. --public "
                     "answers new cases (bcr incidence) and indicators (bcr indicators)")
