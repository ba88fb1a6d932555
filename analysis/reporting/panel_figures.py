"""Small-multiple figures: a panel per indicator or per region, each against the
nation; drawn with the house theme and colours of ``figures`` (Okabe and Ito 2008)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from plotnine import (
    aes,
    element_text,
    facet_wrap,
    geom_line,
    geom_point,
    geom_rect,
    geom_ribbon,
    geom_step,
    ggplot,
    labs,
    scale_color_manual,
    scale_fill_manual,
    scale_x_continuous,
    scale_y_continuous,
    theme,
)

from analysis.reporting.figures import (
    FOCUS,
    OTHER,
    REFERENCE,
    Figure,
    _like,
    _numbers,
    _ordered,
    _whole_years,
    _year_breaks,
    house_theme,
)

TARGET_BANDS = {"high": "#8FD1BB", "intermediate": "#F0E442"}


def indicator_trend_chart(frame: pl.DataFrame, targets: pl.DataFrame,
                          labels: Mapping[str, str], focus: str, reference: str,
                          facet_order: Sequence[str]) -> Figure:
    """Indicators over the years, a panel each on one 0-100 % axis: the focus (a region)
    and the reference (the nation) as lines, a preliminary year as an open point, and
    the target band behind them (high level green, intermediate yellow; below the
    level for an indicator where lower is better).

    ``frame``: indicator, year, estimate (null: masked, a gap), preliminary, region.
    ``targets``: indicator, high, intermediate, direction."""
    data = _ordered(frame.with_columns(pl.col("estimate").cast(pl.Float64)
                                       .fill_null(float("nan"))), "indicator", facet_order)
    data = _ordered(data, "region", [focus, reference])
    years = data["year"]
    lo, hi = int(years.min()) - 0.4, int(years.max()) + 0.4
    bands = []
    for t in targets.iter_rows(named=True):
        if t["high"] is None or t["indicator"] not in facet_order:
            continue
        up = t["direction"] != "lower_is_better"
        inner = t["intermediate"] if t["intermediate"] is not None else None
        bands.append({"indicator": t["indicator"], "band": labels["target_high"],
                      "ymin": t["high"] if up else 0.0, "ymax": 1.0 if up else t["high"]})
        if inner is not None:
            bands.append({"indicator": t["indicator"], "band": labels["target_intermediate"],
                          "ymin": min(inner, t["high"]), "ymax": max(inner, t["high"])})
    plot = ggplot(data.to_pandas(), aes("year", "estimate", color="region", group="region"))
    if bands:
        rects = _like(pl.DataFrame(bands).with_columns(pl.lit(lo).alias("xmin"),
                                                       pl.lit(hi).alias("xmax")),
                      "indicator", data)
        plot = plot + geom_rect(aes(xmin="xmin", xmax="xmax", ymin="ymin", ymax="ymax",
                                    fill="band"), data=rects.to_pandas(), alpha=0.45,
                                inherit_aes=False) + scale_fill_manual(
            values={labels["target_high"]: TARGET_BANDS["high"],
                    labels["target_intermediate"]: TARGET_BANDS["intermediate"]})
    final = data.filter(~pl.col("preliminary"))
    plot = (plot + geom_line(size=0.8)
            + geom_point(data=final.to_pandas(), size=1.4)
            + geom_point(data=data.filter(pl.col("preliminary")).to_pandas(), size=1.8,
                         fill="white", shape="o", stroke=0.8)
            + scale_color_manual(values={focus: FOCUS, reference: REFERENCE},
                                 breaks=[focus, reference])
            + scale_x_continuous(breaks=_year_breaks(years))
            + scale_y_continuous(limits=(0, 1),
                                 labels=lambda v: _numbers(labels)([x * 100 for x in v]))
            + facet_wrap("indicator", ncol=3)
            + labs(x=labels["x"], y=labels["y"]) + house_theme()
            + theme(strip_text=element_text(size=7.5, weight="bold")))
    panels = data["indicator"].n_unique()
    return Figure(plot, labels["alt"], 2.2 * -(-panels // 3) + 1.1)


def spotlight_chart(frame: pl.DataFrame, x: str, y: str, group: str,
                    labels: Mapping[str, str], panel_order: Sequence[str],
                    step: bool = False, points: bool = False,
                    survival: bool = False) -> Figure:
    """Small multiples for lines that would tangle (seven regions): a panel per group,
    that group's line in the focus colour (with its 95 % band where ``lower`` and
    ``upper`` are given), the reference (the nation) black, every other group a thin
    grey line behind them.

    ``frame``: x, y, group, ``panel`` and ``role`` ('focus', 'reference', 'other'),
    optionally lower and upper. ``labels``: x, y, alt, decimal, and the legend entries
    focus, reference, others. ``step``: steps (Kaplan-Meier) instead of lines;
    ``survival``: years after diagnosis on x and 0-100 % on y, else calendar years."""
    data = _ordered(frame.with_columns(pl.col(y).cast(pl.Float64).fill_null(float("nan"))),
                    "panel", panel_order)
    roles = {"focus": labels["focus"], "reference": labels["reference"],
             "other": labels["others"]}
    data = data.with_columns(pl.col("role").replace_strict(roles).cast(
        pl.Enum(list(roles.values()))))
    colours = {roles["focus"]: FOCUS, roles["reference"]: REFERENCE, roles["other"]: OTHER}
    draw = geom_step if step else geom_line
    back, front = data.filter(pl.col("role") == roles["other"]), data.filter(
        pl.col("role") != roles["other"])
    plot = ggplot(mapping=aes(x, y, color="role", group=group))
    if "lower" in data.columns:
        band = front.filter(pl.col("role") == roles["focus"]).drop_nulls(["lower", "upper"])
        plot = plot + geom_ribbon(aes(ymin="lower", ymax="upper"), data=band.to_pandas(),
                                  fill=FOCUS, alpha=0.2, color="none", outline_type="full")
    plot = (plot + draw(data=back.to_pandas(), size=0.4) + draw(data=front.to_pandas(),
                                                                   size=0.8)
            + scale_color_manual(values=colours, breaks=list(roles.values()))
            + facet_wrap("panel", ncol=3)
            + labs(x=labels["x"], y=labels["y"]) + house_theme())
    if points:
        plot = plot + geom_point(data=front.to_pandas(), size=0.9)
    if survival:
        plot = plot + scale_x_continuous(breaks=_whole_years(data[x]), labels=_numbers(labels)) \
            + scale_y_continuous(limits=(0, 1), labels=lambda v: [f"{t * 100:.0f}" for t in v])
    else:
        # Without the first year: beside the last year of the panel to its left, the two
        # labels ran together ("20252016").
        years = _year_breaks(data[x])
        plot = plot + scale_x_continuous(breaks=years[1:] if len(years) > 2 else years) \
            + scale_y_continuous(labels=_numbers(labels))
    panels = data["panel"].n_unique()
    return Figure(plot, labels["alt"], 2.0 * -(-panels // 3) + 0.9)
