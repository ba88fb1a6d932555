"""`bcr validate`: check a data folder against the data dictionary."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from analysis.commands.options import SubregistryOption, data_folder
from analysis.data.ingest import RegistryData, load_data

EXIT_REJECTED = 1
EXAMPLES = 3


def _print_summary(data: RegistryData, console: Console) -> None:
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
) -> None:
    """Check every file of a data folder against the data dictionary.

    Prints read / accepted / rejected per file and every broken rule with example rows
    (file, row, case_id, column, value; never an identity number). Writes all failures and
    the rejected rows with their reasons to --out. Exit code 0: every row accepted;
    1: rows were rejected; 2: the folder or a file cannot be used at all.
    """
    console = Console()
    data = load_data(data_folder(data_dir), subregistry or None)
    _print_summary(data, console)
    failures = data.failures()
    for path in data.ignored:
        console.print(f"[yellow]ignored[/] {path.name}: not a dataset name the toolkit knows")
    if failures.is_empty():
        console.print("[green]All rows accepted.[/]")
        return
    _print_failures(failures, console)
    _write_rejected(data, out)
    total = data.summary().get_column("rejected").sum()
    console.print(f"{total} rows rejected; failures and rejected rows written to {out}/")
    raise typer.Exit(EXIT_REJECTED)
