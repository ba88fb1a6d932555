"""The prevalence section: persons alive at the end of the judged year with the
subregistry's diagnosis, complete and within 1, 5 and 10 years of diagnosis, by region
and by sex (run.prevalence: every count a cell of the release)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from analysis.privacy.prevalence import COMPLETE, FAMILY
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    cell,
    ci_cell,
    region_label,
    regions_nation_last,
    shown_rows,
    suppressed_note,
)
from analysis.reporting.qmd import Section, Table, md
from analysis.reporting.run import Run


def _duration(family: str, run: Run) -> str:
    value = family[len(FAMILY):]
    if value == COMPLETE:
        return run.text("prevalence.complete")
    return run.text("prevalence.years", n=value)


def _table(run: Run, doc_id: str, frame: pl.DataFrame, key: str, order: Sequence[str],
           label: Callable[[str], str], caption: str) -> Table:
    """Rows: each value of ``key`` in ``order`` x duration (shortest first, complete
    last); columns: persons, per 100 000 and the exact 95 % CI."""
    text, lang = run.text, run.lang
    rows = []
    for r in shown_rows(frame, key, order).sort(
            pl.col(key).replace_strict({v: i for i, v in enumerate(order)}, default=0),
            pl.col("duration").fill_null(10**6)).iter_rows(named=True):
        rows.append([label(r[key]), _duration(r["family"], run),
                     cell(r, "n", lambda v: fmt.number(v, 0, lang)),
                     cell(r, "estimate", lambda v: fmt.number(v, 1, lang)),
                     ci_cell(r, lang, 1)])
    headers = [text(f"columns.{key}") if key == "region" else text("prevalence.sex"),
               text("prevalence.duration"), text("prevalence.persons"),
               text("prevalence.rate"), text("columns.ci")]
    return Table(f"tbl-{doc_id}", caption, headers, rows, ["l", "l", "r", "r", "r"],
                 suppressed_note(text))


def prevalence_table(run: Run, doc_id: str, sid: str, regions: Sequence[str]
                     ) -> Table | None:
    """Prevalence of one subregistry in ``regions`` (NATION: the nation), both sexes; None
    where the configuration does not show it for the subregistry."""
    frame = run.prevalence
    if frame.is_empty():
        return None
    frame = frame.filter((pl.col("subregistry") == sid) & pl.col("sex").is_null())
    if frame.is_empty():
        return None
    return _table(run, doc_id, frame, "region", regions,
                  lambda r: region_label(r, run.text), run.text(
                      "prevalence.caption", date=fmt.date(frame["date"][0], run.lang)))


def prevalence_section(run: Run, doc_id: str, sid: str) -> Section | None:
    """Prevalence of one subregistry by region (and the nation) and by sex, or None
    where the configuration does not show it for the subregistry."""
    by_region = prevalence_table(run, f"{doc_id}-region", sid, regions_nation_last())
    if by_region is None:
        return None
    text, lang = run.text, run.lang
    frame = run.prevalence.filter(pl.col("subregistry") == sid)
    first = frame.row(0, named=True)
    date = fmt.date(first["date"], lang)
    sexes = {"1": text("men"), "2": text("women")}
    by_sex = _table(run, f"{doc_id}-sex", frame.filter(pl.col("sex").is_not_null()),
                    "sex", list(sexes), lambda s: sexes.get(s, s),
                    text("prevalence.caption_sex", date=date))
    # The persons left out (vital status unknown) are no cell of the release: not shown.
    intro = text("prevalence.intro", date=date, start=first["registry_start"].year)
    return Section(text("prevalence.title"), paragraphs=[md(intro)],
                   tables=[by_region, by_sex])
