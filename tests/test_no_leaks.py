"""The scan test: no identity number of the input appears in any output, log or cache.

Every subcommand `bcr --help` lists is run on a small demo registry, in-process, with the
working folder and the cache folder inside one scanned tree. Everything a command prints
(stdout, stderr, a crash's traceback) and every file it writes is searched for the
identity numbers of the input, in any spelling (10 or 12 digits, with or without
separator). Commands this file has no arguments for are run with --data/--out if they
take them, so a new subcommand is scanned too.
"""

from __future__ import annotations

import re
import shutil
import traceback
import zipfile
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from analysis.cli import app
from analysis.privacy.erasure import AUDIT_LOG, identity_files, read_extract

# Commands whose output is identity-bearing by design: the demo writes the (made-up)
# input itself. `publish` renders the documents of `report` (scanned) fifteen times over,
# which would take minutes.
NOT_SCANNED = {"demo", "publish"}
ID_PATTERN = re.compile(rb"(?<![0-9A-Fa-f])(?:\d{2})?\d{6}[-+]?\d{4}(?![0-9A-Fa-f])")
KEY = "0123456789abcdef0123456789abcdef"


def _invoke(args: list[str]) -> tuple[int | None, str]:
    result = CliRunner().invoke(app, args)
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += "".join(traceback.format_exception(result.exception))
    return result.exit_code, text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "data"
    code, text = _invoke(["demo", "--out", str(root), "--years", "2021-2025",
                          "--scale", "0.05", "--error-rate", "0.01"])
    assert code == 0, text
    return root


def _input_ids(root: Path) -> set[str]:
    """The last ten digits of every identity in the input: one key per spelling family."""
    ids: set[str] = set()
    for ex in identity_files(root):
        frame, _ = read_extract(ex.path)
        for col in ex.columns:
            for v in frame[col].drop_nulls().cast(pl.String).to_list():
                digits = re.sub(r"\D", "", v)
                if len(digits) >= 10:
                    ids.add(digits[-10:])
    return ids


def _text_of(path: Path) -> bytes:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path).write_csv().encode()
    if suffix in (".xlsx", ".zip"):
        with zipfile.ZipFile(path) as z:
            return b"\n".join(z.read(n) for n in z.namelist())
    if suffix == ".pdf":
        from pypdf import PdfReader
        return "\n".join(p.extract_text() or "" for p in PdfReader(path).pages).encode()
    return path.read_bytes()


def _leaks(blob: bytes, ids: set[str]) -> list[str]:
    found = {re.sub(rb"\D", b"", m.group())[-10:].decode() for m in ID_PATTERN.finditer(blob)}
    return sorted(found & ids)


def _args_for(name: str, command: object, data: Path, work: Path, key: Path,
              person: str, erase_dir: Path) -> list[str]:
    known = {
        "validate": [str(data), "--out", str(work / "validation")],
        "dictionary": ["--format", "csv", "--out", str(work / "dictionary.csv")],
        "incidence": ["--data", str(data), "--by", "region,sex"],
        "coverage": ["--data", str(data), "--measure", "discrepancies",
                     "--out", str(work / "discrepancies.csv")],
        "indicators": ["--data", str(data), "--by", "hospital", "--funnel"],
        "survival": ["--data", str(data), "--by", "region"],
        "pseudonymise": ["--data", str(data), "--out", str(work / "pseudonymised"),
                         "--key-file", str(key)],
        "erase": ["--person", person, "--data", str(erase_dir), "--key-file", str(key)],
        "report": ["--region", "syd", "--data", str(data), "--format", "html",
                   "--out", str(work / "reports")],
        "audit": [str(work / "reports")],  # the release `report` wrote
    }
    if name in known:
        return known[name]
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    args = ["--data", str(data)] if "--data" in options else []
    return args + (["--out", str(work / f"out-{name}")] if "--out" in options else [])


def test_no_identity_number_leaks(demo: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _input_ids(demo)
    assert len(ids) > 100                       # the scan has something to find
    assert _leaks(b"x 19" + next(iter(ids)).encode() + b" y", ids)   # and finds it
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("BCR_CACHE_DIR", str(work / "cache"))
    monkeypatch.setenv("BCR_FIGURE_CACHE", str(work / "figures"))  # scanned too
    key = tmp_path / "key"
    key.write_text(KEY)
    erase_dir = tmp_path / "erase"
    shutil.copytree(demo, erase_dir)
    person = read_extract(identity_files(demo)[0].path)[0]["person_id"][0]

    commands = typer.main.get_command(app).commands  # what `bcr --help` lists
    ran, printed = [], {}
    for name, command in commands.items():
        if name in NOT_SCANNED:
            continue
        args = _args_for(name, command, demo, work, key, person, erase_dir)
        _, printed[name] = _invoke([name, *args])
        ran.append(name)
    assert {"validate", "pseudonymise", "erase"} <= set(ran)

    leaks = {f"output of bcr {name}": _leaks(text.encode(), ids)
             for name, text in printed.items()}
    files = [p for p in work.rglob("*") if p.is_file()]
    files += [erase_dir / AUDIT_LOG]
    leaks |= {str(p.relative_to(tmp_path)): _leaks(_text_of(p), ids) for p in files}
    assert {k: v[:3] for k, v in leaks.items() if v} == {}
    # The erasure did happen, so its audit line was scanned.
    assert (erase_dir / AUDIT_LOG).exists()
