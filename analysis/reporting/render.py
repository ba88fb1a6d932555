"""Rendering Quarto sources to self-contained HTML and PDF, in parallel and atomically.

Two engines (DESIGN.md §9):
- ``quarto``: the `quarto` executable named by ``BCR_QUARTO``, else the one installed beside
  this Python (``pip install -e '.[quarto]'``, online machines), else one on PATH;
- ``builtin``: pandoc from pypandoc-binary with the Lua filter ``templates/quarto-compat.lua``
  (.qmd -> self-contained HTML, .qmd -> typst) and the `typst` package (typst -> PDF).
  ``BCR_RENDERER=builtin`` forces it even when Quarto is installed.

Each job writes its own staging directory (.qmd and figures), rendered there: built-in,
one worker per document; through Quarto, the few project calls of
``quarto_project.quarto_calls``. The documents replace the outputs only when all
succeeded and passed ``checks.verify``; else ``RenderError`` names document and step
(``OutputError`` a missing or malformed output, ``DiskFullError`` a full disk, in one
line) and the previous outputs stay.

A run locks its output folder and first removes what a killed run left there; its
workers (``workers.py``) die with their tools on Ctrl-C, a failure or the main process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from analysis import resources
from analysis.errors import UserError
from analysis.reporting import figure_cache
from analysis.reporting import quarto_project as qp
from analysis.reporting.checks import main_output, verify, verify_file
from analysis.reporting.staging import clean_leftovers, locked, swap_into_place
from analysis.reporting.workers import InProcess, as_done, worker_pool

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


class DiskFullError(UserError):
    """The disk filled up while writing: one line, without a tool's stack dump."""

    def __init__(self, where: Path | str) -> None:
        self.where = str(where)
        super().__init__(f"no space left on the device while writing {where}: free some "
                         f"space and run again (earlier outputs are unchanged)")

    def __reduce__(self):  # picklable across worker processes
        return (DiskFullError, (self.where,))


class Job(Protocol):
    """One document: a picklable object that writes its sources into a directory."""

    name: str
    kind: str  # "document" (one index.qmd) or "project" (a Quarto book, _quarto.yml)
    stem: str  # file name of the rendered outputs, without suffix
    date: dt.date  # the data's date; the PDF's creation date (determinism)

    def write(self, directory: Path) -> dict[str, float]:
        """Write index.qmd (or a project) and figures; return seconds per step."""
        ...

    def headings(self) -> list[str]:
        """The top-level section titles every HTML output must show."""
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
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(cwd) from None
        raise RenderError(document, step, str(exc)) from None
    if proc.returncode != 0:
        said = proc.stderr or proc.stdout or f"exit code {proc.returncode}"
        if "No space left on device" in said:  # not the tool's stack dump, one line
            raise DiskFullError(cwd)
        # The tool's message, without Quarto's (deno's) stack trace after it.
        raise RenderError(document, step, said.split("Stack trace:")[0])


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
        if "No space left on device" in str(exc):
            raise DiskFullError(directory) from None
        raise RenderError(job.name, "typst (typst -> pdf)", str(exc)) from None
    poppler_safe(out)
    return out


def poppler_safe(pdf: Path) -> None:
    """Drop ``/Suspects false`` from a tagged PDF's MarkInfo, in place and keeping every
    byte offset (blanks of the same length). The PDF standard allows the entry, but
    poppler up to at least 22.12 reports "Syntax Error: Suspects object is wrong type
    (boolean)" for it (it wants the entry absent when false), and false is the default."""
    data = pdf.read_bytes()
    entry = b"/Suspects false"
    if entry in data:
        pdf.write_bytes(data.replace(entry, b" " * len(entry)))


def _quarto_call(what: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """One Quarto call (runs in a worker); its seconds."""
    start = time.perf_counter()
    _run(cmd, cwd, what, "quarto render", env)
    return time.perf_counter() - start


def _quarto_outputs(job: Job, staging: Path, formats: Sequence[str]) -> list[Path]:
    """Name a job's Quarto outputs as the built-in path does (``<stem>.html`` and
    ``.pdf``; a book's pages stay in ``_book/``) and make its PDF pass poppler; the
    job's main files (``main_output``)."""
    directory, files = staging / job.name, []
    for fmt in formats:
        target = directory / main_output(job, fmt, "quarto")
        if job.kind == "project":
            made = staging / f"{job.name}-{qp.COMBINED_PDF}" / "index.pdf" if fmt == "pdf" \
                else target
        else:
            made = directory / f"index.{fmt}"
        if made.exists() and made != target:  # else verify() names what is missing
            os.replace(made, target)
        if fmt == "pdf" and target.exists():
            poppler_safe(target)
        files.append(target)
    return files


def write_sources(job: Job, directory: Path) -> dict[str, float]:
    """Write one job's sources into `directory` (runs in a worker); seconds per step."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return dict(job.write(directory))
    except UserError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(directory) from None
        raise RenderError(job.name, "writing the sources (templates, figures)",
                          f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a template or figure bug: name the document and step
        raise RenderError(job.name, "writing the sources (templates, figures)",
                          f"{type(exc).__name__}: {exc}") from None


def build_and_render(job: Job, directory: Path, formats: Sequence[str]) -> Result:
    """Write one job's sources and render them on the built-in path (in a worker)."""
    seconds = write_sources(job, directory)
    start = time.perf_counter()
    # An interactive report's job writes its finished page: nothing to render.
    files = ([directory / f"{job.stem}.html"] if job.kind == "interactive"
             else [_render_builtin(directory, job, fmt) for fmt in formats])
    seconds["rendering"] = time.perf_counter() - start
    return Result(job.name, files, seconds)


FIGURE_CACHE = ".figure-cache"  # in the run's staging directory, removed with it
FIGURES_PER_TASK = 2  # a figure takes 0.5-3 s; a task more costs a few milliseconds


def _draw_figures(specs: Sequence[tuple[str, object]], cache: Path) -> float:
    """Draw figures (document name, figure) into the run's cache (in a worker); the
    seconds spent."""
    total = 0.0
    for document, spec in specs:
        try:
            total += spec.draw_cached(cache)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(cache) from None
            raise RenderError(document, f"drawing figure '{spec.id}'", str(exc)) from None
        except Exception as exc:  # a figure bug: name the document and the figure
            raise RenderError(document, f"drawing figure '{spec.id}'",
                              f"{type(exc).__name__}: {exc}") from None
    return total


def _build_and_draw(jobs: Iterable[Job], pool: object, cache: Path,
                    ) -> tuple[list[Job], list[Future], int]:
    """Take the jobs one by one (a generator may build each document when asked) and
    hand each distinct figure of the run to the workers, ``FIGURES_PER_TASK`` at a time,
    as soon as its document is there: the workers draw while the next documents are
    built. A figure shared by documents is drawn once; one kept from an earlier run
    (``figure_cache``) is taken, not drawn. The jobs, the drawing tasks and the number
    of figures they draw."""
    built: list[Job] = []
    seen: set[str] = set()
    waiting: list[tuple[str, object]] = []
    drawn: list[Future] = []
    figures = 0
    for job in jobs:
        built.append(job)
        new = [s for s in getattr(job, "figure_specs", list)() if s.key not in seen]
        seen.update(s.key for s in new)
        figure_cache.take([s.key for s in new], cache)
        to_draw = [(job.name, s) for s in new if not (cache / f"{s.key}.svg").exists()]
        waiting += to_draw
        figures += len(to_draw)
        while len(waiting) >= FIGURES_PER_TASK:
            drawn.append(pool.submit(_draw_figures, waiting[:FIGURES_PER_TASK], cache))
            del waiting[:FIGURES_PER_TASK]
    if waiting:
        drawn.append(pool.submit(_draw_figures, waiting, cache))
    return built, drawn, figures


def render_all(jobs: Iterable[Job], out_dir: Path, formats: Sequence[str],
               workers: int | None = None,
               on_done: Callable[[Result], None] | None = None,
               seconds: dict[str, float] | None = None,
               on_phase: Callable[[str], None] | None = None,
               files: Mapping[str, bytes] | None = None,
               count: int | None = None) -> list[Result]:
    """Render every job in parallel processes into `out_dir/<job.name>/`; ``files``
    (name -> content, e.g. the run's release.csv) go into `out_dir` with them. ``jobs``
    may be a generator that builds each document when asked; ``count`` then says how
    many it gives.

    First the distinct figures of the run are drawn by the workers, into a cache the
    documents copy from (a figure shared by documents is drawn once), while the documents
    are built (:func:`_build_and_draw`); then the documents are written and rendered, the
    largest (a book) first. ``seconds`` gets the figure phase's ("figures, drawn once"
    summed over the workers, "building and figure phase wall time"); ``on_phase`` hears
    of each phase as it starts, ``on_done`` of each document.
    All documents and files are built in a staging directory inside `out_dir`, checked
    (``verify``, ``verify_file``) and moved into place only when every one succeeded; on
    any failure or interruption nothing in `out_dir` changes and the error (a RenderError
    naming the document and step, an OutputError naming what is missing) is raised."""
    seconds = seconds if seconds is not None else {}
    count = len(jobs) if count is None else count  # type: ignore[arg-type]
    phase, files = on_phase or (lambda _: None), dict(files or {})
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with locked(out_dir):
            clean_leftovers(out_dir)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
            try:
                for name, content in files.items():
                    (staging / name).write_bytes(content)
                jobs, results = _render_staged(jobs, count, staging, formats, workers,
                                               on_done, seconds, phase)
                phase("checking the outputs")
                for job in jobs:
                    verify(job, staging / job.name, formats, engine())
                for name, content in files.items():
                    verify_file(staging / name, content)
                phase("moving the documents into place")
                for job in jobs:
                    swap_into_place(staging / job.name, out_dir / job.name)
                for name in files:  # a rename: never half a file
                    os.replace(staging / name, out_dir / name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except DiskFullError:  # said of the output folder, not of a staging file in it
        raise DiskFullError(out_dir) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(out_dir) from None
        raise
    order = {j.name: i for i, j in enumerate(jobs)}
    results.sort(key=lambda r: order[r.name])
    return [Result(r.name, [out_dir / r.name / f.relative_to(staging / r.name)
                            for f in r.files], r.seconds) for r in results]


def _render_staged(jobs: Iterable[Job], count: int, staging: Path, formats: Sequence[str],
                   workers: int | None, on_done: Callable[[Result], None] | None,
                   seconds: dict[str, float], phase: Callable[[str], None]
                   ) -> tuple[list[Job], list[Result]]:
    """Build the jobs while the workers draw their figures, then write and render every
    job into ``staging``: on the built-in path each document in a worker, through Quarto
    all sources first and then the few Quarto calls of ``quarto_calls``, in parallel.
    The jobs built, and their results."""
    workers = max(1, min(workers or os.cpu_count() or 1, count))
    with (contextlib.nullcontext(InProcess()) if workers == 1 else worker_pool(workers)) as pool:
        start = time.perf_counter()
        cache = staging / FIGURE_CACHE
        phase(f"building {count} documents and drawing their figures")
        jobs, drawn, figures = _build_and_draw(jobs, pool, cache)
        names = [j.name for j in jobs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:  # one source rendered twice at once would race (DESIGN.md §9)
            raise UserError(f"documents requested twice in one run: {', '.join(duplicates)}")
        phase(f"drawing {figures} figures")
        seconds["figures, drawn once (sum)"] = sum(f.result() for f in as_done(drawn))
        figure_cache.keep(cache)
        seconds["building and figure phase wall time"] = time.perf_counter() - start
        # Largest first: a book renders longest, so it should not start last.
        ordered = sorted(jobs, key=lambda j: j.kind != "project")
        results: list[Result] = []
        if engine() == "builtin":
            phase(f"rendering {len(jobs)} documents")
            for future in as_done([pool.submit(build_and_render, job, staging / job.name,
                                                formats) for job in ordered]):
                results.append(future.result())
                if on_done:
                    on_done(results[-1])
            return jobs, results
        phase(f"writing {len(jobs)} documents")
        written = {job.name: pool.submit(write_sources, job, staging / job.name)
                   for job in ordered}
        list(as_done(list(written.values())))
        calls = qp.quarto_calls(jobs, staging, formats, workers,
                                quarto_path() or "quarto")
        phase(f"rendering with Quarto in {len(calls)} calls: "
              f"{', '.join(what for what, _, _ in calls)}")
        start = time.perf_counter()
        env = qp.quarto_env(jobs)
        timed = [(f"quarto call {i + 1} ({w})", pool.submit(_quarto_call, w, c, d, env))
                 for i, (w, c, d) in enumerate(calls)]
        list(as_done([f for _, f in timed]))
        seconds.update((name, f.result()) for name, f in timed)
        qp.gather(staging)
        rendering = (time.perf_counter() - start) / len(jobs)  # a share of the wall time
        for job in jobs:
            results.append(Result(job.name, _quarto_outputs(job, staging, formats),
                                  {**written[job.name].result(), "rendering": rendering}))
            if on_done:
                on_done(results[-1])
        return jobs, results
