"""Loading a registry data folder into typed, checked polars frames.

A data folder holds, each as CSV, Parquet or Excel (DESIGN.md §3):
  <subregistry>.csv    one extract per subregistry (aml.csv, lymphoma.parquet, ...), or
  cases.csv            one extract for all, with a `subregistry` column;
  cancer_registry.csv  the national cancer registry extract (for coverage);
  population.csv       mean population by year, county, sex and single year of age;
  lifetable.csv        mortality by year, sex and single year of age (rate or qx).
Every file is checked against the data dictionary (analysis/data/validate.py); rows that break
a rule are set aside with their reasons, never dropped silently: for every file,
accepted + rejected = read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from analysis.data import dictionary as dd
from analysis.data.folder import FolderSettings, folder_settings
from analysis.data.identity import hide_shaped
from analysis.data.readers import JOURNAL, SUFFIXES, find_file, read_table
from analysis.data.validate import (
    AGE,
    FAILURE_SCHEMA,
    POLARS_TYPES,
    age_at,
    check,
    output_pattern,
    shown,
)
from analysis.errors import UserError

# A qx of 1 (everyone dies within the year, common at the open last age) has an infinite
# hazard; it is capped so that expected survival stays finite.
MAX_QX = 0.9999
AUX_DATASETS = ("cancer_registry", "population", "lifetable")
COMBINED = "cases"


@dataclass(frozen=True)
class FileCheck:
    """What checking one input file gave."""

    dataset: str
    path: Path
    sha256: str
    read: int
    accepted: int
    failures: pl.DataFrame
    rejected: pl.DataFrame
    extra_columns: tuple[str, ...] = ()  # not in the dictionary: read, never copied

    @property
    def n_rejected(self) -> int:
        return self.read - self.accepted


@dataclass
class RegistryData:
    """A loaded data folder: accepted rows, typed, with derived columns."""

    directory: Path
    cases: pl.DataFrame
    cancer_registry: pl.DataFrame | None
    population: pl.DataFrame | None
    lifetable: pl.DataFrame | None
    checks: list[FileCheck] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    settings: FolderSettings | None = None

    def summary(self) -> pl.DataFrame:
        """One row per dataset and file: read, accepted, rejected, sha256."""
        return pl.DataFrame(
            [{"dataset": c.dataset, "file": c.path.name, "read": c.read,
              "accepted": c.accepted, "rejected": c.n_rejected, "sha256": c.sha256}
             for c in self.checks],
            schema={"dataset": pl.String, "file": pl.String, "read": pl.Int64,
                    "accepted": pl.Int64, "rejected": pl.Int64, "sha256": pl.String})

    def failures(self) -> pl.DataFrame:
        """Every broken rule: dataset, file, row, case_id, column, value, rule, message."""
        parts = [c.failures.select(pl.lit(c.dataset).alias("dataset"),
                                   pl.lit(c.path.name).alias("file"), pl.all())
                 for c in self.checks]
        schema = {"dataset": pl.String, "file": pl.String, **FAILURE_SCHEMA}
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)

    def require(self, name: str) -> pl.DataFrame:
        """A dataset the analysis cannot do without, or a clear error: the file is
        missing, or it was read with no accepted rows (header only, or all rejected)."""
        frame = self.cases if name == "cases" else getattr(self, name)
        if frame is not None and not frame.is_empty():
            return frame
        datasets = dd.subregistry_ids() if name == "cases" else [name]
        read = [c for c in self.checks if c.dataset in datasets]
        if read:
            each = ", ".join(f"{c.path.name} " + ("has a header and no rows" if not c.read
                                                  else f"0 of {c.read} rows accepted")
                             for c in read)
            what = "case" if name == "cases" else f"{name} row"
            raise UserError(f"{self.directory}: no accepted {what} to analyse ({each}); "
                            f"`bcr validate {self.directory}` lists the reasons")
        wanted = ("an extract per subregistry (e.g. aml.csv)" if name == "cases"
                  else f"{name}.csv (or .parquet/.xlsx)")
        raise UserError(f"{self.directory}: this analysis needs {wanted}")

    @property
    def subregistries(self) -> list[str]:
        """The subregistries whose extracts were read (in dictionary order)."""
        read = {c.dataset for c in self.checks}
        return [sid for sid in dd.subregistry_ids() if sid in read]

    def extract_date(self) -> date | None:
        """The extract date the folder declares (data_folder.yaml), else the latest
        vital-status date: the date the extract reaches."""
        if self.settings is not None and self.settings.extract_date is not None:
            return self.settings.extract_date
        if self.cases.is_empty():
            return None
        return self.cases.get_column("vital_status_date").max()


def sha256(path: Path) -> str:
    """The file's SHA-256, read into one reused buffer (no new bytes per block)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _checksums(paths: Iterable[Path]) -> Callable[[Path], str]:
    """Each file's SHA-256, computed in one thread beside the reading and checking
    (hashlib and file reads release the GIL): a tenth of ingest's CPU time taken off its
    wall time. The function returned waits for a file's digest."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    digests = {path: pool.submit(sha256, path) for path in dict.fromkeys(paths)}
    pool.shutdown(wait=False)
    return lambda path: digests[path].result()


def _canonical_names(raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Rename columns found under an alias of registry.yaml `column_aliases`; two columns
    for one variable (e.g. kön and sex) are an error, not a guess."""
    aliases = dd.registry().get("column_aliases", {})
    canonical = [aliases.get(c, c) for c in raw.columns]
    for name in dict.fromkeys(n for n in canonical if canonical.count(n) > 1):
        both = [c for c, n in zip(raw.columns, canonical, strict=True) if n == name]
        raise UserError(f"{path}: columns {' and '.join(both)} both hold {name} "
                        "(rule duplicate_column)")
    return raw.rename(dict(zip(raw.columns, canonical, strict=True)))


def _check_file(path: Path, dataset: str, settings: FolderSettings,
                digest: Callable[[Path], str],
                raw: pl.DataFrame | None = None) -> tuple[FileCheck, pl.DataFrame]:
    if raw is None:
        raw = read_table(path, settings.sheet_for(dataset), typed=True)
    checked = check(_canonical_names(raw, path), dataset, str(path),
                    settings.identity_scheme, settings.extract_date)
    read = raw.height
    del raw  # the extract's text, no longer needed: freed before the accepted rows' copy
    accepted = checked.accepted()
    fc = FileCheck(dataset, path, digest(path), read, accepted.height,
                   checked.failures, checked.rejected(), checked.extra_columns)
    return fc, accepted


def age_group_layout() -> tuple[int, int]:
    """(width, first age of the open last group) of registry.yaml `age_groups`."""
    cfg = dd.registry().get("age_groups", {})
    return int(cfg.get("width", 5)), int(cfg.get("open_from", 85))


def age_group_expr(age: pl.Expr) -> pl.Expr:
    """Five-year age group labels 0-4 ... 80-84 and 85+ (registry.yaml `age_groups`)."""
    width, open_from = age_group_layout()
    start = (pl.min_horizontal(age, pl.lit(open_from)) // width) * width
    return (pl.when(age >= open_from).then(pl.lit(f"{open_from}+"))
            .otherwise(start.cast(pl.String) + "-" + (start + width - 1).cast(pl.String)))


def region_of_county() -> pl.Expr:
    """The ``region`` of each row's ``county`` (null for an unknown one): a lookup that adds
    one column, where a join would copy every column of the frame."""
    regions = dict(dd.counties().select("county", "region").iter_rows())
    return pl.col("county").replace_strict(regions, default=None,
                                           return_dtype=pl.String).alias("region")


def derive_case_columns(cases: pl.DataFrame) -> pl.DataFrame:
    """Region, age, age group, year of diagnosis, follow-up in years and in whole days
    (e.g. for 30-day mortality) and death status."""
    end = pl.coalesce("death_date", "vital_status_date")
    # The age validation computed (AGE), where the cases carry it.
    age = (pl.col(AGE) if AGE in cases.columns
           else age_at(pl.col("birth_date"), pl.col("diagnosis_date")))
    cases = cases.with_columns(region_of_county()).with_columns(age.alias("age"))
    cases = cases.drop(AGE, strict=False)
    # Each distinct age's label once, then looked up: building the text per case made
    # three columns of text and cost more than the rest of this function.
    ages = cases.select(pl.col("age").unique().drop_nulls())
    labels = dict(ages.with_columns(age_group_expr(pl.col("age")).alias("age_group"))
                  .iter_rows())
    return (cases
            .with_columns(pl.col("age").replace_strict(labels, default=None,
                                                       return_dtype=pl.String)
                          .alias("age_group"),
                          pl.col("diagnosis_date").dt.year().cast(pl.Int64).alias("year"),
                          ((end - pl.col("diagnosis_date")).dt.total_days() / 365.25)
                          .alias("followup_years"),
                          (end - pl.col("diagnosis_date")).dt.total_days()
                          .alias("followup_days"),
                          pl.col("death_date").is_not_null().cast(pl.Int64).alias("dead")))


def _case_columns() -> dict[str, pl.DataType]:
    """Every variable of every subregistry, with its polars type, in dictionary order."""
    cols: dict[str, pl.DataType] = {"subregistry": pl.String}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            cols.setdefault(f.name, POLARS_TYPES[f.type])
    return cols


def _stack_cases(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The subregistries' accepted rows as one frame of every variable (null where an
    extract has no such column), with the derived columns.

    Column by column, each taken out of the parts as it is stacked (the parts are emptied),
    and kept in the parts' chunks: no copy of the cases is made (a copy into one chunk
    took as long as checking a file, and twice the column's memory while it ran)."""
    cols = _case_columns()
    if parts and all(AGE in p.columns for p in parts):
        cols[AGE] = pl.Int64
    stacked = []
    for name, dtype in cols.items():
        pieces = [p.drop_in_place(name).cast(dtype) if name in p.columns
                  else pl.repeat(None, p.height, dtype=dtype, eager=True) for p in parts]
        stacked.append(pl.concat(pieces, rechunk=False).alias(name) if pieces
                       else pl.Series(name, [], dtype))
        del pieces
    return derive_case_columns(pl.DataFrame(stacked))


def _load_combined(path: Path, settings: FolderSettings,
                   digest: Callable[[Path], str]) -> list[tuple[FileCheck, pl.DataFrame]]:
    """A single extract with a `subregistry` column, checked per subregistry."""
    raw = _canonical_names(read_table(path, settings.sheet_for(COMBINED), typed=True),
                           path)
    if "subregistry" not in raw.columns:
        raise UserError(f"{path}: missing required column subregistry (rule missing_column)")
    known = dd.subregistry_ids()
    unknown = raw.with_row_index("row", offset=2).filter(
        ~pl.col("subregistry").str.to_lowercase().is_in(known) | pl.col("subregistry").is_null())
    out = []
    if unknown.height:
        pattern = output_pattern(settings.identity_scheme)
        message = f"subregistry must be one of {', '.join(known)}"
        failures = unknown.select(
            pl.col("row").cast(pl.Int64),
            shown(pl.col("case_id") if "case_id" in raw.columns else pl.lit(None, pl.String),
                  pattern).alias("case_id"),
            pl.lit("subregistry").alias("column"), shown(pl.col("subregistry"), pattern)
            .alias("value"), pl.lit("enum").alias("rule"), pl.lit(message).alias("message"))
        # The rows as written, in the dictionary's columns only, identities left out.
        columns = ["subregistry", *(f.name for f in dd.fields(known[0])
                                    if not f.identity and f.name in raw.columns)]
        rejected = unknown.select("row", *(hide_shaped(pl.col(c), pattern).alias(c)
                                           for c in columns), reasons=pl.lit(message))
        out.append((FileCheck("unknown subregistry", path, digest(path), unknown.height, 0,
                              failures, rejected), pl.DataFrame()))
    lowered = raw.with_columns(pl.col("subregistry").str.to_lowercase())
    for sid in known:
        part = lowered.filter(pl.col("subregistry") == sid)
        if part.height:
            fc, acc = _check_file(path, sid, settings, digest, part.drop("subregistry"))
            out.append((fc, acc.with_columns(pl.lit(sid).alias("subregistry"))))
    return out


def _lifetable_rates(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    if all(frame.get_column(c).is_null().all() for c in ("mortality_rate", "qx")):
        raise UserError(f"{path}: needs a mortality_rate or a qx column with values")
    hazard = -(1 - pl.col("qx").clip(upper_bound=MAX_QX)).log()
    return (frame.with_columns(pl.coalesce("mortality_rate", hazard).alias("mortality_rate"))
            .drop("qx"))


def load_data(directory: Path | str, subregistries: list[str] | None = None, *,
              identity_scheme: str | None = None, extract_date: date | None = None,
              sheet: str | None = None) -> RegistryData:
    """Read and check every dataset in a data folder.

    Returns the accepted rows with derived columns (see derive_case_columns); rejected rows
    and failures stay available in `checks`. `subregistries` restricts which extracts are
    read. `identity_scheme`, `extract_date` and `sheet` override the folder's
    data_folder.yaml (analysis/data/folder.py).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: data folder not found")
    settings = folder_settings(directory, identity_scheme, extract_date, sheet)
    if (directory / JOURNAL).exists():
        raise UserError(f"{directory}: an erasure was interrupted here; run `bcr erase` "
                        "again to complete it before using the data")
    wanted = subregistries or dd.subregistry_ids()
    for sid in wanted:
        dd.subregistry(sid)  # an unknown id is a clear error here

    combined = find_file(directory, COMBINED)
    extracts = {sid: find_file(directory, sid) for sid in wanted}
    auxiliary = {name: find_file(directory, name) for name in AUX_DATASETS}
    digest = _checksums(p for p in (combined, *extracts.values(), *auxiliary.values())
                        if p is not None)

    results: list[tuple[FileCheck, pl.DataFrame]] = []
    if combined is not None:
        results += [r for r in _load_combined(combined, settings, digest)
                    if r[0].dataset in wanted or r[0].dataset == "unknown subregistry"]
    for sid, path in extracts.items():
        if path is not None:
            fc, acc = _check_file(path, sid, settings, digest)
            results.append((fc, acc.with_columns(pl.lit(sid).alias("subregistry"))))
    case_parts = [acc for fc, acc in results if fc.dataset in dd.subregistry_ids()]

    aux: dict[str, pl.DataFrame | None] = {}
    for name, path in auxiliary.items():
        if path is None:
            aux[name] = None
            continue
        fc, acc = _check_file(path, name, settings, digest)
        results.append((fc, acc))
        if name == "lifetable":
            acc = _lifetable_rates(acc, path)
        if "county" in acc.columns:
            acc = acc.with_columns(region_of_county())
        aux[name] = acc

    known = {*dd.subregistry_ids(), *AUX_DATASETS, COMBINED}
    ignored = sorted(p for p in directory.iterdir()
                     if p.suffix.lower() in SUFFIXES and p.stem not in known)
    if not results:
        raise UserError(f"{directory}: no registry extract found (expected files named "
                        f"{', '.join(dd.subregistry_ids())}, {COMBINED}, "
                        f"{', '.join(AUX_DATASETS)} with suffix .csv, .parquet or .xlsx)")
    return RegistryData(directory=directory, cases=_stack_cases(case_parts),
                        cancer_registry=aux["cancer_registry"], population=aux["population"],
                        lifetable=aux["lifetable"], checks=[fc for fc, _ in results],
                        ignored=ignored, settings=settings)
