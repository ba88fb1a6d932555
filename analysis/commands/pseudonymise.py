"""`bcr pseudonymise`: a copy of a data folder with keyed pseudonyms for identity numbers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from analysis.commands.options import DataOption, data_folder
from analysis.commands.output import print_table
from analysis.privacy.pseudonymise import KEY_ENV, load_key, pseudonymise_dir


def pseudonymise(
    data: DataOption = None,
    out: Path = typer.Option(..., "--out", help="Folder for the pseudonymised copy."),
    key_file: Path | None = typer.Option(None, "--key-file",
                                         help=f"File holding the key (else ${KEY_ENV})."),
) -> None:
    """Replace every identity number with a keyed HMAC-SHA256 pseudonym.

    All subregistry extracts and the cancer-registry extract are written to --out with
    person_id replaced, the same person getting the same pseudonym in every file; other
    columns and file formats are kept, population and life table are copied. The key is
    read from --key-file or the environment variable BCR_PSEUDONYM_KEY and never written;
    without a key nothing is done. Set identity_scheme: pseudonym in the data dictionary
    to analyse the copy.
    """
    key = load_key(key_file)
    summary = pseudonymise_dir(data_folder(data), out, key)
    print_table(summary, title=f"Pseudonymised copy in {out}")
    invalid = int(summary["invalid_identities"].sum())
    if invalid:
        Console(stderr=True).print(
            f"[yellow]note:[/] {invalid} identity values were not valid numbers of the "
            "registry's scheme; they were pseudonymised as written.", highlight=False)
