"""Small-multiple figures: a panel per indicator or per region, each against the
nation; in the house theme and colours of ``figures`` (Okabe and Ito 2008).

Drawn with matplotlib directly, not through plotnine: a plotnine facet costs about
0.17 s of drawing per panel against matplotlib's 0.05, and these figures are three
quarters of a publish's panels (bench/RESULTS.md, "Figures"). They follow the plotnine
figures' look: the same sizes (plotnine's sizes times its factor, sqrt(pi)), fonts,
grid, strips, breaks (mizani's, as plotnine's scales) and legend below.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence

import matplotlib.figure
import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from mizani.breaks import breaks_extended

from analysis.reporting.figures import (
    FOCUS,
    OTHER,
    REFERENCE,
    WIDTH_IN,
    Figure,
    _numbers,
    _whole_years,
    _year_breaks,
)

TARGET_BANDS = {"high": "#8FD1BB", "intermediate": "#F0E442"}
_SIZE = float(np.sqrt(np.pi))  # plotnine's factor from its sizes to matplotlib points
_BASE = 9.0  # the house theme's base font size (figures.house_theme)
_TEXT, _STRIP_TEXT, _GRID, _STRIP = "#4D4D4D", "#1A1A1A", "#DDDDDD", "#F2F2F2"
# The page around the panels, in inches: tick labels and the axis title at the left;
# tick labels, the axis title and the legend below.
_LEFT, _RIGHT, _TOP, _BOTTOM, _GAP = 0.55, 0.08, 0.04, 0.85, 0.09


def _line(size: float) -> float:
    return size * _SIZE


def _marker(size: float, stroke: float = 0.5) -> dict:
    """A plotnine point's diameter and edge in matplotlib's terms."""
    return {"markersize": (size + stroke) * _SIZE, "markeredgewidth": stroke * _SIZE}


def _span(values: np.ndarray, fixed: tuple[float, float] | None = None) -> tuple[float, float]:
    """The axis range: the data's (or the fixed limits) widened by 5 % each side, as a
    plotnine continuous scale. One value (e.g. only zero rates): half a unit about it,
    never below zero for values that cannot be negative."""
    finite = values[np.isfinite(values)]
    lo, hi = fixed or ((float(finite.min()), float(finite.max())) if finite.size else (0, 1))
    if hi == lo:
        lo, hi = (max(lo - 0.5, 0.0) if lo >= 0 else lo - 0.5), hi + 0.5
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _grid(titles: Sequence[str], ncol: int, height_in: float, strip_size: float,
          free_y: bool = False) -> tuple[matplotlib.figure.Figure, list]:
    """A figure with a panel per title in rows of ``ncol``, each under a grey strip with
    its title in bold; every strip as tall as the title of most lines. ``free_y``: every
    panel has its own y axis, labelled (with room for the labels between panels)."""
    rows = -(-len(titles) // ncol)
    gap = _GAP + (0.3 if free_y else 0)
    width = (WIDTH_IN - _LEFT - _RIGHT - gap * (ncol - 1)) / ncol
    titles = [_wrapped(t, width, strip_size) for t in titles]
    lines = max(t.count("\n") + 1 for t in titles)
    strip = (lines * 1.25 * strip_size + 8) / 72  # lines and a little room, in inches
    fig = matplotlib.figure.Figure(figsize=(WIDTH_IN, height_in))
    row = (height_in - _TOP - _BOTTOM - _GAP * (rows - 1)) / rows
    axes = []
    for i, title in enumerate(titles):
        r, c = divmod(i, ncol)
        left = _LEFT + c * (width + gap)
        bottom = height_in - _TOP - (r + 1) * row - r * _GAP
        ax = fig.add_axes((left / WIDTH_IN, bottom / height_in, width / WIDTH_IN,
                           (row - strip) / height_in))
        ax.add_artist(Rectangle((0, 1), 1, strip / (row - strip), transform=ax.transAxes,
                                facecolor=_STRIP, edgecolor="none", clip_on=False))
        ax.text(0.5, 1 + strip / (row - strip) / 2, title, transform=ax.transAxes,
                ha="center", va="center", fontsize=strip_size, fontweight="bold",
                color=_STRIP_TEXT, linespacing=1.1)
        ax.set_axisbelow(True)
        ax.grid(True, color=_GRID, linewidth=0.4)
        # Tick labels at the figure's edges only, as a plotnine facet with fixed scales.
        ax.tick_params(length=0, labelsize=_BASE * 0.8, labelcolor=_TEXT, pad=2.5,
                       labelleft=c == 0 or free_y, labelbottom=i + ncol >= len(titles))
        for spine in ax.spines.values():
            spine.set_visible(False)
        axes.append(ax)
    return fig, axes


def _wrapped(title: str, width_in: float, size: float) -> str:
    """A panel title broken into lines that fit the panel (a bold character is about
    0.65 of the font size wide), at spaces and after a slash ("Mastocytose/")."""
    chars = max(8, int(width_in * 72 / (size * 0.65)))
    return "\n".join(textwrap.fill(line.replace("/", "/ "), chars).replace("/ ", "/")
                     for line in title.split("\n"))


_Scale = tuple[tuple[float, float], list[float], list[str]]


def _axes(axes: list, x: _Scale, y: _Scale | Sequence[_Scale]) -> None:
    """Limits, breaks and labels: the same x on every panel; the same y, or a y each."""
    ys = y if isinstance(y, list) else [y] * len(axes)
    for ax, y_scale in zip(axes, ys, strict=True):
        ax.set_xlim(*x[0])
        ax.set_xticks(x[1], x[2])
        ax.set_ylim(*y_scale[0])
        ax.set_yticks(y_scale[1], y_scale[2])


def _scale(limits: tuple[float, float], breaks: Sequence[float] | None,
           label: Callable[[list[float]], list[str]]) -> _Scale:
    chosen = [b for b in (breaks if breaks is not None else breaks_extended(n=5)(limits))
              if limits[0] <= b <= limits[1]]
    return limits, chosen, label(chosen)


def _finish(fig: matplotlib.figure.Figure, labels: Mapping[str, str],
            handles: list, names: list[str]) -> None:
    """The axis titles and the legend below the panels, centred."""
    height = fig.get_figheight()
    fig.text(0.12 / WIDTH_IN, 1 - (height - _BOTTOM) / 2 / height, labels["y"],
             rotation=90, ha="center", va="center", fontsize=_BASE)
    fig.text(0.5, (_BOTTOM - 0.35) / height, labels["x"], ha="center", va="center",
             fontsize=_BASE)
    fig.legend(handles, names, loc="center", bbox_to_anchor=(0.5, 0.12 / height),
               ncols=len(names), frameon=False, fontsize=_BASE * 0.8, handlelength=1.6,
               columnspacing=1.2, borderaxespad=0)


def _series(ax, frame: pl.DataFrame, x: str, y: str, colour: str, size: float,  # noqa: ANN001
            step: bool = False) -> None:
    ax.plot(frame[x].to_numpy(), frame[y].to_numpy(), color=colour,
            linewidth=_line(size), drawstyle="steps-post" if step else "default",
            solid_capstyle="butt")


def _points(ax, line: pl.DataFrame, x: str, y: str, colour: str) -> None:  # noqa: ANN001
    """A line's points, those of a preliminary year open (white inside)."""
    early = ~pl.col("preliminary") if "preliminary" in line.columns else pl.lit(True)
    for rows, fill, size in ((line.filter(early), colour, _marker(0.9)),
                             (line.filter(~early), "white", _marker(1.2, 0.6))):
        if rows.height:
            ax.plot(rows[x].to_numpy(), rows[y].to_numpy(), "o", color=colour,
                    markerfacecolor=fill, **size)


def _legend_line(colour: str, size: float, point: float | None = None) -> Line2D:
    return Line2D([], [], color=colour, linewidth=_line(size),
                  **({"marker": "o", **_marker(point)} if point else {}))


def indicator_trend_chart(frame: pl.DataFrame, targets: pl.DataFrame,
                          labels: Mapping[str, str], focus: str, reference: str,
                          facet_order: Sequence[str]) -> Figure:
    """Indicators over the years, a panel each on one 0-100 % axis: the focus (a region)
    and the reference (the nation) as lines, a preliminary year as an open point, and
    the target band behind them (high level green, intermediate yellow; below the
    level for an indicator where lower is better).

    ``frame``: indicator, year, estimate (null: masked, a gap), preliminary, region.
    ``targets``: indicator, high, intermediate, direction."""
    data = frame.with_columns(pl.col("estimate").cast(pl.Float64).fill_null(float("nan")))
    shown = set(data["indicator"].unique().to_list())
    panels = [p for p in facet_order if p in shown]
    height = 2.2 * -(-len(panels) // 3) + 1.1
    fig, axes = _grid(panels, 3, height, 7.5)
    years = data["year"]
    # The bands reach 0.4 beyond the first and the last year.
    x_limits = _span(np.array([]), (int(years.min()) - 0.4, int(years.max()) + 0.4))
    bands = {t["indicator"]: t for t in targets.iter_rows(named=True) if t["high"] is not None}
    drawn = set()
    for ax, name in zip(axes, panels, strict=True):
        t = bands.get(name)
        if t is not None:
            up = t["direction"] != "lower_is_better"
            ax.axhspan(t["high"] if up else 0.0, 1.0 if up else t["high"],
                       facecolor=TARGET_BANDS["high"], alpha=0.45, linewidth=0)
            drawn.add("high")
            if t["intermediate"] is not None:
                ax.axhspan(min(t["intermediate"], t["high"]), max(t["intermediate"], t["high"]),
                           facecolor=TARGET_BANDS["intermediate"], alpha=0.45, linewidth=0)
                drawn.add("intermediate")
        panel = data.filter(pl.col("indicator") == name)
        for region, colour in ((focus, FOCUS), (reference, REFERENCE)):
            line = panel.filter(pl.col("region") == region).sort("year")
            if not line.height:
                continue
            _series(ax, line, "year", "estimate", colour, 0.8)
            final, open_ = line.filter(~pl.col("preliminary")), line.filter(pl.col("preliminary"))
            ax.plot(final["year"].to_numpy(), final["estimate"].to_numpy(), "o",
                    color=colour, **_marker(1.4))
            ax.plot(open_["year"].to_numpy(), open_["estimate"].to_numpy(), "o",
                    color=colour, markerfacecolor="white", **_marker(1.8, 0.8))
    _axes(axes, _scale(x_limits, _year_breaks(years), lambda v: [str(int(b)) for b in v]),
          _scale(_span(np.array([]), (0.0, 1.0)), None,
                 lambda v: _numbers(labels)([b * 100 for b in v])))
    handles = [Patch(facecolor=TARGET_BANDS[level], alpha=0.45)
               for level in ("high", "intermediate") if level in drawn]
    names = [labels[f"target_{level}"] for level in ("high", "intermediate") if level in drawn]
    present = set(data["region"].unique().to_list())
    for region, colour in ((focus, FOCUS), (reference, REFERENCE)):
        if region in present:
            handles.append(_legend_line(colour, 0.8, 1.4))
            names.append(region)
    _finish(fig, labels, handles, names)
    return Figure(fig, labels["alt"], height)


def spotlight_chart(frame: pl.DataFrame, x: str, y: str, group: str,
                    labels: Mapping[str, str], panel_order: Sequence[str],
                    step: bool = False, points: bool = False,
                    survival: bool = False, ncol: int = 3, free_y: bool = False) -> Figure:
    """Small multiples for lines that would tangle (seven regions): a panel per group,
    that group's line in the focus colour (with its 95 % band where ``lower`` and
    ``upper`` are given), the reference (the nation) black, every other group a thin
    grey line behind them.

    ``frame``: x, y, group, ``panel`` and ``role`` ('focus', 'reference', 'other'),
    optionally lower and upper, and ``preliminary`` (a year whose cases are still being
    registered: its point drawn open). ``labels``: x, y, alt, decimal, and the legend entries
    focus, reference, others. ``step``: steps (Kaplan-Meier) instead of lines;
    ``survival``: years after diagnosis on x and 0-100 % on y, else calendar years;
    ``ncol``: panels in a row; ``free_y``: a y axis per panel."""
    data = frame.with_columns(pl.col(y).cast(pl.Float64).fill_null(float("nan")))
    shown = set(data["panel"].unique().to_list())
    panels = [p for p in panel_order if p in shown]
    height = 2.0 * -(-len(panels) // ncol) + 0.9
    fig, axes = _grid(panels, ncol, height, _BASE, free_y)
    roles = (("other", OTHER, 0.4), ("focus", FOCUS, 0.8), ("reference", REFERENCE, 0.8))
    names = {"focus": labels["focus"], "reference": labels["reference"],
             "other": labels["others"]}
    bands = "lower" in data.columns
    for ax, name in zip(axes, panels, strict=True):
        panel = data.filter(pl.col("panel") == name)
        if bands:
            band = panel.filter(pl.col("role") == "focus").drop_nulls(["lower", "upper"]) \
                .sort(x)
            ax.fill_between(band[x].to_numpy(), band["lower"].to_numpy(),
                            band["upper"].to_numpy(), facecolor=FOCUS, alpha=0.2,
                            linewidth=0, step="post" if step else None)
        for role, colour, size in roles:
            for line in panel.filter(pl.col("role") == role).sort(group, x).partition_by(
                    group, maintain_order=True):
                _series(ax, line, x, y, colour, size, step)
                if points and role != "other":
                    _points(ax, line, x, y, colour)
    values = data[x].to_numpy()
    if survival:
        x_axis = _scale(_span(values), _whole_years(data[x]), _numbers(labels))
        y_axis = _scale(_span(np.array([]), (0.0, 1.0)), None,
                        lambda v: [f"{b * 100:.0f}" for b in v])
    else:
        # Without the first year: beside the last year of the panel to its left, the two
        # labels ran together ("20252016").
        years = _year_breaks(data[x])
        x_axis = _scale(_span(values), years[1:] if len(years) > 2 else years,
                        lambda v: [str(int(b)) for b in v])
        y_axis = ([_scale(_span(_drawn(data.filter(pl.col("panel") == p), y)), None,
                          _numbers(labels)) for p in panels] if free_y
                  else _scale(_span(_drawn(data, y)), None, _numbers(labels)))
    _axes(axes, x_axis, y_axis)
    present = set(data["role"].unique().to_list())
    legend = [(r, c, s) for r, c, s in (roles[1], roles[2], roles[0]) if r in present]
    _finish(fig, labels, [_legend_line(c, s, 0.9 if points and r != "other" else None)
                          for r, c, s in legend], [names[r] for r, _, _ in legend])
    return Figure(fig, labels["alt"], height)


def _drawn(data: pl.DataFrame, y: str) -> np.ndarray:
    """Every value the y axis must hold: the estimates and any band."""
    columns = [c for c in (y, "lower", "upper") if c in data.columns]
    return np.concatenate([data[c].cast(pl.Float64).to_numpy() for c in columns])
