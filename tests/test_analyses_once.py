"""Every analysis of a run is computed once (``compute_all``) and only read by the
documents: the Cox fits, the net survival, the Kaplan-Meier estimates and the release
are never computed again while the regional reports, the subregistry reports and the
publication are built (issue 18, "analyses once, reused")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from conftest import tiny_registry

from analysis.data.ingest import load_data
from analysis.privacy import release
from analysis.reporting.analyses import compute_all
from analysis.reporting.documents import planned_jobs
from analysis.reporting.run import Run
from analysis.stats import cox, survival
from analysis.stats import relative_survival as rs

HEAVY = [(cox, "cox_region"), (rs, "age_standardised"), (rs, "relative_survival_curve"),
         (survival, "kaplan_meier"), (release, "build_release")]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("once"),
                         ("cml", "aml", "population", "lifetable", "cancer_registry"), 11,
                         (2016, 2025))


def _counting(monkeypatch, calls: Counter, subregistries: list) -> None:  # noqa: ANN001
    for module, name in HEAVY:
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls[_name] += 1
            if _name == "cox_region":
                subregistries.append(args[0]["subregistry"].unique().to_list())
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def test_heavy_analyses_once_per_run_never_per_document(data, monkeypatch):
    calls: Counter = Counter()
    fitted: list = []
    _counting(monkeypatch, calls, fitted)
    loaded = load_data(data)
    analyses = compute_all(loaded, workers=1)  # in this process, where the counts are
    # One Cox model per subregistry, one release, the curves once nationally and once
    # by region.
    assert sorted(fitted) == [["aml"], ["cml"]]
    assert calls["build_release"] == 1 and calls["relative_survival_curve"] == 2
    assert calls["age_standardised"] > 0 and calls["kaplan_meier"] > 0
    assert analyses.cox.filter(pl.col("subregistry") == "aml").height > 0
    calls.clear()
    run = Run(analyses, "sv", loaded.summary(), {"year": str(analyses.year)}, "builtin",
              loaded.failures().group_by("file", "rule", "column").len("n"))
    documents = [build() for build in planned_jobs(run)]
    assert len(documents) == 6 + 2 + 1  # the regions, the two subregistries, the book
    assert sum(len(d.figure_specs()) for d in documents) > 0
    assert not calls  # the documents only read the run's analyses
