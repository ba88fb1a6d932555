"""Survival sections: observed and net survival, and the Cox model of region."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import (
    lower_first,
    min_cases,
    p_value,
    region_label,
    regions_nation_last,
    subregistry_label,
    suppressed_note,
    symbol,
    threshold,
)
from analysis.reporting.figure_specs import add_figure, relative_figure, survival_figure
from analysis.reporting.qmd import (
    FigureSpec,
    Section,
    Table,
    md,
)
from analysis.reporting.run import Run
from analysis.reporting.tables import relative_table, survival_groups_table, survival_table


def cox_section(run: Run, doc_id: str, sid: str) -> Section:
    """Hazard ratios by region against the reference region, adjusted for age and sex,
    and the proportional-hazards test in words."""
    a, text, lang = run.analyses, run.text, run.lang
    section = Section(text("sections.cox"))
    cox = run.cox  # its counts are the release's survival cohorts
    fitted = cox.filter(pl.col("subregistry") == sid) if cox.height else cox
    if fitted.is_empty():
        section.paragraphs.append(text("cox.not_available"))
        return section
    first = fitted.row(0, named=True)
    reference = region_label(first["reference"], text)
    minimum = min_cases()
    k = threshold()

    def count(n: int | None) -> str:
        return symbol() if n is None or 0 < n < k else fmt.number(n, 0, lang)

    rows = [[reference, count(first["reference_n"]), text("cox.reference"), "", ""]]
    hidden = masked = False
    for r in fitted.iter_rows(named=True):
        if r["term"] == "region":
            label, n = region_label(r["level"], text), r["region_n"]
        elif r["term"] == "sex":
            label, n = text("cox.women"), None
        elif r["level"] == "per year":
            label, n = text("cox.age"), None
        else:
            continue
        if r["term"] == "region" and r[disclosure.FLAG]:  # the release masks its cohort
            masked = True
            rows.append([label, symbol(), symbol(), symbol(), symbol()])
            continue
        if n is not None and n < minimum:
            hidden = True
            rows.append([label, count(n), symbol(), symbol(), symbol()])
            continue
        rows.append([label, "" if n is None else count(n),
                     fmt.number(r["hazard_ratio"], 2, lang),
                     fmt.interval(r["lower"], r["upper"], 2, lang),
                     p_value(r["p_value"], lang)])
    years = dict(first=a.survival_window[0], last=a.year)
    table = Table(f"tbl-{doc_id}", text("cox.caption", reference=reference, **years),
                  [text("cox.term"), text("columns.n"), text("columns.hazard_ratio"),
                   text("columns.ci"), text("cox.p")], rows, ["l", "r", "r", "r", "r"],
                  " ".join([*([text("cox.too_few", min_cases=minimum)] if hidden else []),
                            *([suppressed_note(text)] if masked else [])]))
    section.paragraphs.append(md(text("cox.intro", reference=reference,
                                      n=count(first["n"]),
                                      events=fmt.number(first["n_events"], 0, lang))))
    words = {"region": text("cox.region_in_text"), "sex": lower_first(text("cox.women")),
             "age": text("cox.age_in_text")}
    names = []
    for r in fitted.unique("term", keep="first", maintain_order=True).iter_rows(named=True):
        if r["ph_p_value"] < 0.05:
            p = p_value(r["ph_p_value"], lang)
            names.append(f"{words[r['term']]} "
                         f"(p {p.replace('<', '< ') if p.startswith('<') else '= ' + p})")
    section.paragraphs.append(md(text("cox.ph_violated", terms=", ".join(names))
                                 if names else text("cox.ph_ok")))
    if first["convergence_problem"]:
        section.paragraphs.append(md(text("cox.not_converged")))
    section.tables.append(table)
    estimable = pl.all_horizontal(pl.col("hazard_ratio", "lower", "upper").is_finite())
    shown = fitted.filter((pl.col("term") == "region") & (pl.col("region_n") >= minimum)
                          & estimable.fill_null(False)).with_columns(
        pl.col("level").replace_strict({r: region_label(r, text) for r in dd.region_ids()},
                                       default=pl.col("level")).alias("region"),
        pl.col("hazard_ratio").alias("estimate"))
    if shown.height:
        add_figure(run, section, FigureSpec(
            f"fig-{doc_id}", text("cox.figure", reference=reference), "estimate_chart", {
                "frame": shown.select("region", "estimate", "lower", "upper"),
                "category": "region", "reference_line": 1.0, "log_scale": True,
                "category_order": [region_label(r, text) for r in dd.region_ids()],
                "labels": {"x": text("axes.hazard_ratio"), "alt": text("cox.alt"),
                           "decimal": fmt.decimal_mark(lang)}}))
    return section


def regional_survival_section(run: Run, region: str, sids: list[str]) -> Section:
    """Net survival (period approach) of the region and the nation per subregistry, and
    the observed survival curves of both."""
    a, text, lang = run.analyses, run.text, run.lang
    pair = [region, NATION]
    section = Section(text("sections.survival"))
    if run.relative.height:
        first, last = a.period
        section.tables.append(relative_table(
            run, "relsurv", run.relative.filter(
                (pl.col("approach") == "period") & pl.col("region").is_in(pair)),
            ["subregistry", "region"],
            [lambda s: subregistry_label(s, lang), lambda r: region_label(r, text)],
            [sids, pair], text("relative.caption_regional", first=first, last=last,
                               region=dd.region_name(region, lang)),
            [text("columns.subregistry"), text("relative.area")]))
    curves = a.survival_curves.filter(pl.col("region").is_in(pair))
    if curves.height:
        add_figure(run, section, survival_figure(run, "survival", curves, region))
    elif not run.relative.height:
        section.paragraphs.append(text("notes.not_available"))
    return section


def subregistry_survival_section(run: Run, sid: str) -> Section:
    """A subregistry's observed survival by region and by age and sex, and its net
    survival by region, cohort and period approach, with the curves."""
    a, text = run.analyses, run.text
    regions = regions_nation_last()
    label = lambda r: region_label(r, text)  # noqa: E731
    of_sid = pl.col("subregistry") == sid
    section = Section(text("sections.survival"))
    km = run.survival.filter(of_sid)
    if km.height:
        section.tables.append(survival_table(run, "surv", km, "region", regions, label))
        section.tables.append(survival_groups_table(run, "surv-groups", sid))
        add_figure(run, section, survival_figure(run, "survival", a.survival_curves.filter(
            of_sid), None))
    rel = run.relative.filter(of_sid) if run.relative.height else run.relative
    if rel.height:
        std = rel.filter(pl.col("standardised"))["standard"]
        standard = std[0] if std.len() else rel["standard"][0]
        cohort = a.survival_window
        for approach, (first, last) in (("cohort", cohort), ("period", a.period)):
            section.tables.append(relative_table(
                run, f"rs-{approach}", rel.filter(pl.col("approach") == approach),
                ["region"], [label], [regions],
                text(f"relative.caption_{approach}", standard=standard, first=first,
                     last=last), [text("columns.region")], explain=approach == "cohort"))
        figure, note = relative_figure(run, "rs", sid)
        add_figure(run, section, figure)
        if note:
            section.paragraphs.append(md(note))
    return section
