"""Pseudonymisation: replace identity numbers with keyed pseudonyms in a whole data folder.

Every identity-bearing extract (all subregistries and the cancer registry) is copied to the
output folder with each identity replaced by HMAC-SHA256(key, canonical identity)
(:func:`analysis.data.identity.pseudonym`). The canonical form makes ``YYMMDD-NNNC`` in one file
and ``YYYYMMDDNNNC`` in another the same pseudonym, so linkage between files is kept. The
population and life-table files carry no identities and are copied unchanged; every
other column and each file's format are kept.

The cancer-registry extract has no birth date of its own: the identity number carries it.
Where the scheme encodes one, a ``birth_date`` column is added from it before the number
is replaced, so that the subregistries' minimum ages still apply to the pseudonymised copy.

The key (analysis/privacy/keys.py) comes from a file or the environment variable
``BCR_PSEUDONYM_KEY``, is never written anywhere, and without a strong one nothing is
done: an unkeyed hash of a personnummer can be reversed by hashing all of them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import yaml

from analysis.data.folder import FOLDER_SETTINGS, folder_settings, read_file
from analysis.data.identity import canonical, parse, pseudonym, valid_mask
from analysis.data.readers import JOURNAL, find_file
from analysis.errors import UserError
from analysis.privacy.erasure import TMP_SUFFIX, identity_files, read_extract, write_extract
from analysis.privacy.keys import check_key

PLAIN_DATASETS = ("population", "lifetable")


def pseudonyms(series: pl.Series, key: bytes, scheme: str) -> pl.Series:
    """Keyed pseudonyms of identity numbers; nulls stay null. Each distinct value is
    hashed once."""
    canon = canonical(series.cast(pl.String), scheme)
    distinct = canon.drop_nulls().unique()
    table = dict(zip(distinct.to_list(), (pseudonym(v, key) for v in distinct), strict=True))
    return canon.replace_strict(table, default=None, return_dtype=pl.String).rename(series.name)


def pseudonymise_dir(source: Path, target: Path, key: bytes,
                     scheme: str | None = None) -> pl.DataFrame:
    """Write a pseudonymised copy of the data folder ``source`` to ``target``; identities
    are read in ``scheme`` (default: the folder's data_folder.yaml, else registry.yaml's).

    Returns one row per file written: file, rows, identities (distinct) and
    invalid_identities (values that are not valid in the scheme; still pseudonymised,
    after stripping blanks, so that nothing is left in clear). A weak key is refused
    (analysis.privacy.keys.check_key).
    """
    source, target = Path(source), Path(target)
    check_key(key, "pseudonymisation key")
    if not source.is_dir():
        raise UserError(f"{source}: data folder not found")
    if target.resolve() == source.resolve():
        raise UserError(f"{target}: the output folder must differ from the data folder")
    if (source / JOURNAL).exists():
        raise UserError(f"{source}: an erasure was interrupted here; run `bcr erase` again "
                        "to complete it before pseudonymising")
    scheme = scheme or folder_settings(source).identity_scheme
    target.mkdir(parents=True, exist_ok=True)
    rows = []
    for ex in identity_files(source):
        frame, fmt = read_extract(ex.path)
        invalid = sum(int((~valid_mask(frame[c].drop_nulls().cast(pl.String), scheme)).sum())
                      for c in ex.columns)
        distinct = pl.concat([frame[c].cast(pl.String) for c in ex.columns]).drop_nulls().n_unique()
        if (ex.dataset == "cancer_registry" and "birth_date" not in frame.columns
                and scheme != "pseudonym"):
            latest = (frame["diagnosis_date"].str.to_date("%Y-%m-%d", strict=False).max()
                      if "diagnosis_date" in frame.columns else None)
            born = parse(frame[ex.columns[0]].cast(pl.String).fill_null(""), scheme, latest)
            frame = frame.with_columns(born["birth_date"].dt.to_string("%Y-%m-%d")
                                       .alias("birth_date"))
        frame = frame.with_columns(pseudonyms(frame[c], key, scheme) for c in ex.columns)
        out = target / ex.path.name
        tmp = out.with_name(out.name + TMP_SUFFIX)
        write_extract(frame, fmt, tmp)
        os.replace(tmp, out)
        rows.append({"file": ex.path.name, "rows": frame.height, "identities": distinct,
                     "invalid_identities": invalid})
    # Tell ingest that person_id now holds pseudonyms, with no check digit to validate;
    # the source folder's other settings (extract date, sheets) still hold.
    settings = {**read_file(source), "identity_scheme": "pseudonym"}
    (target / FOLDER_SETTINGS).write_text(
        "# Written by `bcr pseudonymise`: person_id holds keyed pseudonyms.\n"
        + yaml.safe_dump(settings, allow_unicode=True, sort_keys=True), encoding="utf-8")
    for name in PLAIN_DATASETS:
        path = find_file(source, name)
        if path is not None:
            shutil.copyfile(path, target / path.name)
            rows.append({"file": path.name, "rows": None, "identities": 0,
                         "invalid_identities": 0})
    return pl.DataFrame(rows, schema={"file": pl.String, "rows": pl.Int64,
                                      "identities": pl.Int64, "invalid_identities": pl.Int64})
