"""Heavy libraries are imported only where they are used (issue 18): `bcr --help`, the
start of every command and the survival estimators do not pay for lifelines, plotnine or
matplotlib; the command line's help does not even import polars, numpy or pypandoc."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis.cli import app

HEAVY = ("lifelines", "plotnine", "matplotlib", "statsmodels")
# What the help of the command line and of each command does without (bench/RESULTS.md,
# "Command start"): the data libraries are imported inside the commands' functions.
NOT_FOR_HELP = (*HEAVY, "polars", "numpy", "pypandoc", "scipy", "pandas", "pydantic")
COMMANDS = [c.name for c in app.registered_commands]
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    {code}
except SystemExit:
    pass
print("HEAVY:" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def _heavy_after(code: str, argv: list[str] | None = None,
                 heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = PROBE.format(argv=argv or ["bcr"], code=code, heavy=heavy)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    said = done.stderr.split("HEAVY:")[-1].strip()
    return [m for m in said.split(",") if m]


def test_every_command_is_probed():
    assert len(COMMANDS) >= 13 and "survival" in COMMANDS and "demo" in COMMANDS


@pytest.mark.parametrize("argv", [["bcr", "--help"]] + [["bcr", c, "--help"] for c in COMMANDS],
                         ids=lambda a: " ".join(a[1:]))
def test_the_help_imports_no_data_or_heavy_library(argv):
    assert _heavy_after("runpy.run_module('analysis', run_name='__main__')", argv,
                        NOT_FOR_HELP) == []


def test_a_command_parses_its_options_without_pydantic():
    """typer 0.29 coerces every option value through pydantic (0.2 s of a command's
    start): the options of a command that runs must be parsed without it. The command
    stops at its first check, before reading any data."""
    argv = ["bcr", "survival", "--method", "bogus", "--times", "1,5", "--by", "sex"]
    assert _heavy_after("runpy.run_module('analysis', run_name='__main__')", argv,
                        ("pydantic",)) == []


def test_the_probe_sees_an_import():
    """The probe itself can fail: a command that runs imports polars."""
    assert _heavy_after("import polars", heavy=NOT_FOR_HELP) == ["polars"]


def test_the_survival_estimators_do_not_import_lifelines_or_plots():
    code = ("import analysis.stats.survival, analysis.stats.relative_survival, "
            "analysis.reporting.qmd")
    assert _heavy_after(code) == []
