"""Benchmark: a whole `bcr survival --method pohar-perme` process on the 100 000-patient
cohort of bench_survival.py, written as a registry extract (Parquet) with its life table.

Run: .venv/bin/python bench/bench_survival_cli.py [--repeat 5]
Prints the wall time of whole processes (start, reading and validating the extract, the
estimator, the table), of `bcr --help` and of `bcr survival --help`: the minimum and the
median of --repeat runs, with the load average (the machine is shared: the minimum is the
figure to compare). Target (issue 18): under 1.2 s, aim 0.6 s;
`bcr --help` under 0.2 s. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from bench_survival import N, _cases, _lifetable  # noqa: E402

COUNTIES = ["01", "03", "12", "14", "22"]  # one county of each of five regions


def write_cohort(folder: Path) -> tuple[Path, Path]:
    """The cohort as a myeloma extract (pseudonymous ids) and the life table, as Parquet."""
    rng = np.random.default_rng(7)
    cases = _cases(N).with_columns(
        pl.format("P{}", pl.col("case_id")).alias("person_id"),
        pl.lit("myeloma").alias("subregistry"), pl.lit("C90.0").alias("icd10"),
        pl.Series("county", rng.choice(COUNTIES, N)))
    extract, lifetable = folder / "myeloma.parquet", folder / "lifetable.parquet"
    cases.write_parquet(extract)
    _lifetable().write_parquet(lifetable)
    return extract, lifetable


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        extract, lifetable = write_cohort(Path(tmp))
        bcr = [sys.executable, "-m", "analysis"]
        survival = [*bcr, "survival", "--cases", str(extract), "--lifetable", str(lifetable),
                    "--method", "pohar-perme", "--id-scheme", "pseudonym",
                    "--times", "1,3,5,10,15"]
        subprocess.run(survival, check=True)  # warm the file cache; shows the table
        runs = {"bcr survival --method pohar-perme": survival, "bcr --help": [*bcr, "--help"],
                "bcr survival --help": [*bcr, "survival", "--help"]}
        for name, cmd in runs.items():
            times = sorted(timed(cmd) for _ in range(repeat))
            print(f"{name}: min {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s "
                  f"({repeat} runs, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
