"""Benchmark: ingest and validate the `--scale 10` demo registry (about 1.3 million cases).

    python bench/bench_ingest.py [DATA_DIR]

Without DATA_DIR the registry is generated first (not timed) with `bcr demo --scale 10`.
Ingest runs in a fresh process so that its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from analysis.data.ingest import load_data
t = time.perf_counter()
data = load_data(sys.argv[1])
s = data.summary()
elapsed = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{int(s['read'].sum())} rows read, {int(s['accepted'].sum())} accepted, "
      f"{int(s['rejected'].sum())} rejected in {elapsed:.2f} s; peak memory {rss:.0f} MB")
"""


def main() -> None:
    if len(sys.argv) > 1:
        data = Path(sys.argv[1])
    else:
        data = Path(tempfile.mkdtemp()) / "demo10"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "analysis", "demo", "--out", str(data),
                        "--scale", "10"], check=True)
        print(f"generated in {time.perf_counter() - t:.1f} s")
    subprocess.run([sys.executable, "-c", CHILD, str(data)], check=True)


if __name__ == "__main__":
    main()
