"""`bcr demo` then `bcr validate`, end to end, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest


def bcr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    done = bcr("demo", "--out", str(out), "--years", "2019-2025", "--error-rate", "0.002")
    assert done.returncode == 0, done.stderr
    return out


def test_validate_finds_exactly_the_planted_errors(demo, tmp_path):
    done = bcr("validate", str(demo), "--out", str(tmp_path / "val"))
    assert done.returncode == 1, done.stdout + done.stderr
    planted = pl.read_csv(demo / "demo_errors.csv")
    assert planted.height > 0
    failures = pl.read_csv(tmp_path / "val" / "failures.csv", infer_schema=False)
    found = set(failures.select("dataset", "case_id").iter_rows())
    assert found == set(planted.select("subregistry", "case_id").iter_rows())
    for rule in planted.get_column("rule").unique():
        assert rule in set(failures.get_column("rule"))
    # accepted + rejected = read, for every file
    assert "rows rejected" in done.stdout


def test_no_identity_number_in_validation_output(demo, tmp_path):
    done = bcr("validate", str(demo), "--out", str(tmp_path / "val"))
    ids = set()
    for path in demo.glob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        if "person_id" in frame.columns:
            ids |= set(frame.get_column("person_id").drop_nulls())
    written = done.stdout + done.stderr + "".join(
        p.read_text() for p in (tmp_path / "val").glob("*.csv"))
    assert ids and not any(i in written for i in ids)


def test_user_mistakes_give_one_line_and_exit_2(tmp_path):
    done = bcr("validate", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "data folder not found" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "aml.csv").write_text("")
    done = bcr("validate", str(tmp_path))
    assert done.returncode == 2 and "the file is empty" in done.stderr
    assert "Traceback" not in done.stderr


def test_clean_folder_exits_0(tmp_path, demo):
    clean = tmp_path / "clean"
    done = bcr("demo", "--out", str(clean), "--years", "2024-2025", "--error-rate", "0")
    assert done.returncode == 0, done.stderr
    done = bcr("validate", str(clean), "--out", str(tmp_path / "val"))
    assert done.returncode == 0, done.stdout
    assert "All rows accepted" in done.stdout


def test_analysis_commands_count_the_rows_they_leave_out(demo, tmp_path):
    done = bcr("incidence", "--data", str(demo), "--format", "csv", "--out",
               str(tmp_path / "inc.csv"))
    assert done.returncode == 0, done.stderr
    planted = pl.read_csv(demo / "demo_errors.csv").select("subregistry", "case_id").unique()
    line = next(x for x in done.stderr.splitlines() if x.startswith("left out:"))
    assert line.startswith(f"left out: {planted.height} row(s) that failed validation (")


@pytest.mark.parametrize("args, message", [
    (["incidence", "--per", "-5"], "--per -5: rates are per a positive number"),
    (["survival", "--period", "99999"], "--period '99999': years must be 1900-2100"),
    (["survival", "--age-standardise", "icss1"], "--age-standardise applies to relative"),
    (["survival", "--times", "-1"], "survival times must be 0 or more years"),
])
def test_option_mistakes_give_one_line_and_exit_2(demo, args, message):
    done = bcr(*args, "--data", str(demo))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_output_path_mistakes_give_one_line_and_exit_2(demo, tmp_path):
    done = bcr("incidence", "--data", str(demo), "--format", "csv", "--out", str(tmp_path))
    assert done.returncode == 2 and str(tmp_path) in done.stderr, done.stderr
    existing = tmp_path / "file"
    existing.write_text("x")
    done = bcr("demo", "--out", str(existing))
    assert done.returncode == 2 and f"error: {existing}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_survival_cases_file_errors_name_the_users_file(demo, tmp_path):
    cohort = tmp_path / "my_cohort.csv"
    cohort.write_bytes((demo / "aml.csv").read_bytes())
    done = bcr("survival", "--cases", str(cohort))
    assert done.returncode == 2, done.stderr
    assert f"{cohort}: missing required column subregistry" in done.stderr
    assert "give --subregistry ID" in done.stderr and "bcr-survival-" not in done.stderr
    # A file named after its subregistry needs neither.
    done = bcr("survival", "--cases", str(demo / "aml.csv"), "--times", "1")
    assert done.returncode == 0, done.stderr


def test_ctrl_c_in_a_command_says_earlier_outputs_are_unchanged(monkeypatch, capsys):
    # typer turns a KeyboardInterrupt inside a command into a silent exit 130.
    import sys

    from analysis import cli
    from analysis.data import dictionary as dd

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dd, "subregistry_ids", interrupt)
    monkeypatch.setattr(sys, "argv", ["bcr", "dictionary", "--format", "csv"])
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 130
    assert "earlier outputs are unchanged" in capsys.readouterr().err


def test_analysis_tables_are_the_same_bytes_run_after_run(demo):
    # polars' parallel float sums used to differ in the last bits from run to run.
    runs = {bcr("incidence", "--data", str(demo), "--by", "subregistry,region,year",
                "--format", "csv").stdout for _ in range(3)}
    assert len(runs) == 1 and "subregistry" in runs.pop()
