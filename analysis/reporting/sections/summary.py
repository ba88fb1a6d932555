"""The automatic summary at the top of each document: the text reads the indicator
tables for the reader (levels reached, largest changes, differences from the nation).

Every number is the one printed in the document's tables: shares from the protected
indicator rows, rounded as printed; masked rows are left out, the preliminary year is
never judged nor counted as a change (DESIGN.md §7).
"""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import region_label, subregistry_label
from analysis.reporting.qmd import Section, md
from analysis.reporting.run import Run


def _limit(name: str) -> int:
    return int((dd.registry().get("reports") or {})[name])


def _judged(run: Run) -> pl.DataFrame:
    """The shown (not masked) indicator rows of the judged year and the year before."""
    a = run.analyses
    return run.indicators.filter(
        pl.col("year").is_between(a.judged_year - 1, a.judged_year) & ~pl.col("preliminary")
        & pl.col(disclosure.FLAG).is_null() & pl.col("estimate").is_not_null())


def _list(items: list[str], limit: int, text) -> str:  # noqa: ANN001 (Text)
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        return text("auto_summary.differs_more", items=shown, more=len(items) - limit)
    return shown


def _levels(rows: pl.DataFrame, run: Run, where: str) -> str:
    text, year = run.text, run.analyses.judged_year
    judged = rows.filter(pl.col("high").is_not_null() & pl.col("classification").is_not_null())
    if judged.is_empty():
        return text("auto_summary.no_levels", year=year, where=where)
    count = {k: judged.filter(pl.col("classification") == k).height
             for k in ("high", "intermediate", "below")}
    # Without an intermediate level among them, the sentence names two levels only.
    key = "levels" if judged["intermediate"].is_not_null().any() else "levels_two"
    return text(f"auto_summary.{key}", year=year, judged=judged.height, where=where, **count)


def _changes(now: pl.DataFrame, before: pl.DataFrame, run: Run, keys: list[str],
             label) -> str:  # noqa: ANN001 (a row's label)
    """The largest changes between the judged year and the one before, in percentage
    points between the printed shares (as the moved table of the publication)."""
    text, lang, year = run.text, run.lang, run.analyses.judged_year
    # Groups too small to be judged are not named: their shares jump by chance.
    both = now.filter(pl.col("enough_cases")).join(
        before.filter(pl.col("enough_cases")).select(
            *keys, pl.col("estimate").alias("previous")), on=keys)
    if both.is_empty():
        return text("auto_summary.no_changes", previous=year - 1)
    items = []
    for r in both.iter_rows(named=True):
        change = round(fmt.printed_percent(r["estimate"]) - fmt.printed_percent(r["previous"]), 1)
        items.append((-abs(change), r["indicator"], r["subregistry"], r.get("region"), change, r))
    items.sort(key=lambda i: (i[0], i[1], i[2], i[3] or ""))
    texts = []
    for _, _, _, _, change, r in items[:_limit("summary_changes")]:
        shown = fmt.number(change, 1, lang)
        texts.append(text("auto_summary.change_item", name=label(r)[0], sub=label(r)[1],
                          change=("+" if change > 0 else "") + shown,
                          before=fmt.percent(r["previous"], 1, lang),
                          after=fmt.percent(r["estimate"], 1, lang)))
    return text("auto_summary.changes", previous=year - 1, items="; ".join(texts))


def _differences(now: pl.DataFrame, nation: pl.DataFrame, run: Run, label) -> str:  # noqa: ANN001
    """Regions whose confidence interval excludes the nation's share, largest first."""
    text, lang = run.text, run.lang
    both = now.join(nation.select("indicator", "subregistry",
                                  pl.col("estimate").alias("national")),
                    on=["indicator", "subregistry"]).filter(
        (pl.col("lower") > pl.col("national")) | (pl.col("upper") < pl.col("national")))
    rows = sorted(both.iter_rows(named=True),
                  key=lambda r: (-abs(r["estimate"] - r["national"]), r["indicator"],
                                 r["subregistry"], r["region"]))
    if not rows:
        return text("auto_summary.no_differs")
    items = [text("auto_summary.differ_item", name=label(r)[0], sub=label(r)[1],
                  region=label(r)[2], value=fmt.percent(r["estimate"], 1, lang),
                  nation=fmt.percent(r["national"], 1, lang)) for r in rows]
    return text("auto_summary.differs",
                items=_list(items, _limit("summary_differences"), text))


def summary_paragraphs(run: Run, region: str | None = None,
                       sid: str | None = None) -> list[str]:
    """The summary of a regional report (``region``), a subregistry report (``sid``) or,
    with neither, the annual publication: levels reached on the judged year, the largest
    changes since the year before, and differences from the nation beyond the CI."""
    a, text, lang = run.analyses, run.text, run.lang
    names = {i.id: i.name(lang) for i in a.indicator_list}
    # An indicator of one subregistry carries it in its name already.
    own = {i.id for i in a.indicator_list if len(i.subregistries) == 1}
    rows = _judged(run)
    if sid is not None:
        rows = rows.filter(pl.col("subregistry") == sid)
    now = rows.filter(pl.col("year") == a.judged_year)
    before = rows.filter(pl.col("year") == a.judged_year - 1)
    nation = now.filter(pl.col("region") == NATION)
    regional = now.filter(pl.col("region") != NATION)

    def label(r: dict) -> tuple[str, str, str]:
        """The indicator's name, its subregistry (unless the document is about one) and
        its region (unless the document is about one)."""
        sub = "" if sid is not None or r["indicator"] in own else \
            f" ({subregistry_label(r['subregistry'], lang)})"
        where = "" if region is not None or r.get("region") in (None, NATION) else \
            f", {region_label(r['region'], text)},"
        return names.get(r["indicator"], r["indicator"]), sub, where

    keys = ["indicator", "subregistry", "region"]
    if region is not None:
        mine = now.filter(pl.col("region") == region)
        out = [_levels(mine, run, text("auto_summary.where_region",
                                       region=region_label(region, text))),
               _changes(mine, before.filter(pl.col("region") == region), run, keys, label),
               _differences(mine, nation, run, label)]
    else:
        out = [_levels(nation, run, text("auto_summary.where_nation")),
               _changes(nation, before.filter(pl.col("region") == NATION), run, keys, label),
               _differences(regional, nation, run, label)]
    if a.preliminary:
        out.append(text("auto_summary.preliminary", year=a.year))
    return [md(p) for p in out]


def summary_section(run: Run, region: str | None = None, sid: str | None = None) -> Section:
    """The summary as the first section of a regional or subregistry report."""
    return Section(run.text("auto_summary.title"),
                   paragraphs=summary_paragraphs(run, region, sid))
