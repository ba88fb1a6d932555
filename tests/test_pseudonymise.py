"""Pseudonymisation: the HMAC, determinism, key handling, linkage and kept formats."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data.identity import pseudonym
from analysis.errors import UserError
from analysis.privacy.keys import KEY_ENV, load_key
from analysis.privacy.pseudonymise import pseudonymise_dir, pseudonyms

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


def test_hmac_sha256_matches_rfc4231() -> None:
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    assert pseudonym("what do ya want for nothing?", b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_pseudonyms_are_deterministic_keyed_and_spelling_free() -> None:
    ids = pl.Series("person_id", ["811218-9876", "198112189876", "121212-1212", None])
    first = pseudonyms(ids, KEY, "personnummer")
    again = pseudonyms(ids, KEY, "personnummer")
    other = pseudonyms(ids, OTHER, "personnummer")
    assert first.equals(again)
    assert first[0] == first[1] == pseudonym("198112189876", KEY)   # same person
    assert first[2] != first[0]
    assert first[3] is None
    assert all(a != b for a, b in zip(first[:3], other[:3], strict=True))
    assert first.name == "person_id"


def test_key_from_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UserError, match="no key for the pseudonyms: give --key-file FILE"):
        load_key(None, "for the pseudonyms")
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert load_key(key_file, "for the pseudonyms") == KEY
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert load_key(None, "for the pseudonyms") == KEY
    with pytest.raises(UserError, match="key file not found"):
        load_key(tmp_path / "missing", "for the pseudonyms")


@pytest.mark.parametrize(("key", "said"), [
    (b"short\n", "(5 bytes, 5 different)"),
    (b"a" * 16, "(16 bytes, 1 different)"),                # the sixteen identical
    (b"ab" * 40, "(80 bytes, 2 different)"),               # long, but two symbols
])
def test_a_weak_key_is_refused_saying_what_is_needed(tmp_path: Path, key: bytes,
                                                     said: str) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(key)
    with pytest.raises(UserError) as info:
        load_key(key_file, "for the pseudonyms")
    assert str(info.value) == (
        f"{key_file}: the key is too weak {said}; a key needs at least 32 bytes of which "
        "at least 10 differ, e.g. the output of `openssl rand -hex 32` in a file outside "
        "the data folder")
    with pytest.raises(UserError, match="too weak"):
        pseudonymise_dir(_folder(tmp_path / "src"), tmp_path / "out", key)
    assert not (tmp_path / "out").exists()


def _folder(root: Path) -> Path:
    root.mkdir()
    # aml as a cp1252 CSV with ';' separators and CRLF, the cancer registry as Parquet.
    (root / "aml.csv").write_bytes(
        "case_id;person_id;sex;hospital\r\n"
        "A1;811218-9876;1;Sjukhus Å\r\n"
        "A2;121212-1220;2;\r\n".encode("cp1252"))
    pl.DataFrame({"person_id": ["198112189876", "19121212-1212"],
                  "diagnosis_date": ["2020-01-01", "2021-02-03"],
                  "icd10": ["C92.0", "C91.0"]}).write_parquet(root / "cancer_registry.parquet")
    (root / "population.csv").write_text("year,county,sex,age,population\n2020,01,1,0,10.5\n")
    return root


def test_folder_is_pseudonymised_with_linkage_and_formats_kept(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    out = tmp_path / "out"
    summary = pseudonymise_dir(src, out, KEY, "personnummer")
    assert summary["file"].to_list() == ["aml.csv", "cancer_registry.parquet", "population.csv"]
    raw = (out / "aml.csv").read_bytes()
    assert raw.startswith(b"case_id;person_id;sex;hospital\r\n")
    assert "Sjukhus Å".encode("cp1252") in raw                     # encoding kept
    aml = pl.read_csv(out / "aml.csv", separator=";", encoding="cp1252", infer_schema=False)
    cr = pl.read_parquet(out / "cancer_registry.parquet")
    assert aml["case_id"].to_list() == ["A1", "A2"]
    assert aml["hospital"].to_list() == ["Sjukhus Å", None]
    assert cr["diagnosis_date"].to_list() == ["2020-01-01", "2021-02-03"]
    # The man of 1981 links across files; nobody else shares his pseudonym.
    assert aml["person_id"][0] == cr["person_id"][0] == pseudonym("198112189876", KEY)
    assert cr["person_id"][1] == pseudonym("191212121212", KEY)
    assert (out / "population.csv").read_bytes() == (src / "population.csv").read_bytes()
    # Neither the identities nor the key are anywhere in the output.
    for f in out.iterdir():
        data = f.read_bytes()
        for secret in (b"811218", b"9876", b"121212", KEY):
            assert secret not in data, (f.name, secret)


def test_refuses_same_folder_and_cli_refuses_without_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _folder(tmp_path / "src")
    with pytest.raises(UserError, match="must differ"):
        pseudonymise_dir(src, src, KEY)
    monkeypatch.delenv(KEY_ENV, raising=False)
    result = CliRunner().invoke(app, ["pseudonymise", "--data", str(src),
                                      "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, UserError)
    assert not (tmp_path / "o").exists()
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    result = CliRunner().invoke(app, ["pseudonymise", "--data", str(src),
                                      "--out", str(tmp_path / "o"), "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert KEY.decode() not in result.output
    assert (tmp_path / "o" / "aml.csv").exists()


def test_pseudonymised_folder_validates_without_check_digits(tmp_path):
    from analysis.data.ingest import load_data
    from analysis.privacy.pseudonymise import pseudonymise_dir
    source = tmp_path / "src"
    source.mkdir()
    from datetime import date

    from conftest import make_pnr
    pnr = make_pnr(date(1950, 3, 14), 23, 1)
    (source / "aml.csv").write_text(
        "case_id,person_id,sex,birth_date,diagnosis_date,icd10,county,vital_status_date\n"
        f"A1,{pnr},1,1950-03-14,2020-05-04,C92.0,12,2025-12-31\n")
    pseudonymise_dir(source, tmp_path / "out", KEY)
    data = load_data(tmp_path / "out")
    assert data.failures().is_empty()
    assert data.cases.get_column("person_id")[0] != pnr


def test_cancer_registry_keeps_the_birth_date_its_identity_number_held(tmp_path):
    # Without it, the minimum age of a subregistry (lymphoma: 18) could not be applied
    # to the pseudonymised cancer registry.
    from datetime import date

    from conftest import make_pnr

    from analysis.data.ingest import load_data
    from analysis.privacy.pseudonymise import pseudonymise_dir
    from analysis.quality.coverage import assign_subregistry
    source = tmp_path / "src"
    source.mkdir()
    adult, child = make_pnr(date(1950, 3, 14), 23, 1), make_pnr(date(2015, 6, 1), 45, 2)
    (source / "cancer_registry.csv").write_text(
        "person_id,diagnosis_date,icd10,morphology,county\n"
        f"{adult},2020-05-04,C83.3,9680/3,12\n{child},2020-05-04,C83.3,9680/3,12\n")
    pseudonymise_dir(source, tmp_path / "out", KEY)
    cancer = load_data(tmp_path / "out").cancer_registry
    assert cancer["birth_date"].to_list() == [date(1950, 3, 14), date(2015, 6, 1)]
    assert assign_subregistry(cancer)["subregistry"].to_list() == ["lymphoma", None]
