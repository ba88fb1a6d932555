"""A synthetic national blood-cancer registry for demonstrations, tests and benchmarks.

`generate_demo` builds, from the parameters in data_dictionary/demo.yaml and a seed, the
eight subregistry extracts, a cancer-registry extract, the population by year x county x
sex x single-year age and a life table, in the data contracts of DESIGN.md §3.
`write_demo` writes them as CSV; `cached_demo_dir` keeps one default copy on disk. The
model lives in analysis/demo/model.py (population, life table) and analysis/demo/cases.py
(cases, deaths, identities, care); this module assembles and writes.

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

from analysis import __version__, resources
from analysis.data import dictionary as dd
from analysis.data.folder import FOLDER_SETTINGS
from analysis.demo.cases import (
    IDENTITY_NUMBERS,
    Sub,
    care,
    concat,
    coverage,
    deaths,
    draw_variables,
    hospital_draw,
    primary_cases,
    second_diagnoses,
    subregistries,
)
from analysis.demo.model import (
    DAYS_PER_YEAR,
    NO_DATE,
    choose,
    date_series,
    lifetable_frame,
    mortality_array,
    params,
    population_array,
    population_frame,
)
from analysis.demo.years import parse_years
from analysis.errors import UserError


def extract_date(last_year: int) -> date:
    """The extract (vital-status) date: the end of demo.yaml's `extract_month` of the
    year after the last year of diagnosis; never the wall clock."""
    month = int(params()["extract_month"])
    following = date(last_year + 1 + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


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
    identity_scheme: str


def _optional_fields() -> list[str]:
    """Every optional variable of every subregistry that may be left empty, in dictionary
    order; an empty death_date means alive, so it is never blanked at random."""
    names: list[str] = []
    for sid in dd.subregistry_ids():
        names += [f.name for f in dd.fields(sid)
                  if not f.required and f.name not in names and f.name != "death_date"]
    return names


def generate_demo(seed: int = 1, scale: float = 1.0, years: tuple[int, int] = (2000, 2025),
                  error_rate: float = 0.0005, identity_scheme: str | None = None
                  ) -> DemoRegistry:
    """Generate the synthetic registry (see the module docstring); same arguments, same data.
    ``identity_scheme``: what person_id holds (default: registry.yaml's); ``pseudonym``
    gives research serial numbers and the cancer registry the birth dates they lack."""
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
    subs = subregistries(cfg)
    regions = dd.region_ids()
    of_county = dict(dd.counties().select("county", "region").iter_rows())
    county_region = np.array([regions.index(of_county[c]) for c in county_codes])

    c = primary_cases(rng, cfg, subs, cal, pop)
    c.update(draw_variables(rng, subs, c["sub"], c["age"]))
    c["death"] = deaths(rng, cfg, subs, mu, int(lt_years[0]), c, extract_day)
    sv = cfg["survival"]
    u = rng.random(c["diag"].size)
    c["dco"] = np.where(u < sv["dco_share"], 1,
                        np.where(u < sv["dco_share"] + sv["autopsy_share"], 2, 0))
    c["death"] = np.where(c["dco"] > 0, c["diag"], c["death"])
    c = concat([c, second_diagnoses(rng, cfg, subs, c, extract_day, last)])
    n = c["diag"].size
    end = np.where(c["death"] != NO_DATE, c["death"], extract_day)

    region = county_region[c["county"]]
    n_hosp = len(dd.hospitals())
    hosp = hospital_draw(rng, county_codes, c["county"])
    band = np.digitize(c["age"], cfg["code_age_bands"])
    c["code"] = np.zeros(n, dtype=np.int64)
    c["basis"] = np.zeros(n, dtype=np.int64)
    for k, s in enumerate(subs):
        rows = np.flatnonzero(c["sub"] == k)
        weights = np.array([code[2:] for code in s.cfg["codes"]], dtype=float).T
        c["code"][rows] = choose(rng, weights, band[rows])
        c["basis"][rows] = choose(rng, np.array([s.cfg["basis"]], dtype=float),
                                   np.zeros(rows.size, dtype=np.int64))
    c["basis"] = np.where(c["dco"] > 0, 2 + c["dco"], c["basis"])
    care(rng, cfg, subs, c, region, hosp, n_hosp, end)

    yi = c["year"] - first
    in_qr = (c["report"] <= extract_day) & (
        rng.random(n) < coverage(rng, cfg["coverage"], regions, cal)[region, yi])
    crc = cfg["cancer_registry"]
    in_cr = ~(in_qr & (rng.random(n) < crc["missing_share"]))
    shift = rng.integers(1, crc["date_shift_max_days"] + 1, n) * rng.choice([-1, 1], n)
    cr_diag = c["diag"] + np.where(rng.random(n) < crc["date_shift_share"], shift, 0)
    scheme = identity_scheme or dd.registry()["identity_scheme"]
    if scheme not in IDENTITY_NUMBERS:
        raise UserError(f"the demo cannot make identity numbers of the scheme '{scheme}' "
                        f"(it makes: {', '.join(IDENTITY_NUMBERS)})")
    person_id = IDENTITY_NUMBERS[scheme](rng, c["birth"][~c["second"]], c["sex"][~c["second"]])
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
    # codes of all subregistries in one table: row offset[sub] + code
    table = pl.DataFrame([code[:2] for s in subs for code in s.cfg["codes"]],
                         schema=["icd10", "morphology"], orient="row")
    offset = np.cumsum([0] + [len(s.cfg["codes"]) for s in subs])[:-1]
    code = offset[c["sub"]] + c["code"]
    cr_rows = np.flatnonzero(in_cr)
    cr_rows = cr_rows[np.lexsort((c["person"][cr_rows], code[cr_rows], cr_diag[cr_rows]))]
    frames["cancer_registry"] = pl.DataFrame({
        "person_id": pid.gather(cr_rows), "diagnosis_date": date_series("d", cr_diag[cr_rows]),
        "icd10": table["icd10"].gather(code[cr_rows]),
        "morphology": table["morphology"].gather(code[cr_rows]),
        "county": pl.Series(county_codes).gather(c["county"][cr_rows]),
        "hospital": pl.Series(dd.hospital_codes()).gather(hosp[cr_rows])})
    if scheme == "pseudonym":  # a pseudonym tells no age: the registry's own birth date
        frames["cancer_registry"] = frames["cancer_registry"].with_columns(
            date_series("birth_date", c["birth"][cr_rows]))
    frames["population"] = population_frame(cal, county_codes, pop)
    frames["lifetable"] = lifetable_frame(lt_years, mu)
    # Any non-empty pseudonym is valid: no check digit to break.
    faults = [f for f in cfg["faults"] if scheme != "pseudonym" or f["rule"] != "identity"]
    _add_faults(rng, faults, cfg["fault_shift_days"], subs, frames, error_rate)
    return DemoRegistry(frames, seed, scale, years, error_rate, extract, scheme)


def _extract_frame(s: Sub, c: dict[str, np.ndarray], rows: np.ndarray, pid: pl.Series,
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
        return date_series(name, values, gone if never is None else gone | never)

    year = c["year"][rows]
    first = np.r_[True, year[1:] != year[:-1]]
    serial = np.arange(rows.size) - np.flatnonzero(first)[np.cumsum(first) - 1] + 1
    hospital_codes = dd.hospital_codes()
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


def _add_faults(rng: np.random.Generator, faults: list[dict[str, Any]], shift_days: int,
                subs: list[Sub], frames: dict[str, pl.DataFrame], error_rate: float) -> None:
    """Make a share of extract rows break one validation rule each (``faults``, of
    demo.yaml); the list of them becomes frames["demo_errors"] (no identity numbers)."""
    # Faulty rows sit at odd positions only, so no two are neighbours: a duplicated
    # case_id copies its (clean) predecessor's. A margin after birth keeps a treatment
    # start moved before diagnosis after birth.
    pool = [(k, pos) for k, s in enumerate(subs) for pos in np.flatnonzero(
        frames[s.sid].select(
            ((pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days()
             > shift_days)
            & (pl.int_range(pl.len()) % 2 == 1)).to_series().to_numpy())]
    n_faults = min(round(error_rate * sum(frames[s.sid].height for s in subs)), len(pool))
    picked = [pool[i] for i in rng.choice(len(pool), n_faults, replace=False)]
    kinds = rng.permutation(np.arange(n_faults) % len(faults))
    shifts = rng.integers(1, shift_days + 1, n_faults)
    errors = []
    for k, s in enumerate(subs):
        mine = [i for i, (kk, _) in enumerate(picked) if kk == k]
        if not mine:
            continue
        pos = pl.col("__pos")
        days = pl.duration(days=pos.replace_strict(
            [picked[i][1] for i in mine], [int(shifts[i]) for i in mine], default=0))
        other = subs[(k + 1) % len(subs)].cfg["codes"][0][0]
        end = pl.coalesce("death_date", "vital_status_date")
        # Each fault: the columns it rewrites, from the row's original values. A death
        # after the vital-status date moves the vital-status date back (the death stays
        # on or before the extract date, so no other rule breaks).
        edits = {
            "unknown_county": {"county": pl.lit(faults[0].get("value", "99"))},
            "icd10_not_in_subregistry": {"icd10": pl.lit(other)},
            "treatment_start_before_diagnosis": {
                "treatment_start_date": pl.col("diagnosis_date") - days},
            "death_after_vital_status": {"death_date": end, "vital_status_date": end - days},
            # the last digit (a check digit in every scheme) one up
            "bad_check_digit": {"person_id": pl.col("person_id").str.slice(
                0, pl.col("person_id").str.len_chars() - 1) + (
                (pl.col("person_id").str.tail(1).cast(pl.Int64) + 1) % 10).cast(pl.String)},
            "duplicate_case_id": {"case_id": pl.col("case_id").shift(1)},
        }
        frame = frames[s.sid].with_row_index("__pos")
        for j, fault in enumerate(faults):
            at = [picked[i][1] for i in mine if kinds[i] == j]
            if fault["fault"] not in edits:
                raise dd.DictionaryError(f"demo.yaml: unknown fault '{fault['fault']}'")
            if not at:
                continue
            frame = frame.with_columns(pl.when(pos.is_in(at)).then(edit)
                                       .otherwise(pl.col(target)).alias(target)
                                       for target, edit in edits[fault["fault"]].items())
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
analysis/demo/registry.py from the parameters in data_dictionary/demo.yaml; nothing describes a
real person or a real registry.

seed: {seed}
scale: {scale}
years of diagnosis: {first}-{last}
extract (vital status) date: {extract}
error rate: {error_rate} (rows made faulty on purpose are listed in demo_errors.{suffix})

Files: one extract per subregistry ({subs}.{suffix}), cancer_registry.{suffix},
population.{suffix}, lifetable.{suffix}, demo_errors.{suffix}, and data_folder.yaml naming
the extract date. {form}
Regenerate with: bcr demo --out DIR --seed {seed} --scale {scale} --years {first}-{last}
--error-rate {error_rate} --format {suffix}{scheme}
"""

# The file formats `bcr demo` writes, with the README's words for each.
FORMATS = {"csv": "CSV, UTF-8, comma separated, ISO dates, empty = missing.",
           "parquet": "Parquet, the same tables with typed columns (dates as dates, codes "
                      "as text), null = missing."}


def write_demo(out: Path, seed: int = 1, scale: float = 1.0,
               years: tuple[int, int] = (2000, 2025), error_rate: float = 0.0005,
               fmt: str = "csv", identity_scheme: str | None = None) -> DemoRegistry:
    """Generate the demo registry and write it as CSV (or Parquet) files, README.txt and a
    data_folder.yaml with its extract date (and its identity scheme, when not the
    registry's) into `out`."""
    if fmt not in FORMATS:
        raise UserError(f"--format '{fmt}': use one of {', '.join(FORMATS)}")
    demo = generate_demo(seed, scale, years, error_rate, identity_scheme)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in demo.frames.items():
        if fmt == "csv":
            frame.write_csv(out / f"{name}.csv")
        else:
            frame.write_parquet(out / f"{name}.parquet")
    own = ("" if demo.identity_scheme == dd.registry()["identity_scheme"]
           else f"identity_scheme: {demo.identity_scheme}\n")
    (out / FOLDER_SETTINGS).write_text(
        "# The synthetic demo registry's extract date (see README.txt).\n"
        f"extract_date: {demo.extract_date.isoformat()}\n{own}", encoding="utf-8")
    (out / "README.txt").write_text(README.format(
        version=__version__, seed=seed, scale=scale, first=years[0], last=years[1],
        extract=demo.extract_date.isoformat(), error_rate=error_rate,
        subs=", ".join(dd.subregistry_ids()), suffix=fmt, form=FORMATS[fmt],
        scheme=f" --id-scheme {demo.identity_scheme}" if own else ""),
        encoding="utf-8")
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
    for module in ("registry.py", "cases.py", "model.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    # This registry's files only (the default one's folder holds the other registries).
    mine, others = dd.dictionary_dir().resolve(), resources.registries().resolve()
    for path in sorted(mine.rglob("*.yaml")):
        if mine.is_relative_to(others) or not path.is_relative_to(others):
            h.update(path.read_bytes())
    root = resources.cache_dir()
    target = root / f"demo-{__version__}-{dd.registry().get('id', 'custom')}-{h.hexdigest()[:16]}"
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
