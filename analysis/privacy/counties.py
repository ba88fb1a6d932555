"""The indicator families of the release by county (DESIGN.md §5): each indicator's
eligible cases by region and county in the judged year, the counties of a region adding
up to it (``analysis.privacy.release`` protects them with every other cell)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy.cohorts import TOTAL
from analysis.quality.indicators import Indicator, compute_indicators
from analysis.quality.preliminary import judged_year


def county_indicator_rows(cases: pl.DataFrame, linked: pl.DataFrame | None,
                          indicator_list: Sequence[Indicator], year: int,
                          extract_date: dt.date | None) -> pl.DataFrame:
    """Each indicator's eligible cases by region and county in the judged year (the last
    one not preliminary, :func:`indicator_years`): the counties of a region in the
    regional report. Columns as :func:`analysis.quality.indicators.compute_indicators`."""
    judged = judged_year(year, extract_date)
    usable = [i for i in indicator_list if "county" in i.units
              and (linked is not None or i.kind != "coverage")]
    if not usable:
        return pl.DataFrame()
    return compute_indicators(usable, cases.filter(pl.col("year") == judged),
                              ["region", "county", "year"],
                              linked.filter(pl.col("year") == judged)
                              if linked is not None else None, extract_date)


def county_cells(rows: pl.DataFrame) -> pl.DataFrame:
    """Cells of the indicator families by county (within its region; the region's cell
    is their sum) from :func:`county_indicator_rows`, every county of the registry
    included (zeros too) so that the counties of a region add up to it."""
    counties = dd.counties().select("county", "region")
    keys = rows.select(pl.col("indicator").alias("family"), "subregistry",
                       pl.col("year").cast(pl.String).alias("period")).unique(
        maintain_order=True)
    counts = rows.select(pl.col("indicator").alias("family"), "subregistry", "region",
                         "county", pl.col("year").cast(pl.String).alias("period"), "n")
    return keys.join(counties, how="cross").join(
        counts, on=["family", "subregistry", "region", "county", "period"], how="left",
        maintain_order="left").with_columns(
        pl.col("n").fill_null(0).cast(pl.Int64), *(pl.lit(TOTAL).alias(k) for k in (
            "hospital", "sex", "age_group")), pl.lit(False).alias("hidden"))
