"""`bcr publish`: every regional and subregistry report and the annual publication."""

from __future__ import annotations

from pathlib import Path

import typer

from analysis.commands.options import DataOption
from analysis.data import dictionary as dd


def publish(
    data: DataOption = None,
    year: int | None = typer.Option(None, "--year", help="Diagnosis year reported "
                                    "(default: the last complete year in the data)."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the reports (default: "
                                    "the registry's; e.g. sv, nb or en)."),
    formats: str = typer.Option("html,pdf,interactive", "--format",
                                help="html, pdf, interactive (an offline interactive "
                                "report per region and a national one), joined by commas."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: reports/); "
                                    "documents go to <out>/<year>/<lang>/<document>/."),
    workers: int | None = typer.Option(None, "--workers",
                                       help="Documents rendered at once (default: CPUs)."),
) -> None:
    """Render the regional reports (one per region), the subregistry reports (one per
    subregistry) and the annual publication (a Quarto book) to self-contained HTML and
    PDF, and the interactive reports (one per region and a national one)."""
    from analysis.reporting.progress import run_with_progress
    run_with_progress(data, out, year, dd.language(lang), formats, workers=workers)
