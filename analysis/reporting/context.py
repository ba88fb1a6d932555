"""Report builders: from the shared analyses to one DocumentJob per document.

Three kinds of document (DESIGN.md §7): a regional report per region, a subregistry
report per subregistry, and the annual publication (a Quarto book). Every table passes
``analysis.disclosure`` before its cells are formatted; figures are drawn from the same
protected frames. The builders select, format and arrange; they compute no statistic.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from analysis import __version__, disclosure
from analysis import dictionary as dd
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION, SIR_YEARS, Analyses
from analysis.reporting.documents import (
    DocumentJob,
    FigureSpec,
    Page,
    Section,
    Table,
    front_matter,
    md,
    root_quarto,
)
from analysis.reporting.labels import Text


@dataclass
class Run:
    """What every document of one run shares: the analyses, language and provenance."""

    analyses: Analyses
    lang: str
    files: pl.DataFrame  # dataset, file, read, accepted, rejected, sha256
    options: dict[str, str]
    renderer: str

    @property
    def text(self) -> Text:
        return Text(self.lang)

    # Each table kind is protected once, whole (every region and the nation, all years),
    # so that every document shows the same cells masked: two documents masking
    # differently could be combined to undo the masking.
    @cached_property
    def asr(self) -> pl.DataFrame:
        return _protect(self.analyses.asr, ["subregistry", "region", "year"], "incidence")

    @cached_property
    def apc(self) -> pl.DataFrame:
        return _protect(self.analyses.apc, ["subregistry", "region"], "incidence")

    @cached_property
    def sir(self) -> pl.DataFrame:
        return _protect(self.analyses.sir, ["subregistry", "region"], "incidence")

    @cached_property
    def age_sex(self) -> pl.DataFrame:
        # Not a margin table: no national rows, sexes and age groups side by side.
        frame = self.analyses.age_sex
        return disclosure.suppress(frame, ["subregistry", "sex", "age_group"], estimates={
            c: b for c, b in _ESTIMATES["incidence"].items() if c in frame.columns})

    @cached_property
    def indicators(self) -> pl.DataFrame:
        return _protect(self.analyses.indicators,
                        ["indicator", "subregistry", "region", "year"], "share")

    @cached_property
    def survival(self) -> pl.DataFrame:
        return _protect(self.analyses.survival, ["subregistry", "region", "time"], "survival")

    @cached_property
    def completeness(self) -> pl.DataFrame:
        return _protect(self.analyses.completeness, ["subregistry", "variable", "region"],
                        "share")


# --- formatting helpers -------------------------------------------------------------------

def _k() -> int:
    return int(dd.registry()["disclosure"]["k"])


def _symbol() -> str:
    return str(dd.registry()["disclosure"]["symbol"])


def _suppressed_note(text: Text) -> str:
    cfg = dd.registry()["disclosure"]
    return text("notes.suppressed", symbol=cfg["symbol"], label=cfg[f"label_{text.lang}"],
                k=cfg["k"])


def region_label(region: str, text: Text) -> str:
    return text("nation") if region == NATION else dd.region_name(region, text.lang)


def subregistry_label(sid: str, lang: str) -> str:
    return dd.subregistry(sid)[f"short_{lang}"]


def _cell(row: dict, column: str, render: Callable[[float], str]) -> str:
    """A formatted cell; the suppression symbol where disclosure control hid the value."""
    value = row.get(column)
    if value is None:
        return _symbol() if row.get(disclosure.FLAG) else ""
    return render(value)


def _ci(row: dict, lang: str, decimals: int, as_percent: bool = False) -> str:
    """The confidence interval cell; the symbol where disclosure control hid it."""
    if row["lower"] is None:
        return _symbol() if row.get(disclosure.FLAG) else ""
    return fmt.interval(row["lower"], row["upper"], decimals, lang, as_percent)


# The estimates of each kind of table and the count they are built on.
_ESTIMATES = {
    "incidence": {"crude_rate": "n", "estimate": "n", "lower": "n", "upper": "n"},
    "share": {"events": "n", "estimate": "n", "lower": "n", "upper": "n"},
    "survival": {"estimate": "n", "lower": "n", "upper": "n", "n_at_risk": "n",
                 "n_events": "n"},
}


def _protect(frame: pl.DataFrame, keys: Sequence[str], kind: str) -> pl.DataFrame:
    """Disclosure control of a table before it is shown (analysis.disclosure): the
    national row is the margin of the regional rows when both are present."""
    estimates = {c: b for c, b in _ESTIMATES[kind].items() if c in frame.columns}
    return disclosure.suppress(frame, keys, estimates=estimates, margins={"region": NATION})


def _shown(protected: pl.DataFrame, key: str, order: Sequence[str],
           show: pl.Expr | None = None) -> pl.DataFrame:
    """The rows of a protected frame to show, ordered by `order` of the row key."""
    if show is not None:
        protected = protected.filter(show)
    return _order(protected.filter(pl.col(key).is_in(list(order))), key, order)


def _order(frame: pl.DataFrame, column: str, order: Sequence[str]) -> pl.DataFrame:
    rank = {v: i for i, v in enumerate(order)}
    return frame.sort(pl.col(column).replace_strict(rank, default=len(rank)))


def _regions_nation_last() -> list[str]:
    return [*dd.region_ids(), NATION]


# --- sections shared by every document ----------------------------------------------------

def methods_section(run: Run) -> Section:
    text = run.text
    std_id = dd.registry()["incidence"]["standard_population"]
    std = dd.load("standard_populations.yaml")["standards"].get(std_id, {})
    name = std.get(f"name_{run.lang}", std_id)
    body = text("methods.text", standard=name, k=_k(), symbol=_symbol())
    return Section(text("sections.methods"), paragraphs=body.strip().split("\n\n"))


def provenance_section(run: Run, doc_id: str) -> Section:
    text, a = run.text, run.analyses
    items = [
        (text("provenance.toolkit"), f"bcr {__version__}"),
        (text("provenance.extract_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.report_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.options"), ", ".join(f"{k}={v}" for k, v in run.options.items())),
        (text("provenance.renderer"), run.renderer),
    ]
    basis = Table(f"tbl-{doc_id}-provenance", text("captions.provenance_table"),
                  [text("columns.item"), text("columns.value")],
                  [[k, v] for k, v in items], ["l", "l"])
    files = Table(
        f"tbl-{doc_id}-files", text("captions.validation_table"),
        [text("columns.file"), text("columns.read"), text("columns.accepted"),
         text("columns.rejected"), text("columns.sha256")],
        [[r["file"], fmt.number(r["read"], 0, run.lang), fmt.number(r["accepted"], 0, run.lang),
          fmt.number(r["rejected"], 0, run.lang), r["sha256"]]
         for r in run.files.iter_rows(named=True)],
        ["l", "r", "r", "r", "l"])
    return Section(text("sections.provenance"),
                   paragraphs=[md(text("notes.rendered",
                                       date=fmt.date(a.extract_date, run.lang)))],
                   tables=[basis, files])


# --- building blocks of the subregistry sections -----------------------------------------

def incidence_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str],
                    show: pl.Expr | None = None) -> Table:
    """New cases, crude and age-standardised rate with CI per row of `key`."""
    text, lang = run.text, run.lang
    rows = []
    for r in _shown(frame, key, order, show).iter_rows(named=True):
        rows.append([
            label(r[key]),
            _cell(r, "n", lambda v: fmt.number(v, 0, lang)),
            _cell(r, "crude_rate", lambda v: fmt.number(v, 1, lang)),
            _cell(r, "estimate", lambda v: fmt.number(v, 1, lang)),
            _ci(r, lang, 1),
        ])
    return Table(f"tbl-{doc_id}", text("captions.incidence_table", year=run.analyses.year),
                 [text(f"columns.{key}"), text("columns.cases"), text("columns.crude_rate"),
                  text("columns.asr"), text("columns.ci")], rows, ["l", "r", "r", "r", "r"],
                 _suppressed_note(text))


def indicator_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str]) -> Table:
    """Indicators per row: share with CI, n, target level and the level reached."""
    text, lang = run.text, run.lang
    names = {i.id: i.name(lang) for i in run.analyses.indicator_list}
    rows = []
    for r in _shown(frame, key, order).iter_rows(named=True):
        target = "" if r["high"] is None else fmt.percent(r["high"], 0, lang)
        level = text(f"levels.{r['classification']}") if r["classification"] else ""
        rows.append([
            names.get(r["indicator"], r["indicator"]), label(r[key]),
            _cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)),
            _ci(r, lang, 1, as_percent=True),
            _cell(r, "n", lambda v: fmt.number(v, 0, lang)), target,
            "" if r[disclosure.FLAG] else level,
        ])
    return Table(f"tbl-{doc_id}", text("captions.indicators_table", year=run.analyses.year),
                 [text("columns.indicator"), text(f"columns.{key}"), text("columns.estimate"),
                  text("columns.ci"), text("columns.n"), text("columns.target"),
                  text("columns.level")], rows, ["l", "l", "r", "r", "r", "r", "l"],
                 _suppressed_note(text))


def survival_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                   order: Sequence[str], label: Callable[[str], str]) -> Table:
    """Observed survival at the configured times per row of `key`."""
    text, lang = run.text, run.lang
    times = sorted(frame["time"].unique().to_list())
    wide = {}
    for r in _shown(frame, key, order).iter_rows(named=True):
        value = _cell(r, "estimate", lambda v: fmt.percent(v, 0, lang))
        if r["estimate"] is not None and r["lower"] is not None:
            value += f" ({_ci(r, lang, 0, as_percent=True)})"
        wide.setdefault(r[key], {"n": _cell(r, "n", lambda v: fmt.number(v, 0, lang))})
        wide[r[key]][r["time"]] = value
    rows = [[label(k), v["n"], *(v.get(t, "") for t in times)] for k, v in wide.items()]
    return Table(f"tbl-{doc_id}", text("captions.survival_table"),
                 [text(f"columns.{key}"), text("columns.n"),
                  *(text("columns.time", years=fmt.number(t, 0, lang)) for t in times)],
                 rows, ["l", "r", *("r" for _ in times)], _suppressed_note(text))


def apc_table(run: Run, doc_id: str, frame: pl.DataFrame, order: Sequence[str],
              label: Callable[[str], str]) -> Table:
    """Annual percent change of the incidence per region with CI (log-linear Poisson)."""
    text, lang, a = run.text, run.lang, run.analyses
    rows = [[label(r["region"]), _cell(r, "n", lambda v: fmt.number(v, 0, lang)),
             _cell(r, "estimate", lambda v: fmt.number(v, 1, lang)), _ci(r, lang, 1)]
            for r in _shown(frame, "region", order).iter_rows(named=True)]
    return Table(f"tbl-{doc_id}", f"{text('columns.apc')}, {a.first_year}\u2013{a.year}",
                 [text("columns.region"), text("columns.cases"), text("columns.apc"),
                  text("columns.ci")], rows, ["l", "r", "r", "r"], _suppressed_note(text))


def _sir_figure(run: Run, doc_id: str, sid: str) -> FigureSpec:
    text, a = run.text, run.analyses
    shown = run.sir.filter((pl.col("subregistry") == sid) & pl.col(disclosure.FLAG).is_null()
                           ).with_columns(pl.col("region").map_elements(
                               lambda r: region_label(r, text), pl.String))
    first = max(a.first_year, a.year - SIR_YEARS + 1)
    return FigureSpec(f"fig-{doc_id}", text("captions.sir_figure", first=first, last=a.year),
                      "estimate_chart", {
                          "frame": shown.select("region", "estimate", "lower", "upper"),
                          "category": "region", "reference_line": 1.0,
                          "category_order": [region_label(r, text) for r in dd.region_ids()],
                          "labels": {"x": text("axes.sir"), "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.sir")}})


def _age_sex_figure(run: Run, doc_id: str, sid: str) -> FigureSpec:
    text, a = run.text, run.analyses
    sexes = {1: text("men"), 2: text("women")}
    shown = run.age_sex.filter((pl.col("subregistry") == sid)
                               & pl.col(disclosure.FLAG).is_null()).with_columns(
        pl.col("sex").replace_strict(sexes, return_dtype=pl.String))
    first = max(a.first_year, a.year - SIR_YEARS + 1)
    ages = list(dict.fromkeys(run.age_sex["age_group"].to_list()))
    return FigureSpec(f"fig-{doc_id}", text("captions.age_sex_figure", first=first, last=a.year),
                      "bar_chart", {
                          "frame": shown.select("age_group", "sex", "estimate", "lower",
                                                "upper"),
                          "x": "age_group", "y": "estimate", "fill": "sex",
                          "x_order": ages, "fill_order": list(sexes.values()),
                          "labels": {"x": text("axes.age_group"), "y": text("axes.rate"),
                                     "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.age_sex")}})


def _trend_figure(run: Run, doc_id: str, frame: pl.DataFrame, regions: Sequence[str],
                  focus: str | None, facet: bool) -> FigureSpec:
    text, a = run.text, run.analyses
    shown = frame.filter(pl.col(disclosure.FLAG).is_null()
                         & pl.col("region").is_in(list(regions)))
    shown = shown.with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String),
        pl.col("subregistry").map_elements(lambda s: subregistry_label(s, run.lang),
                                           pl.String))
    order = [region_label(r, text) for r in _regions_nation_last()]
    what = region_label(focus, text) if focus else text("all_regions")
    labels = {"x": text("axes.year"), "y": text("axes.rate"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.trend", what=what,
                          per=text("columns.subregistry").lower() if facet
                          else text("columns.region").lower())}
    return FigureSpec(f"fig-{doc_id}", text("captions.trend_figure", first=a.first_year,
                                            last=a.year),
                      "trend_chart", {
                          "frame": shown.select("year", "estimate", "region", "subregistry"),
                          "x": "year", "y": "estimate", "group": "region", "labels": labels,
                          "facet": "subregistry" if facet else None,
                          "focus": region_label(focus, text) if focus else None,
                          "reference": text("nation"), "group_order": order,
                          "facet_order": [subregistry_label(s, run.lang)
                                          for s in dd.subregistry_ids()]})


def _survival_figure(run: Run, doc_id: str, frame: pl.DataFrame, focus: str | None,
                     facet: bool) -> FigureSpec:
    text = run.text
    shown = frame.with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String),
        pl.col("subregistry").map_elements(lambda s: subregistry_label(s, run.lang),
                                           pl.String))
    what = region_label(focus, text) if focus else text("all_regions")
    labels = {"x": text("axes.years"), "y": text("axes.survival"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.survival", what=what)}
    return FigureSpec(f"fig-{doc_id}", text("captions.survival_figure"), "survival_chart", {
        "frame": shown.select("time", "estimate", "region", "subregistry"), "group": "region",
        "labels": labels, "focus": region_label(focus, text) if focus else None,
        "reference": text("nation"),
        "group_order": [region_label(r, text) for r in _regions_nation_last()],
        "facet": "subregistry" if facet else None,
        "facet_order": [subregistry_label(s, run.lang) for s in dd.subregistry_ids()]})


def _indicator_figure(run: Run, doc_id: str, frame: pl.DataFrame, regions: Sequence[str],
                      focus: str | None) -> FigureSpec:
    """Indicators against their targets: in a regional report one panel, the region
    beside the nation per indicator; in a subregistry report one panel per indicator."""
    text, lang = run.text, run.lang
    names = {i.id: textwrap.fill(i.name(lang), 38) for i in run.analyses.indicator_list}
    shown = frame.filter(
        pl.col(disclosure.FLAG).is_null() & pl.col("region").is_in(list(regions))
    ).with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String),
        pl.col("indicator").replace_strict(names, default=None))
    targets = pl.concat([
        shown.select("indicator", pl.lit("high").alias("level"), pl.col("high").alias("value")),
        shown.select("indicator", pl.lit("intermediate").alias("level"),
                     pl.col("intermediate").alias("value")),
    ]).drop_nulls("value").unique(maintain_order=True)
    labels = {"x": text("axes.percent"), "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.indicators"),
              **text.section("legend")}
    indicator_order = list(dict.fromkeys(shown["indicator"].to_list()))
    region_order = [region_label(r, text) for r in regions]
    layout = ({"category": "indicator", "group": "region", "category_order": indicator_order,
               "group_order": region_order} if focus else
              {"category": "region", "facet": "indicator", "category_order": region_order,
               "facet_order": indicator_order})
    return FigureSpec(f"fig-{doc_id}", text("captions.indicators_figure", year=run.analyses.year),
                      "estimate_chart", {
                          "frame": shown.select("region", "indicator", "estimate", "lower",
                                                "upper"),
                          "labels": labels, "targets": targets, "percent": True,
                          "focus": region_label(focus, text) if focus else None,
                          "reference": text("nation"), **layout})


def _funnel_figure(run: Run, doc_id: str, sids: Sequence[str], focus: str | None
                   ) -> FigureSpec | None:
    """Hospitals on funnel plots, one panel per subregistry; a region's own highlighted."""
    a, text = run.analyses, run.text
    if not a.hospitals.height:
        return None
    units = a.hospitals.filter(pl.col("subregistry").is_in(list(sids)))
    units = units.filter(disclosure.drawable(units, "funnel"))
    if units.is_empty():
        return None
    names = {i.id: i.name(run.lang) for i in a.indicator_list}
    indicator = ", ".join(dict.fromkeys(names[i] for i in units["indicator"]))
    curve = a.funnel_curves.filter(pl.col("subregistry").is_in(list(sids)))
    long = pl.concat([
        curve.select("subregistry", "n", "p0", pl.lit(side).alias("side"),
                     pl.lit(label).alias("limit"), pl.col(f"{side}_{suffix}").alias("value"))
        for side in ("lower", "upper")
        for suffix, label in (("95", text("legend.limit_95")), ("998", text("legend.limit_998")))
    ]).drop_nulls("value")
    short = {s: subregistry_label(s, run.lang) for s in dd.subregistry_ids()}
    facet = "subregistry" if len(sids) > 1 else None
    labels = {"x": text("axes.hospital_n"), "y": text("axes.percent"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.funnel"), "others": text("legend.others"),
              "highlight": text("legend.highlight", region=region_label(focus, text))
              if focus else text("legend.others")}
    return FigureSpec(f"fig-{doc_id}", text("captions.funnel_figure", indicator=indicator),
                      "funnel_chart", {
                          "units": units.select(
                              "n", "estimate", pl.col("region").alias("group"),
                              pl.col("subregistry").replace_strict(short)),
                          "curve": long.with_columns(pl.col("subregistry").replace_strict(short)),
                          "labels": labels, "highlight": focus, "facet": facet})


# --- the documents --------------------------------------------------------------------------

def _job(run: Run, name: str, stem: str, title: str, subtitle: str,
         sections: list[Section]) -> DocumentJob:
    front = front_matter(title, subtitle, run.lang, fmt.date(run.analyses.extract_date,
                                                             run.lang))
    return DocumentJob(name, stem, run.analyses.extract_date,
                       [Page("index.qmd", "report.qmd.j2", front, sections)])


def _subregistries_present(a: Analyses) -> list[str]:
    present = set(a.asr["subregistry"].unique().to_list())
    return [s for s in dd.subregistry_ids() if s in present]


def regional_report(run: Run, region: str) -> DocumentJob:
    """The report of one region for its process leaders: the region beside the nation."""
    a, text, lang = run.analyses, run.text, run.lang
    rname = dd.region_name(region, lang)
    pair = [region, NATION]
    sids = _subregistries_present(a)
    now = run.asr.filter(pl.col("year") == a.year)
    key_table = incidence_table(run, "key", now, "subregistry",
                                sids, lambda s: subregistry_label(s, lang),
                                show=pl.col("region") == region)
    key_table.caption = text("captions.key_figures", year=a.year, region=rname)
    key = Section(text("sections.key_figures"),
                  paragraphs=[md(text("regional.intro", region=rname, year=a.year))],
                  tables=[key_table], callout=text("notes.preliminary", year=a.year))
    trend = Section(text("sections.trend"), figures=[_trend_figure(
        run, "trend", run.asr, pair, region, facet=True)])
    per_sub = []
    for sid in sids:
        of_sid = pl.col("subregistry") == sid
        sub = Section(dd.subregistry(sid)[f"name_{lang}"])
        sub.tables.append(incidence_table(
            run, f"{sid}-inc", now.filter(of_sid), "region",
            _regions_nation_last(), lambda r: region_label(r, text)))
        ind = run.indicators.filter(of_sid & (pl.col("year") == a.year))
        if ind.height:
            sub.tables.append(indicator_table(run, f"{sid}-ind", ind, "region", pair,
                                              lambda r: region_label(r, text)))
            sub.figures.append(_indicator_figure(run, f"{sid}-ind", ind, pair, region))
        km = run.survival.filter(of_sid)
        if km.height:
            sub.tables.append(survival_table(run, f"{sid}-surv", km, "region", pair,
                                             lambda r: region_label(r, text)))
        per_sub.append(sub)
    curves = a.survival_curves.filter(pl.col("region").is_in(pair))
    funnel_fig = _funnel_figure(run, "funnel", sids, region)
    hospitals = Section(text("sections.funnel"), figures=[funnel_fig] if funnel_fig else [],
                        paragraphs=[] if funnel_fig else [text("notes.not_available")])
    survival_sec = Section(text("sections.survival"))
    if curves.height:
        survival_sec.figures.append(_survival_figure(run, "survival", curves, region, True))
    else:
        survival_sec.paragraphs.append(text("notes.not_available"))
    sections = [key, trend, Section(text("publication.chapters"), subsections=per_sub,
                                    tabset=True),
                hospitals, survival_sec, _data_quality(run, "dq", region), methods_section(run),
                provenance_section(run, "prov")]
    return _job(run, f"region-{region}", f"region-{region}-{a.year}",
                text("regional.title", region=rname, year=a.year),
                text("regional.subtitle", registry=dd.registry()[f"name_{lang}"],
                     region=rname), sections)


def _data_quality(run: Run, doc_id: str, region: str) -> Section:
    """Completeness of the key variables in the region (validation is in provenance)."""
    text, lang = run.text, run.lang
    labels = {}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            labels.setdefault(f.name, f.label(lang))
    rows = []
    shown = run.completeness.filter(pl.col("region") == region)
    for r in shown.iter_rows(named=True):
        rows.append([subregistry_label(r["subregistry"], lang),
                     labels.get(r["variable"], r["variable"]),
                     _cell(r, "estimate", lambda v: fmt.percent(v, 0, lang)),
                     _cell(r, "n", lambda v: fmt.number(v, 0, lang))])
    table = Table(f"tbl-{doc_id}-completeness", text("captions.completeness_table"),
                  [text("columns.subregistry"), text("columns.variable"),
                   text("columns.completeness"), text("columns.n")], rows,
                  ["l", "l", "r", "r"], _suppressed_note(text))
    return Section(text("sections.data_quality"), tables=[table])


def subregistry_sections(run: Run, sid: str) -> list[Section]:
    """Incidence, quality and survival of one subregistry, all regions side by side."""
    a, text, lang = run.analyses, run.text, run.lang
    regions = _regions_nation_last()
    label = lambda r: region_label(r, text)  # noqa: E731
    of_sid = pl.col("subregistry") == sid
    sname = dd.subregistry(sid)[f"name_{lang}"]
    incidence = Section(
        text("sections.incidence"),
        paragraphs=[md(text("subregistry.intro", subregistry=sname, year=a.year))],
        tables=[incidence_table(run, "inc", run.asr.filter(of_sid & (pl.col("year") == a.year)),
                                "region", regions, label)],
        figures=[_trend_figure(run, "trend", run.asr.filter(of_sid), regions, None,
                               facet=False)])
    incidence.tables.append(apc_table(run, "apc", run.apc.filter(of_sid), regions, label))
    incidence.figures += [_sir_figure(run, "sir", sid), _age_sex_figure(run, "agesex", sid)]
    quality = Section(text("sections.indicators"))
    ind = run.indicators.filter(of_sid & (pl.col("year") == a.year))
    if ind.height:
        quality.tables.append(indicator_table(run, "ind", ind, "region", regions, label))
        quality.figures.append(_indicator_figure(run, "ind", ind, regions, None))
    funnel_fig = _funnel_figure(run, "funnel", [sid], None)
    if funnel_fig:
        quality.figures.append(funnel_fig)
    surv = Section(text("sections.survival"))
    km = run.survival.filter(of_sid)
    if km.height:
        surv.tables.append(survival_table(run, "surv", km, "region", regions, label))
        surv.figures.append(_survival_figure(run, "survival", a.survival_curves.filter(
            of_sid), None, facet=False))
    return [incidence, quality, surv]


def subregistry_report(run: Run, sid: str) -> DocumentJob:
    """The report of one subregistry for its steering group: all regions side by side."""
    a, text, lang = run.analyses, run.text, run.lang
    sections = [*subregistry_sections(run, sid), methods_section(run),
                provenance_section(run, "prov")]
    return _job(run, f"subregistry-{sid}", f"subregistry-{sid}-{a.year}",
                text("subregistry.title", subregistry=dd.subregistry(sid)[f"name_{lang}"],
                     year=a.year),
                text("subregistry.subtitle", registry=dd.registry()[f"name_{lang}"]), sections)


def publication(run: Run) -> DocumentJob:
    """The annual publication: a Quarto book built from the root _quarto.yml."""
    a, text, lang = run.analyses, run.text, run.lang
    registry_name = dd.registry()[f"name_{lang}"]
    sids = _subregistries_present(a)
    nation_now = run.asr.filter((pl.col("region") == NATION) & (pl.col("year") == a.year))
    summary = Section(text("publication.summary"), paragraphs=[md(text(
        "publication.intro", cases=fmt.number(int(nation_now["n"].sum()), 0, lang),
        year=a.year, n_subregistries=len(sids)))],
        tables=[incidence_table(run, "summary", nation_now, "subregistry",
                                sids, lambda s: subregistry_label(s, lang))])
    pages = [Page("index.qmd", "chapter.qmd.j2", {}, [summary])]
    for sid in sids:
        chapter = Section(dd.subregistry(sid)[f"name_{lang}"],
                          subsections=subregistry_sections(run, sid))
        _prefix_ids(chapter, sid)
        pages.append(Page(f"{sid}.qmd", "chapter.qmd.j2", {}, [chapter]))
    pages.append(Page("methods.qmd", "chapter.qmd.j2", {}, [methods_section(run)]))
    pages.append(Page("provenance.qmd", "chapter.qmd.j2", {},
                      [provenance_section(run, "prov")]))
    project = {k: v for k, v in root_quarto().items() if k != "project"}
    project.update({
        "project": {"type": "book", "output-dir": "_book"},
        "lang": lang,
        "book": {"title": text("publication.title", registry=registry_name, year=a.year),
                 "subtitle": text("publication.subtitle"),
                 "date": fmt.date(a.extract_date, lang),
                 "chapters": [p.file for p in pages]},
    })
    project["format"]["html"]["css"] = "report.css"
    return DocumentJob("publication", f"publication-{a.year}", a.extract_date, pages, project)


def _prefix_ids(section: Section, prefix: str) -> None:
    """Make table and figure ids unique within a book (one chapter per subregistry)."""
    for t in section.tables:
        t.id = t.id.replace("tbl-", f"tbl-{prefix}-", 1)
    for f in section.figures:
        f.id = f.id.replace("fig-", f"fig-{prefix}-", 1)
    for s in section.subsections:
        _prefix_ids(s, prefix)


def all_jobs(run: Run, regions: Sequence[str] | None = None,
             subregistries: Sequence[str] | None = None,
             with_publication: bool = True) -> list[DocumentJob]:
    """The documents of a run: regional reports, subregistry reports, the publication."""
    a = run.analyses
    jobs = [regional_report(run, r) for r in (regions if regions is not None
                                              else dd.region_ids())]
    jobs += [subregistry_report(run, s) for s in (subregistries if subregistries is not None
                                                  else _subregistries_present(a))]
    if with_publication:
        jobs.append(publication(run))
    return jobs


def default_out(base: Path, year: int, lang: str) -> Path:
    """reports/<year>/<lang>/: one folder per run's year and language."""
    return base / str(year) / lang

