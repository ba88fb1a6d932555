"""The report figures: one plotnine house theme, a colour-blind-safe palette, alt text.

Every figure function takes a tidy frame (already through disclosure control) and the
report's labels, and returns a ``Figure``: the plot and an alt text describing it for
screen readers. ``save`` writes it as SVG with fixed metadata and a fixed hash salt, so
the same data give the same bytes (no dates, no random ids).

Palette: Okabe and Ito (2008), "Color Universal Design", distinguishable with the common
forms of colour blindness.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")  # files only, never a screen

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from plotnine import (  # noqa: E402
    aes,
    coord_flip,
    element_blank,
    element_line,
    element_rect,
    element_text,
    facet_wrap,
    geom_col,
    geom_errorbar,
    geom_hline,
    geom_line,
    geom_point,
    geom_ribbon,
    geom_step,
    geom_text,
    ggplot,
    labs,
    position_dodge,
    scale_color_manual,
    scale_fill_manual,
    scale_linetype_manual,
    scale_shape_manual,
    scale_x_continuous,
    scale_y_continuous,
    scale_y_log10,
    theme,
    theme_minimal,
)
from plotnine.exceptions import PlotnineWarning  # noqa: E402
from plotnine.guides.guides import guides as _Guides  # noqa: E402

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000")
# Lines of groups (regions): Okabe-Ito without its yellow, which has too little contrast
# on white for a line, and without black (the nation's).
LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
# The focus group (a region) is blue, the comparison (the nation) black, others grey.
FOCUS, REFERENCE, OTHER = "#0072B2", "#000000", "#BBBBBB"
TARGET_COLOURS = {"high": "#009E73", "intermediate": "#E69F00"}
WIDTH_IN = 7.0  # fits an A4 portrait text column at 100 %


def _legend_themes(self: _Guides, gdefs: list) -> None:
    """Apply each legend's theme to the legend only. plotnine (0.15) applies it, the
    plot's theme plus the legend's own, to every panel again: the same properties, set
    once more per legend, a tenth of a small multiple's drawing time. Figures are
    byte-identical."""
    for g in gdefs:
        panels, g.theme.axs = g.theme.axs, []
        try:
            g.theme.apply()
        finally:
            g.theme.axs = panels


if hasattr(_Guides, "_apply_guide_themes"):
    _Guides._apply_guide_themes = _legend_themes


@dataclass
class Figure:
    """A plot with its alt text (for the img alt attribute and the PDF): a plotnine
    plot, or a matplotlib figure already laid out at ``WIDTH_IN`` by ``height_in``."""

    plot: ggplot | matplotlib.figure.Figure
    alt: str
    height_in: float = 4.0


def house_theme(base_size: float = 9) -> theme:
    """The house theme: minimal, light grid, legend below, readable facet titles."""
    return theme_minimal(base_size=base_size) + theme(
        legend_position="bottom",
        legend_title=element_blank(),
        panel_grid_minor=element_blank(),
        panel_grid_major=element_line(color="#DDDDDD", size=0.4),
        strip_text=element_text(weight="bold", size=base_size),
        strip_background=element_rect(fill="#F2F2F2", color="none"),
        plot_background=element_rect(fill="white", color="none"),
        axis_title=element_text(size=base_size),
    )


def _numbers(labels: Mapping[str, str]):  # noqa: ANN202 (a plotnine label function)
    """Axis labels with the report language's decimal mark ("2,5" in Swedish)."""
    mark = labels.get("decimal", ".")
    return lambda values: [f"{v:g}".replace(".", mark) for v in values]


def _palette(groups: Sequence[str], focus: str | None, reference: str | None) -> dict:
    colours = {}
    others = iter(LINE_COLOURS)
    for g in groups:
        if g == focus:
            colours[g] = FOCUS
        elif g == reference:
            colours[g] = REFERENCE
        elif focus is not None:
            colours[g] = OTHER
        else:
            colours[g] = next(others, OTHER)
    return colours


def _ordered(frame: pl.DataFrame, column: str, order: Sequence[str]) -> pl.DataFrame:
    """Fix the order of a categorical axis / legend (plotnine follows the Enum order)."""
    present = [o for o in order if o in set(frame[column].drop_nulls().to_list())]
    return frame.with_columns(pl.col(column).cast(pl.Enum(present)))


def _like(frame: pl.DataFrame, column: str, data: pl.DataFrame) -> pl.DataFrame:
    """A further layer's rows on the categories of the main data, in their order: with
    other categories (e.g. only the panels that have a target) plotnine would merge the
    layers' panels in alphabetical order."""
    categories = data[column].dtype.categories
    return frame.filter(pl.col(column).is_in(categories.to_list())).with_columns(
        pl.col(column).cast(pl.Enum(categories)))


def _year_breaks(years: pl.Series) -> list[int]:
    lo, hi = int(years.min()), int(years.max())
    step = max(1, -(-(hi - lo) // 4))
    return list(range(hi, lo - 1, -step))[::-1]


def estimate_chart(frame: pl.DataFrame, category: str, labels: Mapping[str, str],
                   group: str | None = None, facet: str | None = None,
                   focus: str | None = None, reference: str | None = None,
                   targets: pl.DataFrame | None = None, category_order: Sequence[str] = (),
                   group_order: Sequence[str] = (), facet_order: Sequence[str] = (),
                   reference_line: float | None = None, percent: bool = False,
                   log_scale: bool = False) -> Figure:
    """Point estimates with confidence intervals per category, horizontal (forest style).

    ``group``: a second grouping drawn in colour side by side within a category (a region
    beside the nation); without it the categories themselves are coloured. ``targets``:
    optional frame with the category (and facet) column, ``level`` ('high' /
    'intermediate') and ``value``, drawn as target marks. ``reference_line``: a vertical
    line at e.g. 1 for ratios. ``log_scale``: a logarithmic estimate axis (hazard
    ratios: 0.5 and 2 equally far from 1).
    """
    order = list(category_order) or sorted(frame[category].unique().to_list())
    data = _ordered(frame.drop_nulls("estimate"), category, order[::-1])
    if facet:
        data = _ordered(data, facet, list(facet_order) or sorted(frame[facet].unique()))
    colour_by = group or category
    groups = list(group_order) or order
    if group:
        data = _ordered(data, group, groups[::-1])
    colours = {c: (FOCUS if c == focus else REFERENCE if c == reference else "#555555")
               for c in groups}
    # Drawn vertically and flipped: plotnine dodges groups along x only. Without groups
    # to dodge, one plotnine group per panel draws all bars at once (much faster than
    # a group per category).
    dodge = position_dodge(width=0.6) if group else "identity"
    mapping = aes(x=category, y="estimate", color=colour_by) if group else aes(
        x=category, y="estimate", color=colour_by, group=1)
    plot = (ggplot(data.to_pandas(), mapping)
            + geom_errorbar(aes(ymin="lower", ymax="upper"), width=0.3, size=0.6,
                            position=dodge)
            + geom_point(size=1.8, position=dodge)
            + scale_color_manual(values=colours, breaks=groups if group else None,
                                 guide="legend" if group else None)
            + coord_flip()
            + labs(y=labels["x"], x="") + house_theme())
    if log_scale:
        # No minor breaks: the theme hides them, and mizani cannot place them beside a
        # single major break (a narrow range around 1).
        plot = plot + scale_y_log10(breaks=_ratio_breaks(data), labels=_numbers(labels),
                                    minor_breaks=None)
    else:
        plot = plot + scale_y_continuous(
            labels=(lambda v: _numbers(labels)([x * 100 for x in v])) if percent
            else _numbers(labels))
    if targets is not None and targets.height:
        target_labels = [labels.get("target_high", "high"),
                         labels.get("target_intermediate", "intermediate")]
        if facet:  # one target line across each panel (the panel is one indicator)
            plot = plot + geom_hline(  # only for the panels drawn (an estimate to show)
                aes(yintercept="value", linetype="level"),
                data=_like(targets, facet, data).to_pandas(), color=TARGET_COLOURS["high"],
                size=0.6) + scale_linetype_manual(
                values={"high": "solid", "intermediate": "dashed"}, labels=target_labels,
                breaks=["high", "intermediate"])
        else:  # a target tick on each category's row
            plot = plot + geom_point(
                aes(y="value", x=category, shape="level"),
                data=_like(targets, category, data).to_pandas(),
                color=TARGET_COLOURS["high"], size=5, inherit_aes=False) + scale_shape_manual(
                values={"high": "|", "intermediate": "|"}, labels=target_labels,
                breaks=["high", "intermediate"])
    if reference_line is not None:
        plot = plot + geom_hline(yintercept=reference_line, color="#777777",
                                 linetype="dotted")
    if facet:
        # One estimate axis for every panel: a free axis per panel makes small
        # differences look large.
        plot = plot + facet_wrap(facet, ncol=2)
    rows = data[category].n_unique() * (1.6 if group else 1)
    panels = data[facet].n_unique() if facet else 1
    height = min(9.5, 1.0 + (0.24 * rows + 0.5) * -(-panels // (2 if facet else 1)))
    return Figure(plot, labels["alt"], height)


RATIO_BREAKS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 5,
                10)


def _ratio_breaks(data: pl.DataFrame) -> list[float]:
    """Ticks of a log ratio axis inside the drawn range, at most about eight (the default
    ticks of a narrow log range are only powers of ten or a few points near 1)."""
    lo = data.select(pl.min_horizontal(pl.col("lower").min(), pl.col("estimate").min())).item()
    hi = data.select(pl.max_horizontal(pl.col("upper").max(), pl.col("estimate").max())).item()
    inside = [b for b in RATIO_BREAKS if lo <= b <= hi] if lo and hi else [1]
    while len(inside) > 8:
        inside = inside[::2]
    return sorted({*inside, 1})


def funnel_chart(units: pl.DataFrame, curve: pl.DataFrame, labels: Mapping[str, str],
                 highlight: str | None = None, facet: str | None = None,
                 facet_order: Sequence[str] = ()) -> Figure:
    """A funnel plot: each unit's proportion against its n, with control limits and the
    national proportion (dotted).

    ``units``: n, estimate, and optionally ``group`` (units of the highlighted region
    have group == highlight) and ``label`` (printed beside the point, e.g. the number of
    a region's own hospital). ``curve``: n, limit ('95 %', '99,8 %'), side, value, p0.
    """
    data = units.with_columns(
        pl.when(pl.col("group") == highlight).then(pl.lit(labels["highlight"]))
        .otherwise(pl.lit(labels["others"])).alias("shown")) if highlight else \
        units.with_columns(pl.lit(labels["others"]).alias("shown"))
    if facet:
        order = list(facet_order) or sorted(data[facet].unique().to_list())
        data, curve = _ordered(data, facet, order), _ordered(curve, facet, order)
    limits = curve["limit"].unique(maintain_order=True).to_list()
    styles = {**dict(zip(limits, ["dashed", "solid"], strict=False)),
              labels["target"]: "dotted"}
    plot = (ggplot(data.to_pandas(), aes("n", "estimate"))
            + geom_line(aes(y="value", group="side_limit", linetype="limit"),
                        data=curve.with_columns(
                            (pl.col("side") + pl.col("limit")).alias("side_limit")).to_pandas(),
                        color="#555555", size=0.5)
            + geom_hline(aes(yintercept="p0", linetype="target"),
                         data=curve.unique(facet or "p0", maintain_order=True).with_columns(
                             pl.lit(labels["target"]).alias("target")).to_pandas(),
                         color="#000000", size=0.5)
            + geom_point(aes(color="shown"), size=1.8, alpha=0.9)
            + scale_color_manual(values={labels["highlight"]: FOCUS,
                                         labels["others"]: OTHER})
            + scale_linetype_manual(values=styles, breaks=[*limits, labels["target"]])
            + scale_y_continuous(labels=lambda v: _numbers(labels)([x * 100 for x in v]))
            + labs(x=labels["x"], y=labels["y"]) + house_theme())
    named = _joined_labels(data, facet) if "label" in data.columns else None
    if named is not None and named.height:
        plot = plot + geom_text(aes(label="label"), data=named.to_pandas(), color=FOCUS,
                                size=7, fontweight="bold", ha="left", va="bottom")
    panels = data[facet].n_unique() if facet else 1
    if facet:
        plot = plot + facet_wrap(facet, ncol=min(3, panels), scales="free")
    height = 4.2 if panels == 1 else 2.3 * -(-panels // 3) + 1.0
    return Figure(plot, labels["alt"], height)


def _joined_labels(data: pl.DataFrame, facet: str | None) -> pl.DataFrame:
    """Labels of points that would print over each other (within about 6 % of the
    panel's x range and 5 percentage points) joined into one, "1, 3, 4", at the first."""
    panel = [facet] if facet else []
    named = data.filter(pl.col("label").is_not_null())
    span = (pl.col("n").max() - pl.col("n").min()).over(panel or pl.lit(1)).clip(1)
    return (named.with_columns((pl.col("n") / span / 0.06).round().alias("_x"),
                               (pl.col("estimate") / 0.05).round().alias("_y"))
            .sort("n").group_by([*panel, "_x", "_y"], maintain_order=True)
            .agg(pl.col("n").first(), pl.col("estimate").first(),
                 pl.col("label").sort_by(pl.col("label").cast(pl.Int64, strict=False))
                 .str.join(", ")))


def survival_chart(frame: pl.DataFrame, group: str, labels: Mapping[str, str],
                   focus: str | None = None, reference: str | None = None,
                   group_order: Sequence[str] = (), step: bool = True,
                   bands: bool = False) -> Figure:
    """Survival curves (time in years against the survival proportion): steps for
    Kaplan-Meier, lines for a curve given on a fine grid (net survival). ``bands``: the
    95 % confidence band (``lower``, ``upper``) shaded behind each curve, on the curve's
    own time points (a fine grid, so the band follows the steps closely)."""
    groups = list(group_order) or sorted(frame[group].unique().to_list())
    data = _ordered(frame.drop_nulls("estimate"), group, groups)
    colours = _palette(groups, focus, reference)
    plot = ggplot(data.to_pandas(), aes("time", "estimate", color=group))
    if bands:
        plot = plot + geom_ribbon(aes(ymin="lower", ymax="upper", fill=group),
                                  data=data.drop_nulls(["lower", "upper"]).to_pandas(),
                                  alpha=0.18, color="none", outline_type="full") \
            + scale_fill_manual(values=colours, breaks=groups, guide=None)
    plot = (plot
            + (geom_step(size=0.7) if step else geom_line(size=0.7))
            + scale_color_manual(values=colours, breaks=groups)
            + scale_x_continuous(breaks=_whole_years(data["time"]), labels=_numbers(labels))
            + scale_y_continuous(limits=(0, 1),
                                 labels=lambda v: [f"{x * 100:.0f}" for x in v])
            + labs(x=labels["x"], y=labels["y"]) + house_theme())
    return Figure(plot, labels["alt"], 4.0)


def _whole_years(times: pl.Series) -> list[int]:
    """Breaks at whole years after diagnosis: every year up to 6, else every other."""
    last = int(np.ceil(times.max())) if times.len() else 1
    return list(range(0, last + 1, 1 if last <= 6 else 2))


def bar_chart(frame: pl.DataFrame, x: str, y: str, fill: str, labels: Mapping[str, str],
              x_order: Sequence[str] = (), fill_order: Sequence[str] = ()) -> Figure:
    """Bars with confidence intervals (e.g. incidence by age group and sex). Rows with a
    true ``masked`` column keep their place and show ``labels["symbol"]`` instead of a
    bar, so a suppressed group is neither dropped nor mistaken for a total."""
    data = _ordered(frame, x, list(x_order) or sorted(frame[x].unique().to_list()))
    fills = list(fill_order) or sorted(frame[fill].unique().to_list())
    data = _ordered(data, fill, fills)
    masked = pl.col("masked") if "masked" in data.columns else pl.lit(False)
    data = data.with_columns(pl.when(masked).then(0.0).otherwise(pl.col(y)).alias(y),
                             masked.alias("_masked"))
    plot = (ggplot(data.to_pandas(), aes(x, y, fill=fill))
            + geom_col(position=position_dodge(width=0.8), width=0.8)
            + scale_fill_manual(values=dict(zip(fills, OKABE_ITO[4:] + OKABE_ITO,
                                                strict=False)))
            + scale_y_continuous(labels=_numbers(labels))
            + labs(x=labels["x"], y=labels["y"]) + house_theme()
            + theme(axis_text_x=element_text(rotation=45, ha="right")))
    if "lower" in frame.columns:
        plot = plot + geom_errorbar(aes(ymin="lower", ymax="upper"),
                                    data=data.filter(~pl.col("_masked")).to_pandas(),
                                    position=position_dodge(width=0.8), width=0.8, size=0.3)
    hidden = data.filter(pl.col("_masked"))
    if hidden.height:
        plot = plot + geom_text(aes(label="_label", group=fill),
                                data=hidden.with_columns(pl.lit(labels["symbol"])
                                                         .alias("_label")).to_pandas(),
                                position=position_dodge(width=0.8), va="bottom", size=11)
    return Figure(plot, labels["alt"], 3.6)


def save(figure: Figure, path: Path) -> Path:
    """Write a figure as SVG with reproducible bytes (fixed hash salt, no date)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # plotnine's notes (e.g. a line of one point in a sparse region) are for
    # developers, not for the person running the reports.
    with (matplotlib.rc_context({"svg.hashsalt": "bcr", "svg.fonttype": "path"}),
          warnings.catch_warnings()):
        warnings.simplefilter("ignore", PlotnineWarning)
        metadata = {"Date": None, "Creator": None}
        if isinstance(figure.plot, ggplot):
            figure.plot.save(path, width=WIDTH_IN, height=figure.height_in, units="in",
                             verbose=False, metadata=metadata)
        else:
            figure.plot.savefig(path, format="svg", metadata=metadata)
    return path
