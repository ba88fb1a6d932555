"""Benchmark: ingest and validation of a data folder against a bare read of its files.

    python bench/bench_ingest.py DATA_DIR [DATA_DIR ...]
    python bench/bench_ingest.py --scale 10 [--parquet]

For each folder: the time of a bare ``polars.read_csv`` (or ``read_parquet``) of the
files ingest reads, the time of ``load_data`` (reading, validating every rule, splitting
accepted from rejected rows, derived columns), their ratio, and each one's peak memory
(max RSS). Each runs in a fresh process, so that its peak memory is its own; the best of
``--repeat`` runs is shown, with its CPU time (user + system, all threads: steadier than
wall time on a shared machine). Without DATA_DIR the demo registry is generated first (not
timed) at ``--scale``, as CSV, and with ``--parquet`` also as Parquet.
Targets (issue 18): ingest within 2.5x the bare read at scale 10, memory growing
linearly with the data (scale 30 under 2.5 GB). Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The datasets load_data reads (a folder's other files, e.g. demo_errors, are not read).
BARE = """
import resource, sys, time
from pathlib import Path
import polars as pl
from analysis.data import dictionary as dd
from analysis.data.ingest import AUX_DATASETS
from analysis.data.readers import find_file
folder = Path(sys.argv[1])
paths = [p for p in (find_file(folder, n) for n in (*dd.subregistry_ids(), *AUX_DATASETS))
         if p is not None]
t, c = time.perf_counter(), time.process_time()
rows = sum((pl.read_parquet(p) if p.suffix == ".parquet" else pl.read_csv(p)).height
           for p in paths)
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
print(rows, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0, cpu)
"""
INGEST = """
import resource, sys, time
from analysis.data.ingest import load_data
t, c = time.perf_counter(), time.process_time()
s = load_data(sys.argv[1]).summary()
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
print(int(s["read"].sum()), elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      int(s["rejected"].sum()), cpu)
"""


def _best(code: str, folder: Path, repeat: int) -> list[float]:
    """The run with the least time of `repeat` fresh processes: its printed numbers."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, str(folder)], check=True,
                             capture_output=True, text=True).stdout.split()
        runs.append([float(x) for x in out])
    return min(runs, key=lambda r: r[1])


def measure(folder: Path, repeat: int) -> str:
    bare = _best(BARE, folder, repeat)
    ours = _best(INGEST, folder, repeat)
    kind = "parquet" if any(folder.glob("*.parquet")) else "csv"
    return (f"{folder} ({kind}, {int(ours[0]):,} rows read, {int(ours[3])} rejected): "
            f"bare read {bare[1]:.2f} s ({bare[4]:.2f} s CPU), peak {bare[2]:.0f} MB; "
            f"ingest {ours[1]:.2f} s ({ours[4]:.2f} s CPU), peak {ours[2]:.0f} MB; "
            f"ratio {ours[1] / bare[1]:.1f}x ({ours[4] / bare[4]:.1f}x in CPU); "
            f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="*", type=Path, help="data folders to measure")
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--parquet", action="store_true",
                        help="also generate and measure the demo as Parquet")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folders = list(args.data)
    if not folders:
        tmp = Path(tempfile.mkdtemp())
        for fmt in ("csv", "parquet") if args.parquet else ("csv",):
            folder = tmp / f"demo{args.scale:g}-{fmt}"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "analysis", "demo", "--out", str(folder),
                            "--scale", str(args.scale), "--format", fmt], check=True,
                           stderr=subprocess.DEVNULL)
            print(f"generated {folder} in {time.perf_counter() - t:.1f} s")
            folders.append(folder)
    for folder in folders:
        print(measure(folder, args.repeat), flush=True)


if __name__ == "__main__":
    main()
