"""Opt-out (reservation): erase every record of one person from a data folder, atomically.

The files the toolkit manages that hold identities are the subregistry extracts
(``<subregistry>.*``, ``cases.*``) and the cancer-registry extract, each in its own format
(CSV, Parquet, Excel). :func:`erase` removes the person's rows from all of them, except a
dataset the configuration keeps (registry.yaml ``opt_out``: a statutory register whose
records stay when a person opts out of the quality registry), so that an interrupted run
leaves every file either as before or as after:

1. every changed file is written in full to a temporary name beside it and fsynced;
2. a journal (``.erasure-journal.json``) naming the temporary files is written and
   fsynced: this is the commit point;
3. each temporary file is renamed over its original (``os.replace`` is atomic), the audit
   line is appended and the journal removed.

A run killed before step 2 leaves only temporary files, which :func:`recover` deletes
(roll back); a run killed after it is completed by :func:`recover` (roll forward). Every
run recovers first.

The audit log ``erasure_audit.log`` (JSON lines) records the time, a one-way hash of the
identity and the rows removed per file, never the identity number. A plain hash would not
do: there are only some 40 million plausible personnummer, so anyone could hash them all
and look the erased person up; nor would a salt kept in the data folder, since whoever
holds the folder holds the salt. The hash is HMAC-SHA256 (RFC 2104), keyed with the
registry's secret key (``--key-file`` or ``BCR_PSEUDONYM_KEY``, kept outside the data
folder; analysis/privacy/keys.py), of a prefixed identity (so it differs from the
person's pseudonym): it cannot be recomputed without the key, and whoever holds the key
can check whether a given person's erasure was recorded. Without a key nothing is
erased.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.data import dictionary as dd
from analysis.data.identity import canonical, is_valid, pseudonym
from analysis.data.readers import (
    JOURNAL,
    SUFFIXES,
    decode,
    detect_separator,
    encoding_of,
    find_file,
    unreadable_csv,
)
from analysis.errors import UserError
from analysis.privacy.keys import check_key

AUDIT_LOG = "erasure_audit.log"
TMP_SUFFIX = ".erase-tmp"


# --- the extract files holding identities --------------------------------------------------

@dataclass(frozen=True)
class Extract:
    """One file of a data folder that holds identity numbers."""

    dataset: str
    path: Path
    columns: tuple[str, ...]  # the identity columns, as the file spells them


@dataclass(frozen=True)
class _Format:
    """How a CSV file was written, so that a rewrite keeps it."""

    encoding: str = "utf-8"
    bom: bool = False
    separator: str = ","
    newline: str = "\n"


def _identity_columns(dataset: str, header: list[str]) -> tuple[str, ...]:
    aliases = dd.registry().get("column_aliases") or {}
    wanted = {f.name for f in dd.fields(dataset) if f.identity}
    return tuple(h for h in header
                 if h.strip().lower() in wanted or aliases.get(h.strip().lower()) in wanted)


OPT_OUT_ACTIONS = ("erase", "keep")


def opt_out_action(dataset: str) -> str:
    """What an opt-out does to a dataset (registry.yaml ``opt_out.datasets``): ``erase``
    (the default) or ``keep`` (e.g. a statutory cancer registry, which keeps its records
    when a person opts out of a quality registry). The subregistry extracts are
    ``quality_registry``."""
    rules = (dd.registry().get("opt_out") or {}).get("datasets") or {}
    source = "cancer_registry" if dataset == "cancer_registry" else "quality_registry"
    action = rules.get(source, "erase")
    if action not in OPT_OUT_ACTIONS:
        raise dd.DictionaryError(f"registry.yaml: opt_out.datasets.{source} must be erase "
                                 f"or keep, not {action!r}")
    return action


def identity_files(directory: Path) -> list[Extract]:
    """The extracts of a data folder that hold identity numbers, in a fixed order."""
    names = [*dd.subregistry_ids(), "cases", "cancer_registry"]
    out = []
    for name in names:
        path = find_file(directory, name)
        if path is None:
            continue
        frame, _ = read_extract(path)
        # core fields carry the identity: any subregistry's will do for a combined file
        dataset = dd.subregistry_ids()[0] if name == "cases" else name
        cols = _identity_columns(dataset, frame.columns)
        if not cols:
            raise UserError(f"{path}: no identity column (person_id) found")
        out.append(Extract(name, path, cols))
    return out


def read_extract(path: Path) -> tuple[pl.DataFrame, _Format | None]:
    """A file's rows, every value as the file holds it, and how to write it back."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path), None
    if suffix == ".xlsx":
        import fastexcel

        sheets = fastexcel.read_excel(path).sheet_names
        if len(sheets) > 1:  # a rewrite would keep one sheet and lose the others
            raise UserError(f"{path}: cannot rewrite a workbook of {len(sheets)} sheets "
                            f"({', '.join(sheets)}); keep one sheet per file")
        return pl.read_excel(path, infer_schema_length=0), None
    if suffix not in SUFFIXES or suffix == ".xls":
        raise UserError(f"{path}: cannot rewrite '{suffix}' files; save it as .xlsx or .csv")
    raw = path.read_bytes()
    text = decode(raw)
    bom = raw.startswith(b"\xef\xbb\xbf")
    encoding = "utf-8" if bom else encoding_of(raw)
    header = text.split("\n", 1)[0]
    newline = "\r\n" if header.endswith("\r") else "\n"
    fmt = _Format(encoding, bom, detect_separator(header), newline)
    try:
        frame = pl.read_csv(io.StringIO(text), separator=fmt.separator, infer_schema=False)
    except pl.exceptions.PolarsError:
        raise unreadable_csv(path, text, fmt.separator) from None
    return frame, fmt


def write_extract(frame: pl.DataFrame, fmt: _Format | None, path: Path) -> None:
    """Write rows in the file's own format to ``path`` and flush them to disk."""
    suffix = path.name.removesuffix(TMP_SUFFIX).rsplit(".", 1)[-1].lower()
    with path.open("wb") as fh:
        if suffix == "parquet":
            frame.write_parquet(fh)
        elif suffix == "xlsx":
            frame.write_excel(fh)
        else:
            assert fmt is not None
            text = frame.write_csv(separator=fmt.separator, line_terminator=fmt.newline)
            fh.write((b"\xef\xbb\xbf" if fmt.bom else b"") + text.encode(fmt.encoding))
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- hashing the identity for the audit ----------------------------------------------------

def identity_hash(canonical_id: str, key: bytes) -> str:
    """The audit log's hash of an identity: HMAC-SHA256 of ``erasure-audit:`` and the
    canonical identity, keyed with the registry key (see the module docstring)."""
    # Domain-separated from the pseudonym, so the audit does not link to old copies.
    return pseudonym("erasure-audit:" + canonical_id, key)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _append_audit(directory: Path, entry: dict) -> None:
    with (directory / AUDIT_LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --- the transaction -----------------------------------------------------------------------

@dataclass(frozen=True)
class Erasure:
    """What one run did: rows removed per file (empty when the person was not found)."""

    removed: dict[str, int]
    recovered: str | None  # "rolled back" / "completed" an interrupted earlier run
    kept: tuple[str, ...] = ()  # files the configuration keeps on opt-out (not searched)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def recover(directory: Path) -> str | None:
    """Finish or undo an interrupted erasure in ``directory``; say which, or None."""
    journal = directory / JOURNAL
    if journal.exists():
        plan = json.loads(journal.read_text(encoding="utf-8"))
        for item in plan["files"]:
            tmp, final = directory / item["tmp"], directory / item["file"]
            if tmp.exists():
                os.replace(tmp, final)
        _fsync_dir(directory)
        log = directory / AUDIT_LOG
        logged = log.exists() and f'"run": "{plan["audit"]["run"]}"' in log.read_text("utf-8")
        if not logged:
            _append_audit(directory, plan["audit"])
        journal.unlink()
        _fsync_dir(directory)
        return "completed"
    strays = sorted(p for p in directory.iterdir() if p.name.endswith(TMP_SUFFIX))
    for p in strays:
        p.unlink()
    if strays:
        _fsync_dir(directory)
        return "rolled back"
    return None


def erase(directory: Path, person: str, scheme: str | None = None, *, key: bytes,
          now: dt.datetime | None = None) -> Erasure:
    """Remove every row of one person from every identity-bearing extract in ``directory``.

    ``person`` is matched on its canonical form (so the ten-digit ``YYMMDD-NNNC`` also
    finds ``YYYYMMDDNNNC``) and on its pseudonym under the registry ``key``, which also
    keys the audit hash (a weak key is refused). Running it again for the same person
    finds nothing and changes nothing.
    """
    directory = Path(directory)
    check_key(key, "erasure key")
    if not directory.is_dir():
        raise UserError(f"{directory}: data folder not found")
    scheme = scheme or dd.registry().get("identity_scheme", "pseudonym")
    if not is_valid(person, scheme):
        # The number itself is never repeated in a message.
        raise UserError(f"the identity given is not a valid {scheme} (check digits, date "
                        "or format); nothing was erased")
    recovered = recover(directory)
    target = canonical(pl.Series([person], dtype=pl.String), scheme)[0]
    wanted = [target, pseudonym(target, key)]
    changes = []
    files = identity_files(directory)
    kept_files = tuple(ex.path.name for ex in files if opt_out_action(ex.dataset) == "keep")
    for ex in (ex for ex in files if opt_out_action(ex.dataset) == "erase"):
        frame, fmt = read_extract(ex.path)
        mask = pl.Series([False] * frame.height, dtype=pl.Boolean)
        for col in ex.columns:
            mask = mask | canonical(frame[col].cast(pl.String), scheme).is_in(wanted) \
                .fill_null(False)
        if mask.any():
            changes.append((ex.path, frame.filter(~mask), fmt, int(mask.sum())))
    if not changes:
        return Erasure({}, recovered, kept_files)

    run = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + \
        secrets.token_hex(4)
    removed = {path.name: n for path, _, _, n in changes}
    audit = {"time": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
             "run": run, "identity_hash": identity_hash(target, key),
             "hash_method": "hmac-sha256",
             "rows_removed": removed}
    for path, kept, fmt, _ in changes:
        write_extract(kept, fmt, path.with_name(path.name + TMP_SUFFIX))
    plan = {"files": [{"file": p.name, "tmp": p.name + TMP_SUFFIX} for p, *_ in changes],
            "audit": audit}
    _write_durably(directory / JOURNAL, json.dumps(plan, indent=1).encode())  # commit point
    recover(directory)
    return Erasure(removed, recovered, kept_files)
