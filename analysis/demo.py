"""A synthetic national blood-cancer registry for demonstrations, tests and benchmarks.

`generate_demo` builds, from the parameters in data_dictionary/demo.yaml and a seed, the
eight subregistry extracts, a cancer-registry extract, the population by year x county x
sex x single-year age and a life table, in the data contracts of DESIGN.md §3.
`write_demo` writes them as CSV; `cached_demo_dir` keeps one default copy on disk.

How the data arise (all draws vectorised with numpy, one generator per seed):
- population: county totals interpolated geometrically between two census years, spread
  over sex and age by a smoothed age pyramid;
- life table: a Gompertz-Makeham hazard (Makeham 1860) with an infant term and a
  log-linear calendar improvement (as in Lee and Carter 1992, with one fixed trend);
- cases: Poisson counts per year x county x sex x age cell from the population times a
  relative age-incidence curve per subregistry, scaled to a national number of cases;
- deaths: piecewise-constant hazards, life-table hazard (by sex, attained age and
  calendar year) plus an excess hazard per subregistry (the additive relative-survival
  model of Ederer, Axtell and Cutler 1961), drawn by inverting the cumulative hazard;
- coverage, timeliness, care-pathway lead times and process indicators from region
  levels plus random hospital effects, so that indicators differ between units.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis import __version__
from analysis import dictionary as dd
from analysis.errors import UserError

DEFAULT_YEARS = "2000-2025"
DAYS_PER_YEAR = 365.25
# day number standing for "no date" (day numbers count from 1970-01-01 and may be negative)
NO_DATE = np.iinfo(np.int32).min
FILES = ("cancer_registry", "population", "lifetable", "demo_errors")


def params() -> dict[str, Any]:
    """The demo registry's parameters (data_dictionary/demo.yaml)."""
    return dd.load("demo.yaml")


def hospitals() -> list[dict[str, Any]]:
    """The reporting units (data_dictionary/hospitals.yaml)."""
    return dd.load("hospitals.yaml")["hospitals"]


def parse_years(text: str) -> tuple[int, int]:
    """``"2000-2025"`` or ``"2020"`` as (first, last) year of diagnosis."""
    first, _, last = text.strip().partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise UserError(f"--years '{text}': expected YEAR or FIRST-LAST, e.g. 2000-2025") \
            from None
    if not 1900 <= lo <= hi <= 2100:
        raise UserError(f"--years '{text}': years must be 1900-2100 and FIRST <= LAST")
    return lo, hi


def extract_date(last_year: int) -> date:
    """The extract (vital-status) date: the end of demo.yaml's `extract_month` of the
    year after the last year of diagnosis; never the wall clock."""
    month = int(params()["extract_month"])
    following = date(last_year + 1 + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


# --- calendar helpers on day numbers (days since 1970-01-01) ------------------------------

def _jan1(years: np.ndarray) -> np.ndarray:
    return (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[D]") \
        .astype(np.int64)


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    year = m.astype("datetime64[Y]").astype(np.int64) + 1970
    month = m.astype(np.int64) % 12 + 1
    day = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _completed_age(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth)
    ay, am, ad = _ymd(at)
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd))


def _years_before(days: np.ndarray, n_years: np.ndarray) -> np.ndarray:
    """The same day and month `n_years` earlier (29 February becomes the 28th)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    bm = m - (12 * n_years).astype("timedelta64[M]")
    month_len = ((bm + 1).astype("datetime64[D]") - bm.astype("datetime64[D]")).astype(np.int64)
    return bm.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, month_len - 1)


def _date_series(name: str, days: np.ndarray, missing: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(name, days.astype(np.int32)).cast(pl.Date)
    return s if missing is None else s.scatter(np.flatnonzero(missing), None)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float | np.ndarray) -> float | np.ndarray:
    return np.log(p) - np.log1p(-np.asarray(p))


def _choose(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
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


def _population_frame(years: np.ndarray, codes: list[str], pop: np.ndarray) -> pl.DataFrame:
    y, c, s, a = (ix.ravel() for ix in np.indices(pop.shape))
    return pl.DataFrame({
        "year": years[y].astype(np.int64),
        "county": pl.Series(codes).gather(c),
        "sex": (s + 1).astype(np.int64),
        "age": a.astype(np.int64),
        # mean population, whole persons
        "population": np.round(pop.ravel()).astype(np.int64),
    })


def _lifetable_frame(years: np.ndarray, mu: np.ndarray) -> pl.DataFrame:
    s, y, a = (ix.ravel() for ix in np.indices(mu.shape))
    rate = np.float64([float(f"{v:.6g}") for v in mu.ravel()])  # 6 significant digits
    return pl.DataFrame({"year": years[y].astype(np.int64), "sex": (s + 1).astype(np.int64),
                         "age": a.astype(np.int64), "mortality_rate": rate})


# --- subregistry parameters --------------------------------------------------------------

@dataclass(frozen=True)
class _Sub:
    """One subregistry's demo parameters, with the relative rate [sex, age] precomputed."""

    sid: str
    cfg: dict[str, Any]
    rate: np.ndarray
    min_age: int
    variables: dict[str, dict[str, Any]]


def _subregistries(cfg: dict[str, Any]) -> list[_Sub]:
    knots = np.asarray(cfg["incidence"]["age_knots"], dtype=float)
    ages = np.arange(cfg["population"]["max_age"] + 1)
    out = []
    for sid in dd.subregistry_ids():
        s = cfg["subregistries"][sid]
        rel = np.asarray(s["age_rate"], dtype=float)
        curve = np.exp(np.interp(ages, knots, np.log(np.maximum(rel, 1e-12))))
        curve[np.interp(ages, knots, rel) <= 0] = 0.0
        min_age = int(dd.subregistry(sid).get("min_age", 0))
        curve[ages < min_age] = 0.0
        rate = np.vstack([curve * s["male_rate_ratio"], curve])
        types = s["treatment"]
        treatment = {"values": list(types), "treated": [t[0] for t in types.values()],
                     "p": [t[1] for t in types.values()], "p_old": [t[2] for t in types.values()]}
        out.append(_Sub(sid, s, rate, min_age,
                        {"treatment_type": treatment, **s.get("variables", {})}))
    return out


def _draw_variables(rng: np.random.Generator, subs: list[_Sub], sub: np.ndarray,
                    age: np.ndarray) -> dict[str, np.ndarray]:
    """Subregistry variables: category indices (-1 where not applicable) or numbers (NaN)."""
    out: dict[str, np.ndarray] = {}
    for k, s in enumerate(subs):
        rows = np.flatnonzero(sub == k)
        old = (age[rows] >= s.cfg["age_split"]).astype(np.int64)
        for name, spec in s.variables.items():
            if "values" in spec:
                probs = np.array([spec["p"], spec.get("p_old", spec["p"])], dtype=float)
                out.setdefault(name, np.full(sub.size, -1, dtype=np.int64))[rows] = \
                    _choose(rng, probs, old)
            else:
                value = 10 ** rng.normal(spec["log10_mean"], spec["log10_sd"], rows.size)
                out.setdefault(name, np.full(sub.size, np.nan))[rows] = \
                    np.round(np.clip(value, spec["min"], spec["max"]), 4)
    return out


def _risk_log_hr(subs: list[_Sub], sub: np.ndarray, var: dict[str, np.ndarray]) -> np.ndarray:
    """Log hazard ratio of the risk variables, centred so the average mix has ratio 1."""
    lhr = np.zeros(sub.size)
    for k, s in enumerate(subs):
        rows = sub == k
        for name, spec in s.variables.items():
            if "log_hr" in spec:
                b, p = np.asarray(spec["log_hr"]), np.asarray(spec["p"], dtype=float)
                lhr[rows] += b[var[name][rows]] - np.log(p @ np.exp(b) / p.sum())
    return lhr


# --- cases --------------------------------------------------------------------------------

def _primary_cases(rng: np.random.Generator, cfg: dict[str, Any], subs: list[_Sub],
                   cal: np.ndarray, pop: np.ndarray) -> dict[str, np.ndarray]:
    """Poisson counts per subregistry x year x county x sex x age, expanded to cases."""
    inc = cfg["incidence"]
    _, ref_pop = population_array(np.array([inc["reference_year"]]), 1.0)
    trend = np.exp(inc["rate_trend_per_year"] * (cal - inc["reference_year"]))
    expected = np.stack([
        s.cfg["cases_per_year"] / (ref_pop[0] * s.rate[None]).sum()
        * pop * s.rate[None, None] * trend[:, None, None, None] for s in subs])
    counts = rng.poisson(expected)
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    sub, yi, county, sex, age = np.unravel_index(flat, counts.shape)
    n = flat.size
    # the open age group (e.g. 100+) is spread over its first few years
    age = age + np.where(age == cfg["population"]["max_age"], rng.integers(0, 4, n), 0)
    year = cal[yi]
    start = _jan1(year)
    diag = start + (rng.random(n) * (_jan1(year + 1) - start)).astype(np.int64)
    birth = _years_before(diag, age) - rng.integers(0, 365, n)
    return {"sub": sub, "county": county, "sex": sex + 1, "age": age, "year": year,
            "diag": diag, "birth": birth, "person": np.arange(n), "second": np.zeros(n, bool)}


def _deaths(rng: np.random.Generator, cfg: dict[str, Any], subs: list[_Sub], mu: np.ndarray,
            lt_first: int, c: dict[str, np.ndarray], extract_day: int) -> np.ndarray:
    """Day of death (NO_DATE if alive at the extract date).

    The hazard is piecewise constant on steps of `survival.step_years`: life-table rate at
    the attained age and calendar year of the step's midpoint plus the subregistry's
    excess hazard times exp(age, calendar and risk effects). A unit exponential is drawn
    per case and death falls where the cumulative hazard reaches it.
    """
    sv = cfg["survival"]
    dt, breaks = float(sv["step_years"]), np.asarray(sv["breaks"], dtype=float)
    excess = np.array([s.cfg["excess_hazard"] for s in subs], dtype=float)
    age_b = np.array([s.cfg["age_log_hr_per_10y"] for s in subs])[c["sub"]]
    cal_b = np.array([s.cfg["calendar_log_hr_per_year"] for s in subs])[c["sub"]]
    age0 = (c["diag"] - c["birth"]) / DAYS_PER_YEAR
    year0 = 1970 + c["diag"] / DAYS_PER_YEAR
    mult = np.exp(age_b * (age0 - sv["reference_age"]) / 10
                  + cal_b * (year0 - sv["reference_year"]) + _risk_log_hr(subs, c["sub"], c))
    followup = (extract_day - c["diag"]) / DAYS_PER_YEAR
    target = rng.standard_exponential(c["diag"].size)
    cum = np.zeros(c["diag"].size)
    death_t = np.full(c["diag"].size, np.inf)
    active = np.flatnonzero(followup > 0)
    step = 0
    while active.size:
        t0 = step * dt
        mid = t0 + dt / 2
        a = np.minimum((age0[active] + mid).astype(np.int64), mu.shape[2] - 1)
        y = np.clip((year0[active] + mid).astype(np.int64) - lt_first, 0, mu.shape[1] - 1)
        k = min(np.searchsorted(breaks, t0, side="right") - 1, excess.shape[1] - 1)
        h = mu[c["sex"][active] - 1, y, a] + excess[c["sub"][active], k] * mult[active]
        new = cum[active] + h * dt
        dies = new >= target[active]
        d = active[dies]
        death_t[d] = t0 + (target[d] - cum[d]) / h[dies]
        cum[active] = new
        active = active[~dies & (t0 + dt < followup[active])]
        step += 1
    death = c["diag"] + np.floor(np.minimum(death_t, 1e4) * DAYS_PER_YEAR).astype(np.int64)
    return np.where(death <= extract_day, death, NO_DATE)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Row-bind case tables that hold the same columns."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _second_diagnoses(rng: np.random.Generator, cfg: dict[str, Any], subs: list[_Sub],
                      c: dict[str, np.ndarray], extract_day: int,
                      last_year: int) -> dict[str, np.ndarray]:
    """A few persons' second haematological diagnosis (e.g. MDS progressing to AML)."""
    ids = [s.sid for s in subs]
    parts = []
    for rule in cfg["cancer_registry"]["second_diagnosis"]:
        src = np.flatnonzero((c["sub"] == ids.index(rule["from"])) & ~c["second"])
        pick = src[rng.random(src.size) < rule["share"]]
        diag = c["diag"][pick] + (rng.uniform(0.05, rule["max_years"], pick.size)
                                  * DAYS_PER_YEAR).astype(np.int64)
        end = np.where(c["death"][pick] != NO_DATE, c["death"][pick], extract_day)
        age = _completed_age(c["birth"][pick], diag)
        target = ids.index(rule["to"])
        ok = (diag <= end) & (diag < _jan1(last_year + 1)) & (age >= subs[target].min_age)
        pick, diag, age = pick[ok], diag[ok], age[ok]
        part = {k: v[pick] for k, v in c.items()}
        part.update(sub=np.full(pick.size, target), diag=diag, age=age,
                    year=_ymd(diag)[0], second=np.ones(pick.size, bool))
        part.update(_draw_variables(rng, subs, part["sub"], age))
        parts.append(part)
    return _concat(parts)


def _personnummer(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray) -> pl.Series:
    """Unique 12-digit personnummer YYYYMMDD-NNNC per person (Skatteverket SKV 704).

    Within one birth date and sex, persons get distinct serials NN (01-99) and sex digit G
    (odd for men, even for women) by stepping 7 through the 495 combinations from a random
    start; C is the Luhn (1960) check digit over YYMMDDNNN.
    """
    order = np.lexsort((sex, birth))
    key = birth[order] * 2 + sex[order]
    first = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(first) - 1
    rank = np.arange(key.size) - np.flatnonzero(first)[group]
    if rank.size and rank.max() >= 495:
        raise UserError("--scale is too large: more than 495 persons share a birth date and "
                        "sex, which personnummer serials cannot number uniquely")
    j = (rng.integers(0, 495, group.max() + 1 if group.size else 0)[group] + 7 * rank) % 495
    serial = np.empty_like(j)
    serial[order] = (1 + j // 5) * 10 + 2 * (j % 5) + (sex[order] == 1)
    y, m, d = _ymd(birth)
    digits = [(y // 10) % 10, y % 10, m // 10, m % 10, d // 10, d % 10,
              serial // 100, (serial // 10) % 10, serial % 10]
    total = np.zeros(birth.size, dtype=np.int64)
    for i, digit in enumerate(digits):
        p = digit * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    check = (10 - total % 10) % 10
    return (pl.DataFrame({"y": y, "m": m, "d": d, "n": serial * 10 + check})
            .select(pl.format("{}{}{}-{}", pl.col("y").cast(pl.String).str.zfill(4),
                              pl.col("m").cast(pl.String).str.zfill(2),
                              pl.col("d").cast(pl.String).str.zfill(2),
                              pl.col("n").cast(pl.String).str.zfill(4)))
            .to_series().alias("person_id"))


def _hospital_draw(rng: np.random.Generator, county_codes: list[str],
                   county: np.ndarray) -> np.ndarray:
    units = hospitals()
    per = [[i for i, h in enumerate(units) if h["county"] == c] for c in county_codes]
    width = max(len(p) for p in per)
    probs = np.zeros((len(per), width))
    table = np.zeros((len(per), width), dtype=np.int64)
    for ci, idx in enumerate(per):
        if not idx:
            raise UserError(f"hospitals.yaml: no reporting unit in county {county_codes[ci]}")
        probs[ci, :len(idx)] = [units[i]["weight"] for i in idx]
        table[ci, :len(idx)] = idx
    return table[county, _choose(rng, probs, county)]


def _coverage(rng: np.random.Generator, cov: dict[str, Any], regions: list[str],
              cal: np.ndarray) -> np.ndarray:
    """Probability of registration in the quality registry [region, year]."""
    base = np.array([cov["region"][r] for r in regions])[:, None]
    ramp = np.clip(1 - (cal - cal[0]) / cov["ramp_years"], 0, 1)[None, :]
    noise = rng.normal(0, cov["year_sd"], (len(regions), cal.size))
    p = _expit(_logit(base - cov["early_deficit"] * ramp) + noise)
    return np.clip(p, cov["min"], cov["max"])


def _care(rng: np.random.Generator, cfg: dict[str, Any], subs: list[_Sub],
          c: dict[str, np.ndarray], region: np.ndarray, hosp: np.ndarray, n_hosp: int,
          end: np.ndarray) -> None:
    """Treatment, care-pathway dates, process indicators and report dates (in place)."""
    n = c["diag"].size
    pw = cfg["pathway"]
    regions = dd.region_ids()
    treated_of = [np.asarray(s.variables["treatment_type"]["treated"]) for s in subs]
    ttype = c["treatment_type"]
    treated = np.zeros(n, bool)
    for k, t in enumerate(treated_of):
        rows = c["sub"] == k
        treated[rows] = t[ttype[rows]]
    median = (np.array([s.cfg["pathway_days"] for s in subs])[c["sub"]]
              * np.array([pw["region"][r] for r in regions])[region])
    lead = np.exp(np.log(median) + rng.normal(0, pw["hospital_sd"], n_hosp)[hosp]
                  + rng.normal(0, pw["sigma"], n))
    total = np.round(lead).astype(np.int64)
    before = np.floor(total * rng.uniform(*pw["referral_share_before"], n)).astype(np.int64)
    after = total - before
    c["referral"] = c["diag"] - before
    c["decision"] = c["diag"] + np.floor(after * rng.uniform(*pw["decision_share_after"], n)
                                         ).astype(np.int64)
    c["start"] = np.where(treated, c["diag"] + after, NO_DATE)
    # died (or the extract came) before the planned start: recorded as not treated
    late = treated & (c["start"] > end)
    for k, flags in enumerate(treated_of):
        fallback = [i for i, t in enumerate(flags) if not t]
        rows = late & (c["sub"] == k)
        ttype[rows] = fallback[0] if fallback else -1
    c["start"][late] = NO_DATE
    c["decision"][c["decision"] > end] = NO_DATE
    c["treated"] = (treated & ~late).astype(np.int64)

    pr = cfg["process"]
    for name in ("mdt_discussed", "trial_included", "contact_nurse"):
        spec = pr[name]
        p = np.array([s.cfg["process"][name] for s in subs])[c["sub"]]
        eta = (_logit(p) + np.array([spec["region"][r] for r in regions])[region]
               + rng.normal(0, pr["hospital_sd"], n_hosp)[hosp]
               + spec["trend_per_year"] * (c["year"] - pr["reference_year"]))
        c[name] = (rng.random(n) < _expit(eta)).astype(np.int64)

    rep = cfg["reporting"]
    factor = {k: np.array([rep["region"][r][k] for r in regions])[region]
              for k in ("median_factor", "late_factor")}
    lag = np.exp(np.log(rep["median_days"] * factor["median_factor"])
                 + rng.normal(0, rep["hospital_sd"], n_hosp)[hosp]
                 + rng.normal(0, rep["sigma"], n))
    u = rng.random(n)
    late_p = rep["late_share"] * factor["late_factor"]
    very_p = late_p + rep["very_late_share"] * factor["late_factor"]
    lag = np.where(u < late_p, rng.uniform(91, 365, n), lag)
    lag = np.where((u >= late_p) & (u < very_p), rng.uniform(366, 900, n), lag)
    c["report"] = c["diag"] + np.round(lag).astype(np.int64)


# --- assembling the registry --------------------------------------------------------------

@dataclass(frozen=True)
class DemoRegistry:
    """The generated datasets, keyed as their file stems, and the run's parameters."""

    frames: dict[str, pl.DataFrame]
    seed: int
    scale: float
    years: tuple[int, int]
    error_rate: float
    extract_date: date


def _optional_fields() -> list[str]:
    """Every optional variable of every subregistry that may be left empty, in dictionary
    order; an empty death_date means alive, so it is never blanked at random."""
    names: list[str] = []
    for sid in dd.subregistry_ids():
        names += [f.name for f in dd.fields(sid)
                  if not f.required and f.name not in names and f.name != "death_date"]
    return names


def generate_demo(seed: int = 1, scale: float = 1.0, years: tuple[int, int] = (2000, 2025),
                  error_rate: float = 0.0005) -> DemoRegistry:
    """Generate the synthetic registry (see the module docstring); same arguments, same data."""
    if not scale > 0:
        raise UserError(f"--scale must be positive, not {scale}")
    if not 0 <= error_rate <= 0.1:
        raise UserError(f"--error-rate must be between 0 and 0.1, not {error_rate}")
    cfg = params()
    rng = np.random.default_rng(seed)
    first, last = years
    extract = extract_date(last)
    extract_day = (extract - date(1970, 1, 1)).days
    cal = np.arange(first, last + 1)
    county_codes, pop = population_array(cal, scale)
    lt_years = np.arange(first, extract.year + 1)
    mu = mortality_array(lt_years, cfg["population"]["max_age"])
    subs = _subregistries(cfg)
    regions = dd.region_ids()
    of_county = dict(dd.counties().select("county", "region").iter_rows())
    county_region = np.array([regions.index(of_county[c]) for c in county_codes])

    c = _primary_cases(rng, cfg, subs, cal, pop)
    c.update(_draw_variables(rng, subs, c["sub"], c["age"]))
    c["death"] = _deaths(rng, cfg, subs, mu, int(lt_years[0]), c, extract_day)
    sv = cfg["survival"]
    u = rng.random(c["diag"].size)
    c["dco"] = np.where(u < sv["dco_share"], 1,
                        np.where(u < sv["dco_share"] + sv["autopsy_share"], 2, 0))
    c["death"] = np.where(c["dco"] > 0, c["diag"], c["death"])
    c = _concat([c, _second_diagnoses(rng, cfg, subs, c, extract_day, last)])
    n = c["diag"].size
    end = np.where(c["death"] != NO_DATE, c["death"], extract_day)

    region = county_region[c["county"]]
    n_hosp = len(hospitals())
    hosp = _hospital_draw(rng, county_codes, c["county"])
    band = np.digitize(c["age"], [40, 65])
    c["code"] = np.zeros(n, dtype=np.int64)
    c["basis"] = np.zeros(n, dtype=np.int64)
    for k, s in enumerate(subs):
        rows = np.flatnonzero(c["sub"] == k)
        weights = np.array([code[2:] for code in s.cfg["codes"]], dtype=float).T
        c["code"][rows] = _choose(rng, weights, band[rows])
        c["basis"][rows] = _choose(rng, np.array([s.cfg["basis"]], dtype=float),
                                   np.zeros(rows.size, dtype=np.int64))
    c["basis"] = np.where(c["dco"] > 0, 2 + c["dco"], c["basis"])
    _care(rng, cfg, subs, c, region, hosp, n_hosp, end)

    yi = c["year"] - first
    in_qr = (c["report"] <= extract_day) & (
        rng.random(n) < _coverage(rng, cfg["coverage"], regions, cal)[region, yi])
    crc = cfg["cancer_registry"]
    in_cr = ~(in_qr & (rng.random(n) < crc["missing_share"]))
    shift = rng.integers(1, crc["date_shift_max_days"] + 1, n) * rng.choice([-1, 1], n)
    cr_diag = c["diag"] + np.where(rng.random(n) < crc["date_shift_share"], shift, 0)
    person_id = _personnummer(rng, c["birth"][~c["second"]], c["sex"][~c["second"]])
    pid = person_id.gather(c["person"])
    missing = {name: rng.random(n) < cfg["missing"]["fields"].get(name,
                                                                 cfg["missing"]["default"])
               for name in _optional_fields()}
    if "bcr_abl1_is_12m" in c:
        # measured at 12 months on treatment: none for those who died or left before
        cml = np.isnan(c["bcr_abl1_is_12m"]) | (c["treated"] == 0)
        c["bcr_abl1_is_12m"][cml | ((end - c["diag"]) < DAYS_PER_YEAR)] = np.nan

    frames: dict[str, pl.DataFrame] = {}
    order = np.lexsort((np.arange(n), c["diag"], c["sub"]))
    order = order[in_qr[order]]
    for k, s in enumerate(subs):
        rows = order[c["sub"][order] == k]
        frames[s.sid] = _extract_frame(s, c, rows, pid, hosp, end, missing)
    cr_rows = np.flatnonzero(in_cr)
    code_tables = [np.array([code[:2] for code in s.cfg["codes"]]) for s in subs]
    icd = np.empty(n, dtype=object)
    morph = np.empty(n, dtype=object)
    for k, table in enumerate(code_tables):
        rows = c["sub"] == k
        icd[rows], morph[rows] = table[c["code"][rows], 0], table[c["code"][rows], 1]
    frames["cancer_registry"] = (pl.DataFrame({
        "person_id": pid.gather(cr_rows), "diagnosis_date": _date_series("d", cr_diag[cr_rows]),
        "icd10": pl.Series(icd[cr_rows], dtype=pl.String),
        "morphology": pl.Series(morph[cr_rows], dtype=pl.String),
        "county": pl.Series(county_codes).gather(c["county"][cr_rows])})
        .sort("diagnosis_date", "icd10", "person_id"))
    frames["population"] = _population_frame(cal, county_codes, pop)
    frames["lifetable"] = _lifetable_frame(lt_years, mu)
    _add_faults(rng, cfg, subs, frames, error_rate)
    return DemoRegistry(frames, seed, scale, years, error_rate, extract)


def _extract_frame(s: _Sub, c: dict[str, np.ndarray], rows: np.ndarray, pid: pl.Series,
                   hosp: np.ndarray, end: np.ndarray,
                   missing: dict[str, np.ndarray]) -> pl.DataFrame:
    """One subregistry's extract, columns in dictionary order (core, then its own)."""
    codes = pl.DataFrame([code[:2] for code in s.cfg["codes"]], schema=["icd10", "morphology"],
                         orient="row")
    miss = {name: m[rows] for name, m in missing.items()}
    dco = c["dco"][rows] > 0

    def category(values: list[Any], idx: np.ndarray, name: str,
                 keep_dco: bool = False) -> pl.Series:
        # death-certificate and autopsy cases carry no clinical data
        gone = (idx < 0) | (miss[name] & ~dco) if keep_dco else (idx < 0) | miss[name] | dco
        return pl.Series(name, values).gather(np.maximum(idx, 0)).scatter(
            np.flatnonzero(gone), None)

    def day(name: str, values: np.ndarray, never: np.ndarray | None = None) -> pl.Series:
        gone = (values == NO_DATE) | miss[name] if name in miss else values == NO_DATE
        return _date_series(name, values, gone if never is None else gone | never)

    year = c["year"][rows]
    first = np.r_[True, year[1:] != year[:-1]]
    serial = np.arange(rows.size) - np.flatnonzero(first)[np.cumsum(first) - 1] + 1
    hospital_codes = [h["code"] for h in hospitals()]
    flag = [0, 1]
    cols: dict[str, pl.Series] = {
        "case_id": pl.DataFrame({"y": year, "k": serial}).select(pl.format(
            f"{s.sid.upper()}-{{}}-{{}}", "y", pl.col("k").cast(pl.String).str.zfill(6)))
            .to_series(),
        "person_id": pid.gather(rows),
        "sex": pl.Series(c["sex"][rows].astype(np.int64)),
        "birth_date": day("birth_date", c["birth"][rows]),
        "diagnosis_date": day("diagnosis_date", c["diag"][rows]),
        "icd10": codes["icd10"].gather(c["code"][rows]),
        "morphology": category(codes["morphology"].to_list(), c["code"][rows], "morphology"),
        "county": pl.Series(sorted(params()["population"]["counties"])).gather(
            c["county"][rows]),
        "hospital": category(hospital_codes, hosp[rows], "hospital"),
        "death_date": day("death_date", c["death"][rows]),
        "vital_status_date": day("vital_status_date", end[rows]),
        "report_date": day("report_date", c["report"][rows]),
        "basis_of_diagnosis": category(["histology", "cytology", "clinical", "dco", "autopsy"],
                                       c["basis"][rows], "basis_of_diagnosis", keep_dco=True),
        "referral_date": day("referral_date", c["referral"][rows], dco),
        "treatment_decision_date": day("treatment_decision_date", c["decision"][rows], dco),
        "treatment_start_date": day("treatment_start_date", c["start"][rows], dco),
        "treatment_given": category(flag, c["treated"][rows], "treatment_given"),
        "mdt_discussed": category(flag, c["mdt_discussed"][rows], "mdt_discussed"),
        "trial_included": category(flag, c["trial_included"][rows], "trial_included"),
        "contact_nurse": category(flag, c["contact_nurse"][rows], "contact_nurse"),
    }
    for name, spec in s.variables.items():
        if "values" in spec:
            cols[name] = category(spec["values"], c[name][rows], name)
        else:
            value = c[name][rows]
            gone = np.isnan(value) | miss[name]
            cols[name] = pl.Series(name, np.where(gone, 0, value)).scatter(
                np.flatnonzero(gone), None)
    return pl.DataFrame([cols[f.name].alias(f.name) for f in dd.fields(s.sid)])


def _add_faults(rng: np.random.Generator, cfg: dict[str, Any], subs: list[_Sub],
                frames: dict[str, pl.DataFrame], error_rate: float) -> None:
    """Make a share of extract rows break one validation rule each (demo.yaml `faults`);
    the list of them becomes frames["demo_errors"] (no identity numbers)."""
    faults = cfg["faults"]
    # Faulty rows sit at odd positions only, so no two are neighbours: a duplicated
    # case_id copies its (clean) predecessor's. A 31-day margin after birth keeps a
    # treatment start moved before diagnosis after birth.
    pool = [(k, pos) for k, s in enumerate(subs) for pos in np.flatnonzero(
        frames[s.sid].select(
            ((pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days() > 31)
            & (pl.int_range(pl.len()) % 2 == 1)).to_series().to_numpy())]
    n_faults = min(round(error_rate * sum(frames[s.sid].height for s in subs)), len(pool))
    picked = [pool[i] for i in rng.choice(len(pool), n_faults, replace=False)]
    kinds = rng.permutation(np.arange(n_faults) % len(faults))
    shifts = rng.integers(1, 31, n_faults)
    errors = []
    for k, s in enumerate(subs):
        mine = [i for i, (kk, _) in enumerate(picked) if kk == k]
        if not mine:
            continue
        pos = pl.col("__pos")
        days = pl.duration(days=pos.replace_strict(
            [picked[i][1] for i in mine], [int(shifts[i]) for i in mine], default=0))
        other = subs[(k + 1) % len(subs)].cfg["codes"][0][0]
        edits = {
            "unknown_county": pl.lit(faults[0].get("value", "99")),
            "icd10_not_in_subregistry": pl.lit(other),
            "treatment_start_before_diagnosis": pl.col("diagnosis_date") - days,
            "death_after_vital_status": pl.col("vital_status_date") + days,
            "bad_check_digit": pl.col("person_id").str.slice(0, 12) + (
                (pl.col("person_id").str.slice(12, 1).cast(pl.Int64) + 1) % 10)
            .cast(pl.String),
            "duplicate_case_id": pl.col("case_id").shift(1),
        }
        column_of = {"treatment_start_before_diagnosis": "treatment_start_date",
                     "death_after_vital_status": "death_date"}
        frame = frames[s.sid].with_row_index("__pos")
        for j, fault in enumerate(faults):
            at = [picked[i][1] for i in mine if kinds[i] == j]
            if fault["fault"] not in edits:
                raise dd.DictionaryError(f"demo.yaml: unknown fault '{fault['fault']}'")
            target = column_of.get(fault["fault"], fault["column"])
            frame = frame.with_columns(pl.when(pos.is_in(at)).then(edits[fault["fault"]])
                                       .otherwise(pl.col(target)).alias(target))
            errors.append(frame.filter(pos.is_in(at)).select(
                "case_id", pl.lit(s.sid).alias("subregistry"),
                pl.lit(fault["rule"]).alias("rule"), pl.lit(fault["column"]).alias("column"),
                pl.lit(fault["fault"]).alias("fault")))
        frames[s.sid] = frame.drop("__pos")
    schema = {"case_id": pl.String, "subregistry": pl.String, "rule": pl.String,
              "column": pl.String, "fault": pl.String}
    frames["demo_errors"] = (pl.concat(errors).sort("subregistry", "case_id", "rule")
                             if errors else pl.DataFrame(schema=schema))


# --- files ---------------------------------------------------------------------------------

README = """\
SYNTHETIC DATA - the demo registry of the bcr toolkit (version {version}).
Every person, identity number, date and figure in this folder is made up by
analysis/demo.py from the parameters in data_dictionary/demo.yaml; nothing describes a
real person or a real registry.

seed: {seed}
scale: {scale}
years of diagnosis: {first}-{last}
extract (vital status) date: {extract}
error rate: {error_rate} (rows made faulty on purpose are listed in demo_errors.csv)

Files: one extract per subregistry ({subs}.csv), cancer_registry.csv, population.csv,
lifetable.csv, demo_errors.csv. CSV, UTF-8, comma separated, ISO dates, empty = missing.
Regenerate with: bcr demo --out DIR --seed {seed} --scale {scale} --years {first}-{last}
--error-rate {error_rate}
"""


def write_demo(out: Path, seed: int = 1, scale: float = 1.0,
               years: tuple[int, int] = (2000, 2025), error_rate: float = 0.0005) -> DemoRegistry:
    """Generate the demo registry and write it as CSV files and README.txt into `out`."""
    demo = generate_demo(seed, scale, years, error_rate)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in demo.frames.items():
        frame.write_csv(out / f"{name}.csv")
    (out / "README.txt").write_text(README.format(
        version=__version__, seed=seed, scale=scale, first=years[0], last=years[1],
        extract=demo.extract_date.isoformat(), error_rate=error_rate,
        subs=", ".join(dd.subregistry_ids())), encoding="utf-8")
    return demo


def cached_demo_dir() -> Path:
    """The default demo registry (demo.yaml `defaults`), generated once and reused.

    It lives in $BCR_CACHE_DIR (default ~/.cache/bcr) under demo-<version>-<hash>, the hash
    covering the parameters, the generator and the data-dictionary files it reads. It is
    written to a temporary folder first and renamed, so a reader never sees half of it.
    """
    d = params()["defaults"]
    args = {"seed": int(d["seed"]), "scale": float(d["scale"]),
            "years": parse_years(str(d["years"])), "error_rate": float(d["error_rate"])}
    h = hashlib.sha256(json.dumps(args, sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    for path in sorted(dd.dictionary_dir().rglob("*.yaml")):
        h.update(path.read_bytes())
    root = Path(os.environ.get("BCR_CACHE_DIR") or Path.home() / ".cache" / "bcr")
    target = root / f"demo-{__version__}-{h.hexdigest()[:16]}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=root))
    try:
        write_demo(tmp, **args)
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():  # another process may have won the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
