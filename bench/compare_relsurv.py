"""Agreement of bcr's five-year Pohar Perme net survival with R's relsurv::rs.surv.

Run from the repository root (needs Rscript with the survival and relsurv packages, e.g.
Debian's r-base-core, r-cran-survival and r-cran-relsurv):

    python bench/compare_relsurv.py [--replicates 50] [--seed 14] [--keep DIR]

For each cohort size (25, 50, 200, 1000) it simulates `--replicates` random cohorts,
writes them with the life table to a folder, runs bench/compare_relsurv.R there and
compares the five-year estimates with analysis.stats.relative_survival.relative_survival
(monthly grid, popEpi's hazard method, Pohar Perme et al. 2012 weights). Prints, per
size, the median and maximum absolute difference in percentage points from

* relsurv: rs.surv(method = "pohar-perme") with its defaults (type = "kaplan-meier", a
  step at every death; the population hazard and the weights are evaluated at the
  observed times only, so between them coarsely when a group is small);
* relsurv fh: the same with type = "fleming-harrington" (the exponential of the
  cumulative excess hazard, the form of bcr's estimator);
* relsurv daily: the default with add.times = every day up to five years;
* popEpi: popEpi::survtab (surv.method = "hazard", relsurv.method = "pp", monthly
  intervals: the method bcr follows), where popEpi is installed (Debian's
  r-cran-popepi);

with the median half-width of bcr's 95% CI for scale.

Simulation: life table with a Gompertz hazard in attained age (5e-5 exp(0.095 age)), 10 %
higher for men, falling 1 % a calendar year (1990-2030, ages 0-100; the same table in
both languages); cases of either sex aged 40-89 at diagnosis, diagnosed 2010-2020 and
followed to 2023-12-31 (so some are censored before five years). Death is the earlier
of an excess-mortality death (constant excess hazard 0.12 a year) and a population death
(the Gompertz hazard of the table at the year of diagnosis, exact in attained age), in
whole days since diagnosis.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from analysis.stats.relative_survival import relative_survival
from analysis.stats.survival import DAYS_PER_YEAR, prepare_followup

SIZES = (25, 50, 200, 1000)
EXCESS = 0.12
CLOSING = np.datetime64("2023-12-31")
R_SCRIPT = Path(__file__).with_name("compare_relsurv.R")


def _population_hazard(year, sex, age):
    return 5e-5 * np.exp(0.095 * age) * np.where(sex == 1, 1.1, 1.0) * 0.99 ** (year - 1990)


def lifetable() -> pl.DataFrame:
    year, sex, age = (a.ravel() for a in np.meshgrid(np.arange(1990, 2031), [1, 2],
                                                     np.arange(0, 101), indexing="ij"))
    return pl.DataFrame({"year": year, "sex": sex, "age": age,
                         "mortality_rate": _population_hazard(year, sex, age)})


def cohort(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """n simulated cases with the columns prepare_followup needs."""
    sex = rng.integers(1, 3, n)
    dx = np.datetime64("2010-01-01") + rng.integers(0, 11 * 365, n).astype("timedelta64[D]")
    age = rng.uniform(40, 90, n)
    birth = dx - np.round(age * DAYS_PER_YEAR).astype("timedelta64[D]")
    year = dx.astype("datetime64[Y]").astype(int) + 1970
    # Population death: Gompertz hazard c exp(0.095 a) from age a0, by inversion.
    c = _population_hazard(year, sex, 0.0)
    t_pop = np.log1p(0.095 * rng.exponential(1.0, n) / (c * np.exp(0.095 * age))) / 0.095
    t = np.minimum(rng.exponential(1 / EXCESS, n), t_pop)
    death = dx + np.floor(t * DAYS_PER_YEAR).astype("timedelta64[D]")
    dead = death <= CLOSING
    return pl.DataFrame({
        "sex": sex, "birth_date": birth, "diagnosis_date": dx,
        "death_date": np.where(dead, death, np.datetime64("NaT")),
        "vital_status_date": np.where(dead, death, CLOSING),
    }).with_columns(pl.col("birth_date", "diagnosis_date", "death_date",
                           "vital_status_date").cast(pl.Date))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    table = lifetable()
    prepared, ours = [], []
    for size in SIZES:
        for rep in range(args.replicates):
            name = f"n{size}_r{rep:03d}"
            data = prepare_followup(cohort(rng, size)).data.with_columns(
                pl.lit(name).alias("cohort"), pl.lit(size).alias("size"))
            assert data.height == size  # nobody aged 90+, no death certificate cases
            prepared.append(data)
            est = relative_survival(data, table, times=[5], method="pohar-perme")
            row = est.row(0, named=True)
            ours.append({"cohort": name, "size": size, "ours": row["estimate"],
                         "half_width": (row["upper"] - row["lower"]) / 2})
    cases = pl.concat(prepared).select(
        "cohort", "sex", (pl.col("age_exact") * DAYS_PER_YEAR).alias("age_days"),
        pl.col("diagnosis_date").alias("year"),
        (pl.col("time") * DAYS_PER_YEAR).alias("time_days"), pl.col("event").alias("status"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        table.write_csv(folder / "lifetable.csv")
        cases.write_csv(folder / "cohorts.csv")
        subprocess.run(["Rscript", str(R_SCRIPT), str(folder)], check=True)
        relsurv = pl.read_csv(folder / "relsurv.csv")
    result = pl.DataFrame(ours).join(relsurv, on="cohort", how="left")
    diffs = {"relsurv": "estimate", "relsurv fh": "estimate_fh",
             "relsurv daily": "estimate_daily", "popEpi": "estimate_popepi"}
    diffs = {k: v for k, v in diffs.items() if v in result.columns}
    if result.select(pl.col(*diffs.values()).null_count()).sum_horizontal()[0]:
        sys.exit("R gave no estimate for some cohorts")
    summary = result.group_by("size", maintain_order=True).agg(
        pl.len().alias("cohorts"),
        (100 * pl.col("ours").median()).round(1).alias("bcr, median %"),
        *[agg(100 * (pl.col("ours") - pl.col(col)).abs()).round(2).alias(f"{name} {label}")
          for name, col in diffs.items()
          for label, agg in (("median", pl.Expr.median), ("max", pl.Expr.max))],
        (100 * pl.col("half_width").median()).round(1).alias("CI half-width, median"))
    print(f"Five-year Pohar Perme net survival; |bcr - R| in percentage points against "
          f"{', '.join(diffs)}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN",
                   tbl_width_chars=200):
        print(summary)


if __name__ == "__main__":
    main()
