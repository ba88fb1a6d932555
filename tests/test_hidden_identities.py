"""No identity number anywhere (issue 13, item 5): a value shaped like one is hidden
whatever its column, in `bcr validate`'s output, failures.csv and rejected_<dataset>.csv.

The named regression tests put valid personnummer (check digit and all) where they do not
belong: in icd10, as a case_id, and in a free-text column the dictionary does not know.
"""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import make_pnr
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data.identity import HIDDEN, redact, shape_pattern
from analysis.errors import UserError

PNR = make_pnr(date(1950, 3, 14), 23, 1)          # YYYYMMDD-NNNC, the patient's own
OTHER = make_pnr(date(1961, 7, 2), 40, 2)         # somebody else's
HEADER = ["case_id", "person_id", "sex", "birth_date", "diagnosis_date", "icd10", "county",
          "hospital", "vital_status_date"]


def row(case_id: str = "A1", **over: str) -> dict[str, str]:
    base = {"case_id": case_id, "person_id": PNR, "sex": "1", "birth_date": "1950-03-14",
            "diagnosis_date": "2020-05-04", "icd10": "C92.0", "county": "12",
            "hospital": "1201", "vital_status_date": "2025-12-31"}
    return base | over


def spellings(pnr: str) -> list[str]:
    """Every way the number may be written: 12 or 10 digits, with or without '-'."""
    twelve = pnr.replace("-", "")
    return [pnr, twelve, twelve[2:], f"{twelve[2:8]}-{twelve[8:]}"]


def validate(folder: Path, rows: list[dict[str, str]], columns: list[str] = HEADER) -> str:
    """Write aml.csv, run `bcr validate`, and return everything it printed and wrote."""
    folder.mkdir()
    pl.DataFrame(rows).select(columns).write_csv(folder / "aml.csv")
    out = folder.parent / f"{folder.name}-validation"
    done = CliRunner().invoke(app, ["validate", str(folder), "--out", str(out)])
    assert done.exit_code == 1, done.output
    written = "".join(p.read_text() for p in sorted(out.glob("*.csv")))
    assert {p.name for p in out.iterdir()} == {"failures.csv", "rejected_aml.csv"}
    return done.output + written


def assert_never_shown(text: str, *numbers: str) -> None:
    for number in numbers:
        for spelling in spellings(number):
            assert spelling not in text, spelling
        # Nor any identity-shaped run of digits at all.
    assert not re.search(shape_pattern(["personnummer"]), text.replace("\n", " ")), text


def test_personnummer_in_icd10_is_hidden(tmp_path: Path) -> None:
    text = validate(tmp_path / "d", [row("A1"), row("A2", icd10=OTHER)])
    assert_never_shown(text, PNR, OTHER)
    failures = pl.read_csv(tmp_path / "d-validation" / "failures.csv", infer_schema=False)
    assert failures.select("row", "case_id", "column", "value", "rule").rows() == [
        ("3", "A2", "icd10", HIDDEN, "pattern"),
        ("3", "A2", "icd10", HIDDEN, "identity_shaped"),
        ("3", "A2", "icd10", HIDDEN, "code_list")]
    rejected = pl.read_csv(tmp_path / "d-validation" / "rejected_aml.csv", infer_schema=False)
    assert rejected.row(0, named=True)["icd10"] == HIDDEN


@pytest.mark.parametrize("spelling", [0, 1, 2, 3])
def test_personnummer_as_case_id_is_rejected_and_hidden(tmp_path: Path, spelling: int) -> None:
    case_id = spellings(OTHER)[spelling]
    text = validate(tmp_path / "d", [row("A1"), row(case_id)])
    assert_never_shown(text, PNR, OTHER)
    failures = pl.read_csv(tmp_path / "d-validation" / "failures.csv", infer_schema=False)
    assert failures.select("row", "case_id", "column", "value", "rule", "message").rows() == [
        ("3", HIDDEN, "case_id", HIDDEN, "identity_shaped",
         "case_id holds what looks like an identity number; identity numbers belong in "
         "person_id only")]
    rejected = pl.read_csv(tmp_path / "d-validation" / "rejected_aml.csv", infer_schema=False)
    assert rejected["case_id"].to_list() == [HIDDEN]


def test_personnummer_in_a_free_text_column_is_never_copied(tmp_path: Path) -> None:
    note = f"ringde {OTHER} (anhörig) om patienten {PNR.replace('-', '')}"
    rows = [row("A1", notes=note), row("A2", notes=note, sex="3")]
    text = validate(tmp_path / "d", rows, [*HEADER, "notes"])
    assert_never_shown(text, PNR, OTHER)
    assert "ringde" not in text and "anhörig" not in text
    # Named in the summary, never copied.
    assert "column(s) notes are not in the data dictionary" in text
    rejected = pl.read_csv(tmp_path / "d-validation" / "rejected_aml.csv", infer_schema=False)
    assert rejected.columns == ["case_id", "sex", "birth_date", "diagnosis_date", "icd10",
                                "county", "hospital", "vital_status_date", "row", "reasons"]
    # Nor does it reach the analyses: the accepted row's note is hidden.
    from analysis.data.validate import check
    checked = check(pl.DataFrame(rows).select([*HEADER, "notes"]), "aml", "aml.csv")
    assert checked.accepted()["notes"].to_list() == [HIDDEN]


def test_hospital_shaped_like_an_identity_number_is_rejected(tmp_path: Path) -> None:
    validate(tmp_path / "d", [row("A1"), row("A2", hospital=OTHER.replace("-", "")[2:])])
    failures = pl.read_csv(tmp_path / "d-validation" / "failures.csv", infer_schema=False)
    assert failures.select("column", "value", "rule").rows() == [
        ("hospital", HIDDEN, "identity_shaped"), ("hospital", HIDDEN, "code_list")]


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    text = validate(tmp_path / "d", [row("A1"), row("A2", icd10="X" * 100)])
    out = tmp_path / "d-validation"
    failures = pl.read_csv(out / "failures.csv", infer_schema=False)
    assert set(failures["value"]) == {"X" * 59 + "\u2026"}
    assert "X" * 60 not in (out / "failures.csv").read_text()
    assert "X" * 59 + "\u2026" in text
    # The rejected row keeps the value as written, for the registry to correct it.
    rejected = pl.read_csv(out / "rejected_aml.csv", infer_schema=False)
    assert rejected["icd10"].to_list() == ["X" * 100]


def test_values_that_only_contain_digits_are_not_hidden_for_nothing(tmp_path: Path) -> None:
    # Dates, codes and case ids with shorter or longer runs of digits are shown as they are.
    pattern = shape_pattern(["personnummer"])
    for value in ("2020-05-04", "AML-2020-000123", "9861/3", "1201", "12345678901234",
                  "20200504", "1234567890", "AML2020000123"):
        assert not re.search(pattern, value), value
    for value in spellings(PNR):
        assert re.search(pattern, f"x{value}y"), value


def test_fodselsnummer_shape() -> None:
    pattern = shape_pattern(["fodselsnummer"])
    assert re.search(pattern, "id 01017012345 ")
    assert re.search(pattern, "id 410170 12345")          # D-number: day + 40
    assert not re.search(pattern, "0101701234")
    assert not re.search(pattern, "01137012345")          # no month 13
    assert shape_pattern(["pseudonym"]) is None


def test_coordination_numbers_are_shaped_too() -> None:
    # Samordningsnummer: the day of birth plus 60.
    assert re.search(shape_pattern(["personnummer"]), "x 500374-2345")


def test_redact_keeps_the_rest_of_a_message() -> None:
    message = f"aml.csv: value {PNR} and {OTHER.replace('-', '')[2:]} in row 3"
    assert redact(message) == f"aml.csv: value {HIDDEN} and {HIDDEN} in row 3"


def test_an_error_line_never_shows_an_identity_number(monkeypatch, capsys) -> None:
    from analysis import cli
    from analysis.data import dictionary as dd

    def fail(*args, **kwargs):
        raise UserError(f"something about {PNR}")

    monkeypatch.setattr(dd, "subregistry_ids", fail)
    monkeypatch.setattr(sys, "argv", ["bcr", "dictionary", "--format", "csv"])
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"something about {HIDDEN}" in err and PNR not in err


def test_combined_file_hides_an_identity_in_the_subregistry_column(tmp_path: Path) -> None:
    rows = [row("A1") | {"subregistry": "aml", "notes": "x"},
            row("A2") | {"subregistry": OTHER, "notes": OTHER}]
    (tmp_path / "d").mkdir()
    pl.DataFrame(rows).write_csv(tmp_path / "d" / "cases.csv")
    out = tmp_path / "v"
    done = CliRunner().invoke(app, ["validate", str(tmp_path / "d"), "--out", str(out)])
    assert done.exit_code == 1, done.output
    text = done.output + "".join(p.read_text() for p in sorted(out.glob("*.csv")))
    assert_never_shown(text, PNR, OTHER)
    rejected = pl.read_csv(out / "rejected_unknown_subregistry.csv", infer_schema=False)
    assert rejected.columns == ["row", "subregistry", *HEADER[:1], *HEADER[2:], "reasons"]
    assert rejected["subregistry"].to_list() == [HIDDEN]
