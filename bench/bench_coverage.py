"""Benchmark: matching against the cancer registry, coverage and all indicators.

Synthetic canonical frames of N registered cases (default 500 000, about a century of
Swedish blood-cancer registrations) and a cancer registry with 5 % of tumours missing from
the quality registry, 2 % duplicate registrations and dates up to 60 days apart.
Prints wall time per step and the peak resident memory of the process.

    /tmp/venv/bin/python bench/bench_coverage.py [N]
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import date

import numpy as np
import polars as pl

from analysis.data import dictionary
from analysis.quality.coverage import coverage, match_registries
from analysis.quality.indicators import compute_indicators, load_indicators


def synthetic(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    subs = dictionary.subregistry_ids()
    codes = {s["id"]: s["icd10"][0].split("-")[0] for s in dictionary.subregistries()}
    counties = dictionary.counties()
    sub = rng.choice(subs, n)
    county_idx = rng.integers(0, counties.height, n)
    dx = rng.integers(date(2000, 1, 1).toordinal(), date(2025, 1, 1).toordinal(), n)
    epoch = date(1970, 1, 1).toordinal()
    person = np.array([f"P{i:09d}" for i in range(n)])
    hospital = np.array([f"H{c:02d}{h}" for c, h in zip(county_idx, rng.integers(0, 4, n),
                                                         strict=True)])
    cr = pl.DataFrame({
        "person_id": person,
        "diagnosis_date": pl.Series(dx - epoch, dtype=pl.Int32).cast(pl.Date),
        "icd10": [codes[s] for s in sub],
        "morphology": pl.Series([None] * n, dtype=pl.String),
        "county": counties["county"].gather(county_idx),
        "region": counties["region"].gather(county_idx),
        "hospital": hospital,
    })
    keep = rng.random(n) > 0.05
    dup = keep & (rng.random(n) < 0.02)
    rows = np.concatenate([np.flatnonzero(keep), np.flatnonzero(dup)])
    shift = rng.integers(-60, 61, len(rows))
    qdx = dx[rows] + shift
    report = qdx + rng.integers(0, 400, len(rows))
    m = len(rows)
    start = qdx - rng.integers(0, 10, m)
    cases = pl.DataFrame({
        "subregistry": sub[rows],
        "case_id": [f"C{i}" for i in range(m)],
        "person_id": person[rows],
        "diagnosis_date": pl.Series(qdx - epoch, dtype=pl.Int32).cast(pl.Date),
        "report_date": pl.Series(report - epoch, dtype=pl.Int32).cast(pl.Date),
        "referral_date": pl.Series(start - epoch, dtype=pl.Int32).cast(pl.Date),
        "treatment_start_date": pl.Series(start + rng.integers(0, 40, m) - epoch,
                                          dtype=pl.Int32).cast(pl.Date),
        "county": counties["county"].gather(county_idx[rows]),
        "region": counties["region"].gather(county_idx[rows]),
        "hospital": hospital[rows],
        "age": rng.integers(18, 95, m),
        "year": (qdx - date(2000, 1, 1).toordinal()) // 366 + 2000,
    })
    zero_one = ["treatment_given", "mdt_discussed", "trial_included", "contact_nurse",
                "cytogenetics_done", "surgical_biopsy", "fish_done"]
    cases = cases.with_columns(
        *(pl.Series(c, rng.integers(0, 2, m)) for c in zero_one),
        bcr_abl1_is_12m=pl.Series(rng.exponential(0.2, m)),
        treatment_type=pl.lit("tki"), driver_mutation=pl.lit("JAK2"))
    return cases, cr


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    t0 = time.perf_counter()
    cases, cr = synthetic(n)
    print(f"synthetic data: {cases.height} cases, {cr.height} cancer-registry records, "
          f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    linked = match_registries(cases, cr)
    print(f"match_registries: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    coverage(linked, ["region", "year"])
    coverage(linked, ["hospital"])
    print(f"coverage by region+year and by hospital: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    out = compute_indicators(load_indicators(), cases, ["region"], linked)
    print(f"all {out['indicator'].n_unique()} indicators by region: "
          f"{time.perf_counter() - t0:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
