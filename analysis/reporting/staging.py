"""The output folder of a run: its lock (one run at a time), what a killed run left
there, and documents swapped into place with renames only (DESIGN.md §9)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from analysis.errors import UserError

LOCK_FILE = ".bcr-publish.lock"


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the output folder's lock for the run (released when the process ends, also
    when it is killed); a second run into the same folder stops with a clear message."""
    path = out_dir / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            raise UserError(f"another run (process {pid}) is writing into {out_dir}; wait "
                            f"for it to finish, or use another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def clean_leftovers(out_dir: Path) -> None:
    """Remove what a killed run left in `out_dir`: staging folders, and a document's
    previous version set aside mid-swap (put back when the new one is not there)."""
    for path in sorted(out_dir.iterdir()):
        if path.name.startswith(".staging-"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".old-"):
            final = path.with_name(path.name[len(".old-"):])
            if final.exists():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.rename(final)


def swap_into_place(staged: Path, final: Path) -> None:
    """Replace `final` by `staged` with renames only (same file system)."""
    old = final.with_name(f".old-{final.name}")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    if old.exists():
        shutil.rmtree(old)
