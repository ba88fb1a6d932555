"""The whole pipeline on the Norwegian demo registry, as a user runs it with --registry no:
demo, validate, incidence, survival, coverage, indicators, prevalence, reports in bokmål
and English (HTML, a few documents to keep the run short), and the disclosure audit of
the rare-diagnosis report. No line of the toolkit's code knows that it is Norwegian."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

YEARS = "2014-2025"


def bcr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", "--registry", "no", *args],
                          capture_output=True, text=True)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.csv")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("no") / "data"
    done = bcr("demo", "--out", str(out), "--years", YEARS, "--scale", "0.5",
               "--error-rate", "0")
    assert done.returncode == 0, done.stderr
    return out


def test_the_demo_is_norwegian_and_the_same_seed_gives_the_same_bytes(demo, tmp_path) -> None:
    again = tmp_path / "again"
    assert bcr("demo", "--out", str(again), "--years", YEARS, "--scale", "0.5",
               "--error-rate", "0").returncode == 0
    assert _digest(again) == _digest(demo)
    rare = pl.read_csv(demo / "histio.csv", infer_schema=False)
    assert 50 < rare.height < 400  # a few hundred over the full 26 years, fewer here
    assert (rare["person_id"].str.len_chars() == 11).all()
    assert set(pl.read_csv(demo / "population.csv", infer_schema=False)["county"]) == {
        "03", "11", "15", "18", "31", "32", "33", "34", "39", "40", "42", "46", "50", "55",
        "56"}


def test_validate_accepts_every_row(demo, tmp_path) -> None:
    done = bcr("validate", str(demo), "--out", str(tmp_path / "val"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "histio.csv" in done.stdout


@pytest.mark.parametrize("args", [
    ("incidence", "--by", "region"),
    ("survival", "--by", "region", "--subregistry", "lymphoma"),
    ("coverage", "--by", "region"),
    ("indicators", "--lang", "nb"),
])
def test_the_analyses_run(demo, args) -> None:
    done = bcr(*args, "--data", str(demo))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def _csv(demo: Path, out: Path, *args: str) -> pl.DataFrame:
    done = bcr(*args, "--data", str(demo), "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return pl.read_csv(out)


def test_indicators_name_the_norwegian_measures_in_bokmal(demo, tmp_path) -> None:
    frame = _csv(demo, tmp_path / "ind.csv", "indicators", "--lang", "nb")
    names = dict(frame.select("indicator", "name").unique().iter_rows())
    assert names["clinical_reporting"] == "Klinisk rapporteringsgrad"
    assert frame.filter(pl.col("indicator") == "coverage")["high"].unique().to_list() == [0.98]


def test_prevalence_by_region(demo, tmp_path) -> None:
    frame = _csv(demo, tmp_path / "prev.csv", "prevalence", "--by", "region")
    assert set(frame["region"]) == {"sor_ost", "vest", "midt", "nord"}
    assert str(frame["date"][0]) == "2025-12-31"
    complete = frame.filter(pl.col("duration").is_null(), pl.col("subregistry") == "histio")
    assert complete["n"].sum() > 0
    # limited-duration prevalence never exceeds the complete one
    wide = frame.pivot("duration", index=["subregistry", "region"], values="n")
    assert wide.filter(pl.col("1") > pl.col("5")).is_empty()
    assert wide.filter(pl.col("10") > pl.col("null")).is_empty()


@pytest.mark.parametrize(("lang", "which", "words"), [
    ("nb", ("--region", "nord"), ["Regionrapport Helse Nord", "Nøkkeltall",
                                      "Kvalitetsindikatorer", "Overlevelse"]),
    ("en", ("--subregistry", "histio"), ["Mastocytosis and histiocytic disorders",
                                         "Norwegian blood cancer registries"]),
])
def test_reports_in_bokmal_and_english_pass_the_audit(demo, tmp_path, lang, which,
                                                       words) -> None:
    out = tmp_path / "reports"
    done = bcr("report", *which, "--data", str(demo), "--lang", lang, "--format", "html",
               "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    [html] = list(out.rglob("*.html"))
    text = html.read_text(encoding="utf-8")
    assert f'lang="{lang}"' in text
    for word in words:
        assert word in text, word
    audit = bcr("audit", str(out))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert " 0 exposed" in audit.stdout
