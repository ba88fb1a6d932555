"""The demo registry's world: parameters, calendar arithmetic, population and life table.

Helpers for analysis/demo/registry.py and analysis/demo/cases.py. Dates are handled as day numbers
(days since 1970-01-01) in numpy arrays. The population is interpolated geometrically
between two census years and spread over sex and age by a smoothed age pyramid; the life
table is a Gompertz-Makeham hazard (Makeham 1860) with an infant term and a log-linear
calendar improvement (one fixed trend, as the drift of Lee and Carter 1992).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from analysis.data import dictionary as dd

DAYS_PER_YEAR = 365.25
# day number standing for "no date" (day numbers count from 1970-01-01 and may be negative)
NO_DATE = np.iinfo(np.int32).min


def params() -> dict[str, Any]:
    """The demo registry's parameters (data_dictionary/demo.yaml)."""
    return dd.load("demo.yaml")


# --- calendar helpers on day numbers (days since 1970-01-01) ------------------------------

def jan1(years: np.ndarray) -> np.ndarray:
    return (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[D]") \
        .astype(np.int64)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    year = m.astype("datetime64[Y]").astype(np.int64) + 1970
    month = m.astype(np.int64) % 12 + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def completed_age(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    by, bm, bd = ymd(birth)
    ay, am, ad = ymd(at)
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd))


def years_before(days: np.ndarray, n_years: np.ndarray) -> np.ndarray:
    """The same day and month `n_years` earlier (29 February becomes the 28th)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    bm = m - (12 * n_years).astype("timedelta64[M]")
    month_len = ((bm + 1).astype("datetime64[D]") - bm.astype("datetime64[D]")).astype(np.int64)
    return bm.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, month_len - 1)


def date_series(name: str, days: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(name, days.astype(np.int32)).cast(pl.Date)
    return s if missing is None else s.scatter(np.flatnonzero(missing), None)


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float | np.ndarray) -> float | np.ndarray:
    return np.log(p) - np.log1p(-np.asarray(p))


def choose(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element: `probs` is (n_sets, n_categories), `rows` picks the set."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(rows.size)
    return np.minimum((u[:, None] > cum[rows]).sum(axis=1), probs.shape[1] - 1)


# --- population and life table ----------------------------------------------------------

def _age_pyramid(pop: dict[str, Any]) -> np.ndarray:
    """Shares by sex (men, women) x single-year age 0..max_age (open), summing to 1."""
    starts = np.asarray(pop["age_groups_start"], dtype=float)
    ages = np.arange(pop["max_age"] + 1)
    widths = np.diff(np.append(starts, pop["max_age"] + 1))
    out = []
    for sex in ("men", "women"):
        totals = np.asarray(pop[sex], dtype=float)
        density = np.interp(ages, starts + (widths - 1) / 2, totals / widths)
        group = np.searchsorted(starts, ages, side="right") - 1
        # smooth within groups, then restore each group's total
        sums = np.bincount(group, weights=density)
        out.append(density * totals[group] / sums[group])
    shares = np.vstack(out)
    return shares / shares.sum()


def _county_totals(pop: dict[str, Any], years: np.ndarray) -> tuple[list[str], np.ndarray]:
    (y0, y1), counties = pop["reference_years"], pop["counties"]
    codes = sorted(counties)
    lo = np.array([counties[c][0] for c in codes], dtype=float)
    hi = np.array([counties[c][1] for c in codes], dtype=float)
    growth = np.log(hi / lo) / (y1 - y0)
    return codes, lo[None, :] * np.exp(growth[None, :] * (years[:, None] - y0))


def population_array(years: np.ndarray, scale: float) -> tuple[list[str], np.ndarray]:
    """County codes and mean population [year, county, sex, age] (scaled)."""
    pop = params()["population"]
    codes, totals = _county_totals(pop, years)
    return codes, scale * totals[:, :, None, None] * _age_pyramid(pop)[None, None]


def mortality_array(years: np.ndarray, max_age: int) -> np.ndarray:
    """Life-table hazard per person-year [sex (men, women), year, age 0..max_age]."""
    lt = params()["lifetable"]
    x = np.arange(max_age + 1, dtype=float)[None, :]
    t = (years - lt["reference_year"]).astype(float)[:, None]
    out = []
    for sex in ("men", "women"):
        p = lt[sex]
        mu = (p["infant"] * np.exp(-p["infant_decay"] * x) + p["makeham"]
              + p["gompertz"] * np.exp(p["slope"] * (x - 70) - p["improvement"] * t))
        out.append(np.minimum(mu, lt["max_rate"]))
    return np.stack(out)


def population_frame(years: np.ndarray, codes: list[str], pop: np.ndarray) -> pl.DataFrame:
    y, c, s, a = (ix.ravel() for ix in np.indices(pop.shape))
    return pl.DataFrame({
        "year": years[y].astype(np.int64),
        "county": pl.Series(codes).gather(c),
        "sex": (s + 1).astype(np.int64),
        "age": a.astype(np.int64),
        # mean population, whole persons
        "population": np.round(pop.ravel()).astype(np.int64),
    })


def lifetable_frame(years: np.ndarray, mu: np.ndarray) -> pl.DataFrame:
    s, y, a = (ix.ravel() for ix in np.indices(mu.shape))
    rate = np.float64([float(f"{v:.6g}") for v in mu.ravel()])  # 6 significant digits
    return pl.DataFrame({"year": years[y].astype(np.int64), "sex": (s + 1).astype(np.int64),
                         "age": a.astype(np.int64), "mortality_rate": rate})
