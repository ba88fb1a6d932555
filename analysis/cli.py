"""The `bcr` command line: one subcommand per task, each defined in analysis/commands/."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from analysis import __version__
from analysis.commands import (
    audit,
    coverage,
    demo,
    dictionary,
    erase,
    incidence,
    indicators,
    prevalence,
    pseudonymise,
    publish,
    report,
    survival,
    validate,
)
from analysis.data.dictionary import REGISTRY_ENV, DictionaryError, registry_dir
from analysis.errors import UserError

app = typer.Typer(
    name="bcr",
    help="Statistics and reports for blood-cancer quality registries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"bcr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the toolkit version and exit."),
    registry: str | None = typer.Option(
        None, "--registry", envvar=REGISTRY_ENV,
        help="The shipped registry configuration every command uses (default: the first "
             "of data_dictionary/; others in data_dictionary/registries/). BCR_DICTIONARY, "
             "a folder of your own, wins over it."),
) -> None:
    """Statistics and reports for blood-cancer quality registries."""
    if registry:
        registry_dir(registry)  # an unknown name is a clear error
        # Through the environment, so that the worker processes of a run read it too.
        os.environ[REGISTRY_ENV] = registry


# The subcommands, in the order `bcr --help` lists them.
for command in (demo.demo, validate.validate, dictionary.dictionary, incidence.incidence,
                survival.survival, prevalence.prevalence, coverage.coverage,
                indicators.indicators, publish.publish, report.report, audit.audit,
                pseudonymise.pseudonymise, erase.erase):
    app.command(command.__name__)(command)


def _say(line: str) -> None:
    """One line in rich markup on stderr (rich imported only when there is something to
    say: `bcr --help` and a command's start do without it)."""
    from rich.console import Console

    Console(stderr=True).print(line, highlight=False, soft_wrap=True)


def _interrupted() -> NoReturn:
    """Say so and exit 130: the run has already removed its staging folder and killed
    its workers."""
    import multiprocessing.util

    _say("[bold red]interrupted:[/] stopped before finishing; files are written only when "
         "a run completes, so earlier outputs are unchanged")
    # multiprocessing's exit step now (a killed pool's semaphores released at once,
    # rather than its resource tracker warning about them at the very end).
    multiprocessing.util._exit_function()
    sys.exit(130)


def _fail(message: str) -> NoReturn:
    """A user's mistake as one red line and exit code 2; a value shaped like an identity
    number never reaches it (analysis.data.identity.redact, imported here: it needs
    polars)."""
    from analysis.data.identity import redact

    _say(f"[bold red]error:[/] {redact(message)}")
    sys.exit(2)


def run() -> None:
    """Entry point: a user's mistake is one red line and exit code 2, not a traceback."""
    try:
        app()
    except (UserError, DictionaryError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:
        # typer turns Ctrl-C inside a command into a silent exit 130.
        if exc.code == 130:
            _interrupted()
        raise
    except OSError as exc:  # e.g. --out names a folder, or a file that must not exist
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")


def program() -> None:
    """The `bcr` program (its console script and `python -m analysis`): :func:`run`, and
    after a command that succeeded, the end of the process without the interpreter's
    teardown. Freeing polars, numpy and the rest module by module and object by object
    takes 0.1 s, a tenth of a `bcr survival` (bench/RESULTS.md). The exit handlers still
    run (this one is registered first, so it runs last: after multiprocessing's and the
    temporary folders'), and the output is flushed; a failed command, or output that
    cannot be flushed (a closed pipe), ends the ordinary way."""
    import atexit

    succeeded: list[bool] = []

    def end_without_teardown() -> None:
        if succeeded != [True]:
            return
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            return
        os._exit(0)

    atexit.register(end_without_teardown)
    try:
        run()
    except SystemExit as exc:
        succeeded.append(exc.code in (0, None))
        raise
    succeeded.append(True)
