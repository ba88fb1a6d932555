"""Figures kept between runs (opt-in): ``BCR_FIGURE_CACHE=DIR`` keeps every drawn figure
in DIR, so that a run whose figures did not change (an analyst editing a template, the
test suite publishing the same demo again) copies them instead of drawing them.

A figure's file is named by its key (the drawing function and its arguments, see
``qmd.FigureSpec.key``) inside a folder named by the figure code's version (the figure
modules' source and the plotnine and matplotlib versions), so a changed figure is drawn
again. The figures hold only what the documents publish; the folder is the user's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from functools import cache
from importlib.metadata import version
from pathlib import Path

CACHE_ENV = "BCR_FIGURE_CACHE"
_SOURCES = ("figures.py", "panel_figures.py")


@cache
def _code_version() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((Path(__file__).parent / name).read_bytes())
    for package in ("plotnine", "matplotlib", "mizani"):
        digest.update(f"{package}={version(package)}".encode())
    return digest.hexdigest()[:16]


def kept_folder() -> Path | None:
    """The folder of kept figures for this code version, or None (not asked for)."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() / _code_version() if root else None


def take(keys: Iterable[str], run_cache: Path) -> None:
    """Copy the kept figures among ``keys`` into the run's figure cache."""
    kept = kept_folder()
    if kept is None:
        return
    for key in keys:
        source = kept / f"{key}.svg"
        if source.exists():
            run_cache.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, run_cache / source.name)


def keep(run_cache: Path) -> None:
    """Keep the run's drawn figures (each written whole: copied, then renamed)."""
    kept = kept_folder()
    if kept is None or not run_cache.exists():
        return
    kept.mkdir(parents=True, exist_ok=True)
    for figure in run_cache.glob("*.svg"):
        target = kept / figure.name
        if not target.exists():
            partial = kept / f".{figure.name}.{os.getpid()}"
            shutil.copyfile(figure, partial)
            os.replace(partial, target)
