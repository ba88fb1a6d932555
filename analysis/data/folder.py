"""Settings of one data folder (``data_folder.yaml``), overridden by command-line options.

A data folder may hold a ``data_folder.yaml`` with any of these settings; each one
overrides registry.yaml for the files of that folder only:

``identity_scheme``: ``personnummer``, ``fodselsnummer`` or ``pseudonym``
    What ``person_id`` holds here (default: registry.yaml's ``identity_scheme``).
    ``pseudonym`` reads research serial numbers (löpnummer) and keyed pseudonyms: any
    non-empty value, with no check digit and no birth date or sex encoded. Same as the
    ``--id-scheme`` option.
``extract_date``: ``YYYY-MM-DD``
    The day the extract was taken. A later date in any file is rejected (rule
    ``future_date``; a date after today always is), and analyses measure coverage and
    timeliness at it (default: the latest vital-status date).
``sheet``: a sheet name, or a mapping of dataset to sheet name
    The worksheet read from an Excel file with several sheets (``sheet: Data``, or
    ``sheet: {aml: Data, population: Blad1}``). Same as the ``--sheet`` option.

``bcr pseudonymise`` writes ``identity_scheme: pseudonym`` into its copy and keeps the
other settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from analysis.data import dictionary as dd
from analysis.data.identity import SCHEMES
from analysis.errors import UserError

FOLDER_SETTINGS = "data_folder.yaml"
KEYS = ("identity_scheme", "extract_date", "sheet")


@dataclass(frozen=True)
class FolderSettings:
    """The settings in force for one data folder (see the module docstring)."""

    identity_scheme: str
    extract_date: date | None = None
    sheet: str | dict[str, str] | None = None

    def sheet_for(self, dataset: str) -> str | None:
        """The worksheet to read for a dataset (aml, population, ...), if one is named."""
        return self.sheet.get(dataset) if isinstance(self.sheet, dict) else self.sheet


def read_file(directory: Path) -> dict[str, Any]:
    """The settings written in a folder's data_folder.yaml (empty when there is none)."""
    path = directory / FOLDER_SETTINGS
    if not path.exists():
        return {}
    import yaml  # here: most folders have no data_folder.yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        raise UserError(f"{path}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: must hold settings as 'name: value' lines "
                        f"({', '.join(KEYS)})")
    unknown = sorted(map(str, set(raw) - set(KEYS)))
    if unknown:
        raise UserError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: "
                        f"{', '.join(KEYS)})")
    return raw


def _extract_date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{where}: extract_date '{value}': write a date as YYYY-MM-DD"
                        ) from None


def _sheet(value: Any, where: str) -> str | dict[str, str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise UserError(f"{where}: sheet must be a sheet name or a mapping of dataset to "
                    "sheet name (e.g. {aml: Data})")


def folder_settings(directory: Path, identity_scheme: str | None = None,
                    extract_date: date | None = None,
                    sheet: str | None = None) -> FolderSettings:
    """The settings for a data folder: each option given, else data_folder.yaml's, else
    the registry's identity scheme and no extract date or sheet."""
    raw = read_file(directory)
    where = str(directory / FOLDER_SETTINGS)
    scheme = (identity_scheme or raw.get("identity_scheme")
              or dd.registry().get("identity_scheme", "pseudonym"))
    if scheme not in SCHEMES:
        source = "--id-scheme" if identity_scheme else where
        raise UserError(f"{source}: unknown identity scheme '{scheme}' (use one of "
                        f"{', '.join(SCHEMES)}; pseudonym also reads research serial "
                        "numbers)")
    return FolderSettings(scheme,
                          extract_date or _extract_date(raw.get("extract_date"), where),
                          sheet or _sheet(raw.get("sheet"), where))
