"""Input rules of issue 14 (item 5), each with a passing and a failing file: dates after
the extract date or today, population and life-table coverage, UTF-16 and byte-order
marks, Excel title rows and sheets, extracts without accepted rows, hospital codes, and
research serial numbers or pseudonyms (--id-scheme, data_folder.yaml)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import make_pnr
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data.ingest import load_data
from analysis.errors import UserError

PNR = make_pnr(date(1950, 3, 14), 23, 1)
PNR2 = make_pnr(date(1952, 1, 20), 31, 1)


def case(case_id: str = "A1", **over: str) -> dict[str, str]:
    row = {"case_id": case_id, "person_id": PNR, "sex": "1", "birth_date": "1950-03-14",
           "diagnosis_date": "2020-05-04", "icd10": "C92.0", "county": "12",
           "hospital": "1201", "vital_status_date": "2025-12-31"}
    return row | over


def folder(tmp: Path, rows: list[dict[str, str]], settings: str | None = None) -> Path:
    tmp.mkdir(exist_ok=True)
    pl.DataFrame(rows).write_csv(tmp / "aml.csv")
    if settings is not None:
        (tmp / "data_folder.yaml").write_text(settings)
    return tmp


def validate(*args: str):
    return CliRunner().invoke(app, ["validate", *args])


# --- dates after the extract date or today -------------------------------------------------

def test_a_consistent_row_diagnosed_in_2031_is_rejected(tmp_path: Path) -> None:
    future = case("A2", diagnosis_date="2031-02-01", vital_status_date="2031-06-01")
    data = load_data(folder(tmp_path, [case("A1"), future]))
    today = date.today().isoformat()
    assert data.failures().select("row", "column", "rule", "message").rows() == [
        (3, "diagnosis_date", "future_date", f"diagnosis_date is after today ({today})"),
        (3, "vital_status_date", "future_date", f"vital_status_date is after today ({today})")]
    assert data.cases["case_id"].to_list() == ["A1"]


def test_dates_after_the_declared_extract_date_are_rejected(tmp_path: Path) -> None:
    rows = [case("A1", vital_status_date="2025-06-30"),               # on the day: fine
            case("A2", vital_status_date="2025-07-01")]
    data = load_data(folder(tmp_path, rows, "extract_date: 2025-06-30\n"))
    assert data.failures().select("row", "column", "rule", "message").rows() == [
        (3, "vital_status_date", "future_date",
         "vital_status_date is after the extract date 2025-06-30")]
    assert data.extract_date() == date(2025, 6, 30)
    # --extract-date overrides the folder's setting.
    assert load_data(tmp_path, extract_date=date(2025, 7, 1)).failures().is_empty()
    done = validate(str(tmp_path), "--extract-date", "2025-07-01", "--out",
                    str(tmp_path / "v"))
    assert done.exit_code == 0, done.output


def test_a_declared_extract_date_in_the_future_still_stops_at_today(tmp_path: Path) -> None:
    tomorrow = date.today() + timedelta(days=1)
    rows = [case("A1"), case("A2", vital_status_date=tomorrow.isoformat())]
    data = load_data(folder(tmp_path, rows), extract_date=tomorrow + timedelta(days=30))
    assert data.failures().select("row", "rule").rows() == [(3, "future_date")]


# --- the population and the life table cover the cases ------------------------------------

def _denominators(tmp: Path, years: range, ages: range, lt_years: range) -> None:
    pl.DataFrame([{"year": y, "county": "12", "sex": 1, "age": a, "population": 1000}
                  for y in years for a in ages]).write_csv(tmp / "population.csv")
    pl.DataFrame([{"year": y, "sex": 1, "age": a, "mortality_rate": 0.02}
                  for y in lt_years for a in range(0, 101)]).write_csv(tmp / "lifetable.csv")


def test_covered_cases_validate_with_exit_0(tmp_path: Path) -> None:
    rows = [case("A1"), case("A2", person_id=PNR2, birth_date="1952-01-20",
                             diagnosis_date="2021-03-01")]
    folder(tmp_path, rows)
    _denominators(tmp_path, range(2020, 2022), range(0, 101), range(2020, 2026))
    done = validate(str(tmp_path), "--out", str(tmp_path / "v"))
    assert done.exit_code == 0, done.output
    assert "All rows accepted" in done.output and "warning" not in done.output


def test_gaps_in_population_and_life_table_are_named_with_exit_3(tmp_path: Path) -> None:
    rows = [case("A1"), case("A2", person_id=PNR2, birth_date="1952-01-20",
                             diagnosis_date="2021-03-01", county="14", hospital="1401")]
    folder(tmp_path, rows)
    # Population: 2020 only, county 12 only, and no age 69; life table ends in 2024.
    _denominators(tmp_path, range(2020, 2021), [*range(0, 69), *range(70, 101)],
                  range(2020, 2025))
    done = validate(str(tmp_path), "--out", str(tmp_path / "v"))
    assert done.exit_code == 3, done.output
    lines = " ".join(done.output.split())
    assert ("warning: population.csv does not cover the accepted cases: missing year "
            "2021; county 14; age 69") in lines
    assert ("warning: lifetable.csv does not cover the accepted cases: missing year "
            "2025") in lines


def test_gaps_are_described_by_whole_values_then_examples() -> None:
    from analysis.data.denominators import describe

    needed = pl.DataFrame({"year": [2020, 2020, 2021, 2021, 2022, 2022, 2024, 2024],
                           "county": ["12", "14"] * 4})
    have = pl.DataFrame({"year": [2020, 2020, 2021], "county": ["12", "14", "12"]})
    assert describe(needed, have) == (
        "year 2022, 2024; 1 other year × county stratum/strata (e.g. year 2021, county 14)")
    assert describe(needed, needed) is None


def test_missing_denominator_files_are_a_note_not_an_error(tmp_path: Path) -> None:
    done = validate(str(folder(tmp_path, [case()])), "--out", str(tmp_path / "v"))
    assert done.exit_code == 0, done.output
    assert "no population file: incidence rates cannot be computed" in done.output


# --- encodings ---------------------------------------------------------------------------

def _csv_text(rows: list[dict[str, str]]) -> str:
    return pl.DataFrame(rows).write_csv()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_utf16_and_byte_order_marks_are_read(tmp_path: Path, encoding: str) -> None:
    text = _csv_text([case("Å1")])
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw                       # the codec writes no BOM itself
    (tmp_path / "aml.csv").write_bytes(raw)
    data = load_data(tmp_path)
    assert data.failures().is_empty()
    assert data.cases["case_id"].to_list() == ["Å1"]


def test_utf16_without_byte_order_mark_is_named(tmp_path: Path) -> None:
    (tmp_path / "aml.csv").write_bytes(_csv_text([case()]).encode("utf-16-le"))
    with pytest.raises(UserError, match="looks like UTF-16 text without a byte-order mark"):
        load_data(tmp_path)



def test_plain_utf8_read_by_polars_equals_the_python_path(tmp_path: Path) -> None:
    """A UTF-8 file is read by polars from the file (readers._read_plain_utf8); the same
    table in cp1252 goes through Python's decoding: both give the same frame, blanks
    stripped and empty cells null."""
    from analysis.data.readers import _read_plain_utf8, read_table

    text = "county;name;note\r\n01; Göteborg ;\r\n14;Åre;\"a; b\"\r\n"
    (tmp_path / "u.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "w.csv").write_bytes(text.encode("cp1252"))
    assert _read_plain_utf8(tmp_path / "u.csv") is not None
    assert _read_plain_utf8(tmp_path / "w.csv") is None
    direct, decoded = read_table(tmp_path / "u.csv"), read_table(tmp_path / "w.csv")
    assert direct.equals(decoded)
    assert direct.rows() == [("01", "Göteborg", None), ("14", "Åre", "a; b")]

def test_erasure_rewrites_a_utf16_file_as_utf16(tmp_path: Path) -> None:
    from analysis.privacy.erasure import erase

    (tmp_path / "aml.csv").write_bytes(_csv_text([case("A1"), case(
        "A2", person_id=PNR2, birth_date="1952-01-20")]).encode("utf-16"))
    erase(tmp_path, PNR, "personnummer", key=b"0123456789abcdef0123456789abcdef")
    raw = (tmp_path / "aml.csv").read_bytes()
    assert raw.startswith(b"\xff\xfe")
    assert load_data(tmp_path).cases["case_id"].to_list() == ["A2"]


# --- Excel: title rows and sheets ----------------------------------------------------------

def _workbook(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, values in enumerate(rows):
            for c, v in enumerate(values):
                ws.write_string(r, c, v)
    wb.close()


def _sheet_rows(rows: list[dict[str, str]]) -> list[list[str]]:
    return [list(rows[0]), *([v for v in r.values()] for r in rows)]


def test_excel_with_one_sheet_and_header_on_top_is_read(tmp_path: Path) -> None:
    _workbook(tmp_path / "aml.xlsx", {"Blad1": _sheet_rows([case()])})
    assert load_data(tmp_path).cases.height == 1


def test_excel_title_row_above_the_header_is_named(tmp_path: Path) -> None:
    _workbook(tmp_path / "aml.xlsx", {"Blad1": [["AML extract 2025"], [],
                                                *_sheet_rows([case()])]})
    with pytest.raises(UserError) as info:
        load_data(tmp_path)
    assert "missing required column(s) case_id" in str(info.value)
    assert str(info.value).endswith("the column names stand in a later row, below what "
                                    "looks like a title: delete the rows above the header")


def test_excel_with_several_sheets_needs_one_named(tmp_path: Path) -> None:
    _workbook(tmp_path / "aml.xlsx", {"Info": [["Extract of 2025"]],
                                      "Data": _sheet_rows([case()])})
    with pytest.raises(UserError) as info:
        load_data(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'aml.xlsx'}: the workbook has 2 sheets (Info, Data); name the one "
        "holding the data with --sheet NAME or 'sheet:' in data_folder.yaml")
    assert load_data(tmp_path, sheet="Data").cases.height == 1
    with pytest.raises(UserError, match=r"no sheet 'Blad1' \(the sheets are Info, Data\)"):
        load_data(tmp_path, sheet="Blad1")
    (tmp_path / "data_folder.yaml").write_text("sheet: {aml: Data}\n")
    assert load_data(tmp_path).cases.height == 1
    done = validate(str(tmp_path), "--sheet", "Data", "--out", str(tmp_path / "v"))
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize(("title", "message"), [
    ("AML extract 2025\n", "row 2 has 9 field(s) where the header has 1 (is row 1 a title "
                           "above the header?)"),
    ("AML extract 2025,,\n", "row 2 has 9 field(s) where the header has 3 (is row 1 a "
                             "title above the header?)"),
])
def test_csv_title_row_above_the_header_is_named(tmp_path: Path, title: str,
                                                 message: str) -> None:
    (tmp_path / "aml.csv").write_text(title + _csv_text([case()]))
    with pytest.raises(UserError) as info:
        load_data(tmp_path)
    assert message in str(info.value)


def test_a_header_with_an_empty_column_name_is_named(tmp_path: Path) -> None:
    text = "".join(line + ",\n" for line in _csv_text([case()]).splitlines())
    (tmp_path / "aml.csv").write_text(text)
    with pytest.raises(UserError, match=r"the header has no name for column\(s\) 10 \(a "
                                        "separator too many, or a title row above"):
        load_data(tmp_path)


def test_erasure_refuses_to_rewrite_a_workbook_of_several_sheets(tmp_path: Path) -> None:
    from analysis.privacy.erasure import erase

    _workbook(tmp_path / "aml.xlsx", {"Info": [["Extract of 2025"]],
                                      "Data": _sheet_rows([case()])})
    before = (tmp_path / "aml.xlsx").read_bytes()
    with pytest.raises(UserError, match="cannot rewrite a workbook of 2 sheets"):
        erase(tmp_path, PNR, "personnummer", key=b"0123456789abcdef0123456789abcdef")
    assert (tmp_path / "aml.xlsx").read_bytes() == before


# --- extracts without accepted rows --------------------------------------------------------

def test_header_only_extract_says_so(tmp_path: Path) -> None:
    (tmp_path / "aml.csv").write_text(",".join(case()) + "\n")
    data = load_data(tmp_path)
    with pytest.raises(UserError) as info:
        data.require("cases")
    assert str(info.value) == (f"{tmp_path}: no accepted case to analyse (aml.csv has a "
                               f"header and no rows); `bcr validate {tmp_path}` lists the "
                               "reasons")
    done = validate(str(tmp_path), "--out", str(tmp_path / "v"))
    assert "no accepted rows in aml.csv: it has a header and no rows" in done.output


def test_fully_rejected_extract_says_so(tmp_path: Path) -> None:
    data = load_data(folder(tmp_path, [case("A1", sex="7"), case("A2", county="99")]))
    with pytest.raises(UserError, match=r"no accepted case to analyse \(aml.csv 0 of 2 "
                                        r"rows accepted\)"):
        data.require("cases")
    done = CliRunner().invoke(app, ["incidence", "--data", str(tmp_path)])
    assert "no accepted case to analyse" in str(done.exception)
    assert "needs an extract per subregistry" not in str(done.exception)


# --- hospital codes ------------------------------------------------------------------------

def test_unknown_hospital_code_is_rejected(tmp_path: Path) -> None:
    data = load_data(folder(tmp_path, [case("A1", hospital="1201"),
                                       case("A2", hospital="SUS"), case("A3", hospital="")]))
    assert data.failures().select("row", "column", "value", "rule", "message").rows() == [
        (3, "hospital", "SUS", "code_list",
         "hospital is not in the reporting units (hospitals.yaml)")]
    assert data.cases["case_id"].to_list() == ["A1", "A3"]


# --- research serial numbers and pseudonyms ------------------------------------------------

def _cohort(tmp: Path) -> Path:
    # A research extract: LopNr (serial number) instead of a personnummer.
    rows = [case("A1") | {"person_id": "1"}, case("A2") | {"person_id": "2"}]
    frame = pl.DataFrame(rows).rename({"person_id": "LopNr"})
    tmp.mkdir(exist_ok=True)
    frame.write_csv(tmp / "aml.csv")
    return tmp


def test_research_serial_numbers_need_the_pseudonym_scheme(tmp_path: Path) -> None:
    root = _cohort(tmp_path / "c")
    data = load_data(root)
    assert set(data.failures()["rule"]) == {"identity"} and data.cases.is_empty()
    assert load_data(root, identity_scheme="pseudonym").cases.height == 2
    done = validate(str(root), "--id-scheme", "pseudonym", "--out", str(tmp_path / "v"))
    assert done.exit_code == 0, done.output
    (root / "data_folder.yaml").write_text("identity_scheme: pseudonym\n")
    assert load_data(root).failures().is_empty()


def test_survival_reads_a_cohort_file_with_id_scheme(tmp_path: Path) -> None:
    root = _cohort(tmp_path / "c")
    done = CliRunner().invoke(app, ["survival", "--cases", str(root / "aml.csv"),
                                    "--id-scheme", "pseudonym", "--times", "1",
                                    "--format", "csv"])
    assert done.exit_code == 0, done.output
    # The data_folder.yaml beside the file does the same.
    (root / "data_folder.yaml").write_text("identity_scheme: pseudonym\n")
    done = CliRunner().invoke(app, ["survival", "--cases", str(root / "aml.csv"),
                                    "--times", "1", "--format", "csv"])
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize(("settings", "message"), [
    ("identity_scheme: lopnummer\n", "unknown identity scheme 'lopnummer'"),
    ("extract_date: 31/12/2025\n", "extract_date '31/12/2025': write a date as YYYY-MM-DD"),
    ("extract-date: 2025-12-31\n", "unknown setting(s) extract-date (known: "
                                   "identity_scheme, extract_date, sheet)"),
    ("sheet: [a, b]\n", "sheet must be a sheet name or a mapping"),
    ("- a\n", "must hold settings as 'name: value' lines"),
])
def test_data_folder_yaml_mistakes_are_named(tmp_path: Path, settings: str,
                                             message: str) -> None:
    folder(tmp_path, [case()], settings)
    with pytest.raises(UserError) as info:
        load_data(tmp_path)
    assert str(tmp_path / "data_folder.yaml") in str(info.value)
    assert message in str(info.value)


def test_pseudonymised_copy_keeps_the_folder_settings(tmp_path: Path) -> None:
    import yaml

    from analysis.privacy.pseudonymise import pseudonymise_dir

    src = folder(tmp_path / "src", [case()], "extract_date: 2025-12-31\nsheet: Data\n")
    pseudonymise_dir(src, tmp_path / "out", b"0123456789abcdef0123456789abcdef")
    settings = yaml.safe_load((tmp_path / "out" / "data_folder.yaml").read_text())
    assert settings == {"extract_date": date(2025, 12, 31), "identity_scheme": "pseudonym",
                        "sheet": "Data"}
