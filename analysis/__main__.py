"""`python -m analysis` runs the `bcr` command."""

from analysis.cli import run

run()
