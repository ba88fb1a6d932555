"""Report builders: from the shared analyses to one DocumentJob per document.

Three kinds of document (DESIGN.md §7): a regional report per region, a subregistry
report per subregistry, and the annual publication (a Quarto book). Every table passes
``analysis.disclosure`` before its cells are formatted; figures are drawn from the same
protected frames. The builders select, format and arrange; they compute no statistic.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from analysis import __version__, disclosure
from analysis import dictionary as dd
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import (
    NATION,
    Analyses,
    age_band_labels,
)
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
    # file, rule, column, n: how many rows broke each validation rule (counts only)
    rules: pl.DataFrame = field(default_factory=pl.DataFrame)

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

    def _masked_cases(self, frame: pl.DataFrame, keys: Sequence[str]) -> list[bool]:
        """Per row of `frame`: do the incidence tables mask this region's new cases of
        the year? Indicators and completeness are about the same cases, so a masked
        count must not follow from them either (linked tables)."""
        cells = self.asr.filter(pl.col(disclosure.FLAG).is_in(
            [disclosure.PRIMARY, disclosure.SECONDARY, disclosure.LINKED])).select(
            *keys).unique().with_columns(pl.lit(True).alias("_masked"))
        return (frame.select(*keys).join(cells, on=list(keys), how="left",
                                          maintain_order="left")
                ["_masked"].fill_null(False).to_list())

    @cached_property
    def indicators(self) -> pl.DataFrame:
        frame = self.analyses.indicators
        keys = ["subregistry", "region", "year"]
        return _protect(frame, ["indicator", *keys], "share",
                        self._masked_cases(frame, keys))

    @cached_property
    def survival(self) -> pl.DataFrame:
        return _protect(self.analyses.survival, ["subregistry", "region", "time"], "survival")

    @cached_property
    def survival_groups(self) -> pl.DataFrame:
        # Each grouping (age bands, sexes) adds up to the whole subregistry (NATION).
        frame = self.analyses.survival_groups
        return _protect(frame, ["subregistry", "grouping", "group", "time"], "survival",
                        margin="group")

    @cached_property
    def relative(self) -> pl.DataFrame:
        frame = self.analyses.relative
        if frame.is_empty():
            return frame
        return _protect(frame, ["subregistry", "approach", "time", "region"], "survival")

    @cached_property
    def completeness(self) -> pl.DataFrame:
        frame = self.analyses.completeness.with_columns(
            pl.lit(self.analyses.year).alias("year"))  # the report year's cases
        linked = self._masked_cases(frame, ["subregistry", "region", "year"])
        return _protect(frame, ["subregistry", "variable", "region"], "share",
                        linked).drop("year")


CURVE_POINTS_PER_YEAR = 100  # survival curves drawn at 1/100 year (under 4 days)


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


def _protect(frame: pl.DataFrame, keys: Sequence[str], kind: str,
             linked: Sequence[bool] | None = None, margin: str = "region") -> pl.DataFrame:
    """Disclosure control of a table before it is shown (analysis.disclosure): the
    NATION row of the `margin` column is the margin of the other rows when both are
    present; `linked` rows are masked because a linked table masks their cases."""
    estimates = {c: b for c, b in _ESTIMATES[kind].items() if c in frame.columns}
    return disclosure.suppress(frame, keys, estimates=estimates, margins={margin: NATION},
                               linked=linked)


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
    a = run.analyses
    body = text("methods.text", standard=name, k=_k(), symbol=_symbol(),
                min_cases=_min_cases(), min_age_group=a.settings.min_age_group_cases,
                cohort_first=a.year - a.settings.survival_years + 1, cohort_last=a.year,
                period_first=a.period[0], period_last=a.period[1])
    return Section(text("sections.methods"), paragraphs=body.strip().split("\n\n"))


def provenance_section(run: Run, doc_id: str) -> Section:
    text, a = run.text, run.analyses
    items = [
        (text("provenance.toolkit"), f"bcr {__version__}"),
        (text("provenance.extract_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.report_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.options"), ", ".join(
            f"{text.section('provenance.option_names').get(k, k)} {v}"
            for k, v in run.options.items())),
        (text("provenance.renderer"),
         text.section("provenance.renderers").get(run.renderer, run.renderer)),
    ]
    basis = Table(f"tbl-{doc_id}-provenance", text("captions.provenance_table"),
                  [text("columns.item"), text("columns.value")],
                  [[k, v] for k, v in items], ["l", "l"])
    files = Table(
        f"tbl-{doc_id}-files", text("captions.validation_table"),
        [text("columns.file"), text("columns.read"), text("columns.accepted"),
         text("columns.rejected"), text("columns.sha256")],
        [[r["file"], fmt.number(r["read"], 0, run.lang), fmt.number(r["accepted"], 0, run.lang),
          fmt.number(r["rejected"], 0, run.lang),
          # In two halves, so that the 64 digits wrap inside an A4 column.
          f"{r['sha256'][:32]} {r['sha256'][32:]}"]
         for r in run.files.iter_rows(named=True)],
        ["l", "r", "r", "r", "l"])
    return Section(text("sections.provenance"),
                   paragraphs=[md(text("notes.rendered",
                                       date=fmt.date(a.extract_date, run.lang)))],
                   tables=[basis, files])


# --- building blocks of the subregistry sections -----------------------------------------

def incidence_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str],
                    show: pl.Expr | None = None, with_nation: bool = False) -> Table:
    """New cases, crude and age-standardised rate with CI per row of `key`; with
    `with_nation`, the nation's age-standardised rate with CI of the same row beside it."""
    text, lang = run.text, run.lang
    nation = ({r[key]: r for r in frame.filter(pl.col("region") == NATION).iter_rows(named=True)}
              if with_nation else {})
    rows = []
    for r in _shown(frame, key, order, show).iter_rows(named=True):
        row = [
            label(r[key]),
            _cell(r, "n", lambda v: fmt.number(v, 0, lang)),
            _cell(r, "crude_rate", lambda v: fmt.number(v, 1, lang)),
            _cell(r, "estimate", lambda v: fmt.number(v, 1, lang)),
            _ci(r, lang, 1),
        ]
        if with_nation:
            other = nation.get(r[key], {"lower": None})
            row += [_cell(other, "estimate", lambda v: fmt.number(v, 1, lang)),
                    _ci(other, lang, 1)]
        rows.append(row)
    headers = [text(f"columns.{key}"), text("columns.cases"), text("columns.crude_rate"),
               text("columns.asr"), text("columns.ci")]
    if with_nation:
        headers += [text("columns.asr_nation"), text("columns.ci")]
    return Table(f"tbl-{doc_id}", text("captions.incidence_table", year=run.analyses.year),
                 headers, rows, ["l", *("r" for _ in headers[1:])], _suppressed_note(text))


def indicator_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str]) -> Table:
    """Indicators per row: share with CI, n, target level and the level reached."""
    text, lang = run.text, run.lang
    names = {i.id: i.name(lang) for i in run.analyses.indicator_list}
    rows = []
    for r in _shown(frame, key, order).iter_rows(named=True):
        target = "" if r["high"] is None else fmt.percent(r["high"], 0, lang)
        level = (text(f"levels.{r['classification']}") if r["classification"]
                 else text("levels.few") if r["high"] is not None else "")
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
        if not value and (r.get("reason") or "").startswith("follow-up ends"):
            value = "·"
        wide.setdefault(r[key], {"n": _cell(r, "n", lambda v: fmt.number(v, 0, lang))})
        wide[r[key]][r["time"]] = value
    rows = [[label(k), v["n"], *(v.get(t, "") for t in times)] for k, v in wide.items()]
    note = _suppressed_note(text)
    if any(cell == "·" for row in rows for cell in row):
        note = f"{text('notes.no_follow_up')} {note}"
    return Table(f"tbl-{doc_id}", text("captions.survival_table"),
                 [text(f"columns.{key}"), text("columns.n"),
                  *(text("columns.time", years=fmt.number(t, 0, lang)) for t in times)],
                 rows, ["l", "r", *("r" for _ in times)], note)


def survival_groups_table(run: Run, doc_id: str, sid: str) -> Table:
    """Observed survival of a subregistry (nation) by age band at diagnosis and by sex."""
    text, a = run.text, run.analyses
    frame = run.survival_groups.filter(
        (pl.col("subregistry") == sid)
        & ~((pl.col("grouping") == "sex") & (pl.col("group") == NATION)))
    bands = age_band_labels(a.settings.survival_age_groups)
    names = {"1": text("men"), "2": text("women"), NATION: text("all_ages_sexes")}
    table = survival_table(run, doc_id, frame, "group", [*bands, "1", "2", NATION],
                           lambda g: names.get(g, g))
    table.caption = text("captions.survival_groups", first=a.year
                         - a.settings.survival_years + 1, last=a.year)
    return table


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
    first = max(a.first_year, a.year - a.settings.pooled_years + 1)
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
    rows = run.age_sex.filter(pl.col("subregistry") == sid).with_columns(
        pl.col("sex").replace_strict(sexes, return_dtype=pl.String),
        pl.col(disclosure.FLAG).is_not_null().alias("masked"))
    first = max(a.first_year, a.year - a.settings.pooled_years + 1)
    ages = list(dict.fromkeys(run.age_sex["age_group"].to_list()))
    caption = text("captions.age_sex_figure", first=first, last=a.year)
    if rows["masked"].any():
        caption += f"; {_suppressed_note(text)}"
    return FigureSpec(f"fig-{doc_id}", caption, "bar_chart", {
        "frame": rows.select("age_group", "sex", "estimate", "lower", "upper", "masked"),
        "x": "age_group", "y": "estimate", "fill": "sex",
        "x_order": ages, "fill_order": list(sexes.values()),
        "labels": {"x": text("axes.age_group"), "y": text("axes.rate"),
                   "decimal": fmt.decimal_mark(run.lang), "symbol": _symbol(),
                   "alt": text("alt.age_sex")}})


def _trend_figure(run: Run, doc_id: str, frame: pl.DataFrame, regions: Sequence[str],
                  focus: str | None, facet: bool) -> FigureSpec:
    text, a = run.text, run.analyses
    # Masked years stay in (estimate null): the line breaks there instead of bridging.
    shown = frame.filter(pl.col("region").is_in(list(regions)))
    shown = shown.with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String),
        pl.col("subregistry").map_elements(lambda s: subregistry_label(s, run.lang),
                                           pl.String))
    order = [region_label(r, text) for r in _regions_nation_last()]
    what = region_label(focus, text) if focus else text("all_regions")
    labels = {"x": text("axes.year"), "y": text("axes.rate"),
              "decimal": fmt.decimal_mark(run.lang), "others": text("legend.other_regions"),
              "alt": text("alt.trend", what=what,
                          per=text("columns.subregistry").lower() if facet
                          else text("columns.region").lower())}
    caption = text("captions.trend_figure", first=a.first_year, last=a.year)
    if shown["estimate"].null_count():
        caption += f"; {text('notes.trend_gaps')}"
    return FigureSpec(f"fig-{doc_id}", caption,
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
    # Only groups large enough for a survival estimate are drawn (disclosure.may_draw).
    sizes = frame.group_by("subregistry", "region").agg(pl.col("n_at_risk").max().alias("n"))
    keep = sizes.filter(disclosure.drawable(sizes, "survival")).select("subregistry", "region")
    # The first point of each curve and then the last point per 1/CURVE_POINTS_PER_YEAR
    # year: the same step curve at print resolution, drawn in a fraction of the time.
    group = ["subregistry", "region"]
    shown = (frame.join(keep, on=group, how="semi", maintain_order="left")
             .with_columns((pl.col("time") * CURVE_POINTS_PER_YEAR).floor().alias("_bin"))
             .filter((pl.col("_bin") != pl.col("_bin").shift(-1).over(group))
                     | pl.col("_bin").shift(-1).over(group).is_null()
                     | (pl.int_range(pl.len()).over(group) == 0))
             .with_columns(
                 pl.col("region").replace_strict(
                     {r: region_label(r, text) for r in _regions_nation_last()},
                     return_dtype=pl.String),
                 pl.col("subregistry").replace_strict(
                     {s: subregistry_label(s, run.lang) for s in dd.subregistry_ids()},
                     return_dtype=pl.String)))
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


def _level_grid_figure(run: Run, doc_id: str, frame: pl.DataFrame, region: str,
                       sids: Sequence[str]) -> FigureSpec | None:
    """All indicators of a region in one figure: a tile per indicator and subregistry,
    coloured by the target level the region reached, the region's and (in brackets) the
    nation's share printed in it."""
    text, lang = run.text, run.lang
    names = {i.id: textwrap.fill(i.name(lang), 44) for i in run.analyses.indicator_list}
    nation = {(r["indicator"], r["subregistry"]): r["estimate"]
              for r in frame.filter(pl.col("region") == NATION).iter_rows(named=True)}
    tiles = []
    for r in frame.filter(pl.col("region") == region).iter_rows(named=True):
        if r["subregistry"] not in sids:
            continue
        # One decimal: 94,7 below a 95 % target must not read as 95.
        own = _symbol() if r["estimate"] is None else fmt.number(r["estimate"] * 100, 1, lang)
        other = nation.get((r["indicator"], r["subregistry"]))
        other = _symbol() if other is None else fmt.number(other * 100, 1, lang)
        level = ("hidden" if r["estimate"] is None else r["classification"]
                 or ("few" if r["high"] is not None else "none"))
        tiles.append({"x": subregistry_label(r["subregistry"], lang),
                      "y": names.get(r["indicator"], r["indicator"]), "level": level,
                      "label": f"{own}\n({other})"})
    if not tiles:
        return None
    grid = pl.DataFrame(tiles)
    order = [names[i.id] for i in run.analyses.indicator_list if names[i.id] in
             set(grid["y"].to_list())]
    cfg = dd.registry()["disclosure"]
    labels = {"alt": text("alt.level_grid", region=region_label(region, text)),
              "level_high": text("legend.target_high"),
              "level_intermediate": text("legend.target_intermediate"),
              "level_below": text("legend.below"), "level_none": text("levels.none"),
              "level_few": text("levels.few"),
              "level_hidden": f"{cfg['symbol']} {cfg[f'label_{lang}']}"}
    return FigureSpec(f"fig-{doc_id}", text("captions.level_grid", year=run.analyses.year,
                                            region=region_label(region, text)),
                      "level_grid", {"frame": grid, "labels": labels,
                                     "x_order": [subregistry_label(s, lang) for s in sids],
                                     "y_order": order})


def _funnel_units(run: Run, sids: Sequence[str]) -> pl.DataFrame:
    """The hospitals drawn on the funnel plots of these subregistries: large enough to
    draw, in a panel of at least three (one or two hospitals show no comparison)."""
    hospitals = run.analyses.hospitals
    if not hospitals.height:
        return hospitals
    units = hospitals.filter(pl.col("subregistry").is_in(list(sids)))
    units = units.filter(disclosure.drawable(units, "funnel"))
    return units.filter(pl.len().over("subregistry") >= 3)


def _funnel_figure(run: Run, doc_id: str, sids: Sequence[str], focus: str | None
                   ) -> FigureSpec | None:
    """Hospitals on funnel plots, one panel per subregistry; a region's own highlighted."""
    a, text = run.analyses, run.text
    units = _funnel_units(run, sids)
    if units.is_empty():
        return None
    sids = [s for s in sids if s in set(units["subregistry"].to_list())]
    names = {i.id: i.name(run.lang) for i in a.indicator_list}
    short = {s: subregistry_label(s, run.lang) for s in dd.subregistry_ids()}
    panels: dict[str, list[str]] = {}  # which panels show which indicator, in panel order
    for sid in sids:
        for ind in units.filter(pl.col("subregistry") == sid)["indicator"].unique():
            panels.setdefault(ind, []).append(short[sid])
    # The panels of each indicator, unless the name already says (e.g. "... (MDS)").
    indicator = "; ".join(
        _lower_first(names[i]) + (f" ({', '.join(p)})" if len(sids) > 1 and not
                                  names[i].endswith(f"({', '.join(p)})") else "")
        for i, p in panels.items())
    curve = a.funnel_curves.filter(pl.col("subregistry").is_in(list(sids)))
    long = pl.concat([
        curve.select("subregistry", "n", "p0", pl.lit(side).alias("side"),
                     pl.lit(label).alias("limit"), pl.col(f"{side}_{suffix}").alias("value"))
        for side in ("lower", "upper")
        for suffix, label in (("95", text("legend.limit_95")), ("998", text("legend.limit_998")))
    ]).drop_nulls("value")
    facet = "subregistry" if len(sids) > 1 else None
    labels = {"x": text("axes.hospital_n"), "y": text("axes.percent"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.funnel"),
              "others": text("legend.others") if focus else text("legend.hospitals"),
              "highlight": text("legend.highlight", region=region_label(focus, text))
              if focus else text("legend.hospitals"), "target": text("legend.target_nation")}
    return FigureSpec(f"fig-{doc_id}", text("captions.funnel_figure", indicator=indicator),
                      "funnel_chart", {
                          "units": units.select(
                              "n", "estimate", pl.col("region").alias("group"),
                              pl.col("subregistry").replace_strict(short)),
                          "curve": long.with_columns(pl.col("subregistry").replace_strict(short)),
                          "labels": labels, "highlight": focus, "facet": facet,
                          "facet_order": [short[s] for s in sids]})


def hospital_table(run: Run, doc_id: str, sids: Sequence[str], region: str | None
                   ) -> Table | None:
    """The hospitals drawn on the funnel plots (of a region, or all): subregistry,
    hospital, region, n, share and position against the control limits (flag of
    analysis.funnel), so that a point on the plot can be found and followed up."""
    a, text, lang = run.analyses, run.text, run.lang
    units = _funnel_units(run, sids)
    if region is not None and not units.is_empty():
        units = units.filter(pl.col("region") == region)
    if units.is_empty():
        return None
    names = {h["code"]: h["name"] for h in dd.load("hospitals.yaml")["hospitals"]}
    flags = text.section("notes.funnel_flags")
    order = {s: i for i, s in enumerate(sids)}
    rows = [[subregistry_label(r["subregistry"], lang), names.get(r["hospital"], r["hospital"]),
             region_label(r["region"], text) if r["region"] else "",
             fmt.number(r["n"], 0, lang), fmt.percent(r["estimate"], 1, lang),
             flags.get(r["flag"], "")]
            for r in sorted(units.iter_rows(named=True),
                            key=lambda r: (order[r["subregistry"]], r["region"] or "",
                                           names.get(r["hospital"], r["hospital"])))]
    return Table(f"tbl-{doc_id}", text("captions.funnel_table", year=a.year),
                 [text("columns.subregistry"), text("columns.hospital"), text("columns.region"),
                  text("columns.n"), text("columns.estimate"), text("columns.position")],
                 rows, ["l", "l", "l", "r", "r", "l"], text("notes.funnel_table"))


# --- relative survival, Cox regression, validation, indicators that moved --------------

def _min_cases() -> int:
    return disclosure.min_group_size("survival")


def _rs_note(r: dict, text: Text) -> str:
    """Why a net-survival cell has no estimate, or that it is not age-standardised."""
    reason = r.get("reason")
    if r.get(disclosure.FLAG) and r["estimate"] is None:
        return ""
    if reason:
        if reason.startswith("fewer than"):
            return text("relative.too_few", min_cases=_min_cases())
        if reason.startswith("no follow-up"):
            return text("relative.no_followup")
        return text("relative.no_estimate")
    return "" if r["standardised"] else text("relative.not_standardised")


def _rs_cell(r: dict | None, lang: str) -> str:
    if r is None:
        return ""
    value = _cell(r, "estimate", lambda v: fmt.percent(v, 0, lang))
    if r["estimate"] is not None and r["lower"] is not None:
        value += f" ({_ci(r, lang, 0, as_percent=True)})"
    return value


def relative_table(run: Run, doc_id: str, frame: pl.DataFrame, keys: Sequence[str],
                   labels: Sequence[Callable[[str], str]], orders: Sequence[Sequence[str]],
                   caption: str, headers: Sequence[str], explain: bool = True) -> Table:
    """Net survival at the report's times (reports.net_survival_times), one row per
    combination of `keys` (in `orders`): n, the estimates with CI, and a note (not
    age-standardised, or why no estimate).
    """
    text, lang, cfg = run.text, run.lang, run.analyses.settings
    cells: dict[tuple, dict[float, dict]] = {}
    for r in frame.iter_rows(named=True):
        cells.setdefault(tuple(r[k] for k in keys), {})[r["time"]] = r
    rank = [{v: i for i, v in enumerate(o)} for o in orders]
    rows = []
    for key in sorted((k for k in cells if all(v in rk for v, rk in zip(k, rank,
                                                                         strict=True))),
                      key=lambda k: tuple(rk[v] for v, rk in zip(k, rank, strict=True))):
        by_time = cells[key]
        first = by_time[min(by_time)]
        notes = list(dict.fromkeys(n for n in (_rs_note(by_time[t], text)
                                                for t in sorted(by_time)) if n))
        rows.append([*(lab(v) for lab, v in zip(labels, key, strict=True)),
                     _cell(first, "n", lambda v: fmt.number(v, 0, lang)),
                     *(_rs_cell(by_time.get(t), lang) for t in cfg.net_survival_times),
                     "; ".join(notes)])
    note = (text("relative.note", min_age_group=cfg.min_age_group_cases,
                 min_cases=_min_cases()) + " " if explain else "") + _suppressed_note(text)
    times = cfg.net_survival_times
    return Table(f"tbl-{doc_id}", caption,
                 [*headers, text("columns.n"),
                  *(text("columns.time", years=fmt.number(t, 0, lang)) for t in times),
                  text("relative.note_column")],
                 rows, [*("l" for _ in headers), "r", *("r" for _ in times), "l"], note)


def _relative_figure(run: Run, doc_id: str, sid: str) -> tuple[FigureSpec | None, str]:
    """Net survival curves by region and for the nation; groups under the minimum size
    are not drawn (disclosure.may_draw) and named in the returned note."""
    a, text = run.analyses, run.text
    curves = a.relative_curves.filter(pl.col("subregistry") == sid)
    if curves.is_empty():
        return None, ""
    sizes = curves.group_by("region").agg(pl.col("n").first())
    hidden = [r for r in _regions_nation_last() if r in set(sizes["region"].to_list())
              and not disclosure.may_draw(sizes.filter(pl.col("region") == r)["n"].item(),
                                          "survival")]
    shown = curves.filter(~pl.col("region").is_in(hidden))
    note = (text("relative.not_drawn", groups=", ".join(region_label(r, text) for r in hidden),
                 min_cases=_min_cases()) if hidden else "")
    if shown.is_empty():
        return None, note
    # Start every curve at 100 % at diagnosis.
    start = shown.select("region").unique().with_columns(
        pl.lit(0.0).alias("time"), pl.lit(1.0).alias("estimate"))
    frame = pl.concat([start, shown.select("region", "time", "estimate")]).with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String)
    ).sort("region", "time")
    labels = {"x": text("axes.years"), "y": text("axes.survival"),
              "decimal": fmt.decimal_mark(run.lang), "alt": text("relative.alt")}
    first = a.year - a.settings.survival_years + 1
    return FigureSpec(f"fig-{doc_id}", text("relative.caption_figure", first=first,
                                            last=a.year), "survival_chart", {
        "frame": frame, "group": "region", "labels": labels, "reference": text("nation"),
        "group_order": [region_label(r, text) for r in _regions_nation_last()],
        "step": False}), note


def _p_value(p: float | None, lang: str) -> str:
    if p is None:
        return ""
    return ("<" + fmt.number(0.001, 3, lang)) if p < 0.001 else fmt.number(p, 3, lang)


def _lower_first(words: str) -> str:
    """The words inside a sentence: first letter lowered unless it starts an acronym."""
    return words if words[1:2].isupper() else words[:1].lower() + words[1:]


def cox_section(run: Run, doc_id: str, sid: str) -> Section:
    """Hazard ratios by region against the reference region, adjusted for age and sex,
    and the proportional-hazards test in words."""
    a, text, lang = run.analyses, run.text, run.lang
    section = Section(text("sections.cox"))
    fitted = a.cox.filter(pl.col("subregistry") == sid) if a.cox.height else a.cox
    if fitted.is_empty():
        section.paragraphs.append(text("cox.not_available"))
        return section
    first = fitted.row(0, named=True)
    reference = region_label(first["reference"], text)
    minimum = _min_cases()
    k = _k()

    def count(n: int | None) -> str:
        return _symbol() if n is not None and 0 < n < k else fmt.number(n, 0, lang)

    rows = [[reference, count(first["reference_n"]), text("cox.reference"), "", ""]]
    hidden = False
    for r in fitted.iter_rows(named=True):
        if r["term"] == "region":
            label, n = region_label(r["level"], text), r["region_n"]
        elif r["term"] == "sex":
            label, n = text("cox.women"), None
        elif r["level"] == "per year":
            label, n = text("cox.age"), None
        else:
            continue
        if n is not None and n < minimum:
            hidden = True
            rows.append([label, count(n), _symbol(), _symbol(), _symbol()])
            continue
        rows.append([label, "" if n is None else count(n),
                     fmt.number(r["hazard_ratio"], 2, lang),
                     fmt.interval(r["lower"], r["upper"], 2, lang),
                     _p_value(r["p_value"], lang)])
    years = dict(first=a.year - a.settings.survival_years + 1, last=a.year)
    table = Table(f"tbl-{doc_id}", text("cox.caption", reference=reference, **years),
                  [text("cox.term"), text("columns.n"), text("columns.hazard_ratio"),
                   text("columns.ci"), text("cox.p")], rows, ["l", "r", "r", "r", "r"],
                  text("cox.too_few", min_cases=minimum) if hidden else "")
    section.paragraphs.append(md(text("cox.intro", reference=reference,
                                      n=fmt.number(first["n"], 0, lang),
                                      events=fmt.number(first["n_events"], 0, lang))))
    words = {"region": text("cox.region_in_text"), "sex": _lower_first(text("cox.women")),
             "age": text("cox.age_in_text")}
    names = []
    for r in fitted.unique("term", keep="first", maintain_order=True).iter_rows(named=True):
        if r["ph_p_value"] < 0.05:
            p = _p_value(r["ph_p_value"], lang)
            names.append(f"{words[r['term']]} "
                         f"(p {p.replace('<', '< ') if p.startswith('<') else '= ' + p})")
    section.paragraphs.append(md(text("cox.ph_violated", terms=", ".join(names))
                                 if names else text("cox.ph_ok")))
    if first["convergence_problem"]:
        section.paragraphs.append(md(text("cox.not_converged")))
    section.tables.append(table)
    shown = fitted.filter((pl.col("term") == "region")
                          & (pl.col("region_n") >= minimum)).with_columns(
        pl.col("level").replace_strict({r: region_label(r, text) for r in dd.region_ids()},
                                       default=pl.col("level")).alias("region"),
        pl.col("hazard_ratio").alias("estimate"))
    if shown.height:
        section.figures.append(FigureSpec(
            f"fig-{doc_id}", text("cox.figure", reference=reference), "estimate_chart", {
                "frame": shown.select("region", "estimate", "lower", "upper"),
                "category": "region", "reference_line": 1.0, "log_scale": True,
                "category_order": [region_label(r, text) for r in dd.region_ids()],
                "labels": {"x": text("axes.hazard_ratio"), "alt": text("cox.alt"),
                           "decimal": fmt.decimal_mark(lang)}}))
    return section


def validation_table(run: Run, doc_id: str) -> Table:
    """Per subregistry file: rows read, accepted, rejected and the rules broken most
    often (counts of rows only: no identity number, no value from the rows)."""
    text, lang = run.text, run.lang
    sids = set(dd.subregistry_ids()) | {"cases"}
    rules = run.rules
    names = {}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            names.setdefault(f.name, f.label(lang))
    names["person_id"] = text("quality.identity_column")  # never the column's own name
    rows = []
    for f in run.files.filter(pl.col("dataset").is_in(list(sids))).iter_rows(named=True):
        broken = (rules.filter(pl.col("file") == f["file"]).sort(
            ["n", "rule", "column"], descending=[True, False, False]).head(3)
            if rules.height else rules)
        top = "; ".join(
            f"{names.get(r['column'], r['column'])}: "
            f"{text.section('quality.rules').get(r['rule'], r['rule'])} "
            f"({fmt.number(r['n'], 0, lang)})" for r in broken.iter_rows(named=True))
        rows.append([f["file"], fmt.number(f["read"], 0, lang),
                     fmt.number(f["accepted"], 0, lang), fmt.number(f["rejected"], 0, lang),
                     top or text("quality.none")])
    return Table(f"tbl-{doc_id}", text("quality.caption"),
                 [text("columns.file"), text("columns.read"), text("columns.accepted"),
                  text("columns.rejected"), text("quality.top_rules")], rows,
                 ["l", "r", "r", "r", "l"], text("quality.note"))


_LEVEL_RANK = {"below": 0, "intermediate": 1, "high": 2}


def _crossing(previous: str | None, current: str | None, text: Text) -> str:
    """The target level crossed between the years (the analysis' classification, so the
    indicator's direction is respected): "reached high target", "fell below ..."."""
    if previous is None or current is None or previous == current:
        return ""
    if _LEVEL_RANK[current] > _LEVEL_RANK[previous]:
        return text("summary.crossed_up", level=text(f"summary.{current}"))
    return text("summary.crossed_down", level=text(f"summary.{previous}"))


def moved_table(run: Run, doc_id: str) -> Table | None:
    """National indicators this year against last year: the change in percentage points,
    largest first, and whether a target level was crossed."""
    a, text, lang = run.analyses, run.text, run.lang
    names = {i.id: i.name(lang) for i in a.indicator_list}
    nation = run.indicators.filter(pl.col("region") == NATION)
    now = nation.filter(pl.col("year") == a.year)
    before = nation.filter(pl.col("year") == a.year - 1).select(
        "indicator", "subregistry", pl.col("estimate").alias("previous"),
        pl.col("classification").alias("previous_level"))
    both = now.join(before, on=["indicator", "subregistry"], how="inner").filter(
        pl.col("estimate").is_not_null() & pl.col("previous").is_not_null()).with_columns(
        # The change between the shares as printed (one decimal), so the columns agree.
        ((pl.col("estimate") * 100).round(1) - (pl.col("previous") * 100).round(1))
        .alias("change"))
    if both.is_empty():
        return None
    sorted_rows = both.sort([pl.col("change").abs(), "indicator", "subregistry"],
                            descending=[True, False, False])
    rows = []
    for i, r in enumerate(sorted_rows.iter_rows(named=True)):
        crossed = _crossing(r["previous_level"], r["classification"], text)
        if i >= a.settings.indicators_moved_rows and not crossed:
            continue
        change = fmt.number(r["change"], 1, lang)
        if r["change"] > 0 and change.strip("0,.") != "":
            change = "+" + change
        rows.append([names.get(r["indicator"], r["indicator"]),
                     subregistry_label(r["subregistry"], lang),
                     fmt.percent(r["previous"], 1, lang), fmt.percent(r["estimate"], 1, lang),
                     change, crossed])
    return Table(f"tbl-{doc_id}", text("captions.moved_table", previous=a.year - 1,
                                       year=a.year),
                 [text("columns.indicator"), text("columns.subregistry"),
                  str(a.year - 1), str(a.year), text("summary.change"),
                  text("summary.crossed")], rows, ["l", "l", "r", "r", "r", "l"])


def key_numbers_table(run: Run, doc_id: str, sids: Sequence[str]) -> Table:
    """The year's key numbers per subregistry, nationally: new cases, age-standardised
    incidence with CI, and 5-year net survival (period approach)."""
    a, text, lang = run.analyses, run.text, run.lang
    inc = run.asr.filter((pl.col("region") == NATION) & (pl.col("year") == a.year))
    rel = (run.relative.filter((pl.col("region") == NATION) & (pl.col("approach") == "period")
                               & (pl.col("time") == max(a.settings.net_survival_times)))
           if run.relative.height else pl.DataFrame())
    rows = []
    for sid in sids:
        i = inc.filter(pl.col("subregistry") == sid)
        ir = i.row(0, named=True) if i.height else None
        rr = rel.filter(pl.col("subregistry") == sid) if rel.height else rel
        rrow = rr.row(0, named=True) if rr.height else None
        note = _rs_note(rrow, text) if rrow else ""
        rows.append([
            subregistry_label(sid, lang),
            _cell(ir, "n", lambda v: fmt.number(v, 0, lang)) if ir else "",
            _cell(ir, "estimate", lambda v: fmt.number(v, 1, lang)) if ir else "",
            _ci(ir, lang, 1) if ir else "",
            _rs_cell(rrow, lang) + (f" ({note})" if note else ""),
        ])
    first, last = a.period
    return Table(f"tbl-{doc_id}", text("summary.key_caption", year=a.year),
                 [text("columns.subregistry"), text("columns.cases"), text("columns.asr"),
                  text("columns.ci"),
                  f"{text('summary.survival_column')} ({first}–{last})"],
                 rows, ["l", "r", "r", "r", "r"], _suppressed_note(text))


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
                                show=pl.col("region") == region, with_nation=True)
    key_table.caption = text("captions.key_figures", year=a.year, region=rname)
    key = Section(text("sections.key_figures"),
                  paragraphs=[md(text("regional.intro", region=rname, year=a.year))],
                  tables=[key_table], callout=text("notes.preliminary", year=a.year))
    trend = Section(text("sections.trend"), figures=[_trend_figure(
        run, "trend", run.asr, _regions_nation_last(), region, facet=True)])
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
        km = run.survival.filter(of_sid)
        if km.height:
            sub.tables.append(survival_table(run, f"{sid}-surv", km, "region", pair,
                                             lambda r: region_label(r, text)))
        per_sub.append(sub)
    curves = a.survival_curves.filter(pl.col("region").is_in(pair))
    funnel_fig = _funnel_figure(run, "funnel", sids, region)
    funnel_tbl = hospital_table(run, "hospitals", sids, region)
    hospitals = Section(text("sections.funnel"), figures=[funnel_fig] if funnel_fig else [],
                        tables=[funnel_tbl] if funnel_tbl else [],
                        paragraphs=[] if funnel_fig else [text("notes.not_available")])
    survival_sec = Section(text("sections.survival"))
    if run.relative.height:
        first, last = a.period
        survival_sec.tables.append(relative_table(
            run, "relsurv", run.relative.filter(
                (pl.col("approach") == "period") & pl.col("region").is_in(pair)),
            ["subregistry", "region"],
            [lambda s: subregistry_label(s, lang), lambda r: region_label(r, text)],
            [sids, pair], text("relative.caption_regional", first=first, last=last,
                               region=rname),
            [text("columns.subregistry"), text("relative.area")]))
    if curves.height:
        survival_sec.figures.append(_survival_figure(run, "survival", curves, region, True))
    elif not run.relative.height:
        survival_sec.paragraphs.append(text("notes.not_available"))
    grid = _level_grid_figure(run, "levels", run.indicators.filter(
        pl.col("year") == a.year), region, sids)
    levels = Section(text("sections.indicators"), figures=[grid] if grid else [],
                     paragraphs=[text("notes.level_grid", min_n=min(
                         i.min_n for i in a.indicator_list))] if grid else
                     [text("notes.not_available")])
    sections = [key, trend, levels,
                Section(text("publication.chapters"), subsections=per_sub, tabset=True),
                hospitals, survival_sec, _data_quality(run, "dq", region), methods_section(run),
                provenance_section(run, "prov")]
    return _job(run, f"region-{region}", f"region-{region}-{a.year}",
                text("regional.title", region=rname, year=a.year),
                text("regional.subtitle", registry=dd.registry()[f"name_{lang}"],
                     region=rname), sections)


def _data_quality(run: Run, doc_id: str, region: str = NATION) -> Section:
    """Completeness of the key variables in the region (validation is in provenance)."""
    text, lang = run.text, run.lang
    labels = {}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            labels.setdefault(f.name, f.label(lang))
    rows = []
    order = {s: i for i, s in enumerate(dd.subregistry_ids())}
    shown = run.completeness.filter(pl.col("region") == region)
    # Subregistries in the report's order, variables by their label as printed.
    for r in sorted(shown.iter_rows(named=True), key=lambda r: (
            order.get(r["subregistry"], len(order)), labels.get(r["variable"], r["variable"]))):
        rows.append([subregistry_label(r["subregistry"], lang),
                     labels.get(r["variable"], r["variable"]),
                     _cell(r, "estimate", lambda v: fmt.percent(v, 0, lang)),
                     _cell(r, "n", lambda v: fmt.number(v, 0, lang))])
    caption = f"{text('captions.completeness_table')}: {region_label(region, text)}"
    table = Table(f"tbl-{doc_id}-completeness", caption,
                  [text("columns.subregistry"), text("columns.variable"),
                   text("columns.completeness"), text("columns.n")], rows,
                  ["l", "l", "r", "r"], _suppressed_note(text))
    return Section(text("sections.data_quality"), paragraphs=[text("quality.intro")],
                   tables=[validation_table(run, f"{doc_id}-validation"), table])


def subregistry_sections(run: Run, sid: str) -> list[Section]:
    """Incidence, quality and survival of one subregistry, all regions side by side."""
    a, text, lang = run.analyses, run.text, run.lang
    regions = _regions_nation_last()
    label = lambda r: region_label(r, text)  # noqa: E731
    of_sid = pl.col("subregistry") == sid
    sname = dd.subregistry(sid)[f"name_{lang}"]
    incidence = Section(
        text("sections.incidence"),
        callout=text("notes.preliminary", year=a.year),
        paragraphs=[md(text("subregistry.intro", subregistry=_lower_first(sname), year=a.year))],
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
        quality.tables.append(hospital_table(run, "hospitals", [sid], None))
    surv = Section(text("sections.survival"))
    km = run.survival.filter(of_sid)
    if km.height:
        surv.tables.append(survival_table(run, "surv", km, "region", regions, label))
        surv.tables.append(survival_groups_table(run, "surv-groups", sid))
        surv.figures.append(_survival_figure(run, "survival", a.survival_curves.filter(
            of_sid), None, facet=False))
    rel = run.relative.filter(of_sid) if run.relative.height else run.relative
    if rel.height:
        std = rel.filter(pl.col("standardised"))["standard"]
        standard = std[0] if std.len() else rel["standard"][0]
        cohort = (a.year - a.settings.survival_years + 1, a.year)
        for approach, (first, last) in (("cohort", cohort), ("period", a.period)):
            surv.tables.append(relative_table(
                run, f"rs-{approach}", rel.filter(pl.col("approach") == approach),
                ["region"], [label], [regions],
                text(f"relative.caption_{approach}", standard=standard, first=first,
                     last=last), [text("columns.region")], explain=approach == "cohort"))
        figure, note = _relative_figure(run, "rs", sid)
        if figure:
            surv.figures.append(figure)
        if note:
            surv.paragraphs.append(md(note))
    return [incidence, quality, surv, cox_section(run, "cox", sid)]


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
        tables=[key_numbers_table(run, "summary", sids)],
        callout=text("notes.preliminary", year=a.year))
    moved = moved_table(run, "moved")
    summary.subsections.append(Section(
        text("publication.moved"),
        paragraphs=[md(text("summary.moved_intro", previous=a.year - 1, year=a.year,
                            n=a.settings.indicators_moved_rows)
                       if moved else text("summary.none_moved"))],
        tables=[moved] if moved else []))
    pages = [Page("index.qmd", "chapter.qmd.j2", {}, [summary])]
    for sid in sids:
        chapter = Section(dd.subregistry(sid)[f"name_{lang}"],
                          subsections=subregistry_sections(run, sid))
        _prefix_ids(chapter, sid)
        pages.append(Page(f"{sid}.qmd", "chapter.qmd.j2", {}, [chapter]))
    quality = _data_quality(run, "dq")
    pages.append(Page("quality.qmd", "chapter.qmd.j2", {}, [quality]))
    pages.append(Page("methods.qmd", "chapter.qmd.j2", {}, [methods_section(run)]))
    pages.append(Page("dictionary.qmd", "chapter.qmd.j2", {},
                      [dictionary_section(run, "dd")]))
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


def dictionary_section(run: Run, doc_id: str) -> Section:
    """The data dictionary in brief: each subregistry's diagnosis codes, and the variables
    of every dataset with type, whether required, and the allowed values."""
    text, lang = run.text, run.lang
    codes = Table(f"tbl-{doc_id}-codes", text("captions.dictionary_table"),
                  [text("columns.subregistry"), text("dictionary.icd10"),
                   text("dictionary.morphology")],
                  [[dd.subregistry(s)[f"name_{lang}"], ", ".join(dd.subregistry(s)["icd10"]),
                    ", ".join(dd.subregistry(s).get("morphology", []))]
                   for s in dd.subregistry_ids()], ["l", "l", "l"])
    datasets = {"core": text("dictionary.core"), **{
        s: subregistry_label(s, lang) for s in dd.subregistry_ids()},
        **{d: text(f"dictionary.{d}") for d in ("cancer_registry", "population", "lifetable")}}
    types = text.section("dictionary.types")
    rows = [[datasets.get(r["dataset"], r["dataset"]), r["variable"], r["label"],
             types.get(r["type"], r["type"]),
             text("dictionary.required_yes") if r["required"] else "",
             r["allowed"] or ""]
            for r in dd.variable_table(lang).iter_rows(named=True)]
    variables = Table(f"tbl-{doc_id}-variables", text("captions.variables_table"),
                      [text("columns.dataset"), text("columns.variable"), text("columns.label"),
                       text("dictionary.type"), text("dictionary.required"),
                       text("dictionary.allowed")], rows, ["l", "l", "l", "l", "l", "l"])
    return Section(text("sections.dictionary"), paragraphs=[md(text("dictionary.intro"))],
                   tables=[codes, variables])


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

