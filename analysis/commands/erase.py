"""`bcr erase`: remove a person who opts out (reservation) from every dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from analysis.commands.options import DataOption, data_folder
from analysis.errors import UserError
from analysis.privacy.keys import KEY_ENV, load_key


def erase(
    person: str = typer.Option(..., "--person",
                               help="The person's identity number, or - to read it from "
                               "standard input (keeps it out of the shell history)."),
    data: DataOption = None,
    key_file: Path | None = typer.Option(None, "--key-file",
                                         help="The registry's secret key, kept outside the "
                                         f"data folder (else ${KEY_ENV}): keys the audit "
                                         "hash and finds the person in pseudonymised "
                                         "files."),
) -> None:
    """Erase every record of one person from every extract of a data folder.

    All subregistry extracts and the cancer-registry extract (unless registry.yaml's
    opt_out keeps a dataset, e.g. a statutory cancer registry) are rewritten at once: an
    interrupted run leaves every file as before or as after, and the next run finishes
    or undoes it. An audit line (time, an HMAC of the identity keyed with the registry's
    secret key, rows removed per file) is appended to erasure_audit.log in the data
    folder; the identity number itself is written nowhere. Without the key (--key-file,
    or BCR_PSEUDONYM_KEY; never a file inside the data folder) nothing is erased. Running
    it again changes nothing.
    """
    from rich.console import Console

    from analysis.privacy.erasure import AUDIT_LOG
    from analysis.privacy.erasure import erase as erase_person

    folder = data_folder(data)
    key = load_key(key_file, "for the erasure's audit hash", folder)
    if person == "-":
        person = sys.stdin.readline().strip()
    if not person.strip():
        raise UserError("--person: no identity number given")
    result = erase_person(folder, person, key=key)
    console = Console(stderr=True)
    for name in result.kept:
        console.print(f"{name}: kept, not searched (registry.yaml opt_out keeps this "
                      "dataset's records)", highlight=False)
    if result.recovered:
        console.print(f"an interrupted earlier erasure in {data} was {result.recovered}")
    if not result.total:
        console.print(f"no records of this person in {data}; nothing was changed")
        return
    for name, n in result.removed.items():
        console.print(f"{name}: {n} row{'s' if n != 1 else ''} removed", highlight=False)
    console.print(f"recorded in {Path(data) / AUDIT_LOG}", highlight=False)
