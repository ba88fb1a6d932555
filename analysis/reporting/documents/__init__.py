"""The three kinds of document (DESIGN.md §7) and the documents of one run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from analysis.data import dictionary as dd
from analysis.reporting.cells import subregistries_present
from analysis.reporting.documents.publication import publication
from analysis.reporting.documents.regional import regional_report
from analysis.reporting.documents.subregistry import subregistry_report
from analysis.reporting.qmd import DocumentJob
from analysis.reporting.run import Run


def planned_jobs(run: Run, regions: Sequence[str] | None = None,
                 subregistries: Sequence[str] | None = None,
                 with_publication: bool = True) -> list[Callable[[], DocumentJob]]:
    """The documents of a run (regional reports, subregistry reports, the publication),
    each as the call that builds it: a run builds them one by one while its workers draw
    the figures of those built before."""
    a = run.analyses
    planned = [partial(regional_report, run, r) for r in (regions if regions is not None
                                                          else dd.region_ids())]
    planned += [partial(subregistry_report, run, s) for s in (
        subregistries if subregistries is not None else subregistries_present(a))]
    if with_publication:
        planned.append(partial(publication, run))
    return planned


def default_out(base: Path, year: int, lang: str) -> Path:
    """reports/<year>/<lang>/: one folder per run's year and language."""
    return base / str(year) / lang
