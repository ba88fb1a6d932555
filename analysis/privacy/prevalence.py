"""The prevalence family of the release (DESIGN.md §5): persons alive at a date.

Prevalent persons are not new cases: their counts are cells of their own, per
subregistry of registry.yaml ``reports.prevalence.subregistries``, by region (the nation
as total) x sex (both as total), at 31 December of the judged year
(analysis.stats.prevalence, counting method). One family per duration,
``prevalence 1``, ``prevalence 5``, ``prevalence 10`` and ``prevalence complete``.

The windows are nested (1 year within 5 within 10 within complete), so a narrower count
is a part of the wider one and the difference is a count of persons too (those diagnosed
1-5 years before the date): masking the 1-year count alone would not do if the 5-year
count and the (1, 5] count were both known. So each duration's count is linked to the
next wider one as a cohort to its parent (analysis.privacy.cohorts): the part left out,
``prevalence 1 excluded`` = ``prevalence 5`` - ``prevalence 1``, is a cell of its own,
never published but protected as a small count is, with the equation
``prevalence 5 = prevalence 1 + prevalence 1 excluded`` (Hundepool et al. 2012,
"Statistical Disclosure Control", §4.2 on linked tables); the audit
(analysis.privacy.audit) then shows that no masked count can be recovered by differencing
the windows.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from analysis.data import dictionary as dd
from analysis.stats.prevalence import prevalence

FAMILY = "prevalence "  # followed by the duration in years, or COMPLETE
COMPLETE = "complete"
TOTAL = "*"


def settings() -> tuple[list[str], list[int]]:
    """The subregistries shown with prevalence and the limited durations in years
    (registry.yaml ``reports.prevalence``); complete prevalence is always shown."""
    cfg = (dd.registry().get("reports") or {}).get("prevalence") or {}
    try:
        sids = [str(s) for s in cfg.get("subregistries") or []]
        durations = sorted({int(d) for d in cfg.get("durations") or []})
    except (TypeError, ValueError):
        raise dd.DictionaryError(f"{dd.dictionary_dir() / 'registry.yaml'}: "
                                 "reports.prevalence.durations must be whole years") from None
    unknown = [s for s in sids if s not in dd.subregistry_ids()]
    if unknown or any(d < 1 for d in durations):
        raise dd.DictionaryError(f"{dd.dictionary_dir() / 'registry.yaml'}: "
                                 "reports.prevalence: unknown subregistry "
                                 f"{', '.join(unknown)} or a duration under one year")
    return sids, durations


def family(duration: int | None) -> str:
    """The family of a duration in years (None: complete prevalence)."""
    return FAMILY + (COMPLETE if duration is None else str(duration))


def parent_family(name: str) -> str | None:
    """The next wider prevalence family (complete for the longest duration), or None."""
    if not name.startswith(FAMILY):
        return None
    chain = [family(d) for d in settings()[1]] + [family(None)]
    return chain[chain.index(name) + 1] if name in chain[:-1] else None


def prevalence_date(year: int) -> dt.date:
    """The date prevalence is counted at: 31 December of ``year``."""
    return dt.date(year, 12, 31)


def period_label(at: dt.date) -> str:
    """The release period of a prevalence date (no dash: it is no window of years)."""
    return at.strftime("%Y.%m.%d")


def prevalence_frame(cases: pl.DataFrame, population: pl.DataFrame, at: dt.date,
                     sids: list[str], by: list[str]) -> pl.DataFrame:
    """Prevalence (analysis.stats.prevalence) of ``sids`` at ``at`` by ``by`` for the
    configured durations and complete, with ``family`` naming each row's release family
    and ``sex`` as text."""
    durations = [*settings()[1], None]
    chosen = cases.filter(pl.col("subregistry").is_in(sids))
    out = prevalence(chosen, population, at, by, durations)
    if "sex" in out.columns:
        out = out.with_columns(pl.col("sex").cast(pl.String))
    return out.with_columns((pl.lit(FAMILY) + pl.col("duration").cast(pl.String)
                             .fill_null(COMPLETE)).alias("family"))


def prevalence_cells(cases: pl.DataFrame, population: pl.DataFrame, at: dt.date,
                     sids: list[str]) -> pl.DataFrame:
    """The family's cells: per subregistry and duration, every region and the nation
    (``*``) x both sexes and their total, zeros included; the release's key columns
    (county, hospital, age group: totals), ``n`` and ``hidden`` (False)."""
    present = set(cases.get_column("subregistry").unique().to_list())
    sids = [s for s in sids if s in present]
    if not sids:
        return pl.DataFrame()
    base = prevalence_frame(cases, population, at, sids, ["region", "sex"]).select(
        "family", "subregistry", "region", "sex", "n")
    spread = base.with_columns(pl.concat_list("region", pl.lit(TOTAL)).alias("region")
                               ).explode("region").with_columns(
        pl.concat_list("sex", pl.lit(TOTAL)).alias("sex")).explode("sex")
    return spread.group_by("family", "subregistry", "region", "sex", maintain_order=True
                           ).agg(pl.col("n").sum()).with_columns(
        pl.lit(TOTAL).alias("county"), pl.lit(TOTAL).alias("hospital"),
        pl.lit(TOTAL).alias("age_group"), pl.lit(period_label(at)).alias("period"),
        pl.col("n").cast(pl.Int64), pl.lit(False).alias("hidden")).sort(
        "family", "subregistry", "region", "sex")
