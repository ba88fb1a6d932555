"""Personal identity numbers: validation and the birth date and legal sex they encode.

Schemes (named by ``identity_scheme`` in data_dictionary/registry.yaml):

``personnummer`` (Skatteverket, SKV 704, 2007)
    ``YYMMDD-NNNC`` / ``YYMMDD+NNNC`` / ``YYMMDDNNNC`` (10 digits) or ``YYYYMMDD[-]NNNC``
    (12 digits). ``C`` is the Luhn (mod-10, Luhn 1960) check digit over the ten-digit
    form. In the ten-digit form the century is implied: with ``-`` or no separator the
    person is under 100 years old on the reference date, with ``+`` 100 or older.
    Samordningsnummer (coordination numbers) carry the day of birth plus 60. The serial
    number ``000`` is never issued. The third serial digit is odd for men, even for women.

``fodselsnummer`` (Skatteetaten / Folkeregisteret)
    ``DDMMYYIIIKK`` (11 digits). ``K1`` and ``K2`` are mod-11 check digits with weights
    3 7 6 1 8 9 4 5 2 and 5 4 3 2 7 6 5 4 3 2; a remainder giving 10 makes the number
    invalid. D-numbers carry the day plus 40, H-numbers (assigned by the health services)
    the month plus 40. The century follows from the individual number ``III`` and the
    year; the third individual digit is odd for men, even for women.

In both schemes a birth date after the reference date (default today) is invalid.

``pseudonym``
    Any non-empty string; it encodes nothing.

All checks are vectorised (polars expressions; the personnummer's digits by numpy
arithmetic on the bytes), so a million identities validate in well under a
second (:func:`parse`, :func:`valid_mask`); :func:`is_valid` and
:func:`birth_date_and_sex` are the one-value conveniences over the same code. Nothing here
ever puts an identity number into a message.

Hiding: a value of any column that has the *shape* of a scheme's numbers (digits and
separator, whatever the check digits: a mistyped number is still personal data) is shown
as ``(hidden)`` in every message and output file (:func:`shape_pattern`,
:func:`hide_shaped`, :func:`redact`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator

import numpy as np
import polars as pl

from analysis.errors import UserError

SCHEMES = ("personnummer", "fodselsnummer", "pseudonym")

_NO = r"^(\d{2})(\d{2})(\d{2})[ -]?(\d{3})(\d)(\d)$"
# The shape of each scheme's numbers, to be found inside any text: digits and separator,
# with a month and day that can occur (coordination day + 60; D-number day + 40, H-number
# month + 40), whatever the check digits.
_SHAPES = {
    "personnummer": r"(?:18|19|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-2][0-9]|3[01]|[6-8][0-9]"
                    r"|9[01])[-+]?[0-9]{4}",
    "fodselsnummer": r"[0-7][0-9](?:0[1-9]|1[0-2]|4[1-9]|5[0-2])[0-9]{2}[ -]?[0-9]{5}",
}
# The fewest bytes a value holding one of the shapes has (a ten-digit personnummer).
SHAPE_MIN_BYTES = 10
HIDDEN = "(hidden)"


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise UserError(
            f"unknown identity scheme '{scheme}' (registry.yaml identity_scheme must be one "
            f"of {', '.join(SCHEMES)})")


def _digit(s: pl.Expr, i: int) -> pl.Expr:
    return s.str.slice(i, 1).cast(pl.Int64, strict=False)


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    leap = ((year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))).cast(pl.Int64)
    return (pl.when(month == 2).then(28 + leap).when(month.is_in([4, 6, 9, 11])).then(30)
            .otherwise(31))


def _days_from_civil(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 of a year, month and day, by Hinnant's days_from_civil
    (2013, "chrono-Compatible Low-Level Date Algorithms"), in integer arithmetic."""
    before_march = (month <= 2).cast(pl.Int64)
    y = year - before_march
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month + 9 - 12 * (1 - before_march)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


# The years a date can be built in (an identity number's year is two or four digits).
_LAST_YEAR = 9999


@functools.cache
def _months() -> tuple[pl.Series, pl.Series]:
    """The first day (days since 1970-01-01) and the length of every month of the years
    0.._LAST_YEAR, indexed by year * 12 + month - 1."""
    index = pl.DataFrame({"i": pl.int_range(0, 12 * (_LAST_YEAR + 1), eager=True)})
    year, month = pl.col("i") // 12, pl.col("i") % 12 + 1
    table = index.select(first=_days_from_civil(year, month, pl.lit(1)),
                         length=_days_in_month(year, month))
    return table.get_column("first"), table.get_column("length")


def _date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """A date from integer parts, null where they make no calendar date (e.g. 1900-02-29)
    or the year is outside 0.._LAST_YEAR.

    Two lookups in a table of months (:func:`_months`): a tenth of the passes over the
    values that computing days_from_civil per value takes, with the same dates."""
    first, length = _months()
    month_index = (pl.when(month.is_between(1, 12) & year.is_between(0, _LAST_YEAR))
                   .then(year * 12 + month - 1))
    return (pl.when(day.is_between(1, pl.lit(length).gather(month_index)))
            .then(pl.lit(first).gather(month_index) + day - 1)
            .cast(pl.Int32).cast(pl.Date))


@functools.cache
def _month_arrays() -> tuple[np.ndarray, np.ndarray]:
    """:func:`_months` as numpy arrays of int32 (half the memory a lookup reads)."""
    return tuple(t.cast(pl.Int32).to_numpy() for t in _months())


# Whether a Luhn total (at most 90 with the check digit) is a multiple of 10.
_TENS = np.arange(100) % 10 == 0
# The forms of a personnummer by their length in bytes: (whether the year has its
# century, the place of the separator '-' or '+'). Any other length is no personnummer.
_SE_FORMS = {10: (False, None), 11: (False, 6), 12: (True, None), 13: (True, 8)}


# Numbers decoded at a time: the work arrays of a block stay in the processor's cache,
# and a large extract needs no more memory than a small one.
_BLOCK = 1 << 16


def _blocks(pid: pl.Series, length: np.ndarray) -> Iterator[tuple[int, slice | np.ndarray,
                                                                   pl.Series]]:
    """(length in bytes, places, values) of the numbers of each form, _BLOCK at a time:
    a slice of the column where every value has that length (no copy), else the rows
    gathered."""
    for width in _SE_FORMS:
        rows = np.flatnonzero(length == width)
        every = rows.size == pid.len()
        for start in range(0, rows.size, _BLOCK):
            if every:
                end = min(start + _BLOCK, rows.size)
                yield width, slice(start, end), pid.slice(start, end - start)
            else:
                at = rows[start:start + _BLOCK]
                yield width, at, pid.gather(at)


def _personnummer(pid: pl.Series, reference: dt.date, canonical: bool) -> pl.DataFrame:
    """Columns valid, birth_date, sex (and canonical) of stripped personnummer, unmasked
    (birth date, sex and canonical mean something only where valid).

    The numbers of each form are taken in blocks of bytes, a row per number
    (numpy), and read by arithmetic on the digits: no regular expression and no text cut
    into pieces, a few cheap passes over small integers instead of some forty polars
    passes over text. A byte that is not an ASCII digit (e.g. another script's digit,
    which also makes the length wrong) or a wrong separator makes the number invalid.
    Integer division and np.where (each ten times the cost of an addition) stay out of
    the twelve-digit path."""
    n = pid.len()
    length = pid.str.len_bytes().fill_null(0).to_numpy()
    valid = np.zeros(n, dtype=bool)
    days, serial_digit = np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.int32)
    # The century and the ten-digit form, only where the canonical spelling is wanted.
    year, ten = (np.zeros(n if canonical else 0, dtype=np.int64) for _ in range(2))
    first, month_length = _month_arrays()
    ref_days = (reference - dt.date(1970, 1, 1)).days
    for width, at, block in _blocks(pid, length):
        has_century, separator = _SE_FORMS[width]
        raw = np.frombuffer(block.str.join("").cast(pl.Binary).item(), dtype=np.uint8)
        raw = raw.reshape(block.len(), width)
        # Each digit's column as one byte (another byte wraps to a value above 9); small
        # integers, since every pass allocates and reads its result.
        d = [raw[:, i] - np.uint8(ord("0")) for i in range(width) if i != separator]
        ok = np.logical_and.reduce([x <= 9 for x in d])
        plus = np.zeros(block.len(), dtype=bool)
        if separator is not None:
            plus = raw[:, separator] == ord("+")
            ok &= plus | (raw[:, separator] == ord("-"))
        t = d[2:] if has_century else d  # the ten digits YYMMDDNNNC
        yy, mm, dd = (t[i] * np.int16(10) + t[i + 1] for i in (0, 2, 4))
        serial = t[6] * np.int16(100) + t[7] * np.int16(10) + t[8]
        day = (dd - (dd > 60) * np.uint8(60)).astype(np.int32)  # samordningsnummer: + 60
        if has_century:
            born = (d[0] * np.int32(10) + d[1]) * 100 + yy
        else:
            # The latest YYMMDD on or before the reference date; '+' adds a century.
            born = reference.year - (reference.year - yy) % 100
            after_ref = mm * 100 + day > reference.month * 100 + reference.day
            born = born - 100 * ((born == reference.year) & after_ref) - 100 * plus
        in_table = ok & (mm >= 1) & (mm <= 12) & (born >= 0) & (born <= _LAST_YEAR)
        month = (born * 12 + mm - 1) * in_table  # row 0 where there is no month
        birth = first[month] + day - 1
        # Luhn (1960) over the first nine digits, weights 2,1,2,...: a product of 10 or
        # more adds its two digits (2d - 9); with the check digit, a multiple of 10.
        total = sum(2 * x - (x > 4) * np.uint8(9) for x in t[0:9:2]) + sum(t[1:10:2])
        valid[at] = (in_table & ~(has_century & plus) & (serial != 0) & (day >= 1)
                     & (day <= month_length[month]) & (birth <= ref_days)
                     & _TENS[total * ok])
        days[at], serial_digit[at] = birth, t[8]
        if canonical:
            year[at] = born
            ten[at] = ((yy.astype(np.int64) * 10_000 + mm * 100 + dd) * 10_000
                       + serial * 10 + t[9])
    out = pl.DataFrame({"pid": pid, "valid": valid,
                        "birth_date": pl.Series(days).cast(pl.Date),
                        "sex": pl.Series(2 - (serial_digit & 1))})  # odd: a man
    if not canonical:
        return out
    # Twelve digits: the century, then the ten-digit form.
    return out.with_columns(canonical=pl.concat_str(
        (pl.Series(year) // 100).cast(pl.String),
        pl.Series(ten).cast(pl.String).str.zfill(10)))


def _mod11(digits: list[pl.Expr], weights: tuple[int, ...]) -> pl.Expr:
    """Norwegian mod-11 check digit: 11 - (weighted sum mod 11), 11 -> 0, 10 -> null."""
    total = pl.lit(0, dtype=pl.Int64)
    for d, w in zip(digits, weights, strict=True):
        total = total + d * w
    k = (11 - total % 11) % 11
    return pl.when(k == 10).then(None).otherwise(k)


def _fodselsnummer(frame: pl.LazyFrame, reference: dt.date) -> pl.LazyFrame:
    parts = ("dd", "mm", "yy", "ind", "k1", "k2")
    g = frame.select("pid", groups=pl.col("pid").str.extract_groups(_NO)
                     .struct.rename_fields(list(parts))).unnest("groups")
    g = g.with_columns(pl.concat_str("dd", "mm", "yy", "ind").alias("body"),
                       pl.concat_str(*parts).alias("canonical"))
    g = g.with_columns(pl.col(*parts).cast(pl.Int64, strict=False),
                       *(_digit(pl.col("body"), i).alias(f"d{i}") for i in range(9)))
    digits = [pl.col(f"d{i}") for i in range(9)]
    g = g.with_columns(
        c1=_mod11(digits, (3, 7, 6, 1, 8, 9, 4, 5, 2)),
        c2=_mod11([*digits, pl.col("k1")], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)),
        # D-number: day + 40; H-number: month + 40.
        day=pl.when(pl.col("dd") > 40).then(pl.col("dd") - 40).otherwise("dd"),
        month=pl.when(pl.col("mm") > 40).then(pl.col("mm") - 40).otherwise("mm"),
    )
    yy, ind = pl.col("yy"), pl.col("ind")
    # Century from the individual number (Folkeregisteret's allocation table).
    year = (
        pl.when(ind <= 499).then(1900 + yy)
        .when((ind <= 749) & (yy >= 54)).then(1800 + yy)
        .when((ind >= 500) & (yy <= 39)).then(2000 + yy)
        .when((ind >= 900) & (yy >= 40)).then(1900 + yy)
        .otherwise(None)
    )
    g = g.with_columns(birth_date=_date(year, pl.col("month"), pl.col("day")))
    valid = (pl.col("birth_date").is_not_null()
             & (pl.col("birth_date") <= pl.lit(reference))
             & (pl.col("c1") == pl.col("k1"))
             & (pl.col("c2") == pl.col("k2"))).fill_null(False)
    sex = pl.when(ind % 2 == 1).then(1).otherwise(2)
    return g.select("pid", valid.alias("valid"), "birth_date", sex.alias("sex"), "canonical")


def parse(series: pl.Series, scheme: str, reference: dt.date | None = None,
          columns: tuple[str, ...] = ("valid", "birth_date", "sex", "canonical"),
          ) -> pl.DataFrame:
    """Validate identity numbers and decode them, one row per input value.

    Returns columns ``valid`` (Boolean), ``birth_date`` (Date), ``sex`` (Int64, 1 man,
    2 woman) and ``canonical`` (String); birth date and sex are null where the number is
    invalid or the scheme encodes nothing (``pseudonym``). ``canonical`` is one spelling
    per identity, so that files writing it differently still link: twelve digits without
    separator for a personnummer, eleven digits for a fødselsnummer, and otherwise the
    value without surrounding blanks. ``reference`` (default today) resolves the century of
    the ten-digit personnummer, and a birth date after it is invalid; use the extract date
    for reproducible results. ``columns`` names the columns wanted: the steps only the
    others need are skipped (validation needs no canonical spelling, half the work).
    """
    _check_scheme(scheme)
    # Lazy, so that the steps of the decoding run as one plan, without the intermediate
    # columns of each step held in memory, and only for the columns asked for.
    pid = series.cast(pl.String).str.strip_chars().alias("pid")
    frame = pid.to_frame().lazy()
    if scheme == "pseudonym":
        out = frame.select("pid", valid=(pl.col("pid").str.len_chars() > 0).fill_null(False),
                           birth_date=pl.lit(None, pl.Date), sex=pl.lit(None, pl.Int64),
                           canonical="pid")
    elif scheme == "personnummer":
        out = _personnummer(pid, reference or dt.date.today(), "canonical" in columns).lazy()
    else:
        out = _fodselsnummer(frame, reference or dt.date.today())
    every = {
        "valid": pl.col("valid"),
        "birth_date": pl.when("valid").then("birth_date").alias("birth_date"),
        "sex": pl.when("valid").then("sex").cast(pl.Int64).alias("sex"),
        "canonical": pl.when("valid").then("canonical").otherwise("pid").alias("canonical"),
    }
    return out.select(every[c] for c in columns).collect()


def canonical(series: pl.Series, scheme: str, reference: dt.date | None = None) -> pl.Series:
    """One spelling per identity (see :func:`parse`), e.g. ``YYMMDD-NNNC`` ->
    ``YYYYMMDDNNNC``; invalid values are only stripped of surrounding blanks."""
    return parse(series, scheme, reference)["canonical"].rename(series.name)


def valid_mask(series: pl.Series, scheme: str, reference: dt.date | None = None) -> pl.Series:
    """Boolean Series: whether each identity number is valid in ``scheme`` (null -> False)."""
    return parse(series, scheme, reference)["valid"].rename(series.name)


def is_valid(pid: str, scheme: str, reference: dt.date | None = None) -> bool:
    """Whether one identity number is valid in ``scheme`` (see the module docstring)."""
    return bool(valid_mask(pl.Series([pid], dtype=pl.String), scheme, reference)[0])


def birth_date_and_sex(pid: str, scheme: str,
                       reference: dt.date | None = None) -> tuple[dt.date, int] | None:
    """The birth date and legal sex (1 man, 2 woman) a valid number encodes, else None.

    None also for ``pseudonym``, which encodes neither.
    """
    row = parse(pl.Series([pid], dtype=pl.String), scheme, reference).row(0, named=True)
    if row["birth_date"] is None:
        return None
    return row["birth_date"], row["sex"]


def pseudonym(canonical_id: str, key: bytes) -> str:
    """The keyed pseudonym of a canonical identity: HMAC-SHA256 (Krawczyk, Bellare and
    Canetti 1997, RFC 2104) as 64 hex digits. Without the key it can neither be reversed
    nor recomputed by hashing every possible identity number."""
    return hmac.new(key, canonical_id.encode("utf-8"), hashlib.sha256).hexdigest()


def shape_pattern(schemes: Iterable[str] = SCHEMES) -> str | None:
    """A regular expression finding, inside any text, a number shaped like one of the
    schemes' identity numbers: its digits (and separator) not part of a longer run of
    digits. None when no scheme has a shape (``pseudonym``)."""
    shapes = [_SHAPES[s] for s in dict.fromkeys(schemes) if s in _SHAPES]
    if not shapes:
        return None
    return r"(?:^|[^0-9])(?:" + "|".join(shapes) + r")(?:[^0-9]|$)"


def hide_shaped(value: pl.Expr, pattern: str | None) -> pl.Expr:
    """``value`` as text, replaced by ``(hidden)`` where it holds an identity-shaped
    number (see :func:`shape_pattern`)."""
    text = value.cast(pl.String)
    if pattern is None:
        return text
    return pl.when(text.str.contains(pattern)).then(pl.lit(HIDDEN)).otherwise(text)


def redact(text: str, schemes: Iterable[str] = SCHEMES) -> str:
    """``text`` with every identity-shaped number replaced by ``(hidden)``: the last guard
    on a message before it is printed."""
    shapes = [_SHAPES[s] for s in dict.fromkeys(schemes) if s in _SHAPES]
    if not shapes:
        return text
    return re.sub(r"(?<![0-9])(?:" + "|".join(shapes) + r")(?![0-9])", HIDDEN, text)
