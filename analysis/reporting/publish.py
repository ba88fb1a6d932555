"""One publishing run: load, analyse once, build every document, render in parallel."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analysis.data.ingest import RegistryData, load_data
from analysis.demo.registry import cached_demo_dir
from analysis.errors import UserError
from analysis.privacy.published import RELEASE_FILE, published
from analysis.reporting.analyses import Analyses, compute_all
from analysis.reporting.documents import default_out, planned_jobs
from analysis.reporting.interactive.page import INTERACTIVE, interactive_jobs
from analysis.reporting.render import FORMATS, Result, engine, render_all
from analysis.reporting.run import Run


@dataclass
class Publication:
    """What a run produced: the output folder, the documents and seconds per step."""

    out_dir: Path
    results: list[Result]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Prepared:
    """What every document of a run is built from: the data, the analyses and the run."""

    data: RegistryData
    analyses: Analyses
    run: Run
    seconds: dict[str, float]


def prepare(data_dir: Path | None, year: int | None = None, lang: str = "sv",
            formats: Sequence[str] = ("html", "pdf"),
            on_phase: Callable[[str], None] | None = None,
            workers: int | None = None) -> Prepared:
    """Load the data folder and compute every analysis once (``compute_all``, with up to
    ``workers`` processes); ``on_phase`` hears of each step as it starts."""
    phase = on_phase or (lambda _: None)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    phase("loading the data")
    data = load_data(data_dir if data_dir is not None else cached_demo_dir())
    seconds["loading"] = time.perf_counter() - start
    phase("computing the analyses")
    start = time.perf_counter()
    analyses = compute_all(data, year, workers)
    seconds["analysis"] = time.perf_counter() - start
    options = {"year": str(analyses.year), "lang": lang, "format": ",".join(formats)}
    failures = data.failures()  # counts of rows per file and rule only, never the rows
    rules = failures.group_by("file", "rule", "column").len("n")
    run = Run(analyses, lang, data.summary(), options, engine(), rules)
    return Prepared(data, analyses, run, seconds)


def publish(data_dir: Path | None, out: Path, year: int | None = None, lang: str = "sv",
            formats: Sequence[str] = ("html", "pdf"), regions: Sequence[str] | None = None,
            subregistries: Sequence[str] | None = None, with_publication: bool = True,
            workers: int | None = None,
            on_start: Callable[[int], None] | None = None,
            on_done: Callable[[Result], None] | None = None,
            prepared: Prepared | None = None,
            on_phase: Callable[[str], None] | None = None) -> Publication:
    """Render the requested documents into ``out/<year>/<lang>/<document>/``.

    ``formats`` as :func:`parse_outputs` gives them: with ``interactive``, the offline
    interactive report of each region asked for (and the national one when all regions
    are) is written into ``out/<year>/<lang>/interactive-<area>/`` too.
    Analyses are computed once (``compute_all``, or taken from ``prepared``) and shared
    by every document; documents are written and rendered in parallel worker processes.
    Seconds per step are summed over the documents (figures, templating, rendering) or
    measured once (loading, analysis). ``on_start`` hears the number of
    documents, ``on_phase`` each phase of rendering, ``on_done`` each document rendered.
    """
    if prepared is None:
        prepared = prepare(data_dir, year, lang, formats, workers=workers)
    seconds = dict(prepared.seconds)
    analyses, run = prepared.analyses, prepared.run
    documents = [f for f in formats if f != INTERACTIVE]
    planned = planned_jobs(run, regions, subregistries, with_publication) if documents else []
    # The interactive reports: the regions asked for, and the nation's in a whole run.
    pages = interactive_jobs(run, regions, regions is None) if INTERACTIVE in formats else []
    if on_start:
        on_start(len(planned) + len(pages))
    out_dir = default_out(out, analyses.year, lang)
    start = time.perf_counter()
    # Every published count, as one file (what `bcr audit` and the tables are checked
    # on), staged, checked and moved into place with the documents, under the lock.
    files = {RELEASE_FILE: published(analyses.release).write_csv().encode("utf-8")}
    # Built one by one while the workers draw the figures of the ones before.
    jobs = (build() for build in planned)
    results = render_all(jobs, out_dir, documents, workers, on_done, seconds,
                         on_phase, files, len(planned)) if documents else []
    if pages:  # finished pages: written, checked and placed as the documents are (in
        # this process: writing is quick, a worker would first load the Vega bundle)
        results += render_all(pages, out_dir, ["html"], 1, on_done, {}, on_phase,
                              {} if documents else files)
    seconds["parallel wall time (figures, then documents)"] = time.perf_counter() - start
    for r in results:
        for step, s in r.seconds.items():
            seconds[f"{step} (sum over documents)"] = seconds.get(
                f"{step} (sum over documents)", 0.0) + s
    return Publication(out_dir, results, seconds)


def parse_outputs(text: str | Sequence[str]) -> list[str]:
    """--format: html, pdf and interactive (the offline interactive reports), in that
    order; an unknown or empty one is an error."""
    items = text.split(",") if isinstance(text, str) else list(text)
    wanted = {f.strip().lower() for f in items if f.strip()}
    unknown = sorted(wanted - {*FORMATS, INTERACTIVE})
    if unknown or not wanted:
        raise UserError(f"--format: unknown or empty format {', '.join(unknown) or '(none)'}"
                        f" (use html, pdf, interactive, or several joined by commas)")
    return [f for f in (*FORMATS, INTERACTIVE) if f in wanted]


