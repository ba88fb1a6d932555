"""Benchmark: age-standardised incidence with CIs for every subregistry x region x year x sex.

Usage:
    /tmp/venv/bin/python bench/bench_incidence.py [--data DIR] [--scale 10]

With --data, the cases and population of a data folder (e.g. the demo registry generated
with --scale 10) are loaded first (loading is not timed). Without it, a synthetic registry
of the same size is built in memory: the Swedish population (about 10.5 million in 21
counties, ages 0-100) times --scale, and about 4 750 cases a year times --scale over
26 years in eight subregistries, with an age profile rising steeply with age.
Prints wall time of each analysis and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import polars as pl

from analysis.data import dictionary as dd
from analysis.stats import incidence as inc
from analysis.stats import trend

YEARS = range(2000, 2026)
CASES_PER_YEAR = 4750


def synthetic(scale: float, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    counties = dd.counties()
    codes = counties.get_column("county").to_list()
    ages = np.arange(101)
    per_age = np.where(ages < 100, 1.0, 3.0) * np.exp(-ages / 90)
    share = rng.dirichlet(np.ones(len(codes)) * 5)
    total = 10.5e6 * scale
    pop = pl.DataFrame({
        "year": np.repeat(np.array(YEARS), len(codes) * 2 * 101),
        "county": np.tile(np.repeat(codes, 2 * 101), len(YEARS)),
        "sex": np.tile(np.repeat([1, 2], 101), len(YEARS) * len(codes)),
        "age": np.tile(ages, len(YEARS) * len(codes) * 2),
        "population": np.tile(np.repeat(share, 2 * 101) * np.tile(per_age / per_age.sum()
                                                                / 2, len(codes) * 2) * total,
                              len(YEARS)),
    }).join(counties.select("county", "region"), on="county")
    n = int(CASES_PER_YEAR * scale * len(YEARS))
    risk = np.exp(ages / 15) * per_age
    cases = pl.DataFrame({
        "subregistry": rng.choice(dd.subregistry_ids(), n),
        "case_id": np.arange(n).astype(str),
        "year": rng.choice(np.array(YEARS), n),
        "county": rng.choice(codes, n, p=share),
        "sex": rng.choice([1, 2], n, p=[0.57, 0.43]),
        "age": rng.choice(ages, n, p=risk / risk.sum()),
        "icd10": "C92.0",
        "morphology": None,
    }).join(counties.select("county", "region"), on="county")
    return cases, pop


def timed(label: str, func) -> pl.DataFrame:
    start = time.perf_counter()
    out = func()
    print(f"{label:<58} {time.perf_counter() - start:6.2f} s  {out.height:>6} rows")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path)
    parser.add_argument("--scale", type=float, default=10)
    args = parser.parse_args()
    if args.data:
        from analysis.data.ingest import load_data
        loaded = load_data(args.data)
        cases, pop = loaded.require("cases"), loaded.require("population")
    else:
        cases, pop = synthetic(args.scale)
    print(f"{cases.height:,} cases, {pop.height:,} population rows")
    by = ["subregistry", "region", "year", "sex"]
    start = time.perf_counter()
    timed("standardised rates (ESP 2013, Fay-Feuer) " + ",".join(by),
          lambda: inc.standardised_rates(cases, pop, by))
    timed("crude rates subregistry,region,year,sex,age_group",
          lambda: inc.crude_rates(cases, pop, [*by, "age_group"]))
    timed("SIR by region within subregistry,year",
          lambda: inc.sir(cases, pop, "region", ["subregistry", "year"]))
    timed("rate ratios by region within subregistry,year",
          lambda: inc.rate_ratios(cases, pop, "region", ["subregistry", "year"]))
    timed("APC per subregistry,region,sex (age-adjusted)",
          lambda: trend.annual_percent_change(cases, pop, ["subregistry", "region", "sex"],
                                            adjust=["age_group"]))
    print(f"{'total':<58} {time.perf_counter() - start:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
