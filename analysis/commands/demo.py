"""`bcr demo`: write the synthetic demo registry."""

from __future__ import annotations

from pathlib import Path

import typer

from analysis.commands.output import print_table
from analysis.demo.years import DEFAULT_YEARS, parse_years


def demo(
    out: Path = typer.Option(..., "--out", help="Folder to write the registry into."),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed gives the same bytes."),
    scale: float = typer.Option(1.0, "--scale",
                                help="Size relative to the registry's demo.yaml (10: ten times "
                                     "the cases)."),
    years: str = typer.Option(DEFAULT_YEARS, "--years", help="Years of diagnosis, FIRST-LAST."),
    error_rate: float = typer.Option(0.0005, "--error-rate",
                                     help="Share of extract rows made faulty on purpose "
                                          "(listed in demo_errors.csv); 0 for none."),
    fmt: str = typer.Option("csv", "--format", help="csv, or parquet (the same tables, "
                            "typed: faster to read)."),
    id_scheme: str | None = typer.Option(
        None, "--id-scheme", help="What person_id holds: the registry's identity numbers "
        "(default), or pseudonym (research serial numbers, for any --scale; written into "
        "data_folder.yaml)."),
) -> None:
    """Write a synthetic national blood-cancer registry (all persons made up).

    Writes eight subregistry extracts, a cancer-registry extract, population and life table
    as CSV (or, with --format parquet, Parquet) files, with README.txt and demo_errors (the
    rows made faulty on purpose). The parameters are in data_dictionary/demo.yaml.
    """
    import polars as pl
    from rich.console import Console

    from analysis.demo.registry import write_demo

    registry = write_demo(out, seed=seed, scale=scale, years=parse_years(years),
                          error_rate=error_rate, fmt=fmt, identity_scheme=id_scheme)
    counts = pl.DataFrame({"file": [f"{name}.{fmt}" for name in registry.frames],
                           "rows": [f.height for f in registry.frames.values()]})
    print_table(counts, title=f"Demo registry in {out} (synthetic data)",
                console=Console(stderr=True))
