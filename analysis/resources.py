"""Where the toolkit's own files are: the data dictionary, the templates and _quarto.yml.

They live at the top of the repository (the design card's layout). A wheel carries them
inside the package as ``analysis/_resources/`` (pyproject.toml's force-include), beside
this module; a checkout or an editable install uses the repository's.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


@cache
def root() -> Path:
    """The folder holding ``data_dictionary/``, ``templates/`` and ``_quarto.yml``."""
    # The package is installed as files (a wheel is unpacked), so its folder is this
    # module's: no importlib.resources, whose import is 5 ms of every start.
    package = Path(__file__).resolve().parent
    packaged = package / "_resources"
    return packaged if packaged.is_dir() else package.parent


def data_dictionary() -> Path:
    """The default registry's data dictionary (``BCR_DICTIONARY`` may point elsewhere)."""
    return root() / "data_dictionary"


def registries() -> Path:
    """The further shipped registries' configurations, one folder each, named by the
    registry (``data_dictionary/registries/<name>/``, selected with ``--registry``)."""
    return data_dictionary() / "registries"


def cache_dir() -> Path:
    """Where the toolkit keeps what it can make again (the demo registry, the parsed data
    dictionary): $BCR_CACHE_DIR, default ~/.cache/bcr."""
    return Path(os.environ.get("BCR_CACHE_DIR") or Path.home() / ".cache" / "bcr")


def templates() -> Path:
    """The jinja2 templates of the reports."""
    return root() / "templates"


def quarto_config() -> Path:
    """The root ``_quarto.yml``: the base of every document's options."""
    return root() / "_quarto.yml"
