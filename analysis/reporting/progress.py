"""The command-line side of a publishing run: a rich progress bar and the final line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from analysis.reporting.publish import Publication, publish
from analysis.reporting.render import parse_formats

DEFAULT_OUT = Path("reports")  # in the current folder, also for an installed toolkit


def run_with_progress(data: Path | None, out: Path | None, year: int | None, lang: str,
                      formats: str, regions: Sequence[str] | None = None,
                      subregistries: Sequence[str] | None = None,
                      with_publication: bool = True, workers: int | None = None) -> Publication:
    """Publish with a progress bar on stderr; the last line says where the reports are."""
    console = Console(stderr=True)
    wanted = parse_formats(formats)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("analyses", total=None)

        def started(total: int) -> None:
            progress.update(task, description="documents", total=total, completed=0)

        def done(result) -> None:  # noqa: ANN001 (render.Result)
            progress.update(task, advance=1, description=result.name)

        result = publish(data, out or DEFAULT_OUT, year, lang, wanted, regions, subregistries,
                         with_publication, workers, on_start=started, on_done=done)
        progress.update(task, description="documents")
    console.print(f"{len(result.results)} document(s) written to {result.out_dir}",
                  highlight=False)
    return result
