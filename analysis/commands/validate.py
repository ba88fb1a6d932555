"""`bcr validate`: check a data folder against the data dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from analysis.commands.options import (
    ExtractDateOption,
    IdSchemeOption,
    SheetOption,
    SubregistryOption,
    data_folder,
    parse_date,
)
from analysis.data import dictionary as dd

if TYPE_CHECKING:  # imported inside the functions: `bcr --help` starts without them
    import polars as pl
    from rich.console import Console

    from analysis.data.ingest import RegistryData

EXIT_REJECTED = 1
# Every row accepted, but the population or the life table does not cover the cases.
EXIT_GAPS = 3
EXAMPLES = 3


def _print_summary(data: RegistryData, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"Validation of {data.directory}", header_style="bold")
    for col, just in (("dataset", "left"), ("file", "left"), ("read", "right"),
                      ("accepted", "right"), ("rejected", "right")):
        table.add_column(col, justify=just)
    for row in data.summary().iter_rows(named=True):
        style = "red" if row["rejected"] else None
        table.add_row(row["dataset"], row["file"], f"{row['read']:,}".replace(",", " "),
                      f"{row['accepted']:,}".replace(",", " "),
                      f"{row['rejected']:,}".replace(",", " "), style=style)
    console.print(table)


def _print_failures(failures: pl.DataFrame, console: Console) -> None:
    import polars as pl

    by_rule = (failures.group_by("dataset", "rule", "message", maintain_order=True)
               .agg(pl.len().alias("rows"),
                    pl.struct("file", "row", "case_id", "column", "value").head(EXAMPLES)
                    .alias("examples")))
    for r in by_rule.iter_rows(named=True):
        console.print(f"[bold]{r['dataset']}[/]: {r['rows']} × [red]{r['rule']}[/] — "
                      f"{r['message']}", highlight=False, soft_wrap=True)
        for ex in r["examples"]:
            case = f", case_id {ex['case_id']}" if ex["case_id"] is not None else ""
            value = "empty" if ex["value"] is None else f"value '{ex['value']}'"
            console.print(f"    {ex['file']} row {ex['row']}{case}, column {ex['column']}, "
                          f"{value}", highlight=False, soft_wrap=True)


def _print_notes(data: RegistryData, console: Console) -> None:
    """Files the toolkit does not read, columns it does not know, extracts without an
    accepted row, and a population or life table that is missing."""
    from analysis.data.identity import redact

    for path in data.ignored:
        console.print(f"[yellow]ignored[/] {redact(path.name)}: not a dataset name the "
                      "toolkit knows", highlight=False)
    for fc in data.checks:
        if fc.extra_columns:
            console.print(f"[yellow]note:[/] {fc.path.name}: column(s) "
                          f"{redact(', '.join(fc.extra_columns))} are not in the data "
                          "dictionary: not checked, and never copied to the failures or "
                          "rejected rows", highlight=False, soft_wrap=True)
        if fc.dataset in dd.subregistry_ids() and not fc.accepted:
            why = "it has a header and no rows" if not fc.read else \
                f"all {fc.read} rows were rejected"
            console.print(f"[red]no accepted rows[/] in {fc.path.name}: {why}",
                          highlight=False)
    if not data.cases.is_empty():
        for name, use in (("population", "incidence rates"),
                          ("lifetable", "relative and net survival")):
            if getattr(data, name) is None:
                console.print(f"[yellow]note:[/] no {name} file: {use} cannot be computed "
                              "from this folder", highlight=False)


def _print_gaps(data: RegistryData, console: Console) -> bool:
    """Warn where the population or life table lacks strata of the accepted cases;
    whether any did."""
    from analysis.data.denominators import coverage_gaps

    gaps = coverage_gaps(data)
    for file, gap in gaps.items():
        console.print(f"[yellow]warning:[/] {file} does not cover the accepted cases: "
                      f"missing {gap}", highlight=False, soft_wrap=True)
    return bool(gaps)


def _write_rejected(data: RegistryData, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data.failures().write_csv(out / "failures.csv")
    for fc in data.checks:
        if fc.n_rejected:
            name = fc.dataset.replace(" ", "_")
            fc.rejected.write_csv(out / f"rejected_{name}.csv")


def validate(
    data_dir: Path | None = typer.Argument(None, help="Data folder (default: the demo registry)."),
    subregistry: SubregistryOption = None,
    out: Path = typer.Option(Path("validation"), "--out",
                             help="Folder for failures.csv and rejected_<dataset>.csv."),
    extract_date: ExtractDateOption = None,
    id_scheme: IdSchemeOption = None,
    sheet: SheetOption = None,
) -> None:
    """Check every file of a data folder against the data dictionary.

    Prints read / accepted / rejected per file and every broken rule with example rows
    (file, row, case_id, column, value; never an identity number, nor any value shaped
    like one). Writes all failures and the rejected rows with their reasons to --out.
    Warns where the population or life table lacks years, counties, sexes or ages of the
    accepted cases. Exit code 0: every row accepted and covered; 1: rows were rejected;
    3: every row accepted, but the population or life table does not cover the cases;
    2: the folder or a file cannot be used at all.
    """
    from rich.console import Console

    from analysis.data.ingest import load_data

    console = Console()
    data = load_data(data_folder(data_dir), subregistry or None, identity_scheme=id_scheme,
                     extract_date=parse_date(extract_date, "--extract-date"), sheet=sheet)
    _print_summary(data, console)
    _print_notes(data, console)
    gaps = _print_gaps(data, console)
    failures = data.failures()
    if failures.is_empty():
        console.print("[green]All rows accepted.[/]")
        if gaps:
            raise typer.Exit(EXIT_GAPS)
        return
    _print_failures(failures, console)
    _write_rejected(data, out)
    total = data.summary().get_column("rejected").sum()
    console.print(f"{total} rows rejected; failures and rejected rows written to {out}/")
    raise typer.Exit(EXIT_REJECTED)
