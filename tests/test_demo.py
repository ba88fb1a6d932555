"""The demo registry generator: determinism, realism, identity numbers and faulty rows.

Realism bands come from DESIGN.md §1 and the demo issue (cases per year and subregistry,
median ages, more men than women, county populations, life expectancy, coverage, 5-year
survival), widened by the Poisson noise of one draw where stated.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import luhn_digit
from lifelines import KaplanMeierFitter

from analysis.data import dictionary as dd
from analysis.data.validate import age_at
from analysis.demo import registry as demo
from analysis.errors import UserError

SUBS = dd.subregistry_ids()
DATES = ["birth_date", "diagnosis_date", "death_date", "vital_status_date", "report_date",
         "referral_date", "treatment_decision_date", "treatment_start_date"]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo registry (seed 1, scale 1, 2000-2025), generated once."""
    out = tmp_path_factory.mktemp("demo")
    demo.write_demo(out)
    return out


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


@pytest.fixture(scope="session")
def cases(demo_dir: Path) -> pl.DataFrame:
    """All extracts stacked, typed, without the rows made faulty on purpose."""
    errors = _read(demo_dir / "demo_errors.csv").select("case_id", "subregistry")
    common = [f.name for f in dd.fields(SUBS[0])
              if all(f.name in {g.name for g in dd.fields(s)} for s in SUBS)]
    parts = [_read(demo_dir / f"{s}.csv").select(common).with_columns(pl.lit(s).alias("sub"))
             for s in SUBS]
    typed = pl.concat(parts).join(errors, left_on=["case_id", "sub"],
                                  right_on=["case_id", "subregistry"], how="anti",
                                  maintain_order="left")
    return typed.with_columns(
        [pl.col(c).str.to_date() for c in DATES]
        + [pl.col(c).cast(pl.Int64) for c in ("sex", "treatment_given", "mdt_discussed",
                                               "trial_included", "contact_nurse")]
    ).with_columns(
        year=pl.col("diagnosis_date").dt.year(),
        age=((pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days() / 365.25)
        .floor().cast(pl.Int64)).join(dd.counties().select("county", "region"), on="county")


@pytest.fixture(scope="session")
def cancer_registry(demo_dir: Path) -> pl.DataFrame:
    return _read(demo_dir / "cancer_registry.csv").with_columns(
        pl.col("diagnosis_date").str.to_date())


# --- files and determinism ------------------------------------------------------------------

def test_files_have_the_dictionary_columns(demo_dir: Path) -> None:
    for sid in SUBS:
        assert _read(demo_dir / f"{sid}.csv").columns == [f.name for f in dd.fields(sid)]
    assert _read(demo_dir / "population.csv").columns == [f.name for f in dd.fields("population")]
    # The identity number carries the birth date; the column is for pseudonymised copies.
    assert _read(demo_dir / "cancer_registry.csv").columns == [
        f.name for f in dd.fields("cancer_registry") if f.name != "birth_date"]
    assert _read(demo_dir / "lifetable.csv").columns == ["year", "sex", "age", "mortality_rate"]
    assert _read(demo_dir / "demo_errors.csv").columns == [
        "case_id", "subregistry", "rule", "column", "fault"]
    readme = (demo_dir / "README.txt").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "seed: 1" in readme and "2000-2025" in readme


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        demo.write_demo(tmp_path / name, seed=seed, years=(2021, 2022))
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert runs[0] == runs[1]
    assert runs[0]["aml.csv"] != runs[2]["aml.csv"]


def test_parquet_demo_loads_as_the_csv_one(tmp_path: Path) -> None:
    """`bcr demo --format parquet` writes the same tables: the same accepted rows and
    the same failures (the faulty rows on purpose among them) as the CSV form."""
    from analysis.data.ingest import load_data

    for fmt in ("csv", "parquet"):
        demo.write_demo(tmp_path / fmt, years=(2021, 2022), error_rate=0.005, fmt=fmt)
    assert sorted(p.name for p in (tmp_path / "parquet").glob("*.parquet")) == sorted(
        p.name.replace(".csv", ".parquet") for p in (tmp_path / "csv").glob("*.csv"))
    assert "--format parquet" in (tmp_path / "parquet" / "README.txt").read_text("utf-8")
    text, typed = load_data(tmp_path / "csv"), load_data(tmp_path / "parquet")
    assert typed.failures().height > 0
    assert typed.failures().drop("file").equals(text.failures().drop("file"))
    for name in ("cases", "cancer_registry", "population", "lifetable"):
        assert getattr(typed, name).equals(getattr(text, name)), name
    with pytest.raises(UserError, match="--format 'xml'"):
        demo.write_demo(tmp_path / "x", fmt="xml")


def test_pseudonym_demo_numbers_persons_and_loads_with_its_folder_setting(
        tmp_path: Path) -> None:
    """`bcr demo --id-scheme pseudonym`: research serial numbers 1..n, one per person (a
    person's second cancer keeps it), nothing of the birth date or sex in them; the folder
    says its scheme, so every row but the faults on purpose is accepted as read, and the
    cancer registry carries the birth dates a pseudonym cannot give."""
    from analysis.data.ingest import load_data

    made = demo.write_demo(tmp_path / "p", seed=3, years=(2021, 2022), error_rate=0.005,
                           identity_scheme="pseudonym")
    assert "identity_scheme: pseudonym" in (tmp_path / "p" / "data_folder.yaml").read_text()
    assert "--id-scheme pseudonym" in (tmp_path / "p" / "README.txt").read_text("utf-8")
    subs = [s for s in dd.subregistry_ids() if s in made.frames]
    ids = pl.concat([made.frames[s].select("person_id", "birth_date", "sex") for s in subs])
    persons = ids.unique()
    # One number per person: as many numbers as (number, birth date, sex) triples.
    assert persons["person_id"].n_unique() == persons.height
    # Every person is in a subregistry or the cancer registry: together they hold 1..n.
    registry = made.frames["cancer_registry"]
    numbers = pl.concat([ids["person_id"], registry["person_id"]]).unique().cast(pl.Int64)
    assert sorted(numbers.to_list()) == list(range(1, numbers.len() + 1))
    assert "birth_date" in registry.columns
    # No fault breaks the identity rule: a pseudonym has no check digit.
    assert "identity" not in made.frames["demo_errors"]["rule"].to_list()
    loaded = load_data(tmp_path / "p")
    failed = loaded.failures()
    assert failed.height == made.frames["demo_errors"].height > 0
    assert loaded.cases.height == sum(made.frames[s].height for s in subs) - failed.height
    assert loaded.cases["age"].null_count() == 0


def test_scale_multiplies_cases(tmp_path: Path) -> None:
    small = demo.generate_demo(seed=2, scale=1, years=(2021, 2022), error_rate=0)
    big = demo.generate_demo(seed=2, scale=4, years=(2021, 2022), error_rate=0)
    ratio = big.frames["lymphoma"].height / small.frames["lymphoma"].height
    assert 3.7 < ratio < 4.3  # ~4,000 cases: Poisson sd of the ratio ~0.07
    assert big.frames["demo_errors"].is_empty()


def test_extract_date_is_fixed_by_the_years() -> None:
    assert demo.extract_date(2025) == date(2026, 3, 31)
    assert demo.parse_years("2000-2025") == (2000, 2025)
    assert demo.parse_years("2020") == (2020, 2020)
    for bad in ("2025-2000", "20x0", "1800-1900"):
        with pytest.raises(UserError, match="--years"):
            demo.parse_years(bad)
    with pytest.raises(UserError, match="--scale"):
        demo.generate_demo(scale=0)


def test_cli_bad_years_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from analysis import cli

    monkeypatch.setattr(sys, "argv", ["bcr", "demo", "--out", str(tmp_path / "x"),
                                      "--years", "2025-2000"])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--years '2025-2000'" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


# --- cases -------------------------------------------------------------------------------

# DESIGN.md §1 (lymphoma ~2,000, myeloma ~600-700, CLL ~550-600, MPN ~450-800, AML ~350,
# MDS ~270-400, CML ~100, adult ALL ~50-100), widened by about 3 Poisson sd of one year.
BANDS = {"lymphoma": (1800, 2400), "myeloma": (580, 800), "cll": (480, 700),
         "mpn": (450, 800), "aml": (300, 460), "mds": (260, 430), "cml": (70, 145),
         "all": (45, 110)}


def test_cases_per_year_per_subregistry(cases: pl.DataFrame) -> None:
    per = cases.group_by("sub", "year").len()
    assert per.height == len(SUBS) * 26
    for sid, (lo, hi) in BANDS.items():
        n = per.filter(pl.col("sub") == sid).get_column("len")
        assert lo <= n.min() and n.max() <= hi, (sid, n.min(), n.max())
    national = cases.group_by("year").len().get_column("len")
    assert 4500 <= national.min() and national.max() <= 5500


def test_median_ages_and_sex(cases: pl.DataFrame) -> None:
    med = dict(cases.group_by("sub").agg(pl.col("age").median()).iter_rows())
    for sid in ("aml", "cll", "lymphoma", "myeloma", "mpn"):
        assert 65 <= med[sid] <= 74, (sid, med[sid])
    assert 74 <= med["mds"] <= 79
    assert 56 <= med["cml"] <= 64
    assert 44 <= med["all"] <= 55
    # An adult registry: every subregistry starts at 18 (subregistries.yaml min_age), and
    # the demo generates no younger case, which validation would reject (rule `age`).
    assert {dd.subregistry(s)["min_age"] for s in SUBS} == {18}
    completed = age_at(pl.col("birth_date"), pl.col("diagnosis_date"))  # as validation does
    assert cases.select(completed.min()).item() >= 18
    male = dict(cases.group_by("sub").agg((pl.col("sex") == 1).mean()).iter_rows())
    assert (cases["sex"] == 1).mean() > 0.53
    assert all(male[s] > 0.5 for s in SUBS if s != "mpn")


def test_code_lists_and_mix(cases: pl.DataFrame) -> None:
    for sid in SUBS:
        spec = dd.subregistry(sid)
        part = cases.filter(pl.col("sub") == sid)
        assert all(dd.icd10_in(c, spec["icd10"]) for c in part["icd10"].unique())
        morph = part["morphology"].drop_nulls().unique()
        assert all(dd.morphology_in(m, spec["morphology"]) for m in morph)
    lymph = cases.filter(pl.col("sub") == "lymphoma")
    top = lymph.group_by("icd10").len().sort("len", descending=True)["icd10"][0]
    assert top == "C83.3"  # DLBCL is the commonest lymphoma
    young = lymph.filter(pl.col("age") < 40)
    assert (young["icd10"].str.starts_with("C81")).mean() > 0.4  # Hodgkin in the young


def test_dates_in_order_and_vital_status(cases: pl.DataFrame) -> None:
    end = pl.coalesce("death_date", "vital_status_date")
    assert cases.filter(pl.col("birth_date") > pl.col("diagnosis_date")).is_empty()
    assert cases.filter(pl.col("treatment_start_date") < pl.col("diagnosis_date")).is_empty()
    assert cases.filter(pl.col("treatment_start_date") > end).is_empty()
    assert cases.filter(pl.col("diagnosis_date") > end).is_empty()
    dead = cases.filter(pl.col("death_date").is_not_null())
    assert (dead["death_date"] == dead["vital_status_date"]).all()
    alive = cases.filter(pl.col("death_date").is_null())
    assert (alive["vital_status_date"] == date(2026, 3, 31)).all()
    same_day = dead.filter(pl.col("death_date") == pl.col("diagnosis_date"))
    assert 0.002 < same_day.height / cases.height < 0.01
    dco = cases.filter(pl.col("basis_of_diagnosis").is_in(["dco", "autopsy"]))
    assert 0.002 < dco.height / cases.height < 0.01
    assert (dco["death_date"] == dco["diagnosis_date"]).all()


# --- population and life table ---------------------------------------------------------------

def test_county_populations(demo_dir: Path) -> None:
    pop = pl.read_csv(demo_dir / "population.csv", schema_overrides={"county": pl.String})
    assert pop["age"].min() == 0 and pop["age"].max() == 100
    y2023 = dict(pop.filter(pl.col("year") == 2023).group_by("county")
                 .agg(pl.col("population").sum()).iter_rows())
    # SCB 2023: Sweden 10.55 million, Stockholm 2.45 million, Gotland 61,000
    assert 10.3e6 < sum(y2023.values()) < 10.8e6
    assert 2.3e6 < y2023["01"] < 2.6e6
    assert 55e3 < y2023["09"] < 65e3
    assert sorted(y2023) == sorted(dd.counties()["county"])
    total = dict(pop.group_by("year").agg(pl.col("population").sum()).iter_rows())
    assert 1.10 < total[2025] / total[2000] < 1.25  # SCB: 8.88 -> 10.59 million
    p23 = pop.filter(pl.col("year") == 2023)
    old = p23.filter(pl.col("age") >= 65)["population"].sum() / p23["population"].sum()
    assert 0.18 < old < 0.23  # SCB 2023: 20.4 % aged 65+


def _life_expectancy(mx: np.ndarray) -> float:
    """e0 from single-year rates by the standard period life table (Chiang 1984):
    qx = mx / (1 + (1 - ax) mx) with ax = 0.5; the open last age has Lx = lx / mx."""
    qx = mx / (1 + 0.5 * mx)
    qx[-1] = 1.0
    lx = np.r_[1.0, np.cumprod(1 - qx)[:-1]]
    big_l = lx - 0.5 * lx * qx
    big_l[-1] = lx[-1] / mx[-1]
    return float(big_l.sum())


def test_life_expectancy(demo_dir: Path) -> None:
    lt = pl.read_csv(demo_dir / "lifetable.csv")
    assert lt["year"].min() == 2000 and lt["year"].max() == 2026  # through the extract year
    assert lt["age"].max() == 100

    def e0(year: int, sex: int) -> float:
        mx = lt.filter(year=year, sex=sex).sort("age")["mortality_rate"].to_numpy()
        return _life_expectancy(mx)

    men = np.mean([e0(y, 1) for y in range(2010, 2015)])
    women = np.mean([e0(y, 2) for y in range(2010, 2015)])
    assert 79 <= men <= 81 and 83 <= women <= 85  # SCB 2010-14: 79.6-80.4, 83.5-84.1
    assert e0(2025, 1) - e0(2000, 1) > 2.5  # improving over calendar time


# --- cancer registry, coverage, identity ----------------------------------------------------

def test_coverage_against_cancer_registry(cases: pl.DataFrame,
                                          cancer_registry: pl.DataFrame) -> None:
    qr = cases.select("person_id", "icd10").unique().with_columns(found=pl.lit(True))
    cov = (cancer_registry.filter(pl.col("diagnosis_date").dt.year().is_between(2000, 2025))
           .join(qr, on=["person_id", "icd10"], how="left")
           .join(dd.counties().select("county", "region"), on="county")
           .group_by("region", pl.col("diagnosis_date").dt.year().alias("year"))
           .agg(pl.col("found").is_not_null().mean().alias("coverage")))
    # the last year is incomplete (late reports), so its floor is lower
    assert cov["coverage"].max() <= 1.0
    assert cov.filter(pl.col("year") < 2025)["coverage"].min() >= 0.85
    assert cov["coverage"].min() >= 0.83
    by_region = cov.group_by("region").agg(pl.col("coverage").mean())["coverage"]
    assert by_region.max() - by_region.min() > 0.03  # varies by region
    only_qr = qr.join(cancer_registry, on=["person_id", "icd10"], how="anti")
    assert 0.001 < only_qr.height / qr.height < 0.01


def test_cancer_registry_dates_and_second_diagnoses(cases: pl.DataFrame,
                                                    cancer_registry: pl.DataFrame) -> None:
    both = cases.join(cancer_registry, on=["person_id", "icd10"], suffix="_cr")
    diff = (both["diagnosis_date_cr"] - both["diagnosis_date"]).dt.total_days().abs()
    assert 0.03 < (diff > 0).mean() < 0.15 and diff.max() <= 14
    two = cases.group_by("person_id").agg(pl.col("sub").n_unique().alias("n"))
    assert two.filter(pl.col("n") == 2).height > 20
    persons = cancer_registry.group_by("person_id").agg(pl.col("icd10").n_unique())
    assert persons.filter(pl.col("icd10") == 2).height > 20


def test_personnummer_valid_unique_and_consistent(cases: pl.DataFrame,
                                                  cancer_registry: pl.DataFrame) -> None:
    pid = cases.select("person_id", "birth_date", "sex").unique()
    assert pid["person_id"].str.contains(r"^\d{8}-\d{4}$").all()
    assert (pid["person_id"].str.slice(0, 8) == pid["birth_date"].dt.strftime("%Y%m%d")).all()
    sex_digit = pid["person_id"].str.slice(11, 1).cast(pl.Int64)
    assert ((sex_digit % 2 == 1) == (pid["sex"] == 1)).all()
    assert (pid["person_id"].str.slice(9, 3) != "000").all()
    sample = pid.sample(2000, seed=1)
    for p in sample["person_id"]:
        assert int(p[-1]) == luhn_digit(p[2:8] + p[9:12])
    assert pid["person_id"].n_unique() == pid.height  # one birth date and sex per id
    cr_ids = set(cancer_registry["person_id"])
    assert np.mean([p in cr_ids for p in sample["person_id"]]) > 0.98


# --- survival ---------------------------------------------------------------------------

# Published 5-year relative survival (DESIGN.md §1) and bands for Kaplan-Meier observed
# survival of cases diagnosed 2008-2019 (observed = relative x expected, expected ~0.8-0.9
# at these ages).
SURVIVAL = {"cml": (0.9, 0.78, 0.93), "cll": (0.85, 0.62, 0.78), "mpn": (0.85, 0.68, 0.85),
            "lymphoma": (0.7, 0.52, 0.67), "myeloma": (0.5, 0.35, 0.50),
            "all": (0.45, 0.33, 0.55), "mds": (0.35, 0.20, 0.33), "aml": (0.25, 0.15, 0.30)}


def _km5(frame: pl.DataFrame) -> float:
    end = pl.coalesce("death_date", "vital_status_date")
    t = frame.select((end - pl.col("diagnosis_date")).dt.total_days() / 365.25).to_series()
    km = KaplanMeierFitter().fit(t.to_numpy(), frame["death_date"].is_not_null().to_numpy())
    return float(km.survival_function_at_times(5.0).iloc[0])


def test_five_year_survival(cases: pl.DataFrame, demo_dir: Path) -> None:
    lt = pl.read_csv(demo_dir / "lifetable.csv")
    mu = np.zeros((2, 27, 101))
    mu[lt["sex"] - 1, lt["year"] - 2000, lt["age"]] = lt["mortality_rate"]
    cohort = cases.filter(pl.col("year").is_between(2008, 2019))
    for sid, (relative, lo, hi) in SURVIVAL.items():
        part = cohort.filter(pl.col("sub") == sid)
        observed = _km5(part)
        assert lo <= observed <= hi, (sid, observed)
        # Ederer I expected survival from the life table, one-year steps
        s, y, a = (part[c].to_numpy() for c in ("sex", "year", "age"))
        hazard = sum(mu[s - 1, np.minimum(y - 2000 + k, 26), np.minimum(a + k, 100)]
                     for k in range(5))
        net = observed / np.exp(-hazard).mean()
        assert abs(net - relative) < 0.06, (sid, net)
        young, old = part.filter(pl.col("age") < 65), part.filter(pl.col("age") >= 75)
        assert _km5(young) > _km5(old)


# --- quality variables ---------------------------------------------------------------------

def test_quality_variables_vary(cases: pl.DataFrame) -> None:
    lag = (cases["report_date"] - cases["diagnosis_date"]).dt.total_days().drop_nulls()
    assert 0.7 < (lag <= 90).mean() < 0.95 and 0.005 < (lag > 365).mean() < 0.05
    lead = cases.with_columns(
        days=(pl.col("treatment_start_date") - pl.col("referral_date")).dt.total_days())
    median = dict(lead.group_by("sub").agg(pl.col("days").median()).iter_rows())
    # care-pathway targets: AML/ALL 9 days, lymphoma 18, CLL 22; the demo sits near them
    assert median["aml"] <= 12 and median["all"] <= 12
    assert 12 <= median["lymphoma"] <= 25 and 14 <= median["cll"] <= 28
    lymph = lead.filter(pl.col("sub") == "lymphoma")
    assert 0.05 <= lymph["trial_included"].mean() <= 0.15
    by_region = lymph.group_by("region").agg(pl.col("mdt_discussed").mean(),
                                             pl.col("days").median())
    assert by_region["mdt_discussed"].max() - by_region["mdt_discussed"].min() > 0.05
    assert by_region["days"].max() - by_region["days"].min() >= 4
    by_hospital = lymph.group_by("hospital").agg(pl.col("contact_nurse").mean())
    assert by_hospital["contact_nurse"].max() - by_hospital["contact_nurse"].min() > 0.1
    assert lymph["hospital"].drop_nulls().n_unique() == len(dd.hospital_codes())
    for col in ("mdt_discussed", "morphology", "referral_date"):
        assert 0.01 < cases[col].null_count() / cases.height < 0.06


# --- faulty rows -----------------------------------------------------------------------------

def test_faulty_rows_are_exactly_those_recorded(demo_dir: Path) -> None:
    from analysis.data.ingest import load_data

    recorded = _read(demo_dir / "demo_errors.csv")
    n_rows = sum(_read(demo_dir / f"{s}.csv").height for s in SUBS)
    assert abs(recorded.height - 0.0005 * n_rows) <= 1
    assert set(recorded["fault"]) == {f["fault"] for f in demo.params()["faults"]}
    assert not recorded.select(pl.all().cast(pl.String).str.contains(r"\d{8}-\d{4}").any()) \
        .row(0).count(True)  # never an identity number
    failures = load_data(demo_dir).failures()
    found = (failures.filter(pl.col("dataset").is_in(SUBS))
             .select("case_id", pl.col("dataset").alias("subregistry"), "rule", "column")
             .unique().sort(pl.all()))
    assert found.equals(recorded.drop("fault").unique().sort(pl.all()))
    assert failures.filter(~pl.col("dataset").is_in(SUBS)).is_empty()


# --- cache ------------------------------------------------------------------------------

def test_cached_demo_dir_generates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_write(out: Path, **kwargs: object) -> None:
        calls.append(kwargs)
        (out / "aml.csv").write_text("x")

    monkeypatch.setenv("BCR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(demo, "write_demo", fake_write)
    first = demo.cached_demo_dir()
    second = demo.cached_demo_dir()
    assert first == second and first.parent == tmp_path
    assert first.name.startswith(f"demo-{demo.__version__}-")
    assert calls == [{"seed": 1, "scale": 1.0, "years": (2000, 2025), "error_rate": 0.0005}]
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary left over
