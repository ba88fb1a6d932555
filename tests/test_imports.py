"""Heavy libraries are imported only where they are used (issue 18): `bcr --help`, the
start of every command and the survival estimators do not pay for lifelines, plotnine or
matplotlib."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("lifelines", "plotnine", "matplotlib", "statsmodels")
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    {code}
except SystemExit:
    pass
print("HEAVY:" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def _heavy_after(code: str, argv: list[str] | None = None) -> list[str]:
    probe = PROBE.format(argv=argv or ["bcr"], code=code, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    said = done.stderr.split("HEAVY:")[-1].strip()
    return [m for m in said.split(",") if m]


@pytest.mark.parametrize("argv", [["bcr", "--help"], ["bcr", "survival", "--help"]])
def test_the_command_line_starts_without_heavy_libraries(argv):
    assert _heavy_after("runpy.run_module('analysis', run_name='__main__')", argv) == []


def test_the_survival_estimators_do_not_import_lifelines_or_plots():
    code = ("import analysis.stats.survival, analysis.stats.relative_survival, "
            "analysis.reporting.qmd")
    assert _heavy_after(code) == []
