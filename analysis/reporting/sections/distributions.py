"""Stage and risk distributions per region, and the reporting hospitals' case volumes:
tables read straight from the run's release (analysis.privacy.distributions), so every
count shown is a release cell and a masked one shows the symbol."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy.distributions import (
    CASES,
    NOT_STATED,
    TOTAL,
    VOLUME,
    distribution_family,
    stage_variables,
)
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import region_label, subregistry_label, suppressed_note, symbol
from analysis.reporting.qmd import Section, Table, md
from analysis.reporting.run import Run


def _counts(run: Run, sid: str, families: Sequence[str], period: str) -> dict[tuple, int | None]:
    """(family, region, hospital) -> the published count (None where masked) of the
    release cells of one subregistry and period; cells never published are left out."""
    cells = run.release.cells.filter(
        (pl.col("subregistry") == sid) & pl.col("family").is_in(list(families))
        & (pl.col("period") == period) & (pl.col("county") == TOTAL)
        & (pl.col("sex") == TOTAL) & (pl.col("age_group") == TOTAL) & ~pl.col("hidden"))
    return {(r["family"], r["region"], r["hospital"]): r["n"]
            for r in cells.iter_rows(named=True)}


def _count_share(n: int | None, total: int | None, lang: str) -> str:
    """"123 (45 %)"; the symbol where the release masks the count; no share where the
    total is masked."""
    if n is None:
        return symbol()
    if not total:
        return fmt.number(n, 0, lang)
    return f"{fmt.number(n, 0, lang)} ({fmt.percent(n / total, 0, lang)})"


def stage_tables(run: Run, doc_id: str, sid: str, regions: Sequence[str]) -> list[Table]:
    """One table per stage or risk variable: categories (not stated last, then the total)
    as rows, ``regions`` (NATION for the nation) as columns, over the pooled window."""
    text, lang = run.text, run.lang
    first, last = run.release.spec.age_window
    period = f"{first}-{last}"
    fields = {f.name: f for f in dd.fields(sid)}
    keys = [TOTAL if r == NATION else r for r in regions]
    out = []
    for variable, categories in stage_variables(sid):
        families = [distribution_family(variable, c) for c in categories]
        counts = _counts(run, sid, [*families, CASES], period)
        if not any(k[0] != CASES for k in counts):
            continue  # not in this extract
        labels = {str(c["value"]): c[f"label_{lang}"] for c in fields[variable].categories}
        labels[NOT_STATED] = text("distributions.not_stated")
        totals = [counts.get((CASES, k, TOTAL)) for k in keys]
        rows = [[labels.get(c, c), *(_count_share(counts.get((f, k, TOTAL)), t, lang)
                                     for k, t in zip(keys, totals, strict=True))]
                for c, f in zip(categories, families, strict=True)]
        rows.append([text("distributions.total"),
                     *(fmt.number(t, 0, lang) if t is not None else symbol() for t in totals)])
        out.append(Table(f"tbl-{doc_id}-{variable.replace('_', '-')}", text(
            "distributions.caption", variable=fields[variable].label(lang), first=first,
            last=last), [text("distributions.category"),
                         *(region_label(r, text) for r in regions)],
            rows, ["l", *("r" for _ in regions)], suppressed_note(text)))
    return out


def stage_section(run: Run, doc_id: str, sids: Sequence[str], regions: Sequence[str],
                  landscape: bool = False) -> Section:
    """The stage and risk tables of the subregistries (a subsection each when several)."""
    text, lang = run.text, run.lang
    first, last = run.release.spec.age_window
    intro = md(text("distributions.intro", first=first, last=last))
    if len(sids) == 1:
        tables = stage_tables(run, doc_id, sids[0], regions)
        return Section(text("distributions.title"), paragraphs=[
            intro if tables else text("distributions.none")], tables=tables,
            landscape=landscape and bool(tables))
    subs = [Section(dd.subregistry(s)[f"name_{lang}"], tables=t) for s in sids
            if (t := stage_tables(run, f"{doc_id}-{s}", s, regions))]
    return Section(text("distributions.title"), paragraphs=[intro], subsections=subs)


def volume_table(run: Run, doc_id: str, sids: Sequence[str], region: str | None = None
                 ) -> Table | None:
    """New cases of the report year per reporting hospital (of ``region``, or all) and
    subregistry; hospitals with no case in any of them are left out."""
    a, text, lang = run.analyses, run.text, run.lang
    counts = {sid: _counts(run, sid, [VOLUME], str(a.year)) for sid in sids}
    region_of = dict(dd.counties().select("county", "region").iter_rows())
    rows = []
    for h in dd.load("hospitals.yaml")["hospitals"]:
        home = region_of.get(h["county"])
        if region is not None and home != region:
            continue
        values = [counts[s].get((VOLUME, TOTAL, h["code"]), 0) for s in sids]
        if all(v == 0 for v in values):
            continue
        rows.append((dd.region_ids().index(home), h["name"], [
            h["name"], region_label(home, text),
            *(symbol() if v is None else fmt.number(v, 0, lang) for v in values)]))
    if not rows:
        return None
    return Table(f"tbl-{doc_id}", text("volumes.caption", year=a.year),
                 [text("columns.hospital"), text("columns.region"),
                  *(subregistry_label(s, lang) for s in sids)],
                 [r for *_, r in sorted(rows, key=lambda r: (r[0], r[1]))],
                 ["l", "l", *("r" for _ in sids)], suppressed_note(text))


def volume_section(run: Run, doc_id: str, sids: Sequence[str], region: str | None = None,
                   landscape: bool = False) -> Section:
    """The reporting hospitals with their case volumes, or a note where none is shown."""
    text = run.text
    table = volume_table(run, doc_id, sids, region)
    if table is None:
        return Section(text("volumes.title"), paragraphs=[text("notes.not_available")])
    return Section(text("volumes.title"), paragraphs=[md(text(
        "volumes.intro", year=run.analyses.year))], tables=[table], landscape=landscape)
