"""Checking an extract against the data dictionary, row by row.

`check` takes a frame of strings as read from a file and returns the typed frame with one
row per input row, and a long frame of failures (one row per broken rule per row). Nothing
is dropped here: the caller splits accepted from rejected rows, so accepted + rejected =
read. The pattern follows NORDCAN's column checks (report, assert and test on the same
per-row problem list).

No identity number reaches a failure or a rejected row: identity columns show
``(hidden)``, and so does any value shaped like an identity number of the folder's or
the registry's scheme, whatever its column; values in failures are cut to 60 characters;
rejected rows carry only the dictionary's columns (other columns are named, never copied).

Rules, by the name used in every message and summary:
  missing_column     a required column is absent (the whole file is refused)
  required           a required value is empty
  type               a value is not an integer, a number or an ISO date (YYYY-MM-DD)
  enum               a value is not one of the allowed codes
  pattern            a value does not have the required form
  minimum, maximum   a number outside its range
  code_list          an ICD-10 / morphology code outside the subregistry's list, an
                     unknown county, or a hospital code not in hospitals.yaml
  identity_shaped    a value outside the identity column shaped like an identity number
                     (e.g. a personnummer typed into case_id, hospital or icd10)
  future_date        a date after the extract date (when the folder declares one) or
                     after today
  unique             a case_id seen earlier in the file, or a row repeating an earlier
                     row's primary key (e.g. the same population stratum twice)
  identity           a personal identity number with a wrong check digit or date
  identity_mismatch  birth_date or sex differs from what the identity number encodes
  date_order         birth <= diagnosis <= treatment start <= death <= vital status date
  age                age at diagnosis outside 0-110 or below the subregistry's minimum age
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from analysis.data import dictionary as dd
from analysis.data.identity import (
    HIDDEN,
    SHAPE_MIN_BYTES,
    hide_shaped,
    parse,
    shape_pattern,
)
from analysis.errors import UserError

MAX_AGE = 110
ROW = "__row"
AGE = "__age"  # age at diagnosis, for the rules across fields
FAILURE_SCHEMA = {"row": pl.Int64, "case_id": pl.String, "column": pl.String,
                  "value": pl.String, "rule": pl.String, "message": pl.String}
# Longest value a message shows; a longer one is cut and ends in an ellipsis.
MAX_SHOWN = 60


@dataclass(frozen=True)
class Checked:
    """A checked extract: typed rows (all of them, in file order), their failures, the
    failing rows as read (text: the dictionary's columns the file has, identity columns
    left out) for the rejected-rows file, the file's columns the dictionary does not know
    (read, never copied to any output), and the identity shapes hidden in any output."""

    frame: pl.DataFrame
    failures: pl.DataFrame
    raw: pl.DataFrame
    extra_columns: tuple[str, ...] = ()
    pattern: str | None = None

    def accepted(self) -> pl.DataFrame:
        if self.failures.is_empty():  # no copy of a clean file's rows
            return self.frame
        bad = self.failures.get_column("row").unique()
        # The row numbers as an expression, not a column of the frame: a column made
        # in one piece among columns read in pieces would have polars copy every column
        # into one piece first.
        row = pl.int_range(2, pl.len() + 2, dtype=pl.Int64)
        return self.frame.filter(~row.is_in(bad.implode()))

    def rejected(self) -> pl.DataFrame:
        """The rejected rows as they stand in the file (an unreadable value kept, not
        blanked, an identity-shaped one hidden), with their row number and reasons."""
        reasons = (self.failures.group_by("row", maintain_order=True)
                   .agg(pl.col("message").str.join("; ").alias("reasons")))
        rows = self.raw.join(reasons, left_on=ROW, right_on="row", how="inner")
        return rows.select(*(hide_shaped(pl.col(c), self.pattern).alias(c)
                             for c in self.raw.columns if c != ROW),
                           pl.col(ROW).alias("row"), "reasons")


def output_pattern(scheme: str) -> str | None:
    """The identity shapes hidden in a folder's outputs: those of the folder's scheme and
    of the registry's (a pseudonymised folder may still hold a stray identity number)."""
    return shape_pattern([scheme, dd.registry().get("identity_scheme", "pseudonym")])


def shown(value: pl.Expr, pattern: str | None) -> pl.Expr:
    """A value as a message or failures.csv shows it: hidden when identity-shaped, and
    cut to MAX_SHOWN characters (the cut one ending in an ellipsis)."""
    text = hide_shaped(value, pattern)
    return (pl.when(text.str.len_chars() > MAX_SHOWN)
            .then(text.str.slice(0, MAX_SHOWN - 1) + "\u2026").otherwise(text))


def _unparsed(work: pl.DataFrame, name: str) -> bool:
    """Whether a value of a field failed to parse: more nulls typed than as read (counts
    polars keeps, no pass over the values)."""
    return (work.get_column(f"{name}__typed").null_count()
            > work.get_column(name).null_count())


@dataclass(frozen=True)
class _Context:
    """What the field rules need beyond the field: the rows as read and parsed (``work``:
    each field as read and as ``name__typed``), the identity scheme and the century
    reference of ten-digit numbers, the identity shapes, and the latest date allowed with
    its description for the message."""

    dataset: str
    work: pl.DataFrame
    scheme: str
    reference: date | None
    pattern: str | None
    latest: date
    latest_is: str
    distinct: dict[str, pl.Series] = field(default_factory=dict)  # per column, as found

    def can_be_null(self, name: str) -> bool:
        """Whether a column holds a null (a count polars keeps: no pass over the values)."""
        return self.work.get_column(name).null_count() > 0

    def failing(self, name: str, fails: Callable[[pl.Series], pl.Series]) -> pl.Expr | None:
        """The rows holding one of the column's distinct values that ``fails`` (a test
        over distinct values) finds; None when none does, so that the rule is left out."""
        if name not in self.distinct:
            # Nulls dropped after the hash, from the few distinct values.
            self.distinct[name] = self.work.get_column(name).unique().drop_nulls()
        codes = self.distinct[name]
        bad = codes.filter(fails(codes))
        return pl.col(name).is_in(bad.implode()) if bad.len() else None

    def longest(self, name: str) -> int:
        """The longest value of a text column, in bytes (0 when all are null)."""
        return self.work.select(pl.col(name).str.len_bytes().max()).item() or 0


# The polars type of each dictionary type.
POLARS_TYPES = {"string": pl.String, "integer": pl.Int64, "number": pl.Float64,
                "date": pl.Date, "boolean": pl.Boolean}


def _fits(f: dd.Field, dtype: pl.DataType) -> bool:
    """Whether a typed column (from Parquet) holds the field's values as they are."""
    return {"integer": dtype.is_integer(), "number": dtype.is_numeric(),
            "date": dtype == pl.Date, "boolean": dtype == pl.Boolean}.get(f.type, False)


def _as_text_unless_fitting(raw: pl.DataFrame, flds: list[dd.Field]) -> pl.DataFrame:
    """A typed column that does not fit its field (or is no field) as text, as a CSV would
    give it, so that the rules see and name the value as written."""
    by_name = {f.name: f for f in flds}
    return raw.with_columns(
        pl.col(c).cast(pl.String) for c, dtype in raw.schema.items()
        if dtype != pl.String and not (c in by_name and _fits(by_name[c], dtype)))


def _parse(f: dd.Field, untidy: bool = False, dtype: pl.DataType = pl.String) -> pl.Expr:
    """A field's typed value. ``untidy`` first removes an Excel export's ``12.0`` or
    ``2020-01-31 00:00`` (a regular expression over every value: only for a column where
    the plain parse left values unread, which it would not change otherwise)."""
    raw = pl.col(f.name)
    if dtype != pl.String:  # a fitting typed column (_as_text_unless_fitting)
        return raw.cast(POLARS_TYPES[f.type])
    if f.type == "integer":
        tidy = raw.str.replace(r"\.0+$", "") if untidy else raw
        return tidy.str.to_integer(strict=False)
    if f.type == "number":
        return raw.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    if f.type == "date":
        tidy = raw.str.replace(r"[ T]00:00(:00(\.0+)?)?$", "") if untidy else raw
        # No cache of parsed texts: with tens of thousands of distinct dates (birth
        # dates) it costs more than it saves.
        return tidy.str.to_date("%Y-%m-%d", strict=False, cache=False)
    if f.type == "boolean":
        return raw.str.to_lowercase().replace_strict(
            {"1": True, "true": True, "ja": True, "yes": True,
             "0": False, "false": False, "nej": False, "no": False}, default=None)
    return raw


def _code_list_ok(f: dd.Field, dataset: str) -> Callable[[pl.Series], pl.Series] | None:
    """Whether each of a field's distinct values is in its code list (None: no list)."""
    if f.code_list == "counties":
        return lambda codes: codes.is_in(dd.counties().get_column("county").implode())
    if f.code_list == "hospitals":
        return lambda codes: codes.is_in(pl.Series(dd.hospital_codes(),
                                                   dtype=pl.String).implode())
    if dataset not in dd.subregistry_ids() or f.code_list not in ("icd10", "morphology"):
        return None
    spec = dd.subregistry(dataset)[f.code_list]
    belongs = dd.icd10_in if f.code_list == "icd10" else dd.morphology_in
    return lambda codes: pl.Series([belongs(c, spec) for c in codes], dtype=pl.Boolean)


_CODE_LIST_SOURCE = {"counties": "the county list (regions.yaml)",
                     "hospitals": "the reporting units (hospitals.yaml)"}


def _shaped(f: dd.Field, cx: _Context) -> pl.Expr | None:
    """The rows of a text field holding what looks like an identity number (None: none
    can). A value of fewer bytes than the shortest identity number cannot hold one, so a
    column without a longer value is not searched."""
    if {"pattern", "enum"} & f.constraints.keys() or f.code_list:  # few distinct values
        return cx.failing(f.name, lambda codes: codes.str.contains(cx.pattern))
    if cx.longest(f.name) < SHAPE_MIN_BYTES:
        return None
    return pl.col(f.name).str.contains(cx.pattern)


def _field_rules(f: dd.Field, cx: _Context) -> list[tuple]:
    """(failure mask, rule, message[, column named]) for one field; masks see raw
    strings as `name` and the parsed value as `name__typed`. A rule that no value can
    break (e.g. required in a column without nulls, type where every value parsed) is
    left out: polars keeps the counts of nulls, so that costs no pass over the values."""
    c = f.constraints
    value, typed = pl.col(f.name), pl.col(f"{f.name}__typed")
    rules: list[tuple[pl.Expr | None, str, str]] = []
    if c.get("required") and cx.can_be_null(f.name):
        rules.append((value.is_null(), "required", f"{f.name} is required"))
    if f.type != "string" and _unparsed(cx.work, f.name):
        fmt = {"date": "an ISO date YYYY-MM-DD", "integer": "an integer",
               "number": "a number", "boolean": "yes/no (1/0)"}[f.type]
        rules.append((value.is_not_null() & typed.is_null(), "type", f"{f.name} must be {fmt}"))
    # A text's enum, pattern, code list and identity shapes are tested on each distinct
    # value once (cx.failing): a field with one of these holds few.
    if "enum" in c:
        allowed = pl.Series(c["enum"])
        rules.append((cx.failing(f.name, lambda codes: ~codes.is_in(allowed.implode()))
                      if f.type == "string" and cx.work.schema[f.name] == pl.String
                      else typed.is_not_null() & ~typed.is_in(allowed.implode()), "enum",
                      f"{f.name} must be one of {', '.join(map(str, c['enum']))}"))
    if "pattern" in c:
        rules.append((cx.failing(f.name, lambda codes: ~codes.str.contains(c["pattern"])),
                      "pattern", f"{f.name} must match {c['pattern']}"))
    if "minimum" in c:
        rules.append((typed < c["minimum"], "minimum", f"{f.name} must be >= {c['minimum']}"))
    if "maximum" in c:
        rules.append((typed > c["maximum"], "maximum", f"{f.name} must be <= {c['maximum']}"))
    if f.type == "date":
        rules.append((typed > cx.latest, "future_date", f"{f.name} is after {cx.latest_is}"))
    if f.type == "string" and not f.identity and cx.pattern is not None:
        rules.append((_shaped(f, cx), "identity_shaped",
                      f"{f.name} holds what looks like an identity number; identity "
                      "numbers belong in person_id only"))
    in_list = _code_list_ok(f, cx.dataset)
    if in_list is not None:
        where = _CODE_LIST_SOURCE.get(f.code_list, cx.dataset)
        rules.append((cx.failing(f.name, lambda codes: ~in_list(codes)), "code_list",
                      f"{f.name} is not in {where}"))
    if c.get("unique"):
        # Not the value's first occurrence (one pass; a window per value is 30x slower).
        # In a column sorted without nulls (an extract in case_id order) a value can only
        # repeat the row before: comparing neighbours is 20x cheaper than a hash of all.
        column = cx.work.get_column(f.name)
        repeats = (value == value.shift() if not column.null_count() and column.is_sorted()
                   else ~value.is_first_distinct())
        rules.append((value.is_not_null() & repeats,
                      "unique", f"{f.name} occurs earlier in the file"))
    if f.identity and cx.scheme != "pseudonym":
        decoded = parse(cx.work.get_column(f.name), cx.scheme, cx.reference,
                        ("valid", "birth_date", "sex"))
        rules.append((value.is_not_null() & ~pl.lit(decoded["valid"]), "identity",
                      f"{f.name} is not a valid {cx.scheme}"))
        # The number encodes birth date and legal sex: the extract's columns must agree.
        for column in ("birth_date", "sex"):
            if column in cx.work.columns:
                rules.append((pl.col(f"{column}__typed") != pl.lit(decoded[column]),
                              "identity_mismatch",
                              f"{column} differs from the one {f.name} encodes", column))
    return [(mask, *rest) for mask, *rest in rules if mask is not None]


def _needs_age(dataset: str, names: set[str]) -> bool:
    """Whether the rules of :func:`_cross_rules` test the age at diagnosis."""
    return (not dd.primary_key(dataset) and dataset in dd.subregistry_ids()
            and {"birth_date", "diagnosis_date"} <= names)


def _cross_rules(dataset: str, names: set[str]) -> list[tuple[pl.Expr, str, str, str]]:
    """Rules across fields: (failure mask, rule, message, column named in the failure).
    The age at diagnosis is the column AGE (see :func:`_needs_age`)."""
    key = dd.primary_key(dataset)
    if key:
        row_key = pl.struct([pl.col(f"{k}__typed") for k in key])
        return [(~row_key.is_first_distinct(), "unique",
                 f"{', '.join(key)} repeat an earlier row", key[-1])]
    if dataset not in dd.subregistry_ids():
        return []
    d = {n: pl.col(f"{n}__typed") for n in names}
    rules = []
    order = [n for n in ("birth_date", "diagnosis_date", "treatment_start_date", "death_date",
                         "vital_status_date") if n in names]
    for a_i, a in enumerate(order):
        for b in order[a_i + 1:]:
            rules.append((d[a] > d[b], "date_order", f"{a} is after {b}", b))
    if _needs_age(dataset, names):
        age = pl.col(AGE)
        min_age = dd.subregistry(dataset).get("min_age", 0)
        rules.append(((age < 0) | (age > MAX_AGE), "age",
                      f"age at diagnosis must be 0-{MAX_AGE}", "birth_date"))
        if min_age:
            rules.append((age.is_between(0, min_age - 1), "age",
                          f"age at diagnosis is below {min_age}, the minimum for {dataset}",
                          "birth_date"))
    return rules


def age_at(birth: pl.Expr, at: pl.Expr) -> pl.Expr:
    """Completed years of age at a date (a birthday counts on its day)."""
    def month_day(d: pl.Expr) -> pl.Expr:
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    before_birthday = month_day(at) < month_day(birth)
    return (at.dt.year().cast(pl.Int64) - birth.dt.year().cast(pl.Int64)
            - before_birthday.cast(pl.Int64))



def years_between(frame: pl.DataFrame, birth: str, at: str) -> pl.Expr:
    """:func:`age_at` of two date columns of a frame, the same values by lookup: each date
    as the number YYYYMMDD, from a table of the days between the earliest and the latest
    date, and the completed years (A - B) // 10000 (the month and day, at most 1231,
    take a year off exactly when `at` falls before the birthday). Taking the year, month
    and day of every date costs several times more."""
    bounds = frame.select(pl.min_horizontal(pl.col(birth, at).min()).alias("first"),
                          pl.max_horizontal(pl.col(birth, at).max()).alias("last"))
    first, last = bounds.row(0)
    if first is None:
        return pl.lit(None, pl.Int64)
    days = pl.date_range(first, last, eager=True)
    number = (days.dt.year().cast(pl.Int64) * 10_000 + days.dt.month().cast(pl.Int64) * 100
              + days.dt.day().cast(pl.Int64))
    offset = pl.lit(first).cast(pl.Int32)

    def as_number(d: pl.Expr) -> pl.Expr:
        return pl.lit(number).gather(d.cast(pl.Int32) - offset)

    return (as_number(pl.col(at)) - as_number(pl.col(birth))) // 10_000


def _header_hint(raw: pl.DataFrame, required: list[str]) -> str:
    """Why required columns may be missing: the column names stand in a later row (a
    title above the header). Empty when no row of the first few holds them all."""
    aliases = dd.registry().get("column_aliases", {})
    for row in raw.head(20).iter_rows():
        names = {aliases.get(v, v) for v in (str(x).strip().lower() for x in row if x)}
        if set(required) <= names:
            return ("; the column names stand in a later row, below what looks like a "
                    "title: delete the rows above the header")
    return ""


def _failures(work: pl.DataFrame, checks: list[tuple[pl.Expr, str, str, str]],
              identity_cols: set[str], pattern: str | None) -> pl.DataFrame:
    """One row per broken rule per row (FAILURE_SCHEMA), by row and then in the order of
    `checks` (mask, rule, message, column named).

    All masks in one select: polars evaluates its expressions in parallel and shares
    their common parts, and each gives only the places of its failing rows (no boolean
    frame per rule, no row-number column in the frame). The values are then shown
    (hidden, cut) for the failing rows only."""
    if not checks:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    places = work.select(mask.fill_null(False).arg_true().implode().alias(str(i))
                         for i, (mask, *_) in enumerate(checks))
    case_id = "case_id" in work.columns
    parts = []
    for i, (_, rule, message, column) in enumerate(checks):
        at = places.get_column(str(i))[0]
        if at.is_empty():
            continue
        hit = work.select(pl.col(c).gather(at) for c in
                          dict.fromkeys([column, *(["case_id"] if case_id else [])]))
        parts.append(hit.select(
            pl.lit(at.cast(pl.Int64) + 2).alias("row"),
            shown(pl.col("case_id"), pattern).alias("case_id") if case_id
            else pl.lit(None, pl.String).alias("case_id"),
            pl.lit(column).alias("column"),
            (pl.lit(HIDDEN) if column in identity_cols else shown(pl.col(column), pattern))
            .alias("value"),
            pl.lit(rule).alias("rule"), pl.lit(message).alias("message")))
    failures = pl.concat(parts) if parts else pl.DataFrame(schema=FAILURE_SCHEMA)
    return failures.cast(FAILURE_SCHEMA).sort("row", maintain_order=True)


def check(raw: pl.DataFrame, dataset: str, file: str, identity_scheme: str | None = None,
          extract_date: date | None = None) -> Checked:
    """Check a frame of strings against the variables of `dataset` (a subregistry id,
    ``cancer_registry``, ``population`` or ``lifetable``).

    Raises UserError when a required column is missing (the file cannot be used at all).
    Optional columns that are absent are added as empty columns. `identity_scheme`
    overrides registry.yaml's (e.g. ``pseudonym`` for a pseudonymised folder). A date
    after `extract_date` (when given) or after today breaks rule future_date.
    """
    scheme = identity_scheme or dd.registry().get("identity_scheme", "pseudonym")
    flds = dd.fields(dataset)
    names = {f.name for f in flds}
    required = [f.name for f in flds if f.required]
    missing = [n for n in required if n not in raw.columns]
    if missing:
        raise UserError(f"{file}: missing required column(s) {', '.join(missing)} "
                        f"(rule missing_column; expected the columns of {dataset})"
                        + _header_hint(raw, required))
    in_file = [c for c in raw.columns if c in names]
    extra = tuple(c for c in raw.columns if c not in names)
    raw = _as_text_unless_fitting(raw, flds).with_columns(
        pl.lit(None, pl.String).alias(f.name) for f in flds if f.name not in raw.columns)
    work = raw.with_columns(_parse(f, dtype=raw.schema[f.name]).alias(f"{f.name}__typed")
                            for f in flds)
    # An Excel export's 12.0 or 2020-01-31 00:00 is read again, tidied, only in a column
    # where some value was not read (typed has more nulls than the text).
    work = work.with_columns(
        _parse(f, untidy=True).alias(f"{f.name}__typed") for f in flds
        if f.type in ("integer", "date") and raw.schema[f.name] == pl.String
        and _unparsed(work, f.name))
    if _needs_age(dataset, names):  # once, not in each of the rules that test it
        work = work.with_columns(years_between(work, "birth_date__typed",
                                               "diagnosis_date__typed").alias(AGE))
    identity_cols = {f.name for f in flds if f.identity}
    pattern = output_pattern(scheme)
    today = date.today()
    latest, latest_is = ((extract_date, f"the extract date {extract_date.isoformat()}")
                         if extract_date is not None and extract_date <= today
                         else (today, f"today ({today.isoformat()})"))
    # The extract's own latest date (up to the latest allowed) resolves the century of
    # ten-digit identity numbers, so that the result does not depend on the day it runs.
    dates = [f"{c}__typed" for c in ("vital_status_date", "diagnosis_date")
             if c in raw.columns]
    reference = (work.select(pl.min_horizontal(pl.max_horizontal(pl.col(dates).max()),
                                               pl.lit(latest))).item() if dates else None)
    cx = _Context(dataset, work, scheme, reference, pattern, latest, latest_is)
    # A rule may name another column than its field's (identity_mismatch names the
    # birth_date or sex that disagrees, never the identity number).
    checks = [(mask, rule, msg, where[0] if where else f.name) for f in flds
              for mask, rule, msg, *where in _field_rules(f, cx)]
    checks += _cross_rules(dataset, names)
    failures = _failures(work, checks, identity_cols, pattern)

    # Columns the dictionary does not know (e.g. a life table's region) stay, with any
    # identity-shaped value hidden, since nothing checked them.
    # The age at diagnosis goes along (as AGE), so that ingest need not compute it again.
    typed = work.select(
        [pl.col(f"{f.name}__typed").alias(f.name) for f in flds]
        + [hide_shaped(pl.col(c), pattern).alias(c) for c in extra]
        + ([pl.col(AGE)] if AGE in work.columns else []))
    # Only the failing rows' text is kept (for the rejected-rows file): the text of the
    # whole extract can then be freed before the accepted rows are copied out.
    at = failures.get_column("row").unique().sort() - 2
    as_read = work.select(*(pl.col(c).gather(at) for c in in_file if c not in identity_cols),
                          pl.lit(at + 2).alias(ROW))
    return Checked(typed, failures, as_read, extra, pattern)
