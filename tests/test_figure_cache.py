"""Figures kept between runs (BCR_FIGURE_CACHE): a second run draws nothing and writes the
same bytes as a run that drew everything; a change of the figure code draws again."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tiny_registry

from analysis.reporting import figure_cache
from analysis.reporting.publish import publish


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("tiny"),
                         ("cml", "population", "lifetable", "cancer_registry"), 5,
                         (2023, 2025))


def _run(data: Path, out: Path) -> tuple[list[str], bytes]:
    phases: list[str] = []
    pub = publish(data, out, formats=["html"], regions=[], subregistries=["cml"],
                  with_publication=False, workers=1, on_phase=phases.append)
    html = next(f for r in pub.results for f in r.files if f.suffix == ".html")
    return [p for p in phases if p.startswith("drawing")], html.read_bytes()


def test_kept_figures_are_not_drawn_again_and_give_the_same_bytes(data, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("BCR_RENDERER", "builtin")
    monkeypatch.delenv(figure_cache.CACHE_ENV, raising=False)
    drawn_fresh, fresh = _run(data, tmp_path / "fresh")
    count = int(drawn_fresh[0].split()[1])
    assert count > 0

    monkeypatch.setenv(figure_cache.CACHE_ENV, str(tmp_path / "kept"))
    assert _run(data, tmp_path / "first") == (drawn_fresh, fresh)
    kept = list((tmp_path / "kept").rglob("*.svg"))
    assert len(kept) == count
    assert _run(data, tmp_path / "second") == (["drawing 0 figures"], fresh)

    # Another figure code (or plotnine, matplotlib): another folder, drawn again.
    monkeypatch.setattr(figure_cache, "_code_version", lambda: "changed")
    assert _run(data, tmp_path / "third")[0] == drawn_fresh
