"""Rendering Quarto sources to self-contained HTML and PDF, in parallel and atomically.

Two engines (DESIGN.md §9):
- ``quarto``: the `quarto` executable named by ``BCR_QUARTO``, else the one installed beside
  this Python (``pip install -e '.[quarto]'``, online machines), else one on PATH;
- ``builtin``: pandoc from pypandoc-binary with the Lua filter ``templates/quarto-compat.lua``
  (.qmd -> self-contained HTML, .qmd -> typst) and the `typst` package (typst -> PDF).
  ``BCR_RENDERER=builtin`` forces it even when Quarto is installed.

Every document is written by a job into its own staging directory (its own .qmd and its
own figure files), rendered there, and moved into the output folder only when every
document of the run has succeeded. A failure raises ``RenderError`` naming the document
and the step; the previous outputs are left as they were.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from analysis import resources
from analysis.errors import UserError

TEMPLATES_DIR = resources.templates()
LUA_FILTER = TEMPLATES_DIR / "quarto-compat.lua"
FORMATS = ("html", "pdf")
# typst embeds these fonts; using only them makes the PDF the same on every machine.
TYPST_FONT_SETTINGS = {"ignore_system_fonts": True}


class RenderError(UserError):
    """A document could not be written or rendered; says which document and which step."""

    def __init__(self, document: str, step: str, detail: str) -> None:
        self.document, self.step, self.detail = document, step, detail
        super().__init__(f"document '{document}': {step} failed: {detail.strip()}")

    def __reduce__(self):  # picklable across worker processes
        return (RenderError, (self.document, self.step, self.detail))


class Job(Protocol):
    """One document: a picklable object that writes its sources into a directory."""

    name: str
    kind: str  # "document" (one index.qmd) or "project" (a Quarto book, _quarto.yml)
    stem: str  # file name of the rendered outputs, without suffix
    date: dt.date  # the data's date; the PDF's creation date (determinism)

    def write(self, directory: Path) -> dict[str, float]:
        """Write index.qmd (or a project) and figures; return seconds per step."""
        ...


@dataclass
class Result:
    name: str
    files: list[Path]
    seconds: dict[str, float] = field(default_factory=dict)


def engine() -> str:
    """The render engine in use: 'quarto' if an executable is found, else 'builtin'."""
    if os.environ.get("BCR_RENDERER") == "builtin":
        return "builtin"
    return "quarto" if quarto_path() else "builtin"


def quarto_path() -> str | None:
    """The Quarto executable: BCR_QUARTO, the virtual environment's own (quarto-cli from
    PyPI installs it beside the interpreter, which need not be on PATH), or PATH's."""
    beside = Path(sys.executable).parent / "quarto"
    return (os.environ.get("BCR_QUARTO") or (str(beside) if os.access(beside, os.X_OK)
                                               else None) or shutil.which("quarto"))


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """'html,pdf' -> ['html', 'pdf'] in canonical order; unknown formats are an error."""
    items = text.split(",") if isinstance(text, str) else list(text)
    wanted = {f.strip().lower() for f in items if f.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        raise UserError(f"--format: unknown or empty format {', '.join(unknown) or '(none)'}"
                        f" (use html, pdf or html,pdf)")
    return [f for f in FORMATS if f in wanted]


def _run(cmd: Sequence[str], cwd: Path, document: str, step: str,
         env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env,
                              check=False)
    except OSError as exc:
        raise RenderError(document, step, str(exc)) from None
    if proc.returncode != 0:
        raise RenderError(document, step, proc.stderr or proc.stdout or
                          f"exit code {proc.returncode}")


def _pandoc() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def _pandoc_inputs(directory: Path, kind: str) -> list[str]:
    """The .qmd sources in reading order: index.qmd, or a book's chapter list."""
    if kind == "document":
        return ["index.qmd"]
    config = yaml.safe_load((directory / "_quarto.yml").read_text(encoding="utf-8"))
    return [c for c in config["book"]["chapters"]]


def _render_builtin(directory: Path, job: Job, fmt: str) -> Path:
    inputs = _pandoc_inputs(directory, job.kind)
    common = [_pandoc(), "--from", "markdown", "--lua-filter", str(LUA_FILTER),
              "--standalone", "--toc", "--toc-depth=2"]
    if job.kind == "project":
        common += ["--metadata-file", "_quarto.yml"]
    if fmt == "html":
        out = directory / f"{job.stem}.html"
        _run(common + ["--to", "html5", "--embed-resources", "--output", out.name, *inputs],
             directory, job.name, "pandoc (qmd -> html)")
        return out
    typ = directory / f"{job.stem}.typ"
    _run(common + ["--to", "typst", "--output", typ.name, *inputs],
         directory, job.name, "pandoc (qmd -> typst)")
    out = directory / f"{job.stem}.pdf"
    import typst

    moment = dt.datetime.combine(job.date, dt.time(), tzinfo=dt.UTC)
    try:
        typst.compile(str(typ), output=str(out), root=str(directory),
                      timestamp=int(moment.timestamp()), **TYPST_FONT_SETTINGS)
    except Exception as exc:  # typst raises its own TypstError with the message
        raise RenderError(job.name, "typst (typst -> pdf)", str(exc)) from None
    return out


def _render_quarto(directory: Path, job: Job, fmt: str) -> Path:
    to = "html" if fmt == "html" else "typst"
    # SOURCE_DATE_EPOCH fixes the PDF dates typst writes (reproducible builds).
    moment = dt.datetime.combine(job.date, dt.time(), tzinfo=dt.UTC)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(moment.timestamp()))}
    cmd = [quarto_path() or "quarto", "render"]
    if job.kind == "project":
        cmd += [".", "--to", to]
    else:
        cmd += ["index.qmd", "--to", to, "--output", f"{job.stem}.{fmt}"]
    _run(cmd, directory, job.name, f"quarto render (-> {fmt})", env)
    if job.kind == "project":
        return directory / "_book"
    return directory / f"{job.stem}.{fmt}"


def build_and_render(job: Job, directory: Path, formats: Sequence[str],
                     renderer: str) -> Result:
    """Write one job's sources into `directory` and render them (runs in a worker)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        seconds = dict(job.write(directory))
    except UserError:
        raise
    except Exception as exc:  # a template or figure bug: name the document and step
        raise RenderError(job.name, "writing the sources (templates, figures)",
                          f"{type(exc).__name__}: {exc}") from None
    start = time.perf_counter()
    render = _render_quarto if renderer == "quarto" else _render_builtin
    files = [render(directory, job, fmt) for fmt in formats]
    seconds["rendering"] = time.perf_counter() - start
    return Result(job.name, files, seconds)


def _swap_into_place(staged: Path, final: Path) -> None:
    """Replace `final` by `staged` with renames only (same file system)."""
    old = final.with_name(f".old-{final.name}")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    if old.exists():
        shutil.rmtree(old)


FIGURE_CACHE = ".figure-cache"  # in the run's staging directory, removed with it


def _draw_figures(specs: Sequence[tuple[str, object]], cache: Path) -> float:
    """Draw figures (document name, figure) into the run's cache (in a worker); the
    seconds spent."""
    total = 0.0
    for document, spec in specs:
        try:
            total += spec.draw_cached(cache)
        except Exception as exc:  # a figure bug: name the document and the figure
            raise RenderError(document, f"drawing figure '{spec.id}'",
                              f"{type(exc).__name__}: {exc}") from None
    return total


def _distinct_figures(jobs: Sequence[Job]) -> list[tuple[str, object]]:
    """(document name, figure) for the figures of every job that offers them
    (``figure_specs``), each distinct figure once, in a fixed order."""
    seen: dict[str, tuple[str, object]] = {}
    for job in jobs:
        for spec in getattr(job, "figure_specs", list)():
            seen.setdefault(spec.key, (job.name, spec))
    return list(seen.values())


def render_all(jobs: Sequence[Job], out_dir: Path, formats: Sequence[str],
               workers: int | None = None,
               on_done: Callable[[Result], None] | None = None,
               seconds: dict[str, float] | None = None) -> list[Result]:
    """Render every job in parallel processes into `out_dir/<job.name>/`.

    First the distinct figures of the run are drawn, spread evenly over the workers,
    into a cache the documents copy from (a figure shared by documents is drawn once);
    then the documents are written and rendered, the largest (a book) first. Seconds of
    the figure phase go into ``seconds`` ("figures, drawn once" summed over the
    workers, "figure phase wall time").

    All documents are built in a staging directory inside `out_dir` and moved into place
    only when every one succeeded; on any failure nothing in `out_dir` changes and a
    RenderError (naming the document and step) is raised.
    """
    seconds = seconds if seconds is not None else {}
    names = [j.name for j in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:  # one source rendered twice at once would race (DESIGN.md §9)
        raise UserError(f"documents requested twice in one run: {', '.join(duplicates)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = engine()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    results: list[Result] = []
    cache = staging / FIGURE_CACHE
    specs = _distinct_figures(jobs)
    # Largest first: a book renders longest, so it should not start last.
    ordered = sorted(jobs, key=lambda j: j.kind != "project")
    try:
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        start = time.perf_counter()
        if workers == 1:
            seconds["figures, drawn once (sum)"] = _draw_figures(specs, cache)
            seconds["figure phase wall time"] = time.perf_counter() - start
            for job in ordered:
                results.append(build_and_render(job, staging / job.name, formats, renderer))
                if on_done:
                    on_done(results[-1])
        else:
            # spawn, not fork: polars' thread pool does not survive a fork.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                # Round-robin chunks: each worker gets a similar mix of figure kinds.
                chunks = [specs[i::workers * 4] for i in range(workers * 4)]
                drawn = [pool.submit(_draw_figures, chunk, cache) for chunk in chunks if chunk]
                seconds["figures, drawn once (sum)"] = sum(f.result() for f in drawn)
                seconds["figure phase wall time"] = time.perf_counter() - start
                pending = {pool.submit(build_and_render, job, staging / job.name, formats,
                                       renderer) for job in ordered}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in done:
                        if future.exception() is not None:
                            for other in pending:
                                other.cancel()
                            raise future.exception()
                        results.append(future.result())
                        if on_done:
                            on_done(results[-1])
        for job in jobs:
            _swap_into_place(staging / job.name, out_dir / job.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    order = {n: i for i, n in enumerate(names)}
    results.sort(key=lambda r: order[r.name])
    return [Result(r.name, [out_dir / r.name / f.relative_to(staging / r.name)
                            for f in r.files], r.seconds) for r in results]
