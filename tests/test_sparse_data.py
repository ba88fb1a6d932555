"""Sparse and odd registries: every figure, table and section degrades, never crashes.

The two crashes of issue 14 (a Cox figure of hazard ratios close to 1, an indicator figure
with a panel whose estimates are all hidden), each with the smallest data that reproduced
it, and a property-based test that publishes random small registries.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data import dictionary as dd
from analysis.demo import registry
from analysis.errors import UserError
from analysis.reporting import figure_specs, figures, publish
from analysis.reporting import formatting as fmt
from analysis.reporting.checks import OutputError
from analysis.reporting.labels import Text
from analysis.reporting.qmd import FigureSpec, Section
from analysis.reporting.render import RenderError
from analysis.stats import cox


def test_hazard_ratios_close_to_one_draw_on_a_log_axis(tmp_path: Path) -> None:
    # All estimates and limits between 0.95 and 1.06: the only ratio tick inside is 1,
    # and minor ticks beside a single major one raised IndexError (bcr demo --scale 3).
    frame = pl.DataFrame({"region": ["A", "B"], "estimate": [0.97, 1.03],
                          "lower": [0.95, 1.0], "upper": [1.0, 1.06]})
    drawn = figures.estimate_chart(frame, "region", {"x": "HR", "alt": "hazard ratios"},
                                   reference_line=1.0, log_scale=True)
    assert figures.save(drawn, tmp_path / "cox.svg").stat().st_size > 1000


def test_a_target_for_an_indicator_without_an_estimate_is_left_out(tmp_path: Path) -> None:
    # Indicator i2 has a target but no estimate to show (too few cases): its panel is not
    # drawn, and its target used to fail the cast to the panels' enum (demo --scale 0.1).
    frame = pl.DataFrame({"region": ["A", "B", "A"], "indicator": ["i1", "i1", "i2"],
                          "estimate": [0.5, 0.6, None], "lower": [0.4, 0.5, None],
                          "upper": [0.6, 0.7, None]})
    targets = pl.DataFrame({"indicator": ["i1", "i2"], "level": ["high", "high"],
                            "value": [0.8, 0.9]})
    drawn = figures.estimate_chart(frame, "region", {"x": "%", "alt": "indicators"},
                                   facet="indicator", targets=targets, percent=True)
    svg = figures.save(drawn, tmp_path / "ind.svg").read_text(encoding="utf-8")
    assert "<svg" in svg


# --- random small and odd registries --------------------------------------------------------

@st.composite
def small_registries(draw: st.DrawFn) -> dict:
    """Demo-generator parameters for a registry of a few hundred cases or fewer: one or
    two diagnosis years, one to three of the subregistries, sometimes no cancer registry,
    and the one region whose report is published."""
    last = draw(st.integers(2022, 2025))
    return {"seed": draw(st.integers(1, 10_000)),
            "scale": draw(st.sampled_from([0.005, 0.02, 0.05])),
            "years": (last - draw(st.integers(0, 1)), last),
            "keep": draw(st.lists(st.sampled_from(dd.subregistry_ids()), min_size=1,
                                  max_size=3, unique=True)),
            "cancer_registry": draw(st.booleans()),
            "region": draw(st.sampled_from(dd.region_ids()))}


@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(params=small_registries())
def test_small_and_odd_registries_publish_or_give_one_clear_error(params, tmp_path_factory,
                                                                   monkeypatch) -> None:
    monkeypatch.setenv("BCR_RENDERER", "builtin")
    folder = tmp_path_factory.mktemp("registry")
    demo = registry.generate_demo(params["seed"], params["scale"], params["years"],
                                  error_rate=0.0)
    for name, frame in demo.frames.items():
        if name in dd.subregistry_ids() and name not in params["keep"]:
            continue
        if name == "cancer_registry" and not params["cancer_registry"]:
            continue
        frame.write_csv(folder / f"{name}.csv")
    out = tmp_path_factory.mktemp("reports")
    try:
        result = publish.publish(folder, out, formats=["html"], regions=[params["region"]],
                                 workers=1)
    except (RenderError, OutputError):
        raise  # a figure, template or renderer broke on the data: ours, not the user's
    except UserError as exc:  # one clear line about the data, nothing to report
        assert "\n" not in str(exc) and str(exc)
        return
    assert result.results
    for r in result.results:
        for f in r.files:
            assert f.stat().st_size > 0, f


def test_a_cox_model_that_cannot_be_fitted_is_a_clear_error() -> None:
    # Only men: the sex column is constant and the information matrix singular
    # (lifelines raised ConvergenceError, which stopped a publish on a small registry).
    data = pl.DataFrame({"time": [1.0, 2, 3, 4, 5, 6], "event": [1, 0, 1, 1, 0, 1],
                         "region": ["syd"] * 3 + ["norr"] * 3, "sex": [1] * 6,
                         "age_exact": [60.0, 70, 80, 65, 75, 85]})
    with pytest.raises(UserError, match="could not be fitted on 6 cases with 4 deaths"):
        cox.cox_region(data)


def test_unbounded_and_huge_estimates_print() -> None:
    # A separated Cox model gives hazard ratios of 1e+30 or an infinite upper limit.
    assert fmt.number(float("inf"), 2) == "" and fmt.interval(0.5, float("inf"), 2) == ""
    assert fmt.number(1.5e30, 2, "en").startswith("1,500,000,000")


@pytest.mark.parametrize(("lang", "sentence"), [
    ("sv", "För få fall för standardiserad incidenskvot (SIR) per region."),
    ("en", "Too few cases for standardised incidence ratio (SIR) by region.")])
def test_a_figure_with_nothing_to_draw_becomes_a_too_few_cases_sentence(lang, sentence):
    run = SimpleNamespace(text=Text(lang))
    caption = {"sv": "Standardiserad incidenskvot (SIR) per region",
               "en": "Standardised incidence ratio (SIR) by region"}[lang]
    nothing = FigureSpec("fig-sir", caption, "estimate_chart", {
        "frame": pl.DataFrame({"region": ["Syd"], "estimate": [None], "lower": [None],
                               "upper": [None]}, schema_overrides={"estimate": pl.Float64})})
    section = Section("SIR")
    figure_specs.add_figure(run, section, nothing)
    assert section.figures == [] and section.paragraphs == [sentence]
    something = FigureSpec("fig-sir", caption, "estimate_chart", {
        "frame": pl.DataFrame({"region": ["Syd"], "estimate": [1.1]})})
    figure_specs.add_figure(run, section, something)
    assert section.figures == [something]
