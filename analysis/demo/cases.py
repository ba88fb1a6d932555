"""The demo registry's cases: incidence, subregistry variables, deaths, identities, care.

Helpers for analysis/demo/registry.py; every function draws from the generator it is given, in a
fixed order, so that one seed gives one registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.data import dictionary as dd
from analysis.demo.model import (
    DAYS_PER_YEAR,
    NO_DATE,
    choose,
    completed_age,
    expit,
    jan1,
    logit,
    population_array,
    years_before,
    ymd,
)
from analysis.errors import UserError


@dataclass(frozen=True)
class Sub:
    """One subregistry's demo parameters, with the relative rate [sex, age] precomputed."""

    sid: str
    cfg: dict[str, Any]
    rate: np.ndarray
    min_age: int
    variables: dict[str, dict[str, Any]]


def subregistries(cfg: dict[str, Any]) -> list[Sub]:
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
        out.append(Sub(sid, s, rate, min_age,
                        {"treatment_type": treatment, **s.get("variables", {})}))
    return out


def draw_variables(rng: np.random.Generator, subs: list[Sub], sub: np.ndarray,
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
                    choose(rng, probs, old)
            else:
                value = 10 ** rng.normal(spec["log10_mean"], spec["log10_sd"], rows.size)
                out.setdefault(name, np.full(sub.size, np.nan))[rows] = \
                    np.round(np.clip(value, spec["min"], spec["max"]), 4)
    return out


def _risk_log_hr(subs: list[Sub], sub: np.ndarray, var: dict[str, np.ndarray]) -> np.ndarray:
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

def primary_cases(rng: np.random.Generator, cfg: dict[str, Any], subs: list[Sub],
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
    top = cfg["population"]["max_age"]
    age = age + np.where(age == top, rng.integers(0, cfg["population"]["open_age_years"], n), 0)
    year = cal[yi]
    start = jan1(year)
    diag = start + (rng.random(n) * (jan1(year + 1) - start)).astype(np.int64)
    birth = years_before(diag, age) - rng.integers(0, 365, n)
    return {"sub": sub, "county": county, "sex": sex + 1, "age": age, "year": year,
            "diag": diag, "birth": birth, "person": np.arange(n), "second": np.zeros(n, bool)}


def deaths(rng: np.random.Generator, cfg: dict[str, Any], subs: list[Sub], mu: np.ndarray,
            lt_first: int, c: dict[str, np.ndarray], extract_day: int) -> np.ndarray:
    """Day of death (NO_DATE if alive at the extract date).

    The hazard is piecewise constant on steps (`survival.fine_step_years` up to
    `fine_until_years`, then `step_years`): life-table rate at the attained age and
    calendar year of the step's midpoint plus the subregistry's excess hazard times
    exp(age, calendar and risk effects). A unit exponential is drawn per case and death
    falls where the cumulative hazard reaches it.
    """
    sv = cfg["survival"]
    breaks = np.asarray(sv["breaks"], dtype=float)
    excess = np.array([s.cfg["excess_hazard"] for s in subs], dtype=float)
    age_b = np.array([s.cfg["age_log_hr_per_10y"] for s in subs])[c["sub"]]
    cal_b = np.array([s.cfg["calendar_log_hr_per_year"] for s in subs])[c["sub"]]
    age0 = (c["diag"] - c["birth"]) / DAYS_PER_YEAR
    year0 = 1970 + c["diag"] / DAYS_PER_YEAR
    mult = np.exp(age_b * (age0 - sv["reference_age"]) / 10
                  + cal_b * (year0 - sv["reference_year"]) + _risk_log_hr(subs, c["sub"], c))
    followup = (extract_day - c["diag"]) / DAYS_PER_YEAR
    remaining = rng.standard_exponential(c["diag"].size)  # cumulative hazard still to go
    death_t = np.full(c["diag"].size, np.inf)
    active = np.flatnonzero(followup > 0)
    t0 = 0.0
    while active.size:
        dt = float(sv["fine_step_years"] if t0 < sv["fine_until_years"] else sv["step_years"])
        mid = t0 + dt / 2
        a = np.minimum((age0[active] + mid).astype(np.int64), mu.shape[2] - 1)
        y = np.clip((year0[active] + mid).astype(np.int64) - lt_first, 0, mu.shape[1] - 1)
        k = min(np.searchsorted(breaks, t0, side="right") - 1, excess.shape[1] - 1)
        h = mu[c["sex"][active] - 1, y, a] + excess[c["sub"][active], k] * mult[active]
        left = remaining[active]
        dies = h * dt >= left
        death_t[active[dies]] = t0 + left[dies] / h[dies]
        remaining[active] = left - h * dt
        t0 += dt
        active = active[~dies & (t0 < followup[active])]
    death = c["diag"] + np.floor(np.minimum(death_t, 1e4) * DAYS_PER_YEAR).astype(np.int64)
    return np.where(death <= extract_day, death, NO_DATE)


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Row-bind case tables that hold the same columns."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def second_diagnoses(rng: np.random.Generator, cfg: dict[str, Any], subs: list[Sub],
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
        age = completed_age(c["birth"][pick], diag)
        target = ids.index(rule["to"])
        ok = (diag <= end) & (diag < jan1(last_year + 1)) & (age >= subs[target].min_age)
        pick, diag, age = pick[ok], diag[ok], age[ok]
        part = {k: v[pick] for k, v in c.items()}
        part.update(sub=np.full(pick.size, target), diag=diag, age=age,
                    year=ymd(diag)[0], second=np.ones(pick.size, bool))
        part.update(draw_variables(rng, subs, part["sub"], age))
        parts.append(part)
    return concat(parts)


def personnummer(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray) -> pl.Series:
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
                        "sex, which personnummer serials cannot number uniquely (use "
                        "--id-scheme pseudonym)")
    j = (rng.integers(0, 495, group.max() + 1 if group.size else 0)[group] + 7 * rank) % 495
    serial = np.empty_like(j)
    serial[order] = (1 + j // 5) * 10 + 2 * (j % 5) + (sex[order] == 1)
    y, m, d = ymd(birth)
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


# Folkeregisteret's individual numbers by year of birth: (first year, last year, lowest
# individual number); each range holds 500 numbers except 1854-1899 (250).
_FNR_RANGES = ((1854, 1899, 500, 250), (1900, 1999, 0, 500), (2000, 2039, 500, 500))
_FNR_W1 = np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])
_FNR_W2 = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])


def fodselsnummer(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray) -> pl.Series:
    """Unique 11-digit fødselsnummer DDMMYYIIIKK per person (Skatteetaten, Folkeregisteret).

    The individual number III lies in the range of the birth year's century (1900-1999:
    000-499, 2000-2039: 500-999, 1854-1899: 500-749), its last digit odd for men and even
    for women; K1 and K2 are the mod-11 check digits (weights 3 7 6 1 8 9 4 5 2 and
    5 4 3 2 7 6 5 4 3 2), and a number whose check digit would be 10 is never issued. Within
    one birth date and sex, persons get distinct valid numbers from a random start.
    """
    y, m, d = ymd(birth)
    key = birth * 2 + (sex == 1)
    groups, group = np.unique(key, return_inverse=True)
    g_birth, g_male = groups // 2, groups % 2
    gy, gm, gd = ymd(g_birth)
    lo = np.zeros(groups.size, dtype=np.int64)
    size = np.zeros(groups.size, dtype=np.int64)
    for first, last, low, n in _FNR_RANGES:
        inside = (gy >= first) & (gy <= last)
        lo[inside], size[inside] = low, n
    if (size == 0).any():
        raise UserError("the demo's birth years lie outside the fødselsnummer ranges")
    cand = np.arange(250)  # the k-th number of the right parity: lo + 2k + (man)
    ind = lo[:, None] + 2 * cand[None, :] + g_male[:, None]
    usable = cand[None, :] < (size[:, None] // 2)
    date_digits = np.stack([gd // 10, gd % 10, gm // 10, gm % 10, (gy // 10) % 10, gy % 10])
    base1 = (_FNR_W1[:6, None] * date_digits).sum(0)[:, None]
    base2 = (_FNR_W2[:6, None] * date_digits).sum(0)[:, None]
    ind_digits = [ind // 100, (ind // 10) % 10, ind % 10]
    k1 = (11 - (base1 + sum(w * dg for w, dg in zip(_FNR_W1[6:], ind_digits, strict=True)))
          % 11) % 11
    k2 = (11 - (base2 + sum(w * dg for w, dg in zip(_FNR_W2[6:9], ind_digits, strict=True))
                + _FNR_W2[9] * k1) % 11) % 11
    valid = usable & (k1 < 10) & (k2 < 10)
    # Per group, the valid candidates first (in order), then a cyclic pick from a random
    # start: distinct within the group as long as it has numbers enough.
    order = np.argsort(~valid, axis=1, kind="stable")
    count = valid.sum(1)
    first = np.r_[True, np.diff(group[np.argsort(group, kind="stable")]) != 0]
    by_group = np.argsort(group, kind="stable")
    rank = np.empty(group.size, dtype=np.int64)
    rank[by_group] = np.arange(group.size) - np.flatnonzero(first)[np.cumsum(first) - 1]
    if (rank >= count[group]).any():
        raise UserError("--scale is too large: more persons share a birth date and sex than "
                        "fødselsnummer individual numbers can number uniquely")
    start = rng.integers(0, count)
    pick = order[group, (start[group] + rank) % count[group]]
    number = ind[group, pick] * 100 + k1[group, pick] * 10 + k2[group, pick]
    return (pl.DataFrame({"d": d, "m": m, "y": y % 100, "n": number})
            .select(pl.format("{}{}{}{}", *(pl.col(c).cast(pl.String).str.zfill(2)
                                            for c in ("d", "m", "y")),
                              pl.col("n").cast(pl.String).str.zfill(5)))
            .to_series().alias("person_id"))


def research_serials(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray
                     ) -> pl.Series:
    """Research serial numbers (löpnummer), as a pseudonymised research extract holds
    them: 1..n in random order, one per person, nothing of the person in them. Unlike
    personnummer serials (495 per birth date and sex) they number any registry."""
    return pl.Series(rng.permutation(birth.size) + 1).cast(pl.String)


IDENTITY_NUMBERS = {"personnummer": personnummer, "fodselsnummer": fodselsnummer,
                    "pseudonym": research_serials}


def hospital_draw(rng: np.random.Generator, county_codes: list[str],
                   county: np.ndarray) -> np.ndarray:
    units = dd.hospitals()
    per = [[i for i, h in enumerate(units) if h["county"] == c] for c in county_codes]
    width = max(len(p) for p in per)
    probs = np.zeros((len(per), width))
    table = np.zeros((len(per), width), dtype=np.int64)
    for ci, idx in enumerate(per):
        if not idx:
            raise UserError(f"hospitals.yaml: no reporting unit in county {county_codes[ci]}")
        probs[ci, :len(idx)] = [units[i]["weight"] for i in idx]
        table[ci, :len(idx)] = idx
    return table[county, choose(rng, probs, county)]


def coverage(rng: np.random.Generator, cov: dict[str, Any], regions: list[str],
              cal: np.ndarray) -> np.ndarray:
    """Probability of registration in the quality registry [region, year]."""
    base = np.array([cov["region"][r] for r in regions])[:, None]
    ramp = np.clip(1 - (cal - cal[0]) / cov["ramp_years"], 0, 1)[None, :]
    noise = rng.normal(0, cov["year_sd"], (len(regions), cal.size))
    p = expit(logit(base - cov["early_deficit"] * ramp) + noise)
    return np.clip(p, cov["min"], cov["max"])


def care(rng: np.random.Generator, cfg: dict[str, Any], subs: list[Sub],
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
        eta = (logit(p) + np.array([spec["region"][r] for r in regions])[region]
               + rng.normal(0, pr["hospital_sd"], n_hosp)[hosp]
               + spec["trend_per_year"] * (c["year"] - pr["reference_year"]))
        c[name] = (rng.random(n) < expit(eta)).astype(np.int64)

    rep = cfg["reporting"]
    factor = {k: np.array([rep["region"][r][k] for r in regions])[region]
              for k in ("median_factor", "late_factor")}
    lag = np.exp(np.log(rep["median_days"] * factor["median_factor"])
                 + rng.normal(0, rep["hospital_sd"], n_hosp)[hosp]
                 + rng.normal(0, rep["sigma"], n))
    u = rng.random(n)
    late_p = rep["late_share"] * factor["late_factor"]
    very_p = late_p + rep["very_late_share"] * factor["late_factor"]
    lag = np.where(u < late_p, rng.uniform(*rep["late_days"], n), lag)
    lag = np.where((u >= late_p) & (u < very_p), rng.uniform(*rep["very_late_days"], n), lag)
    c["report"] = c["diag"] + np.round(lag).astype(np.int64)
