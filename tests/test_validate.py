"""Each validation rule with a passing and a failing row, and the reader's formats."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import make_pnr

from analysis.data.ingest import load_data
from analysis.errors import UserError

HEADER = ("case_id,person_id,sex,birth_date,diagnosis_date,icd10,morphology,county,hospital,"
          "death_date,vital_status_date,report_date,treatment_start_date")
PNR = make_pnr(date(1950, 3, 14), 23, 1)


def good(case_id: str = "A1", **over: str) -> dict[str, str]:
    row = {"case_id": case_id, "person_id": PNR, "sex": "1", "birth_date": "1950-03-14",
           "diagnosis_date": "2020-05-04", "icd10": "C92.0", "morphology": "9861/3",
           "county": "12", "hospital": "1201", "death_date": "", "vital_status_date": "2025-12-31",
           "report_date": "2020-06-01", "treatment_start_date": "2020-05-10"}
    row.update(over)
    return row


def write(tmp: Path, rows: list[dict[str, str]], name: str = "aml.csv",
          sep: str = ",", encoding: str = "utf-8") -> Path:
    cols = HEADER.split(",")
    lines = [sep.join(cols)] + [sep.join(r[c] for c in cols) for r in rows]
    (tmp / name).write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return tmp


def failures_of(tmp: Path, rows: list[dict[str, str]]) -> pl.DataFrame:
    return load_data(write(tmp, rows)).failures()


def test_good_row_is_accepted_with_derived_columns(tmp_path):
    data = load_data(write(tmp_path, [good()]))
    assert data.failures().is_empty()
    case = data.cases.row(0, named=True)
    assert case["region"] == "syd"
    assert case["age"] == 70  # born 1950-03-14, diagnosed 2020-05-04
    assert case["age_group"] == "70-74"
    assert case["year"] == 2020
    assert case["dead"] == 0
    assert case["followup_years"] == pytest.approx((date(2025, 12, 31)
                                                   - date(2020, 5, 4)).days / 365.25)


def test_excel_exports_integers_and_midnight_times_are_read_only_where_present(tmp_path):
    """An Excel export's ``1.0`` and ``2020-05-04 00:00:00`` are the integer and the date;
    another time of day is not a date. Columns without such values skip that tidying
    (the plain parse reads every value of them), which must not change what they
    parse to."""
    rows = [good("A1", sex="1.0", diagnosis_date="2020-05-04 00:00:00"),
            good("A2", diagnosis_date="2020-05-04T00:00"),
            good("A3", diagnosis_date="2020-05-04 12:00"), good("A4")]
    data = load_data(write(tmp_path, rows))
    failures = data.failures()
    assert failures.select("case_id", "column", "rule").rows() == [
        ("A3", "diagnosis_date", "type")]
    cases = data.cases.sort("case_id")
    assert cases["case_id"].to_list() == ["A1", "A2", "A4"]
    assert cases["sex"].to_list() == [1, 1, 1]
    assert cases["diagnosis_date"].to_list() == [date(2020, 5, 4)] * 3
    assert cases["birth_date"].to_list() == [date(1950, 3, 14)] * 3


@pytest.mark.parametrize(("over", "rule", "column"), [
    ({"sex": ""}, "required", "sex"),
    ({"sex": "3"}, "enum", "sex"),
    ({"sex": "man"}, "type", "sex"),
    ({"diagnosis_date": "2020-13-01"}, "type", "diagnosis_date"),
    ({"diagnosis_date": "04/05/2020"}, "type", "diagnosis_date"),
    ({"icd10": "C91.0"}, "code_list", "icd10"),
    ({"icd10": "C920"}, "pattern", "icd10"),
    ({"morphology": "9823/3"}, "code_list", "morphology"),
    ({"county": "99"}, "code_list", "county"),
    ({"treatment_start_date": "2020-05-01"}, "date_order", "treatment_start_date"),
    ({"death_date": "2026-01-05"}, "date_order", "vital_status_date"),
    ({"death_date": "2019-01-01"}, "date_order", "death_date"),
    ({"birth_date": "2010-01-01"}, "age", "birth_date"),  # aml is for adults (min_age 18)
    ({"birth_date": "1900-01-01"}, "age", "birth_date"),  # 120 years old
    ({"person_id": PNR[:-1] + str((int(PNR[-1]) + 1) % 10)}, "identity", "person_id"),
])
def test_each_rule_rejects_its_failing_row(tmp_path, over, rule, column):
    fails = failures_of(tmp_path, [good("A1"), good("A2", **over)])
    assert (3, rule, column) in fails.select("row", "rule", "column").rows()
    assert set(fails.get_column("case_id")) == {"A2"}


@pytest.mark.parametrize(("name", "icd10", "morphology"), [
    ("cml.csv", "C92.1", "9875/3"), ("mpn.csv", "D45", "9950/3"),
    ("cll.csv", "C91.1", "9823/3")])
def test_every_subregistry_of_the_adult_registry_rejects_a_child(tmp_path, name, icd10,
                                                                 morphology):
    """subregistries.yaml min_age 18 for every subregistry: a 16-year-old is rejected."""
    young = make_pnr(date(2004, 1, 2), 23, 1)
    rows = [good("A1", icd10=icd10, morphology=morphology),
            good("A2", icd10=icd10, morphology=morphology, person_id=young,
                 birth_date="2004-01-02")]
    fails = load_data(write(tmp_path, rows, name=name)).failures()
    assert fails.select("case_id", "rule", "column").rows() == [("A2", "age", "birth_date")]
    assert "below 18" in fails["message"].item()


@pytest.mark.parametrize(("over", "message"), [
    ({"birth_date": "1950-03-15"}, "birth_date differs from the one person_id encodes"),
    ({"sex": "2"}, "sex differs from the one person_id encodes"),  # odd 3rd serial digit: man
])
def test_birth_date_and_sex_must_agree_with_the_identity_number(tmp_path, over, message):
    fails = failures_of(tmp_path, [good("A1"), good("A2", **over)])
    # The failure names the column that disagrees and its value, never the number.
    (column, value), = over.items()
    assert fails.select("row", "column", "value", "rule", "message").rows() == [
        (3, column, value, "identity_mismatch", message)]


def test_duplicate_case_id_rejects_the_later_row(tmp_path):
    data = load_data(write(tmp_path, [good("A1"), good("A2"), good("A1")]))
    assert data.failures().select("row", "rule").rows() == [(4, "unique")]
    s = data.summary().row(0, named=True)
    assert (s["read"], s["accepted"], s["rejected"]) == (3, 2, 1)


def test_duplicate_case_ids_in_a_sorted_file_are_found_by_their_neighbours(tmp_path):
    """A file in case_id order takes the comparison with the row before; the same rows
    fail as in any order (the hash of every value)."""
    rows = [good("A1"), good("A2"), good("A2"), good("A2"), good("A3")]
    assert failures_of(tmp_path, rows).select("row", "case_id", "rule").rows() == [
        (4, "A2", "unique"), (5, "A2", "unique")]
    shuffled = [good("A2"), good("A1"), good("A2"), good("A3"), good("A2")]
    assert failures_of(tmp_path, shuffled).select("row", "case_id", "rule").rows() == [
        (4, "A2", "unique"), (6, "A2", "unique")]


def test_identity_numbers_never_appear_in_failures_or_rejected_rows(tmp_path):
    bad = PNR[:-1] + str((int(PNR[-1]) + 1) % 10)
    data = load_data(write(tmp_path, [good("A1", person_id=bad, sex="9")]))
    text = data.failures().write_csv() + data.checks[0].rejected.write_csv()
    assert bad not in text and bad.replace("-", "") not in text
    assert "(hidden)" in text


def test_accepted_plus_rejected_equals_read(tmp_path):
    rows = [good("A1"), good("A2", sex="7"), good("A3", county="00"), good("A4")]
    data = load_data(write(tmp_path, rows))
    s = data.summary().row(0, named=True)
    assert s["read"] == 4 and s["accepted"] == 2 and s["rejected"] == 2
    assert data.cases.height == 2
    assert data.checks[0].rejected.get_column("case_id").to_list() == ["A2", "A3"]


def test_rejected_rows_keep_the_values_as_written(tmp_path):
    data = load_data(write(tmp_path, [good("A1"), good("A2", diagnosis_date="2020-02-30")]))
    [row] = data.checks[0].rejected.iter_rows(named=True)
    assert (row["row"], row["case_id"], row["diagnosis_date"]) == (3, "A2", "2020-02-30")
    assert "diagnosis_date" in row["reasons"] and "person_id" not in row


@pytest.mark.parametrize(("value", "rule"), [("300", "maximum"), ("-1", "minimum")])
def test_minimum_and_maximum_reject_a_number_out_of_range(tmp_path, value, rule):
    header = "case_id,person_id,sex,birth_date,diagnosis_date,icd10,county," \
             "vital_status_date,bcr_abl1_is_12m\n"
    (tmp_path / "cml.csv").write_text(
        header + f"K1,{PNR},1,1950-03-14,2020-05-04,C92.1,12,2025-12-31,0.085\n"
        f"K2,{PNR},1,1950-03-14,2020-05-04,C92.1,12,2025-12-31,{value}\n")
    fails = load_data(tmp_path).failures()
    assert fails.select("row", "case_id", "column", "value", "rule").rows() == [
        (3, "K2", "bcr_abl1_is_12m", value, rule)]


def test_cp1252_semicolon_and_decimal_comma(tmp_path):
    rows = [good("Å1", hospital="0701")]
    write(tmp_path, rows, sep=";", encoding="cp1252")
    (tmp_path / "cml.csv").write_bytes(
        ("case_id;person_id;sex;birth_date;diagnosis_date;icd10;county;vital_status_date;"
         "bcr_abl1_is_12m\n"
         f"K1;{PNR};1;1950-03-14;2020-05-04;C92.1;12;2025-12-31;0,085\n").encode("cp1252"))
    data = load_data(tmp_path)
    assert data.failures().is_empty()
    by_sub = {r["subregistry"]: r for r in data.cases.iter_rows(named=True)}
    assert by_sub["aml"]["hospital"] == "0701" and by_sub["aml"]["case_id"] == "Å1"
    assert by_sub["cml"]["bcr_abl1_is_12m"] == pytest.approx(0.085)


def test_parquet_and_excel_read_like_csv(tmp_path):
    frame = pl.DataFrame([good("A1"), good("A2")])
    frame.write_parquet(tmp_path / "aml.parquet")
    frame.write_excel(tmp_path / "cll.xlsx")
    data = load_data(tmp_path)
    failing = data.failures()
    # the same rows are AML codes, wrong in the CLL file
    assert set(failing.filter(pl.col("dataset") == "cll").get_column("rule")) == {"code_list"}
    assert data.cases.filter(pl.col("subregistry") == "aml").height == 2


def test_combined_file_with_unknown_subregistry(tmp_path):
    rows = [dict(good("A1"), subregistry="aml"), dict(good("X1"), subregistry="xyz")]
    pl.DataFrame(rows).write_csv(tmp_path / "cases.csv")
    data = load_data(tmp_path)
    fails = data.failures()
    assert fails.select("dataset", "row", "rule", "value").rows() == [
        ("unknown subregistry", 3, "enum", "xyz")]
    assert data.cases.height == 1
    assert data.summary().get_column("read").sum() == 2


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: (d / "aml.csv").write_text(""), "the file is empty"),
    (lambda d: (d / "aml.csv").write_bytes(b"PAR1\x00\x01garbage"), "not a text (CSV) file"),
    (lambda d: (d / "aml.csv").write_text("case_id,sex\nA1,1\n"),
     "missing required column(s) person_id"),
    (lambda d: (d / "aml.xlsx").write_text("not excel"), "cannot be read as xlsx"),
    (lambda d: (d / "notes.csv").write_text("a\n1\n"), "no registry extract found"),
    (lambda d: (d / "aml.csv").write_text("case_id,sex,sex\nA1,1,2\n"),
     "column(s) sex appear more than once"),
    (lambda d: (d / "aml.csv").write_text("case_id,kön,sex\nA1,1,2\n"),
     "columns kön and sex both hold sex"),
])
def test_unusable_files_give_one_clear_error(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(UserError) as exc:
        load_data(tmp_path)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("bad_line", ['"A2,19121212-1212,1', "A2,19121212-1212,1,7"])
def test_malformed_csv_names_the_row_and_never_its_content(tmp_path, bad_line):
    # polars' own message quotes the line, identity number and all.
    (tmp_path / "aml.csv").write_text(f"case_id,person_id,sex\nA1,19121212-1212,1\n"
                                      f"{bad_line}\nA3,19121212-1212,1\n")
    with pytest.raises(UserError) as exc:
        load_data(tmp_path)
    assert "aml.csv: cannot be read as CSV: row 3 has" in str(exc.value)
    assert "1212" not in str(exc.value)


def test_missing_folder_and_unknown_subregistry(tmp_path):
    with pytest.raises(UserError, match="data folder not found"):
        load_data(tmp_path / "nope")
    write(tmp_path, [good()])
    with pytest.raises(Exception, match="unknown subregistry 'xyz'"):
        load_data(tmp_path, ["xyz"])


def test_a_repeated_population_stratum_is_rejected(tmp_path):
    # The second row would count the stratum's person-years twice.
    write(tmp_path, [good()])
    (tmp_path / "population.csv").write_text(
        "year,county,sex,age,population\n2020,12,1,70,100\n2020,12,2,70,90\n"
        "2020,12,1,70,100\n")
    data = load_data(tmp_path)
    fails = data.failures().filter(pl.col("dataset") == "population")
    assert fails.select("row", "rule", "column").rows() == [(4, "unique", "age")]
    assert data.population.height == 2


def test_lifetable_qx_becomes_hazard(tmp_path):
    write(tmp_path, [good()])
    (tmp_path / "lifetable.csv").write_text("year,sex,age,qx\n2020,1,70,0.02\n2020,1,100,1\n")
    lt = load_data(tmp_path).lifetable
    import math
    assert lt.get_column("mortality_rate").to_list() == pytest.approx(
        [-math.log(0.98), -math.log(1 - 0.9999)])


@pytest.mark.parametrize(("birth", "at", "age"), [
    ("1950-05-04", "2020-05-04", 70),  # birthday: the year is completed
    ("1950-05-05", "2020-05-04", 69),
    ("1952-02-29", "2020-02-28", 67),
    ("1952-02-29", "2020-02-29", 68),
    ("1952-02-29", "2021-03-01", 69),
])
def test_age_in_completed_years(birth, at, age):
    from analysis.data.validate import age_at, years_between
    frame = pl.DataFrame({"b": [birth], "a": [at]}).with_columns(pl.all().str.to_date())
    assert frame.select(age_at(pl.col("b"), pl.col("a"))).item() == age
    assert frame.select(years_between(frame, "b", "a")).item() == age


def test_years_between_by_lookup_equals_age_at_on_every_pair_of_a_span():
    """Every birth date of 1951-1952 (a leap year) against every date of 2020-2021."""
    from analysis.data.validate import age_at, years_between
    births = pl.date_range(date(1951, 1, 1), date(1952, 12, 31), "1d", eager=True)
    ats = pl.date_range(date(2020, 1, 1), date(2021, 12, 31), "13d", eager=True)
    frame = (pl.DataFrame({"b": births}).join(pl.DataFrame({"a": ats}), how="cross")
             .vstack(pl.DataFrame({"b": [None], "a": [date(2020, 1, 1)]},
                                  schema={"b": pl.Date, "a": pl.Date})))
    expected = frame.select(age_at(pl.col("b"), pl.col("a"))).to_series()
    got = frame.select(years_between(frame, "b", "a")).to_series()
    assert got.to_list() == expected.to_list()
    assert got.null_count() == 1 and got.min() == 67 and got.max() == 70


def test_column_aliases_from_the_dictionary(tmp_path):
    row = good()
    frame = pl.DataFrame([row]).rename({"person_id": "Personnummer", "sex": "Kön",
                                        "county": "län"})
    frame.write_csv(tmp_path / "aml.csv")
    data = load_data(tmp_path)
    assert data.failures().is_empty()
    assert data.cases.row(0, named=True)["region"] == "syd"
