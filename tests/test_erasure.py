"""Opt-out erasure: every file, atomically, audited without the identity number.

The kill tests run the erasure in a child process that dies with os._exit (no cleanup,
no finally blocks, as under SIGKILL) at a chosen step, then check what a new run finds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from analysis.data.identity import pseudonym
from analysis.errors import UserError
from analysis.privacy.erasure import AUDIT_LOG, JOURNAL, TMP_SUFFIX, erase, recover
from analysis.privacy.keys import KEY_ENV

PERSON = "811218-9876"           # Skatteverket's example number (valid Luhn digit)
SPELLINGS = ("811218-9876", "8112189876", "198112189876", "19811218-9876")
KEY = b"0123456789abcdef0123456789abcdef"


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "aml.csv").write_text(
        "case_id,person_id,sex\nA1,811218-9876,1\nA2,121212-1212,1\nA3,19811218-9876,1\n")
    (root / "myeloma.csv").write_text("case_id,person_id,sex\nM1,121212-1220,2\n")
    pl.DataFrame({"person_id": ["198112189876", "121212-1220"],
                  "icd10": ["C92.0", "C90.0"]}).write_parquet(root / "cancer_registry.parquet")
    (root / "population.csv").write_text("year,county,sex,age,population\n2020,01,1,0,10.5\n")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.name != AUDIT_LOG}


def _no_identity_anywhere(root: Path) -> None:
    for p in root.iterdir():
        data = p.read_bytes()
        for spelling in (*SPELLINGS, "811218", "8112189876"):
            assert spelling.encode() not in data, (p.name, spelling)


def test_erases_every_spelling_in_every_file_and_keeps_the_rest(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    result = erase(root, "19811218-9876", "personnummer", key=KEY)
    assert result.removed == {"aml.csv": 2, "cancer_registry.parquet": 1}
    assert (root / "aml.csv").read_text() == "case_id,person_id,sex\nA2,121212-1212,1\n"
    assert (root / "myeloma.csv").read_text() == "case_id,person_id,sex\nM1,121212-1220,2\n"
    assert pl.read_parquet(root / "cancer_registry.parquet").to_dict(as_series=False) == {
        "person_id": ["121212-1220"], "icd10": ["C90.0"]}
    _no_identity_anywhere(root)
    lines = (root / AUDIT_LOG).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["rows_removed"] == {"aml.csv": 2, "cancer_registry.parquet": 1}
    # Keyed (HMAC-SHA256, RFC 2104) and domain-separated: checkable by whoever holds the
    # key, and not the pseudonym the files would use.
    assert entry["hash_method"] == "hmac-sha256"
    assert entry["identity_hash"] == pseudonym("erasure-audit:198112189876", KEY)
    assert entry["identity_hash"] != pseudonym("198112189876", KEY)
    # Nothing beside the data but the audit line: no salt, no key.
    assert sorted(p.name for p in root.iterdir()) == sorted([
        AUDIT_LOG, "aml.csv", "cancer_registry.parquet", "myeloma.csv", "population.csv"])


def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    erase(root, PERSON, "personnummer", key=KEY)
    before, log = _snapshot(root), (root / AUDIT_LOG).read_bytes()
    again = erase(root, PERSON, "personnummer", key=KEY)
    assert again.total == 0 and again.removed == {} and again.recovered is None
    assert _snapshot(root) == before
    assert (root / AUDIT_LOG).read_bytes() == log


def test_pseudonymised_files_are_found_by_the_key(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / "aml.csv").write_text(
        f"case_id,person_id\nA1,{pseudonym('198112189876', KEY)}\nA2,{pseudonym('x', KEY)}\n")
    result = erase(root, PERSON, "personnummer", key=KEY)
    assert result.removed == {"aml.csv": 1}


def test_erase_refuses_without_a_strong_key_kept_outside_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from analysis.cli import app

    root = _folder(tmp_path / "d")
    before = _snapshot(root)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UserError, match="too weak"):
        erase(root, PERSON, "personnummer", key=b"k" * 40)
    done = CliRunner().invoke(app, ["erase", "--person", PERSON, "--data", str(root)])
    assert isinstance(done.exception, UserError)
    assert str(done.exception).startswith(
        "no key for the erasure's audit hash: give --key-file FILE or set "
        "BCR_PSEUDONYM_KEY")
    inside = root / "key"
    inside.write_bytes(KEY)
    done = CliRunner().invoke(app, ["erase", "--person", PERSON, "--data", str(root),
                                    "--key-file", str(inside)])
    assert "lies inside the data folder it protects" in str(done.exception)
    inside.unlink()
    assert _snapshot(root) == before and not (root / AUDIT_LOG).exists()
    outside = tmp_path / "key"
    outside.write_bytes(KEY + b"\n")
    done = CliRunner().invoke(app, ["erase", "--person", PERSON, "--data", str(root),
                                    "--key-file", str(outside)])
    assert done.exit_code == 0, done.output
    entry = json.loads((root / AUDIT_LOG).read_text())
    assert entry["identity_hash"] == pseudonym("erasure-audit:198112189876", KEY)


def test_invalid_identity_is_refused_without_echoing_it(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    with pytest.raises(UserError) as info:
        erase(root, "811218-9877", "personnummer", key=KEY)
    assert "811218" not in str(info.value) and "nothing was erased" in str(info.value)
    with pytest.raises(UserError, match="data folder not found"):
        erase(tmp_path / "nope", PERSON, "personnummer", key=KEY)


# --- interrupted runs ----------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import analysis.privacy.erasure as er
    root, step = Path(sys.argv[1]), sys.argv[2]
    if step == "write":
        real = er.write_extract
        calls = []
        def dying_write(frame, fmt, path):
            calls.append(path)
            if len(calls) == 2:          # second file: half its bytes, then killed
                path.write_bytes(b"case_id,pers")
                os._exit(9)
            real(frame, fmt, path)
        er.write_extract = dying_write
    else:
        real = os.replace
        def dying_replace(src, dst):
            real(src, dst)
            if Path(dst).name == "aml.csv":   # journal committed, first file renamed
                os._exit(9)
        er.os.replace = dying_replace
    er.erase(root, "811218-9876", "personnummer", key=b"0123456789abcdef0123456789abcdef")
    sys.exit(0)
""")


def _killed_run(root: Path, step: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(root), step],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr


def test_kill_while_writing_rolls_back(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    before = _snapshot(root)
    _killed_run(root, "write")
    # Originals untouched; only temporary files were left behind.
    strays = [p.name for p in root.iterdir() if p.name.endswith(TMP_SUFFIX)]
    assert strays
    assert {k: v for k, v in _snapshot(root).items() if not k.endswith(TMP_SUFFIX)} == before
    assert not (root / JOURNAL).exists() and not (root / AUDIT_LOG).exists()
    assert recover(root) == "rolled back"
    assert _snapshot(root) == before
    # The next run then does the whole erasure.
    assert erase(root, PERSON, "personnummer", key=KEY).total == 3


def test_kill_after_commit_is_completed(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d")
    _killed_run(root, "replace")
    assert (root / JOURNAL).exists()
    # Half-way: aml.csv is already new, the cancer registry still old.
    assert "811218-9876" not in (root / "aml.csv").read_text()
    assert len(pl.read_parquet(root / "cancer_registry.parquet")) == 2
    # Until it is completed, the folder is not read as data.
    from analysis.data.ingest import load_data
    from analysis.errors import UserError
    with pytest.raises(UserError, match="an erasure was interrupted here"):
        load_data(root)
    result = erase(root, PERSON, "personnummer", key=KEY)
    assert result.recovered == "completed"
    assert result.total == 0                                   # nothing left to erase
    assert not (root / JOURNAL).exists()
    assert len(pl.read_parquet(root / "cancer_registry.parquet")) == 1
    _no_identity_anywhere(root)
    lines = (root / AUDIT_LOG).read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["rows_removed"] == {"aml.csv": 2, "cancer_registry.parquet": 1}
