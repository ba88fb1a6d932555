"""Benchmark: generate the demo registry at --scale 10 (about 1.3 million cases).

Run:  /tmp/venv/bin/python bench/bench_demo.py [--scale 10] [--out DIR]
Prints wall time, peak memory (resident set size of this process) and rows written.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from analysis.demo.registry import write_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to keep the output in (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        out = args.out or Path(tmp)
        start = time.perf_counter()
        registry = write_demo(out, seed=args.seed, scale=args.scale)
        wall = time.perf_counter() - start
    cases = sum(f.height for name, f in registry.frames.items()
                if name not in ("cancer_registry", "population", "lifetable", "demo_errors"))
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    print(f"scale {args.scale}: {cases:,} quality-registry cases, "
          f"{registry.frames['cancer_registry'].height:,} cancer-registry rows")
    print(f"wall time {wall:.1f} s, peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
