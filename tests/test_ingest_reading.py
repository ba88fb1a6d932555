"""The shortcuts of ingest (issue 18) give what the full work gives: values are stripped
only in a CSV file that holds a blank, validation decodes identity numbers without their
canonical spelling, and the cases are stacked column by column.

Every expected value is written out by hand; the blanks are those polars' strip_chars()
removes (Unicode White_Space)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from analysis.data import dictionary as dd
from analysis.data.identity import parse
from analysis.data.ingest import load_data
from analysis.data.readers import blank_scan, read_table

# Space, tab, vertical tab, form feed, next line, no-break space, thin space, ideographic
# space: one byte, two bytes (C2 lead) and three bytes (E2, E3 lead) in UTF-8.
BLANKS = [" ", "\t", "\x0b", "\x0c", "\u0085", "\u00a0", "\u2009", "\u3000"]


@pytest.mark.parametrize("blank", BLANKS)
def test_a_value_with_surrounding_blanks_is_stripped(tmp_path: Path, blank: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(f"county,note\n01,{blank}a{blank}\n14,b\n", encoding="utf-8")
    assert blank_scan(path)[0]
    assert read_table(path).rows() == [("01", "a"), ("14", "b")]


def test_a_value_of_blanks_only_is_null(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("county,note\n01,\u00a0 \n", encoding="utf-8")
    assert read_table(path).rows() == [("01", None)]


def test_a_file_without_blanks_is_read_as_written_with_quoted_empties_null(
        tmp_path: Path) -> None:
    """Windows line ends are no blanks (polars removes the return); a quoted "" is an
    empty text, null like an empty field."""
    path = tmp_path / "x.csv"
    path.write_bytes(b'county,note,n\r\n01,"",1\r\n14,,2\r\n12,\xc3\x85re,3\r\n')
    assert blank_scan(path) == (False, True)
    assert read_table(path).rows() == [("01", None, "1"), ("14", None, "2"),
                                       ("12", "Åre", "3")]


def test_a_quoted_value_beginning_or_ending_in_a_newline_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'county,note\n01,"a\n"\n14,"\r\nb"\n')
    assert blank_scan(path) == (False, True)
    assert read_table(path).rows() == [("01", "a"), ("14", "b")]


def test_a_return_at_the_end_of_a_scanned_block_is_judged_with_the_next(tmp_path: Path) -> None:
    """The scan reads 4 MiB at a time: a return that is the block's last byte ends a line
    when a newline follows, and is a blank (kept by polars) when not."""
    path = tmp_path / "x.csv"
    head = b"a\n" + b"x" * (2**22 - 3) + b"\r"
    assert len(head) == 2**22
    path.write_bytes(head + b"\ny\n")
    assert blank_scan(path) == (False, False)
    path.write_bytes(head + b"y\n")
    assert blank_scan(path)[0]
    assert read_table(path).rows() == [("x" * (2**22 - 3) + "\ry",)]


# 121212-1212 ("Tolvan"): Luhn products all 2, sum 18 -> check 2; serial 121 -> man.
# 121212-1213: the same with a wrong check digit.
def test_validation_decodes_identity_numbers_without_their_canonical_spelling() -> None:
    ids = pl.Series(["19121212-1212", "121212-1213", "", None], dtype=pl.String)
    part = parse(ids, "personnummer", dt.date(2024, 6, 15), ("valid", "birth_date", "sex"))
    assert part.columns == ["valid", "birth_date", "sex"]
    assert part.rows() == [(True, dt.date(1912, 12, 12), 1), (False, None, None),
                           (False, None, None), (False, None, None)]
    full = parse(ids, "personnummer", dt.date(2024, 6, 15))
    assert full["canonical"].to_list() == ["191212121212", "121212-1213", "", None]


def test_extracts_with_different_variables_stack_with_nulls(tmp_path: Path) -> None:
    """An AML-only variable is null on the CML rows; each extract's rows keep their
    order, AML's first (the dictionary's order of subregistries)."""
    aml_only = next(f.name for f in dd.fields("aml")
                    if f.name not in {g.name for g in dd.fields("cml")})
    common = ("person_id,sex,birth_date,diagnosis_date,county,hospital,"
              "vital_status_date")
    row = "19121212-1212,1,1912-12-12,1980-05-04,12,1201,1990-12-31"
    (tmp_path / "cml.csv").write_text(f"case_id,icd10,{common}\nK1,C92.1,{row}\n")
    (tmp_path / "aml.csv").write_text(
        f"case_id,icd10,{common}\nA1,C92.0,{row}\nA2,C92.0,{row}\n")
    cases = load_data(tmp_path).cases
    assert cases.select("case_id", "subregistry").rows() == [
        ("A1", "aml"), ("A2", "aml"), ("K1", "cml")]
    assert cases[aml_only].null_count() == 3
    assert cases["age"].to_list() == [67, 67, 67]
    assert cases["region"].null_count() == 0


def test_each_file_in_the_summary_has_its_own_sha256(tmp_path: Path) -> None:
    """The checksums are computed in a thread beside the checking: each file's row holds
    the digest of that file's bytes (hashlib over the whole file), in the summary's order;
    a file with a header and no rows too."""
    common = "person_id,sex,birth_date,diagnosis_date,county,hospital,vital_status_date"
    row = "19121212-1212,1,1912-12-12,1980-05-04,12,1201,1990-12-31"
    (tmp_path / "cml.csv").write_text(f"case_id,icd10,{common}\nK1,C92.1,{row}\n")
    (tmp_path / "aml.csv").write_text(f"case_id,icd10,{common}\nA1,C92.0,{row}\n")
    (tmp_path / "cancer_registry.csv").write_text(
        "person_id,diagnosis_date,icd10,morphology,county\n")
    summary = load_data(tmp_path).summary()
    files = summary["file"].to_list()
    assert files == ["aml.csv", "cml.csv", "cancer_registry.csv"]
    assert summary["sha256"].to_list() == [
        hashlib.sha256((tmp_path / f).read_bytes()).hexdigest() for f in files]
    assert len(set(summary["sha256"])) == 3
