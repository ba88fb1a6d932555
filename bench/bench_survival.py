"""Benchmark: Pohar Perme net survival with CIs, 100 000 patients, up to 15 years of
follow-up, monthly grid, single-year life table (ages 0-100, years 1990-2030, by sex).

Run: /tmp/venv/bin/python bench/bench_survival.py
Prints the wall and CPU time of relative_survival (Pohar Perme and Ederer II; the
minimum of --repeat runs, CPU time being less disturbed by the load of a shared machine)
and the peak resident memory of the process. From a checkout other than the installed
one, run it with PYTHONPATH=. so that it times the checkout's code. Target (survival
issue): under 2 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import polars as pl

from analysis.stats.relative_survival import relative_survival
from analysis.stats.survival import prepare_followup

N = 100_000


def _lifetable() -> pl.DataFrame:
    years, sexes, ages = np.meshgrid(np.arange(1990, 2031), [1, 2], np.arange(0, 101),
                                     indexing="ij")
    # Gompertz-like population mortality, slowly falling over calendar time.
    rate = 5e-5 * np.exp(0.095 * ages) * (1.1 - 0.05 * (sexes - 1)) * 0.99 ** (years - 1990)
    return pl.DataFrame({"year": years.ravel(), "sex": sexes.ravel(), "age": ages.ravel(),
                         "mortality_rate": np.minimum(rate, 2.0).ravel()})


def _cases(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(2024)
    dx = np.datetime64("2010-01-01") + rng.integers(0, 15 * 365, n).astype("timedelta64[D]")
    age = rng.uniform(18, 89.9, n)
    birth = dx - (age * 365.25).astype("timedelta64[D]")
    # Deaths from a constant excess hazard (0.1 a year) or from the population hazard at
    # the age of diagnosis, so that the estimates are in a realistic range (the expected
    # hazard follows attained age, so net survival comes out somewhat above exp(-0.1 t)).
    population = 5e-5 * np.exp(0.095 * age)
    t = np.minimum(rng.exponential(10.0, n), rng.exponential(1 / population))
    close = np.datetime64("2024-12-31")
    end = np.minimum(dx + (t * 365.25).astype("timedelta64[D]"), close)
    dead = dx + (t * 365.25).astype("timedelta64[D]") <= close
    return pl.DataFrame({
        "case_id": np.arange(n).astype(str), "sex": rng.integers(1, 3, n),
        "birth_date": birth, "diagnosis_date": dx,
        "death_date": np.where(dead, end, np.datetime64("NaT")), "vital_status_date": end,
    }).with_columns(pl.col("birth_date", "diagnosis_date", "death_date",
                           "vital_status_date").cast(pl.Date))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    lifetable = _lifetable()
    data = prepare_followup(_cases(N)).data
    times = [1, 3, 5, 10, 15]
    for method in ("pohar-perme", "ederer2"):
        walls, cpus = [], []
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            result = relative_survival(data, lifetable, times=times, method=method)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        print(f"{method}: {data.height} patients, wall {min(walls):.2f} s, CPU "
              f"{min(cpus):.2f} s (min of {repeat}, load average {os.getloadavg()[0]:.1f}), "
              f"15-year estimate {result['estimate'][-1]:.4f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
