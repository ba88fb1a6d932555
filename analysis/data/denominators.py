"""Whether the population and the life table cover the accepted cases.

Incidence rates need the population of every year, county and sex of the cases, in every
single year of age from the youngest case's to the oldest's (the population's last age is
open: 100 stands for 100+). Expected survival needs the life table of every calendar year
from the first diagnosis to the end of the last follow-up, for each sex of the cases and
every attained age from the youngest at diagnosis to the oldest at the end of follow-up
(the table's last age counts as open; a table with a county or region column is needed
for each of the cases' counties or regions). An analysis falls back on the nearest year
or age of the life table, or stops, where these are missing; `bcr validate` names the
gaps first.
"""

from __future__ import annotations

import polars as pl

from analysis.data.ingest import RegistryData

EXAMPLES = 3


def _grid(**dims: pl.Series) -> pl.DataFrame:
    """Every combination of the given values (a cross join), one column per dimension."""
    frames = [pl.DataFrame({name: values.unique().sort()}) for name, values in dims.items()]
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f, how="cross")
    return out


def _span(values: list) -> str:
    """Values in words, consecutive integers as ranges: ``2024-2025, 2027``."""
    if not values or not all(isinstance(v, int) for v in values):
        return ", ".join(map(str, values))
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def describe(needed: pl.DataFrame, have: pl.DataFrame) -> str | None:
    """The strata of ``needed`` (one column per dimension) that ``have`` lacks, in a few
    words: first the values of a dimension that are missing whatever the other
    dimensions (``year 2025``), then how many other strata lack and a few examples.
    None when nothing is missing."""
    dims = needed.columns
    missing = needed.join(have.select(dims).unique(), on=dims, how="anti")
    if missing.is_empty():
        return None
    parts = []
    for d in dims:
        counts = needed.group_by(d).len().join(missing.group_by(d).len(), on=d, suffix="_m")
        whole = counts.filter(pl.col("len") == pl.col("len_m")).get_column(d).sort().to_list()
        if whole:
            parts.append(f"{d} {_span(whole)}")
            missing = missing.filter(~pl.col(d).is_in(whole))
            needed = needed.filter(~pl.col(d).is_in(whole))
    if missing.height:
        examples = "; ".join(", ".join(f"{d} {v}" for d, v in zip(dims, row, strict=True))
                             for row in missing.sort(dims).head(EXAMPLES).iter_rows())
        more = "other " if parts else ""
        parts.append(f"{missing.height} {more}{' × '.join(dims)} stratum/strata "
                     f"(e.g. {examples})")
    return "; ".join(parts)


def _ages(low: int, high: int, table_max: int | None) -> pl.Series:
    top = high if table_max is None else min(high, table_max)
    return pl.Series(range(low, max(low, top) + 1), dtype=pl.Int64)


def population_gaps(cases: pl.DataFrame, population: pl.DataFrame) -> str | None:
    """What the population lacks for the cases (see :func:`describe`), or None."""
    if cases.is_empty():
        return None
    pop_max = population.get_column("age").max()
    needed = _grid(year=cases["year"].cast(pl.Int64), county=cases["county"],
                   sex=cases["sex"].cast(pl.Int64),
                   age=_ages(cases["age"].min(), cases["age"].max(), pop_max))
    have = population.select(pl.col("year", "sex", "age").cast(pl.Int64), "county")
    return describe(needed, have)


def lifetable_gaps(cases: pl.DataFrame, lifetable: pl.DataFrame) -> str | None:
    """What the life table lacks for the follow-up of the cases, or None."""
    if cases.is_empty():
        return None
    end = pl.coalesce("death_date", "vital_status_date")
    span = cases.select(first=pl.col("year").min(), last=end.dt.year().max(),
                        young=pl.col("age").min(),
                        old=(pl.col("age") + pl.col("followup_years").floor()).max())
    first, last, young, old = span.row(0)
    dims = {"year": pl.Series(range(first, last + 1), dtype=pl.Int64),
            "sex": cases["sex"].cast(pl.Int64),
            "age": _ages(young, int(old), lifetable.get_column("age").max())}
    geo = next((c for c in ("county", "region") if c in lifetable.columns
                and lifetable.get_column(c).is_not_null().any()), None)
    if geo is not None:
        dims[geo] = cases[geo]
    have = lifetable.with_columns(pl.col("year", "sex", "age").cast(pl.Int64))
    return describe(_grid(**dims), have)


def coverage_gaps(data: RegistryData) -> dict[str, str]:
    """File name -> what the population or life table of a data folder lacks for its
    accepted cases (only files present and lacking something)."""
    gaps = {}
    for name, check in (("population", population_gaps), ("lifetable", lifetable_gaps)):
        frame = getattr(data, name)
        if frame is None:
            continue
        gap = check(data.cases, frame)
        if gap:
            path = next(c.path for c in data.checks if c.dataset == name)
            gaps[path.name] = gap
    return gaps
