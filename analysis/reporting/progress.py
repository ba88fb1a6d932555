"""The command-line side of a publishing run: progress, and the files to open at the end.

On a terminal a rich progress bar; elsewhere (a log file, CI) one line per phase and per
document rendered, so a long run never goes silent. The last lines name the main files:
the annual publication and one report of each kind.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from analysis.reporting.publish import Publication, parse_outputs, prepare, publish
from analysis.reporting.render import Result

DEFAULT_OUT = Path("reports")  # in the current folder, also for an installed toolkit


class _Lines:
    """Progress as plain lines with the seconds since the start (for a non-terminal)."""

    def __init__(self, console: Console) -> None:
        self.console, self.start, self.total, self.done = console, time.perf_counter(), 0, 0

    def say(self, text: str) -> None:
        self.console.print(f"[{time.perf_counter() - self.start:6.1f} s] {text}",
                           highlight=False, soft_wrap=True)

    def phase(self, text: str) -> None:
        self.say(text)

    def started(self, total: int) -> None:
        self.total = total

    def finished(self, result: Result) -> None:
        self.done += 1
        self.say(f"document {self.done}/{self.total} rendered: {result.name}")


class _Bar:
    """Progress as a rich bar (on a terminal)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("loading the data", total=None)

    def phase(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def started(self, total: int) -> None:
        self.progress.update(self.task, total=total, completed=0)

    def finished(self, result: Result) -> None:
        self.progress.update(self.task, advance=1, description=result.name)


def main_files(result: Publication) -> list[Path]:
    """The files to open first: the publication, one regional and one subregistry report
    (each in every format written) and one interactive report, in that order."""
    kinds = ("publication", "region-", "subregistry-", "interactive-")
    chosen = []
    for kind in kinds:
        first = next((r for r in result.results if r.name.startswith(kind)), None)
        if first is not None:
            chosen += first.files
    return chosen


def run_with_progress(data: Path | None, out: Path | None, year: int | None, lang: str,
                      formats: str, regions: Sequence[str] | None = None,
                      subregistries: Sequence[str] | None = None,
                      with_publication: bool = True, workers: int | None = None) -> Publication:
    """Publish with progress on stderr; the last lines name the main files."""
    console = Console(stderr=True)
    wanted = parse_outputs(formats)
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            result = _publish(_Bar(bar), data, out, year, lang, wanted, regions,
                              subregistries, with_publication, workers)
    else:
        result = _publish(_Lines(console), data, out, year, lang, wanted, regions,
                          subregistries, with_publication, workers)
    console.print(f"{len(result.results)} document(s) written to {result.out_dir}",
                  highlight=False, soft_wrap=True)
    for path in main_files(result):
        console.print(f"  {path}", highlight=False, soft_wrap=True)
    return result


def _publish(shown: _Lines | _Bar, data: Path | None, out: Path | None, year: int | None,
             lang: str, formats: list[str], regions: Sequence[str] | None,
             subregistries: Sequence[str] | None, with_publication: bool,
             workers: int | None) -> Publication:
    prepared = prepare(data, year, lang, formats, on_phase=shown.phase, workers=workers)
    return publish(data, out or DEFAULT_OUT, year, lang, formats, regions, subregistries,
                   with_publication, workers, on_start=shown.started, on_done=shown.finished,
                   prepared=prepared, on_phase=shown.phase)
