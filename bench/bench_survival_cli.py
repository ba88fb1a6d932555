"""Benchmark: a whole `bcr survival --method pohar-perme` process on the 100 000-patient
cohort of bench_survival.py, written as a registry extract (Parquet) with its life table.

Run: .venv/bin/python bench/bench_survival_cli.py [--repeat 5]
Prints the wall time and the CPU time (user + sys, which load on the shared cores
disturbs less) of whole processes (start, reading and validating the extract, the
estimator, the table), of `bcr --help` and of `bcr survival --help`: the minimum and the
median of --repeat runs, with the load average (the machine is shared: the minimum is the
figure to compare). Target (issue 18): under 1.2 s, aim 0.6 s;
`bcr --help` under 0.2 s. Results: bench/RESULTS.md.

The processes run as an installed toolkit does, from compiled modules: the first one
writes them (``__pycache__``) even where PYTHONDONTWRITEBYTECODE is set, which would
otherwise have every process compile the toolkit's modules again (about 0.1 s).
"""

from __future__ import annotations

import argparse
import os
import resource
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


# The environment of the timed processes: compiled modules written and read.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


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
        # Warms the file cache, writes the compiled modules; shows the table.
        subprocess.run(survival, check=True, env=ENV)
        runs = {"bcr survival --method pohar-perme": survival, "bcr --help": [*bcr, "--help"],
                "bcr survival --help": [*bcr, "survival", "--help"]}
        for name, cmd in runs.items():
            walls, cpus = (sorted(t) for t in zip(*(timed(cmd) for _ in range(repeat)),
                                                  strict=True))
            mid = len(walls) // 2
            print(f"{name}: wall min {walls[0]:.2f} s, median {walls[mid]:.2f} s; CPU min "
                  f"{cpus[0]:.2f} s, median {cpus[mid]:.2f} s ({repeat} runs, load average "
                  f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
