"""Figure specifications: which protected rows a figure shows and how; ``figures`` draws them."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import (
    funnel_units,
    hospital_keys,
    hospital_names,
    lower_first,
    min_cases,
    region_label,
    regions_nation_last,
    subregistry_label,
    suppressed_note,
    symbol,
)
from analysis.reporting.qmd import FigureSpec, Section, md
from analysis.reporting.run import Run

CURVE_POINTS_PER_YEAR = 100  # survival curves drawn at 1/100 year (under 4 days)


def has_data(spec: FigureSpec) -> bool:
    """Whether a figure has anything to draw: a row (with an estimate, where the frame
    has estimates) in its frame, or in its units for a funnel plot."""
    frame = spec.arguments.get("frame", spec.arguments.get("units"))
    return frame.height > 0 and ("estimate" not in frame.columns
                                 or frame["estimate"].is_not_null().any())


def add_figure(run: Run, section: Section, spec: FigureSpec | None) -> None:
    """Put a figure into a section, or, when sparse data leave nothing to draw, the
    sentence "too few cases for <the caption>" in its place."""
    if spec is None:
        return
    if has_data(spec):
        section.figures.append(spec)
    else:
        section.paragraphs.append(md(run.text("notes.too_few",
                                              what=lower_first(spec.caption))))


def spotlight(run: Run, frame: pl.DataFrame, group: str, alt: str, x: str, y: str,
              focus: str | None = None) -> dict:
    """The arguments of panel_figures.spotlight_chart for lines that would tangle.
    Without a ``focus``: a panel per region (in the registry's order), the region in the
    focus colour, the nation black and the other regions grey. With a focus region: a
    panel per subregistry (``frame``'s ``subregistry`` labels), that region in the focus
    colour in every panel, the nation black, any other region grey; each panel on its
    own rate axis (subregistries' rates differ by orders of magnitude)."""
    text = run.text
    nation = text("nation")
    if focus is None:
        panels = [region_label(r, text) for r in dd.region_ids()
                  if region_label(r, text) in set(frame[group].to_list())]
        parts = [frame.with_columns(pl.lit(p).alias("panel"), _role(group, p, nation))
                 for p in panels]
    else:
        present = set(frame["subregistry"].to_list())
        panels = [label for label in (subregistry_label(s, run.lang)
                                      for s in dd.subregistry_ids()) if label in present]
        parts = [frame.rename({"subregistry": "panel"}).with_columns(
            _role(group, region_label(focus, text), nation))] if panels else []
    # No panel to draw (sparse data): no rows, and the section says "too few cases".
    shown = pl.concat(parts) if parts else frame.clear().drop(
        "subregistry", strict=False).with_columns(pl.lit("").alias("panel"),
                                                   pl.lit("").alias("role"))
    survival = x == "time"
    return {"frame": shown, "x": x, "y": y, "group": group, "panel_order": panels,
            "labels": {"x": text("axes.years") if survival else text("axes.year"),
                       "y": text("axes.survival") if survival else text("axes.rate"),
                       "decimal": fmt.decimal_mark(run.lang), "alt": alt,
                       "focus": region_label(focus, text) if focus
                       else text("comparison.spotlight_focus"), "reference": nation,
                       "others": text("legend.other_regions")},
            **({"ncol": 4, "free_y": not survival} if focus else {})}


def _role(group: str, focus: str, nation: str) -> pl.Expr:
    return (pl.when(pl.col(group) == focus).then(pl.lit("focus"))
            .when(pl.col(group) == nation).then(pl.lit("reference"))
            .otherwise(pl.lit("other")).alias("role"))


def sir_figure(run: Run, doc_id: str, sid: str) -> FigureSpec:
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


def age_sex_figure(run: Run, doc_id: str, sid: str) -> FigureSpec:
    text, a = run.text, run.analyses
    sexes = {1: text("men"), 2: text("women")}
    rows = run.age_sex.filter(pl.col("subregistry") == sid).with_columns(
        pl.col("sex").replace_strict(sexes, return_dtype=pl.String),
        pl.col(disclosure.FLAG).is_not_null().alias("masked"))
    first = max(a.first_year, a.year - a.settings.pooled_years + 1)
    ages = list(dict.fromkeys(run.age_sex["age_group"].to_list()))
    caption = text("captions.age_sex_figure", first=first, last=a.year)
    if rows["masked"].any():
        caption += f"; {suppressed_note(text)}"
    return FigureSpec(f"fig-{doc_id}", caption, "bar_chart", {
        "frame": rows.select("age_group", "sex", "estimate", "lower", "upper", "masked"),
        "x": "age_group", "y": "estimate", "fill": "sex",
        "x_order": ages, "fill_order": list(sexes.values()),
        "labels": {"x": text("axes.age_group"), "y": text("axes.rate"),
                   "decimal": fmt.decimal_mark(run.lang), "symbol": symbol(),
                   "alt": text("alt.age_sex")}})


def trend_figure(run: Run, doc_id: str, frame: pl.DataFrame, regions: Sequence[str],
                 focus: str | None) -> FigureSpec:
    """Age-standardised incidence by year: a panel per region (no ``focus``), or the
    focus region beside the nation in a panel per subregistry."""
    text, a = run.text, run.analyses
    # Masked years stay in (estimate null): the line breaks there instead of bridging.
    shown = frame.filter(pl.col("region").is_in(list(regions)))
    shown = shown.with_columns(
        pl.col("region").map_elements(lambda r: region_label(r, text), pl.String),
        pl.col("subregistry").map_elements(lambda s: subregistry_label(s, run.lang),
                                           pl.String))
    what = region_label(focus, text) if focus else text("all_regions")
    alt = text("alt.trend", what=what, per=text("columns.subregistry").lower() if focus
               else text("columns.region").lower())
    caption = text("captions.trend_figure", first=a.first_year, last=a.year)
    if a.preliminary:  # its cases still being registered: drawn open, never as a drop
        caption += "; " + text("captions.trend_preliminary", year=a.year)
    if shown["estimate"].null_count():
        caption += f"; {text('notes.trend_gaps')}"
    shown = shown.with_columns(((pl.col("year") == a.year) & a.preliminary).alias("preliminary"))
    # Seven regions (a panel each, the others grey) or a region in a panel per subregistry.
    return FigureSpec(f"fig-{doc_id}", caption, "spotlight_chart", {
        **spotlight(run, shown.select("year", "estimate", "region", "preliminary",
                                      *(["subregistry"] if focus else [])),
                    "region", alt, "year", "estimate", focus), "points": True})


def masked_cohorts(run: Run) -> pl.DataFrame:
    """(subregistry, region) of the survival cohorts the release masks: their curves are
    estimates on a masked count, so they are not drawn (the tables show the symbol)."""
    km = run.survival
    if disclosure.FLAG not in km.columns:  # no survival table at all
        return pl.DataFrame(schema={"subregistry": pl.String, "region": pl.String})
    return km.filter(pl.col(disclosure.FLAG).is_not_null()).select(
        "subregistry", "region").unique()


def survival_figure(run: Run, doc_id: str, frame: pl.DataFrame,
                    focus: str | None) -> FigureSpec:
    """Observed survival curves: a panel per region (no ``focus``), or the focus region
    beside the nation in a panel per subregistry."""
    text = run.text
    # Only groups large enough for a survival estimate are drawn (disclosure.may_draw),
    # and none whose cohort the release masks.
    sizes = frame.group_by("subregistry", "region").agg(pl.col("n_at_risk").max().alias("n"))
    keep = sizes.filter(disclosure.drawable(sizes, "survival")).select(
        "subregistry", "region").join(masked_cohorts(run), on=["subregistry", "region"],
                                      how="anti")
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
                     {r: region_label(r, text) for r in regions_nation_last()},
                     return_dtype=pl.String),
                 pl.col("subregistry").replace_strict(
                     {s: subregistry_label(s, run.lang) for s in dd.subregistry_ids()},
                     return_dtype=pl.String)))
    alt = text("alt.survival", what=region_label(focus, text) if focus
               else text("all_regions"))
    a = run.analyses
    caption = text("comparison.survival_caption", first=a.survival_window[0], last=a.year)
    # Seven regions (a panel each, the others grey) or a region in a panel per subregistry.
    return FigureSpec(f"fig-{doc_id}", caption, "spotlight_chart", {
        **spotlight(run, shown.select("time", "estimate", "lower", "upper", "region",
                                      *(["subregistry"] if focus else [])),
                    "region", alt, "time", "estimate", focus), "step": True,
        "survival": True})


def indicator_figure(run: Run, doc_id: str, frame: pl.DataFrame, regions: Sequence[str],
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
    # Panels in the registry's order of indicators (indicators.yaml), not the data's.
    present = set(shown["indicator"].to_list())
    indicator_order = [names[i.id] for i in run.analyses.indicator_list
                       if names[i.id] in present]
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


def funnel_figure(run: Run, doc_id: str, sids: Sequence[str], focus: str | None
                   ) -> FigureSpec | None:
    """Hospitals on funnel plots, one panel per subregistry named with its indicator; a
    region's own hospitals highlighted and numbered (the numbers of its hospital table).
    The limits drawn are widened for overdispersion where phi > 1 (Spiegelhalter 2005,
    analysis.stats.funnel), the caption says where."""
    a, text = run.analyses, run.text
    units = funnel_units(run, sids)
    if units.is_empty():
        return None
    sids = [s for s in sids if s in set(units["subregistry"].to_list())]
    names = {i.id: i.name(run.lang) for i in a.indicator_list}
    short = {s: subregistry_label(s, run.lang) for s in dd.subregistry_ids()}
    panel_indicator = dict(units.select("subregistry", "indicator").unique().iter_rows())
    panel = {s: textwrap.fill(f"{short[s]}: {lower_first(names[panel_indicator[s]])}", 30)
             for s in sids}
    panels: dict[str, list[str]] = {}  # which panels show which indicator, in panel order
    for sid in sids:
        panels.setdefault(panel_indicator[sid], []).append(short[sid])
    # The panels of each indicator, unless the name already says (e.g. "... (MDS)").
    indicator = "; ".join(
        lower_first(names[i]) + (f" ({', '.join(p)})" if len(sids) > 1 and not
                                  names[i].endswith(f"({', '.join(p)})") else "")
        for i, p in panels.items())
    curve = a.funnel_curves.filter(pl.col("subregistry").is_in(list(sids)))
    # The overdispersed limits are the exact ones where phi <= 1 (tau2 = 0).
    long = pl.concat([
        curve.select("subregistry", "n", "p0", pl.lit(side).alias("side"),
                     pl.lit(label).alias("limit"), pl.col(f"{side}_{suffix}_od").alias("value"))
        for side in ("lower", "upper")
        for suffix, label in (("95", text("legend.limit_95")), ("998", text("legend.limit_998")))
    ]).drop_nulls("value")
    keys = hospital_keys(run, sids, focus) if focus else {}
    labels = {"x": text("axes.hospital_n"), "y": text("axes.percent"),
              "decimal": fmt.decimal_mark(run.lang),
              "alt": text("alt.funnel"),
              "others": text("legend.others") if focus else text("legend.hospitals"),
              "highlight": text("legend.highlight", region=region_label(focus, text))
              if focus else text("legend.hospitals"), "target": text("legend.target_nation")}
    caption = text("captions.funnel_figure", indicator=indicator, year=a.year)
    widened = curve.filter(pl.col("tau2") > 0).unique("subregistry", maintain_order=True)
    if widened.height:
        caption += "; " + text("comparison.funnel_widened", panels=", ".join(
            f"{short[r['subregistry']]} (\u03c6 = {fmt.number(r['phi'], 2, run.lang)})"
            for r in widened.iter_rows(named=True)))
    if keys:
        hospital = hospital_names()
        caption += "; " + text("comparison.funnel_keys", keys=", ".join(
            f"{n} {hospital.get(h, h)}" for h, n in keys.items()))
    return FigureSpec(f"fig-{doc_id}", caption, "funnel_chart", {
        "units": units.select(
            "n", "estimate", pl.col("region").alias("group"),
            pl.col("subregistry").replace_strict(panel),
            pl.col("hospital").replace_strict(keys, default=None, return_dtype=pl.String)
            .alias("label")),
        "curve": long.with_columns(pl.col("subregistry").replace_strict(panel)),
        "labels": labels, "highlight": focus, "facet": "subregistry",
        "facet_order": [panel[s] for s in sids]})


def relative_figure(run: Run, doc_id: str, sid: str) -> tuple[FigureSpec | None, str]:
    """Net survival curves by region and for the nation; groups under the minimum size
    are not drawn (disclosure.may_draw) and named in the returned note."""
    a, text = run.analyses, run.text
    curves = a.relative_curves.filter(pl.col("subregistry") == sid)
    if curves.is_empty():
        return None, ""
    sizes = curves.group_by("region").agg(pl.col("n").first())
    hidden = [r for r in regions_nation_last() if r in set(sizes["region"].to_list())
              and not disclosure.may_draw(sizes.filter(pl.col("region") == r)["n"].item(),
                                          "survival")]
    shown = curves.filter(~pl.col("region").is_in(hidden)).join(
        masked_cohorts(run), on=["subregistry", "region"], how="anti")
    note = (text("relative.not_drawn", groups=", ".join(region_label(r, text) for r in hidden),
                 min_cases=min_cases()) if hidden else "")
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
    first = a.survival_window[0]
    caption = text("relative.caption_figure", first=first, last=a.year)
    if frame["region"].n_unique() > 3:  # seven regions: one panel each, the others grey
        return FigureSpec(f"fig-{doc_id}", caption, "spotlight_chart", {**spotlight(
            run, frame, "region", labels["alt"], "time", "estimate"), "survival": True}), note
    return FigureSpec(f"fig-{doc_id}", caption, "survival_chart", {
        "frame": frame, "group": "region", "labels": labels, "reference": text("nation"),
        "group_order": [region_label(r, text) for r in regions_nation_last()],
        "step": False}), note
