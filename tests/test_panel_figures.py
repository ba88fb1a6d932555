"""The small multiples drawn with matplotlib: panels in the given order, target bands
where the configuration puts them, gaps for masked years, open points for the
preliminary year, the report's decimal mark, and the same bytes every time."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.reporting import figures, panel_figures
from analysis.reporting.figures import FOCUS, OTHER, REFERENCE

LABELS = {"x": "Diagnosår", "y": "Andel (%)", "decimal": ",", "alt": "alt",
          "target_high": "Hög målnivå", "target_intermediate": "Mellannivå"}
ORDER = ["Anmälda\ninom 3 månader", "Död inom 30 dagar", "Studie", "Täckning"]


def _indicator_frame() -> pl.DataFrame:
    rows = []
    for name in ORDER:
        for region in ("Väst", "Riket"):
            for year in range(2016, 2026):
                masked = region == "Väst" and year == 2019 and name == ORDER[0]
                rows.append({"indicator": name, "year": year,
                             "estimate": None if masked else 0.5 + (year - 2016) / 100,
                             "preliminary": year == 2025, "region": region})
    return pl.DataFrame(rows)


def _targets() -> pl.DataFrame:
    return pl.DataFrame({
        "indicator": ORDER,
        "high": [0.9, 0.1, None, 0.95],
        "intermediate": [0.8, None, None, None],
        "direction": ["higher_is_better", "lower_is_better", "higher_is_better",
                      "higher_is_better"]})


def _indicators() -> figures.Figure:
    return panel_figures.indicator_trend_chart(_indicator_frame(), _targets(), LABELS,
                                               "Väst", "Riket", ORDER)


def _bands(ax) -> list[tuple[float, float]]:  # noqa: ANN001
    spans = []
    for patch in ax.patches:
        if not patch.get_clip_on():
            continue  # the strip above the panel
        ys = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 1]
        spans.append((round(float(ys.min()), 6), round(float(ys.max()), 6)))
    return sorted(spans)


def _strip(ax) -> str:  # noqa: ANN001
    return next(t.get_text() for t in ax.texts)


def test_indicator_panels_follow_the_order_with_their_titles():
    fig = _indicators().plot
    assert [_strip(ax) for ax in fig.axes] == ORDER
    assert _indicators().height_in == pytest.approx(2.2 * 2 + 1.1)  # 4 panels: 2 rows


def test_target_bands_high_intermediate_and_lower_is_better():
    axes = _indicators().plot.axes
    assert _bands(axes[0]) == [(0.8, 0.9), (0.9, 1.0)]  # intermediate below, high above
    assert _bands(axes[1]) == [(0.0, 0.1)]  # lower is better: the band below the level
    assert _bands(axes[2]) == []  # no target
    assert _bands(axes[3]) == [(0.95, 1.0)]


def test_masked_year_is_a_gap_and_the_preliminary_year_an_open_point():
    ax = _indicators().plot.axes[0]
    focus = [line for line in ax.lines if line.get_color() == FOCUS]
    path, closed, open_ = focus
    y = np.asarray(path.get_ydata(), dtype=float)
    assert math.isnan(y[2019 - 2016]) and np.isfinite(np.delete(y, 3)).all()
    assert path.get_linestyle() == "-" and closed.get_linestyle() == "None"
    assert list(open_.get_xdata()) == [2025] and open_.get_markerfacecolor() == "white"
    assert 2025 not in list(closed.get_xdata()) and len(closed.get_xdata()) == 9
    nation = [line for line in ax.lines if line.get_color() == REFERENCE]
    assert len(nation) == 3


def test_percent_axis_on_the_left_panels_only_and_the_legend():
    fig = _indicators().plot
    left, right = fig.axes[0], fig.axes[1]
    fig.canvas.draw()
    assert [t.get_text() for t in left.get_yticklabels()] == ["0", "25", "50", "75", "100"]
    assert left.yaxis.get_tick_params()["labelleft"]
    assert not right.yaxis.get_tick_params()["labelleft"]
    assert left.get_ylim() == pytest.approx((-0.05, 1.05))
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "Hög målnivå", "Mellannivå", "Väst", "Riket"]


def _spotlight(points: bool = True) -> figures.Figure:
    rows = []
    for panel in ("Norr", "Syd"):
        for group, base in (("Norr", 2.0), ("Syd", 3.0), ("Riket", 2.5)):
            role = "focus" if group == panel else "reference" if group == "Riket" else "other"
            for year in range(2016, 2026):
                rows.append({"year": year, "estimate": base + (year - 2016) * 0.05,
                             "region": group, "panel": panel, "role": role})
    labels = {"x": "Diagnosår", "y": "Incidens", "decimal": ",", "alt": "alt",
              "focus": "Regionen i rutan", "reference": "Riket", "others": "Övriga"}
    return panel_figures.spotlight_chart(pl.DataFrame(rows), "year", "estimate", "region",
                                         labels, ["Syd", "Norr"], points=points)


def test_spotlight_a_panel_per_region_focus_reference_and_grey_others():
    fig = _spotlight().plot
    assert [_strip(ax) for ax in fig.axes] == ["Syd", "Norr"]
    syd = fig.axes[0]
    colours = [line.get_color() for line in syd.lines]
    # others behind, then the region, then the nation, each line with its points
    assert colours == [OTHER, FOCUS, FOCUS, REFERENCE, REFERENCE]
    focus = syd.lines[1]
    assert focus.get_ydata()[0] == pytest.approx(3.0)  # Syd's own line in Syd's panel
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "Regionen i rutan", "Riket", "Övriga"]


def test_spotlight_axes_shared_with_the_decimal_comma():
    fig = _spotlight().plot
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels and all("." not in t for t in labels) and any("," in t for t in labels)
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
    lo, hi = fig.axes[0].get_ylim()
    assert lo == pytest.approx(2.0 - 0.05 * 1.45) and hi == pytest.approx(3.45 + 0.05 * 1.45)
    # the first year is left out: beside the last year of the panel to its left
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2019", "2022", "2025"]


def test_survival_spotlight_steps_and_band():
    frame = pl.DataFrame({
        "time": [0.0, 1.0, 2.0] * 2, "estimate": [1.0, 0.8, 0.5, 1.0, 0.9, 0.7],
        "lower": [1.0, 0.7, 0.4, 1.0, 0.85, 0.6], "upper": [1.0, 0.9, 0.6, 1.0, 0.95, 0.8],
        "region": ["Norr"] * 3 + ["Riket"] * 3, "panel": ["Norr"] * 6,
        "role": ["focus"] * 3 + ["reference"] * 3})
    labels = {"x": "År", "y": "Överlevnad (%)", "decimal": ",", "alt": "alt",
              "focus": "Regionen", "reference": "Riket", "others": "Övriga"}
    fig = panel_figures.spotlight_chart(frame, "time", "estimate", "region", labels,
                                        ["Norr"], step=True, survival=True).plot
    ax = fig.axes[0]
    assert [line.get_drawstyle() for line in ax.lines] == ["steps-post", "steps-post"]
    assert len(ax.collections) == 1  # the region's band only
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "25", "50", "75", "100"]


def test_all_masked_panel_draws_and_the_bytes_repeat(tmp_path):
    frame = _indicator_frame().with_columns(pl.lit(None, pl.Float64).alias("estimate"))
    drawn = panel_figures.indicator_trend_chart(frame, _targets(), LABELS, "Väst", "Riket",
                                                ORDER[:1])
    assert len(drawn.plot.axes) == 1
    first = figures.save(_indicators(), tmp_path / "a.svg").read_bytes()
    second = figures.save(_indicators(), tmp_path / "b.svg").read_bytes()
    assert first == second and b"<dc:date>" not in first
    assert b"<text" not in first  # text as paths: no font needed to show it


def test_a_region_in_a_panel_per_subregistry_each_on_its_own_axis():
    rows = [{"year": year, "estimate": scale * (1 + (year - 2020) / 10), "region": region,
             "panel": panel, "role": role}
            for panel, scale in (("AML", 3.0), ("Lymfom", 20.0))
            for region, role in (("Väst", "focus"), ("Riket", "reference"), ("Syd", "other"))
            for year in range(2020, 2025)]
    labels = {"x": "Diagnosår", "y": "Incidens", "decimal": ",", "alt": "alt",
              "focus": "Väst", "reference": "Riket", "others": "Övriga regioner"}
    drawn = panel_figures.spotlight_chart(pl.DataFrame(rows), "year", "estimate", "region",
                                          labels, ["AML", "Lymfom"], points=True, ncol=4,
                                          free_y=True)
    aml, lymphoma = drawn.plot.axes
    assert aml.get_ylim() == pytest.approx((3.0 - 0.05 * 1.2, 4.2 + 0.05 * 1.2))
    assert lymphoma.get_ylim() == pytest.approx((20.0 - 0.05 * 8, 28.0 + 0.05 * 8))
    assert lymphoma.yaxis.get_tick_params()["labelleft"]  # every panel labels its axis
    assert drawn.height_in == pytest.approx(2.0 + 0.9)  # four to a row: one row
    assert aml.get_position().width == pytest.approx(lymphoma.get_position().width)
    assert [t.get_text() for t in drawn.plot.legends[0].get_texts()] == [
        "Väst", "Riket", "Övriga regioner"]


def test_panel_titles_wrap_to_the_panel_at_spaces_and_slashes():
    assert panel_figures._wrapped("Mastocytose/histiocytose", 1.3, 9) == (
        "Mastocytose/\nhistiocytose")
    assert panel_figures._wrapped("AML", 1.3, 9) == "AML"
    # an indicator's own line breaks are kept, a long line is broken further
    wrapped = panel_figures._wrapped("Död inom 30 dagar från diagnos hos intensivbehandlade\n"
                                     "(AML)", 2.0, 7.5)
    assert wrapped == "Död inom 30 dagar från\ndiagnos hos\nintensivbehandlade\n(AML)"
    assert all(len(line) <= 2.0 * 72 / (7.5 * 0.65) for line in wrapped.split("\n"))


def test_a_panel_of_zero_rates_has_no_negative_axis():
    assert panel_figures._span(np.array([0.0, 0.0, np.nan])) == pytest.approx((-0.025, 0.525))
    assert panel_figures._span(np.array([np.nan])) == pytest.approx((-0.05, 1.05))
    assert panel_figures._span(np.array([2.0])) == pytest.approx((1.45, 2.55))
    assert panel_figures._span(np.array([-1.0])) == pytest.approx((-1.55, -0.45))
    limits, breaks, labels = panel_figures._scale(panel_figures._span(np.array([0.0])), None,
                                                  figures._numbers({"decimal": ","}))
    assert min(breaks) == 0 and labels[0] == "0" and all(b >= 0 for b in breaks)


def test_the_preliminary_year_is_an_open_point_on_the_lines_that_have_points():
    rows = [{"year": year, "estimate": 3.0 - (year == 2025), "region": region, "panel": "Syd",
             "role": role, "preliminary": year == 2025}
            for region, role in (("Syd", "focus"), ("Riket", "reference"), ("Norr", "other"))
            for year in range(2020, 2026)]
    labels = {"x": "Diagnosår", "y": "Incidens", "decimal": ",", "alt": "alt",
              "focus": "Regionen", "reference": "Riket", "others": "Övriga"}
    ax = panel_figures.spotlight_chart(pl.DataFrame(rows), "year", "estimate", "region",
                                       labels, ["Syd"], points=True).plot.axes[0]
    marks = [line for line in ax.lines if line.get_linestyle() == "None"]
    opened = [line for line in marks if line.get_markerfacecolor() == "white"]
    assert len(marks) == 4 and len(opened) == 2  # the region's and the nation's
    assert all(list(line.get_xdata()) == [2025] for line in opened)
    assert {line.get_color() for line in opened} == {FOCUS, REFERENCE}
    closed = [line for line in marks if line not in opened]
    assert all(2025 not in list(line.get_xdata()) for line in closed)
