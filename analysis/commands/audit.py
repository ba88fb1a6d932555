"""`bcr audit`: what an attacker could learn from a folder of published output."""

from __future__ import annotations

from pathlib import Path

import typer

from analysis.commands.output import write_frame
from analysis.errors import UserError


def audit(
    folder: Path = typer.Argument(..., help="A folder of published output (bcr publish "
                                  "--out) or a release.csv file."),
    out: Path | None = typer.Option(None, "--out", help="Write every masked or protected count's "
                                    "interval to this CSV file."),
) -> None:
    """Audit a published release: for every masked count, and every count a survival
    cohort or completeness denominator leaves out or a region's cases at one hospital
    (protected, never published), the
    lowest and highest value consistent with everything published (a linear programme
    over all its sums). Exit code 0 when no count is exposed (every masked interval at
    least k-1 wide, no protected one pinned inside 1..k-1), 1 when one is."""
    import polars as pl
    from rich.console import Console

    from analysis.privacy.published import RELEASE_FILE, audit_published, read_published

    files = [folder] if folder.is_file() else sorted(folder.rglob(RELEASE_FILE))
    if not files:
        raise UserError(f"{folder}: no {RELEASE_FILE} found (bcr publish writes one)")
    console = Console()
    exposed = 0
    for path in files:
        result = audit_published(read_published(str(path)))
        bad = result.filter(~pl.col("ok"))
        exposed += bad.height
        console.print(f"{path}: {result.height} masked or protected count(s), "
                      f"{bad.height} exposed", highlight=False)
        if bad.height:
            write_frame(bad, "table", None, "Masked counts an attacker can bound")
        if out is not None:
            write_frame(result, "csv", out, "")
    if exposed:
        raise typer.Exit(1)
