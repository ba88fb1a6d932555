"""The `bcr` command line: one subcommand per task, each defined in analysis/commands/."""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console

from analysis import __version__
from analysis.dictionary import DictionaryError
from analysis.errors import UserError

app = typer.Typer(
    name="bcr",
    help="Statistics and reports for blood-cancer quality registries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"bcr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the toolkit version and exit."),
) -> None:
    """Statistics and reports for blood-cancer quality registries."""


def _register() -> None:
    # Subcommands, in the order `bcr --help` lists them. One line each.
    from analysis.commands import validate; app.command("validate")(validate.validate)
    from analysis.commands import dictionary; app.command("dictionary")(dictionary.dictionary)
    # -- further subcommands below this line --
    from analysis.commands import demo; app.command("demo")(demo.demo)
    from analysis.commands import incidence; app.command("incidence")(incidence.incidence)
    from analysis.commands import coverage; app.command("coverage")(coverage.coverage)
    from analysis.commands import indicators; app.command("indicators")(indicators.indicators)
    from analysis.commands import survival; app.command("survival")(survival.survival)
    from analysis.commands import pseudonymise as ps; app.command("pseudonymise")(ps.pseudonymise)
    from analysis.commands import erase; app.command("erase")(erase.erase)
    from analysis.commands import publish; app.command("publish")(publish.publish)
    from analysis.commands import report; app.command("report")(report.report)
    return None


_register()


def run() -> None:
    """Entry point: a user's mistake is one red line and exit code 2, not a traceback."""
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except (UserError, DictionaryError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
