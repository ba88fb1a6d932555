"""Benchmark: full `bcr publish` of the demo registry (6 regional + 8 subregistry reports
and the annual publication, Swedish, HTML and PDF).

Run:  .venv/bin/python bench/bench_publish.py [--workers N]
Prints wall time, the breakdown (loading, analysis; building the documents while every
distinct figure of the run is drawn once in the worker pool; templating and rendering
summed over the documents, which run in parallel; each Quarto call) and peak memory (this
process and, separately, the largest worker process). Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from analysis.reporting.publish import publish


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = publish(None, Path(out), lang="sv", formats=("html", "pdf"),
                         workers=args.workers)
        wall = time.perf_counter() - start
    print(f"documents: {len(result.results)}")
    print(f"wall time: {wall:.1f} s")
    for step, seconds in result.seconds.items():
        print(f"  {step}: {seconds:.1f} s")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: main process {own:.0f} MB, largest worker {workers:.0f} MB")


if __name__ == "__main__":
    main()
