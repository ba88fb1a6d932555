"""Incidence sections: the year's new cases and rates, trends, SIR and age-sex rates."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure, pooled
from analysis.privacy.release import TOTAL, window_label
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import (
    cell,
    lower_first,
    region_label,
    regions_nation_last,
    subregistry_label,
    suppressed_note,
)
from analysis.reporting.figure_specs import add_figure, age_sex_figure, sir_figure, trend_figure
from analysis.reporting.qmd import Section, Table, md
from analysis.reporting.run import Run
from analysis.reporting.tables import apc_table, incidence_table


def key_figures_section(run: Run, region: str, sids: list[str]) -> Section:
    """A region's new cases and age-standardised rate per subregistry, beside the nation's."""
    a, text, lang = run.analyses, run.text, run.lang
    rname = dd.region_name(region, lang)
    now = run.asr.filter(pl.col("year") == a.year)
    table = incidence_table(run, "key", now, "subregistry", sids,
                            lambda s: subregistry_label(s, lang),
                            show=pl.col("region") == region, with_nation=True)
    table.caption = text("captions.key_figures", year=a.year, region=rname)
    return Section(text("sections.key_figures"),
                   paragraphs=[md(text("regional.intro", region=rname, year=a.year))],
                   tables=[table], **run.preliminary_note)


def regional_trend_section(run: Run, region: str) -> Section:
    """Age-standardised incidence by year, a panel per subregistry, the region emphasised."""
    section = Section(run.text("sections.trend"))
    add_figure(run, section, trend_figure(run, "trend", run.asr, regions_nation_last(),
                                          region))
    return section


def pooled_table(run: Run, doc_id: str, sid: str) -> Table:
    """New cases of a sparse subregistry by region (and the nation) over the pooled
    periods (analysis.privacy.pooled), each count the release's cell of its window."""
    text, lang = run.text, run.lang
    periods = pooled.periods(run.analyses.year, run.release.spec.first)
    regions = regions_nation_last()
    probe = pl.DataFrame({"region": [TOTAL if r == NATION else r for r in regions]}).join(
        pl.DataFrame({"period": [window_label(p) for p in periods]}), how="cross",
        maintain_order="left_right").with_columns(pl.lit(sid).alias("subregistry"))
    found = run.release.lookup(probe).with_columns(
        probe["region"].alias("_region"), pl.col("flag").alias(disclosure.FLAG))
    counts = {(r["_region"], r["period"]): r for r in found.iter_rows(named=True)}
    rows = [[region_label(r, text),
             *(cell(counts[TOTAL if r == NATION else r, window_label(p)], "n",
                    lambda v: fmt.number(v, 0, lang)) for p in periods)] for r in regions]
    years = pooled.settings()[1]
    return Table(f"tbl-{doc_id}", text("pooled.caption", years=years),
                 [text("columns.region"),
                  *(f"{p[0]}\u2013{p[1]}" for p in periods)], rows,
                 ["l", *("r" for _ in periods)], suppressed_note(text))


def subregistry_incidence_section(run: Run, sid: str) -> Section:
    """A subregistry's incidence: the year by region, trend, APC, SIR and age-sex rates;
    for a subregistry too sparse for yearly rates (registry.yaml reports.pooled_counts)
    its new cases over pooled periods instead of the year's rates, APC and trend."""
    a, text, lang = run.analyses, run.text, run.lang
    regions = regions_nation_last()
    label = lambda r: region_label(r, text)  # noqa: E731
    of_sid = pl.col("subregistry") == sid
    sname = dd.subregistry(sid)[f"name_{lang}"]
    section = Section(
        text("sections.incidence"),
        **run.preliminary_note,
        paragraphs=[md(text("subregistry.intro", subregistry=lower_first(sname), year=a.year))])
    figures = [sir_figure(run, "sir", sid), age_sex_figure(run, "agesex", sid)]
    if sid in pooled.settings()[0]:
        section.paragraphs.append(md(text("pooled.intro", years=pooled.settings()[1])))
        section.tables.append(pooled_table(run, "pooled", sid))
    else:
        section.tables += [
            incidence_table(run, "inc", run.asr.filter(of_sid & (pl.col("year") == a.year)),
                            "region", regions, label),
            apc_table(run, "apc", run.apc.filter(of_sid), regions, label)]
        figures.insert(0, trend_figure(run, "trend", run.asr.filter(of_sid), regions, None))
    for figure in figures:
        add_figure(run, section, figure)
    return section

