"""`bcr report`: one regional or one subregistry report."""

from __future__ import annotations

from pathlib import Path

import typer

from analysis.commands.options import DataOption
from analysis.data import dictionary as dd
from analysis.errors import UserError


def report(
    region: str | None = typer.Option(None, "--region", help="Region id (the ids of "
                                      "the registry's regions.yaml)."),
    subregistry: str | None = typer.Option(None, "--subregistry",
                                           help="Subregistry id, e.g. myeloma."),
    data: DataOption = None,
    year: int | None = typer.Option(None, "--year", help="Diagnosis year reported "
                                    "(default: the last complete year in the data)."),
    lang: str | None = typer.Option(None, "--lang", help="Language of the report (default: "
                                    "the registry's; e.g. sv, nb or en)."),
    formats: str = typer.Option("html,pdf", "--format",
                                help="html, pdf, interactive (the region's offline "
                                "interactive report), joined by commas."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: reports/)."),
) -> None:
    """Render one report: `--region ID` (a regional report) or `--subregistry ID`."""
    from analysis.reporting.progress import run_with_progress
    if (region is None) == (subregistry is None):
        raise UserError("give either --region or --subregistry (one of them)")
    if region is not None and region not in dd.region_ids():
        raise UserError(f"--region '{region}': unknown (known: {', '.join(dd.region_ids())})")
    if subregistry is not None:
        dd.subregistry(subregistry)  # an unknown id is a clear error
        if "interactive" in formats.lower():
            raise UserError("--format interactive: the interactive report is made per "
                            "region (--region) or by bcr publish, not per subregistry")
    run_with_progress(data, out, year, dd.language(lang), formats,
                      regions=[region] if region else [],
                      subregistries=[subregistry] if subregistry else [],
                      with_publication=False)
