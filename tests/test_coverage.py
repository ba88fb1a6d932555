"""Matching against the cancer registry, coverage, timeliness and completeness, by hand."""

from datetime import date

import polars as pl
import pytest

from analysis.data import dictionary
from analysis.data.ingest import derive_case_columns
from analysis.errors import UserError
from analysis.quality.coverage import (
    BOTH,
    CANCER_REGISTRY_ONLY,
    QUALITY_REGISTRY_ONLY,
    completeness,
    coverage,
    discrepancies,
    match_registries,
    timeliness,
)
from analysis.stats.proportions import wilson_interval

_TYPES = {"string": pl.String, "integer": pl.Int64, "number": pl.Float64, "date": pl.Date,
          "boolean": pl.Boolean}
_DEFAULTS = {"sex": 1, "birth_date": date(1950, 1, 1), "county": "12",
             "vital_status_date": date(2024, 12, 31), "icd10": "C92.0"}


def cases_frame(rows: list[dict]) -> pl.DataFrame:
    """A canonical cases frame (every subregistry variable, derived columns) from a few rows."""
    schema = {"subregistry": pl.String}
    for sid in dictionary.subregistry_ids():
        for f in dictionary.fields(sid):
            schema.setdefault(f.name, _TYPES[f.type])
    filled = [{**_DEFAULTS, "case_id": f"c{i}", "person_id": f"p{i}", **row}
              for i, row in enumerate(rows)]
    return derive_case_columns(pl.DataFrame(filled, schema=schema))


def cancer_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {"person_id": pl.String, "diagnosis_date": pl.Date, "icd10": pl.String,
              "morphology": pl.String, "county": pl.String}
    frame = pl.DataFrame([{"county": "12", **r} for r in rows], schema=schema)
    return frame.join(dictionary.counties().select("county", "region"), on="county",
                      how="left")


D = date(2020, 3, 15)

CASES = cases_frame([
    # p1: exact match (AML)
    {"subregistry": "aml", "case_id": "exact", "person_id": "p1", "diagnosis_date": D,
     "report_date": date(2020, 6, 15), "hospital": "H1"},
    # p2: 90 days apart = the window, still a match
    {"subregistry": "aml", "case_id": "near", "person_id": "p2",
     "diagnosis_date": date(2020, 6, 13), "report_date": date(2020, 9, 14), "hospital": "H1"},
    # p3: 91 days apart, outside the window
    {"subregistry": "aml", "case_id": "far", "person_id": "p3",
     "diagnosis_date": date(2020, 6, 14), "report_date": date(2020, 7, 1), "hospital": "H2"},
    # p4: one tumour registered twice; the closer one matches
    {"subregistry": "aml", "case_id": "dup_a", "person_id": "p4",
     "diagnosis_date": date(2020, 3, 20), "report_date": date(2021, 3, 20), "hospital": "H2"},
    {"subregistry": "aml", "case_id": "dup_b", "person_id": "p4",
     "diagnosis_date": date(2020, 3, 16), "report_date": date(2021, 3, 21), "hospital": "H1"},
    # p5: AML and later CML; each matches in its own subregistry
    {"subregistry": "aml", "case_id": "two_aml", "person_id": "p5", "diagnosis_date": D,
     "report_date": None, "hospital": "H1"},
    {"subregistry": "cml", "case_id": "two_cml", "person_id": "p5", "icd10": "C92.1",
     "diagnosis_date": date(2022, 1, 10), "report_date": date(2022, 2, 1), "hospital": "H1"},
    # p6: in the quality registry only
    {"subregistry": "aml", "case_id": "qr_only", "person_id": "p6", "diagnosis_date": D,
     "report_date": D, "hospital": "H1"},
])

CANCER = cancer_frame([
    {"person_id": "p1", "diagnosis_date": D, "icd10": "C92.0"},
    {"person_id": "p2", "diagnosis_date": date(2020, 3, 15), "icd10": "C92.0"},
    {"person_id": "p3", "diagnosis_date": date(2020, 3, 15), "icd10": "C92.0"},
    {"person_id": "p4", "diagnosis_date": D, "icd10": "C92.0"},
    {"person_id": "p5", "diagnosis_date": D, "icd10": "C92.0"},
    {"person_id": "p5", "diagnosis_date": date(2022, 1, 12), "icd10": "C92.1"},
    # p7: in the cancer registry only
    {"person_id": "p7", "diagnosis_date": D, "icd10": "C92.0", "county": "01"},
    # another cancer: outside every subregistry, not counted
    {"person_id": "p8", "diagnosis_date": D, "icd10": "C50.9"},
])


@pytest.fixture(scope="module")
def linked() -> pl.DataFrame:
    return match_registries(CASES, CANCER, window_days=90)


def test_match_statuses(linked):
    status = dict(zip(linked["case_id"], linked["status"], strict=False))
    assert status["exact"] == BOTH
    assert status["near"] == BOTH
    assert status["far"] == QUALITY_REGISTRY_ONLY
    assert status["dup_b"] == BOTH  # 1 day apart beats 5 days
    assert status["dup_a"] == QUALITY_REGISTRY_ONLY
    assert status["two_aml"] == BOTH and status["two_cml"] == BOTH
    assert status["qr_only"] == QUALITY_REGISTRY_ONLY
    cr_only = linked.filter(pl.col("status") == CANCER_REGISTRY_ONLY)
    # p3's record (outside the window) and p7's; never the C50.9 record.
    assert sorted(cr_only["cancer_registry_row"].to_list()) == [2, 6]
    assert linked.height == 8 + 2  # every record of either source once, C50.9 left out
    assert "person_id" not in linked.columns
    assert linked.filter(pl.col("case_id") == "near")["days_apart"].item() == 90


def test_subregistry_without_extract_is_left_out_not_at_zero_coverage():
    # Only the AML extract is given: the cancer registry's CML record is not "missing".
    linked = match_registries(CASES.filter(pl.col("subregistry") == "aml"), CANCER, 90,
                              subregistries=["aml"])
    assert set(linked["subregistry"]) == {"aml"}
    assert coverage(linked).filter(pl.col("measure") == "coverage")["n"].to_list() == [6]


def test_matching_finds_the_most_pairs_not_the_closest_first():
    # Cancer registry on day 0 and day 20, registrations on day 10 and day -75: closest
    # first would pair (0, 10) and strand the others; (0, -75) and (20, 10) match both.
    day = date.fromordinal
    cases = cases_frame([
        {"subregistry": "aml", "case_id": "r10", "person_id": "p", "diagnosis_date":
         day(D.toordinal() + 10)},
        {"subregistry": "aml", "case_id": "r-75", "person_id": "p", "diagnosis_date":
         day(D.toordinal() - 75)}])
    cancer = cancer_frame([
        {"person_id": "p", "diagnosis_date": D, "icd10": "C92.0"},
        {"person_id": "p", "diagnosis_date": day(D.toordinal() + 20), "icd10": "C92.0"}])
    linked = match_registries(cases, cancer, 90)
    pairs = {r["case_id"]: (r["cancer_registry_row"], r["days_apart"])
             for r in linked.iter_rows(named=True)}
    assert pairs == {"r-75": (0, 75), "r10": (1, 10)}
    assert set(linked["status"]) == {BOTH}


def test_window_from_registry_yaml():
    window = dictionary.registry()["coverage"]["match_window_days"]
    cases = cases_frame([{"subregistry": "aml", "person_id": "p", "diagnosis_date": D}])
    cancer = cancer_frame([{"person_id": "p", "diagnosis_date": date.fromordinal(
        D.toordinal() + window + 1), "icd10": "C92.0"}])
    assert match_registries(cases, cancer)["status"].to_list() == [
        CANCER_REGISTRY_ONLY, QUALITY_REGISTRY_ONLY]


def test_negative_window_is_a_user_error():
    with pytest.raises(UserError, match="match window of -5 days"):
        match_registries(CASES, CANCER, window_days=-5)


def test_coverage_overall(linked):
    out = coverage(linked)
    aml = {r["measure"]: r for r in out.filter(pl.col("subregistry") == "aml").iter_rows(
        named=True)}
    # Cancer registry AML: p1, p2, p3, p4, p5, p7 = 6; matched p1, p2, p4, p5 = 4.
    assert (aml["coverage"]["events"], aml["coverage"]["n"]) == (4, 6)
    assert (aml["coverage"]["lower"], aml["coverage"]["upper"]) == pytest.approx(
        wilson_interval(4, 6))
    # Within 3 months of the registry's diagnosis date: p1 (on 2020-06-15, exactly three
    # months: counts); p2 reported 2020-09-14 > 2020-09-13; dup_b 2021-03-21 no; p5 no date.
    assert (aml["coverage_3m"]["events"], aml["coverage_3m"]["n"]) == (1, 6)
    # Within 12 months: p1, p2; dup_b's 2021-03-21 is after 2021-03-16.
    assert aml["coverage_12m"]["events"] == 2
    assert list(aml) == ["coverage", "coverage_3m", "coverage_12m"]
    cml = out.filter((pl.col("subregistry") == "cml") & (pl.col("measure") == "coverage"))
    assert cml.select("events", "n").row(0) == (1, 1)


def test_coverage_by_region_and_hospital(linked):
    by_region = coverage(linked, ["region"]).filter(
        (pl.col("subregistry") == "aml") & (pl.col("measure") == "coverage"))
    rows = {r["region"]: (r["events"], r["n"]) for r in by_region.iter_rows(named=True)}
    assert rows == {"syd": (4, 5), "stockholm_gotland": (0, 1)}
    # The quality registry's hospital would leave unmatched records in none.
    with pytest.raises(UserError, match="needs the cancer registry's hospital"):
        coverage(linked, ["hospital"])
    # With the cancer registry's hospital: H1 holds p1, p2, p5 (all matched), H2 p3, p4, p7
    # (p4 matched).
    hospital = {"p1": "H1", "p2": "H1", "p5": "H1", "p3": "H2", "p4": "H2", "p7": "H2"}
    cancer = CANCER.with_columns(hospital=pl.col("person_id").replace_strict(
        hospital, default=None))
    by_hospital = coverage(match_registries(CASES, cancer, 90), ["hospital"]).filter(
        (pl.col("subregistry") == "aml") & (pl.col("measure") == "coverage"))
    rows = {r["hospital"]: (r["events"], r["n"]) for r in by_hospital.iter_rows(named=True)}
    assert rows == {"H1": (3, 3), "H2": (1, 3)}
    with pytest.raises(UserError, match="cannot group by"):
        coverage(linked, ["person_id"])


def test_coverage_with_extract_date(linked):
    # Extract 2020-07-01: AML diagnoses of 2020-03-15 have had their 3 months, none 12.
    out = coverage(linked, extract_date=date(2020, 7, 1)).filter(
        pl.col("subregistry") == "aml")
    n = dict(zip(out["measure"], out["n"], strict=True))
    assert n == {"coverage": 6, "coverage_3m": 6, "coverage_12m": 0}
    twelve = out.filter(pl.col("measure") == "coverage_12m").row(0, named=True)
    assert twelve["estimate"] is None and twelve["lower"] is None


def test_discrepancies_both_directions(linked):
    out = discrepancies(linked).filter(pl.col("subregistry") == "aml").row(0, named=True)
    assert (out["both"], out["cancer_registry_only"], out["quality_registry_only"]) == (4, 2, 3)


def test_missing_person_in_either_source():
    cases = cases_frame([{"subregistry": "mds", "icd10": "D46.9", "diagnosis_date": D}])
    empty_cancer = cancer_frame([])
    linked = match_registries(cases, empty_cancer)
    assert linked["status"].to_list() == [QUALITY_REGISTRY_ONLY]
    assert coverage(linked).is_empty()  # no cancer-registry cases: no coverage row
    no_cases = cases.clear()
    linked = match_registries(no_cases, cancer_frame(
        [{"person_id": "x", "diagnosis_date": D, "icd10": "D46.9"}]))
    assert linked["status"].to_list() == [CANCER_REGISTRY_ONLY]
    assert coverage(linked).filter(pl.col("measure") == "coverage").select(
        "events", "n", "estimate", "lower").row(0) == (0, 1, 0.0, 0.0)


def test_timeliness():
    cases = cases_frame([
        # month-end: 2020-11-30 + 3 months = 2021-02-28
        {"subregistry": "myeloma", "icd10": "C90.0", "diagnosis_date": date(2020, 11, 30),
         "report_date": date(2021, 2, 28)},
        {"subregistry": "myeloma", "icd10": "C90.0", "diagnosis_date": date(2020, 11, 30),
         "report_date": date(2021, 3, 1)},
        {"subregistry": "myeloma", "icd10": "C90.0", "diagnosis_date": date(2020, 11, 30),
         "report_date": None},
        {"subregistry": "myeloma", "icd10": "C90.0", "diagnosis_date": date(2020, 1, 1),
         "report_date": date(2021, 1, 1)},
    ])
    out = timeliness(cases)
    got = {r["measure"]: (r["events"], r["n"]) for r in out.iter_rows(named=True)}
    assert got == {"registered_within_3m": (1, 4), "registered_within_12m": (3, 4)}
    late = timeliness(cases, extract_date=date(2021, 6, 1))
    got = {r["measure"]: (r["events"], r["n"]) for r in late.iter_rows(named=True)}
    assert got == {"registered_within_3m": (1, 4), "registered_within_12m": (1, 1)}


def test_completeness():
    cases = cases_frame([
        {"subregistry": "cll", "icd10": "C91.1", "diagnosis_date": D, "binet_stage": "A",
         "hospital": "H1"},
        {"subregistry": "cll", "icd10": "C91.1", "diagnosis_date": D, "binet_stage": None,
         "hospital": "H1"},
        {"subregistry": "cll", "icd10": "C91.1", "diagnosis_date": D, "binet_stage": "B",
         "hospital": None},
        {"subregistry": "cml", "icd10": "C92.1", "diagnosis_date": D},
    ])
    out = completeness(cases, {"cll": ["binet_stage", "hospital"], "aml": ["hospital"]})
    got = {r["variable"]: (r["events"], r["n"]) for r in out.iter_rows(named=True)}
    assert got == {"binet_stage": (2, 3), "hospital": (2, 3)}
    assert out["subregistry"].unique().to_list() == ["cll"]  # no AML cases: no rows
    by_hosp = completeness(cases, {"cll": ["binet_stage"]}, ["hospital"])
    assert {r["hospital"]: r["events"] for r in by_hosp.iter_rows(named=True)} == {
        "H1": 1, None: 1}
    with pytest.raises(UserError, match="no_such_variable"):
        completeness(cases, {"cll": ["no_such_variable"]})
    assert completeness(cases, {"aml": ["hospital"]}).is_empty()


def test_completeness_of_treatment_start_is_counted_among_treated_patients():
    """Watch and wait has no treatment start date: not a missing value (issue 15)."""
    from analysis.quality.indicators import completeness_populations

    treated = [{"treatment_given": 1, "treatment_start_date": D},
               {"treatment_given": 1, "treatment_start_date": None}]
    waiting = [{"treatment_given": 0, "treatment_start_date": None}] * 3
    cases = cases_frame([{"subregistry": "cll", "icd10": "C91.1", "diagnosis_date": D, **r}
                         for r in [*treated, *waiting]])
    plain = completeness(cases, {"cll": ["treatment_start_date"]})
    assert plain.select("events", "n").row(0) == (1, 5)
    asked = completeness_populations()
    assert set(asked) == {"treatment_start_date"}
    among = completeness(cases, {"cll": ["treatment_start_date", "treatment_given"]},
                         populations=asked)
    got = {r["variable"]: (r["events"], r["n"]) for r in among.iter_rows(named=True)}
    assert got == {"treatment_start_date": (1, 2), "treatment_given": (5, 5)}


def test_cli_coverage_round_trip(tmp_path):
    from conftest import make_pnr
    from typer.testing import CliRunner

    from analysis.cli import app

    people = [make_pnr(date(1950, 3, 14), s, 1) for s in (21, 22, 23)]
    registry = pl.DataFrame({
        "case_id": ["A1", "A2"], "person_id": people[:2], "sex": [1, 1],
        "birth_date": ["1950-03-14"] * 2, "diagnosis_date": ["2020-05-04", "2020-05-04"],
        "icd10": ["C92.0"] * 2, "county": ["12", "01"], "hospital": ["1201", "0101"],
        "vital_status_date": ["2025-12-31"] * 2, "report_date": ["2020-06-01", "2021-06-01"]})
    registry.write_csv(tmp_path / "aml.csv")
    pl.DataFrame({"person_id": people, "diagnosis_date": ["2020-05-01"] * 3,
                  "icd10": ["C92.0"] * 3, "county": ["12", "01", "12"]}).write_csv(
        tmp_path / "cancer_registry.csv")
    result = CliRunner().invoke(app, ["coverage", "--data", str(tmp_path), "--by", "region",
                                      "--format", "csv"])
    assert result.exit_code == 0, result.output
    out = pl.read_csv(result.stdout.encode())
    got = {(r["region"], r["measure"]): (r["events"], r["n"]) for r in out.iter_rows(named=True)}
    # Syd: 2 cancer-registry cases, 1 matched, reported within 3 months.
    # Stockholm Gotland: 1 case, matched, reported after 13 months.
    assert got == {("stockholm_gotland", "coverage"): (1, 1),
                   ("stockholm_gotland", "coverage_3m"): (0, 1),
                   ("stockholm_gotland", "coverage_12m"): (0, 1),
                   ("syd", "coverage"): (1, 2), ("syd", "coverage_3m"): (1, 2),
                   ("syd", "coverage_12m"): (1, 2)}
    assert not any(p in result.stdout for p in people)


def test_identity_spellings_link_and_children_leave_adult_lymphoma():
    from conftest import make_pnr

    adult = make_pnr(date(1950, 3, 14), 23, 1)          # "19500314-NNNC"
    child = make_pnr(date(2010, 6, 1), 24, 2)
    cases = cases_frame([{"subregistry": "lymphoma", "icd10": "C83.3", "person_id": adult,
                          "diagnosis_date": D}])
    cancer = cancer_frame([
        {"person_id": adult.replace("-", ""), "diagnosis_date": D, "icd10": "C83.3"},
        # aged 9 at diagnosis: below lymphoma's min_age 18, outside the subregistry
        {"person_id": child, "diagnosis_date": D, "icd10": "C83.3"},
    ])
    linked = match_registries(cases, cancer)
    assert linked["status"].to_list() == [BOTH]
    assert linked["cancer_registry_row"].to_list() == [0]
