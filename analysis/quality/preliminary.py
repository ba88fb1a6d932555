"""Preliminary diagnosis years (DESIGN.md §7): a year is preliminary until its
registrations are in.

A diagnosis year is preliminary until ``preliminary.months_after_year_end`` months
(registry.yaml) have passed since its end at the extract date (:func:`final_year`);
:func:`mark_preliminary` flags the rows of such years and withholds their classification
against the target levels, so that no table, figure or summary can judge a year whose
late registrations are not yet in the extract (coverage would look too low and
timeliness too good).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from analysis.data import dictionary
from analysis.data.dictionary import DictionaryError


def preliminary_months() -> int:
    """Months after the end of a diagnosis year before its figures are final
    (registry.yaml ``preliminary.months_after_year_end``)."""
    cfg = dictionary.registry().get("preliminary") or {}
    try:
        months = int(cfg["months_after_year_end"])
    except (KeyError, TypeError, ValueError):
        raise DictionaryError(f"{dictionary.dictionary_dir() / 'registry.yaml'}: "
                              "preliminary.months_after_year_end must be a whole number "
                              "of months") from None
    if months < 0:
        raise DictionaryError(f"{dictionary.dictionary_dir() / 'registry.yaml'}: "
                              f"preliminary.months_after_year_end must be >= 0, got {months}")
    return months


def final_year(extract_date: dt.date, months: int | None = None) -> int:
    """The last diagnosis year whose ``months`` (default :func:`preliminary_months`) have
    passed since its end at the extract date: year Y is final when the extract date is on
    or after the last day of the ``months``-th month after December of Y (with 12 months:
    31 December of Y + 1). An extract of 2026-03-31 makes 2024 final and 2025 preliminary.
    """
    months = preliminary_months() if months is None else months
    year = extract_date.year
    while True:
        # First day of the month after the months-th month following December of `year`.
        index = 12 * (year + 1) + months  # months counted from January of year 0
        after = dt.date(index // 12, index % 12 + 1, 1)
        if extract_date >= after - dt.timedelta(days=1):
            return year
        year -= 1


def mark_preliminary(frame: pl.DataFrame, extract_date: dt.date | None,
                     months: int | None = None) -> pl.DataFrame:
    """Indicator rows (with a ``year`` column) with ``preliminary`` (True for a year after
    :func:`final_year`) and no ``classification`` for those rows: a preliminary year's
    figures are shown but never judged against a target level. Without an extract date
    no year is preliminary."""
    if extract_date is None or "year" not in frame.columns:
        return frame.with_columns(pl.lit(False).alias("preliminary"))
    last_final = final_year(extract_date, months)
    preliminary = pl.col("year") > last_final
    return frame.with_columns(preliminary.alias("preliminary")).with_columns(
        pl.when(pl.col("preliminary")).then(None).otherwise(pl.col("classification"))
        .alias("classification"))


def judged_year(year: int, extract_date: dt.date | None) -> int:
    """The diagnosis year indicators are judged on: the last one not preliminary at the
    extract date (analysis.quality.preliminary.final_year), at most ``year``."""
    return year if extract_date is None else min(year, final_year(extract_date))
