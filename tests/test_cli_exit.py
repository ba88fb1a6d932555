"""The `bcr` program ends without the interpreter's teardown after a command that
succeeded (analysis.cli.program; 0.1 s of a `bcr survival`), with its output flushed and
the exit handlers run; a failed command ends the ordinary way."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from analysis.cli import app

PROGRAM = """
import atexit, sys
import analysis.cli as cli

class Teardown:
    def __del__(self):
        print("torn down", file=sys.stderr)

kept = Teardown()  # freed in the interpreter's teardown, if there is one
command = cli.run

def run():
    atexit.register(lambda: print("exit handler ran", file=sys.stderr))
    command()

cli.run = run
sys.argv = ["bcr", *{args!r}]
cli.program()
"""


def _program(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROGRAM.format(args=list(args))],
                          capture_output=True, text=True)


def test_a_command_that_succeeds_ends_without_teardown_its_output_whole():
    done = _program("dictionary", "--format", "csv")
    assert done.returncode == 0
    assert done.stdout == CliRunner().invoke(app, ["dictionary", "--format", "csv"]).stdout
    assert done.stdout.count("\n") > 50
    assert "exit handler ran" in done.stderr and "torn down" not in done.stderr


def test_a_failed_command_ends_the_ordinary_way():
    done = _program("survival", "--method", "bogus")
    assert done.returncode == 2
    assert "--method 'bogus'" in done.stderr
    assert "exit handler ran" in done.stderr and "torn down" in done.stderr
