"""`python -m analysis` runs the `bcr` command."""

from analysis.cli import program

program()
