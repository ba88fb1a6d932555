"""Parsing the option values the commands share (lists, year ranges, dates)."""

from __future__ import annotations

from datetime import date

import polars as pl

from analysis.demo import parse_years
from analysis.errors import UserError


def split_list(text: str | None) -> list[str]:
    """``"region, sex"`` as ``["region", "sex"]``; empty for None."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


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
