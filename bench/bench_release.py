"""Benchmark: build and audit the run's protected release (analysis.privacy.release).

Run: .venv/bin/python bench/bench_release.py DATA_DIR
     (DATA_DIR e.g. from `bcr demo --out /tmp/demo10 --scale 10`; BCR_REGISTRY=no for the
     Norwegian demo; PYTHONPATH=DIR of a `git archive` export to time another revision)
Prints the seconds of loading (not part of the release), of the release (cells, joint
suppression, the audit rounds inside it; the registries' match, which publish computes
anyway for coverage, is passed in) and of the audit of the published file, each as wall
and CPU time (``time.process_time``: all threads of the process, less sensitive to the
load of a shared machine), with the numbers of cells and masked cells and the peak
resident memory.
"""

from __future__ import annotations

import resource
import sys
import time

import polars as pl

from analysis.data.ingest import load_data
from analysis.privacy.published import audit_published, published
from analysis.privacy.release import release_for
from analysis.quality.coverage import match_registries


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> str:
    wall, cpu = (b - a for a, b in zip(start, clocks(), strict=True))
    return f"{wall:.1f} s ({cpu:.1f} s CPU)"


start = clocks()
data = load_data(sys.argv[1])
loaded = since(start)

# bcr publish matches the registries once for coverage and passes the match on.
linked = match_registries(data.cases, data.cancer_registry, subregistries=data.subregistries)
start = clocks()
release = release_for(data, linked=linked)
built = since(start)

start = clocks()
result = audit_published(published(release))
audited = since(start)

masked = release.cells.filter(pl.col("flag").is_in(["primary", "secondary"])).height
print(f"load {loaded}; release {built} ({release.cells.height} cells, "
      f"{masked} masked); audit of the published file {audited} "
      f"({result.height} masked counts, {int((~result['ok']).sum())} exposed); "
      f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
