"""`bcr pseudonymise`: a copy of a data folder with keyed pseudonyms for identity numbers."""

from __future__ import annotations

from pathlib import Path

import typer

from analysis.commands.options import DataOption, data_folder
from analysis.commands.output import print_table
from analysis.privacy.keys import KEY_ENV, load_key


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
    read from --key-file (outside the data folder) or the environment variable
    BCR_PSEUDONYM_KEY and never written; without a strong key (registry.yaml `keys`:
    at least 32 bytes, 10 of them different) nothing is done. The copy's data_folder.yaml
    says identity_scheme: pseudonym, so it is analysed as it is.
    """
    from rich.console import Console

    from analysis.privacy.pseudonymise import pseudonymise_dir

    folder = data_folder(data)
    key = load_key(key_file, "for the pseudonyms", folder)
    summary = pseudonymise_dir(folder, out, key)
    print_table(summary, title=f"Pseudonymised copy in {out}")
    invalid = int(summary["invalid_identities"].sum())
    if invalid:
        Console(stderr=True).print(
            f"[yellow]note:[/] {invalid} identity values were not valid numbers of the "
            "registry's scheme; they were pseudonymised as written.", highlight=False)
