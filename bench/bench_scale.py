"""Benchmark: a registry from the demo's size up to a NORDCAN-sized one on one machine.

    python bench/bench_scale.py [--scales 1,10,30,80] [--root /tmp/bcr-scale]
                                [--id-scheme pseudonym]

For each scale the demo registry is written as Parquet once (`bcr demo --format parquet
--scale S`, not timed again if present), then one fresh process per scale loads and
validates it and runs, timing each step: incidence by region x sex x age group x year
(age-standardised rates), Pohar Perme five-year net survival by subregistry and region
(the cases diagnosed in the last five years), and coverage against the cancer registry
(matching, then coverage by subregistry and region). It prints one row per scale: cases,
seconds per step, the process's peak memory (max RSS) and the cost per 1 000 cases.
Personnummer number at most 495 persons per birth date and sex (about scale 60); from
scale 70 the registry is written with research serial numbers (`--id-scheme pseudonym`,
named in its data_folder.yaml), or at every scale with `--id-scheme pseudonym`.
Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
import polars as pl
from analysis.data import dictionary as dd
from analysis.data.ingest import load_data
from analysis.quality.coverage import coverage, match_registries
from analysis.stats import incidence, survival
from analysis.stats import relative_survival as rs

seconds = {}
t = time.perf_counter()
data = load_data(sys.argv[1])
seconds["ingest + validation"] = time.perf_counter() - t
cases, population = data.require("cases"), data.require("population")
last = int(cases["year"].max())

t = time.perf_counter()
keys = ["region", "sex", "age_group", "year"]
agg = incidence.aggregate(cases, population, ["subregistry", *keys])
standard = incidence.load_standard(dd.registry()["incidence"]["standard_population"])
rates = incidence.standardised_rates_from(agg, ["subregistry", "region", "sex", "year"],
                                          standard)
seconds["incidence"] = time.perf_counter() - t

t = time.perf_counter()
recent = cases.filter(pl.col("year").is_between(last - 4, last))
followup = survival.prepare_followup(recent).data
net = rs.relative_survival(followup, data.lifetable, ["subregistry", "region"], [1, 5],
                           "pohar-perme")
seconds["Pohar Perme"] = time.perf_counter() - t

t = time.perf_counter()
linked = match_registries(cases, data.cancer_registry, subregistries=data.subregistries)
cov = coverage(linked, ["region"])  # per subregistry, always
seconds["coverage"] = time.perf_counter() - t

peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"cases": cases.height, "seconds": seconds, "peak_mb": peak,
                  "rows": [rates.height, net.height, cov.height]}))
"""


PSEUDONYMS_FROM = 70  # personnummer serials run out at about scale 60


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,10,30,80")
    parser.add_argument("--root", type=Path, default=Path("/tmp/bcr-scale"))
    parser.add_argument("--id-scheme", default=None)
    args = parser.parse_args()
    print("| scale | cases | ingest + validation | incidence | Pohar Perme | coverage | total "
          "| peak memory | s per 1 000 cases |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale in (float(s) for s in args.scales.split(",")):
        scheme = args.id_scheme or ("pseudonym" if scale >= PSEUDONYMS_FROM else None)
        folder = args.root / f"scale-{scale:g}{'-' + scheme if scheme else ''}"
        if not (folder / "population.parquet").exists():
            start = time.perf_counter()
            made = subprocess.run([sys.executable, "-m", "analysis", "demo", "--out",
                                   str(folder), "--scale", f"{scale:g}", "--format",
                                   "parquet", *(["--id-scheme", scheme] if scheme else [])],
                                  capture_output=True, text=True)
            if made.returncode:
                print(f"| {scale:g} | {made.stderr.strip()} |")
                continue
            print(f"(generated scale {scale:g} in {time.perf_counter() - start:.0f} s)",
                  file=sys.stderr)
        done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], check=True,
                              capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        s = result["seconds"]
        total = sum(s.values())
        label = f"{scale:g}{' (pseudonyms)' if scheme else ''}"
        print(f"| {label} | {result['cases']:,} | {s['ingest + validation']:.1f} s "
              f"| {s['incidence']:.1f} s | {s['Pohar Perme']:.1f} s | {s['coverage']:.1f} s "
              f"| {total:.1f} s | {result['peak_mb'] / 1024:.1f} GB "
              f"| {1000 * total / result['cases']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
