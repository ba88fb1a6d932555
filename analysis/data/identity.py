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

All checks are polars expressions, so a million identities validate in well under a
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
from collections.abc import Iterable

import polars as pl

from analysis.errors import UserError

SCHEMES = ("personnummer", "fodselsnummer", "pseudonym")

_SE = r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$"
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


def _luhn_blocks() -> tuple[list[int], list[int]]:
    """Luhn's sum of each block of three digits 000..999, weighted 2,1,2 and 1,2,1 (the
    digit sum of each product)."""
    def block(weights: tuple[int, ...]) -> list[int]:
        return [sum(sum(divmod(int(d) * w, 10)) for d, w in zip(f"{i:03d}", weights,
                                                                  strict=True))
                for i in range(1000)]
    return block((2, 1, 2)), block((1, 2, 1))


_LUHN_212, _LUHN_121 = _luhn_blocks()


def _luhn_ok(nine: pl.Expr, check: pl.Expr) -> pl.Expr:
    """Luhn (1960) check: weights 2,1,2,... from the left over nine digits (``nine``: the
    digits as one integer); the digit sum of each product is added; the check digit
    brings the total to a multiple of 10. The sum is looked up per block of three digits
    (weights 2,1,2 / 1,2,1 / 2,1,2): three lookups instead of 45 passes."""
    outer, inner = pl.Series(_LUHN_212), pl.Series(_LUHN_121)
    total = (pl.lit(outer).gather(nine // 1_000_000) + pl.lit(inner).gather(nine // 1000 % 1000)
             + pl.lit(outer).gather(nine % 1000))
    return (10 - total % 10) % 10 == check


def _personnummer(frame: pl.LazyFrame, reference: dt.date) -> pl.LazyFrame:
    # The pattern checks the form once; the digits before the serial number (YYMMDD or
    # YYYYMMDD) and the last four (serial and check digit) are then read as two integers
    # and the parts taken out of them by arithmetic: no capture groups and no text built
    # per row, several times faster on a million numbers. A "digit" that is not 0-9 (\d
    # matches other scripts' digits) gives a null integer, so an invalid number.
    pid = pl.col("pid")
    length = pid.str.len_chars()
    shaped = pid.str.contains(_SE).fill_null(False)
    separated = length % 2 == 1
    front = pl.when(shaped).then(pid.str.head(-4 - separated.cast(pl.Int64))
                                 .cast(pl.Int64, strict=False))
    g = frame.select(
        "pid",
        yymmdd=front % 1_000_000,
        last4=pl.when(shaped).then(pid.str.tail(4).cast(pl.Int64, strict=False)),
        has_century=shaped & (length >= 12),
        century=front // 1_000_000,
        plus=shaped & separated & (pid.str.slice(-5, 1) == "+"))
    g = g.with_columns(yy=pl.col("yymmdd") // 10_000, mm=pl.col("yymmdd") // 100 % 100,
                       dd=pl.col("yymmdd") % 100, serial=pl.col("last4") // 10,
                       check=pl.col("last4") % 10,
                       nine=pl.col("yymmdd") * 1000 + pl.col("last4") // 10)
    g = g.with_columns(pl.when(pl.col("dd") > 60).then(pl.col("dd") - 60).otherwise("dd"))
    # Ten-digit form: the latest YYMMDD on or before the reference date; '+' adds a century.
    ref_year = reference.year
    after_ref = (pl.col("mm") * 100 + pl.col("dd")) > (reference.month * 100 + reference.day)
    g = g.with_columns(candidate=ref_year - (ref_year - pl.col("yy")) % 100)
    g = g.with_columns(candidate=pl.when((pl.col("candidate") == ref_year) & after_ref)
                       .then(pl.col("candidate") - 100).otherwise("candidate"))
    year = (
        pl.when(pl.col("has_century")).then(pl.col("century") * 100 + pl.col("yy"))
        .when(pl.col("plus")).then(pl.col("candidate") - 100)
        .otherwise("candidate")
    )
    ten = (pl.col("yymmdd") * 10_000 + pl.col("last4")).cast(pl.String).str.zfill(10)
    g = g.with_columns(birth_date=_date(year, pl.col("mm"), pl.col("dd")),
                       luhn=_luhn_ok(pl.col("nine"), pl.col("check")),
                       canonical=pl.concat_str((year // 100).cast(pl.String), ten))
    valid = (
        pl.col("yy").is_not_null()
        # '+' only belongs to the ten-digit form, where it carries the century.
        & ~(pl.col("has_century") & pl.col("plus"))
        & (pl.col("serial") != 0)
        & pl.col("birth_date").is_not_null()
        & (pl.col("birth_date") <= pl.lit(reference))
        & pl.col("luhn")
    ).fill_null(False)
    sex = pl.when(pl.col("serial") % 2 == 1).then(1).otherwise(2)
    return g.select("pid", valid.alias("valid"), "birth_date", sex.alias("sex"), "canonical")


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
    frame = pl.DataFrame({"pid": series.cast(pl.String).str.strip_chars()}).lazy()
    if scheme == "pseudonym":
        out = frame.select("pid", valid=(pl.col("pid").str.len_chars() > 0).fill_null(False),
                           birth_date=pl.lit(None, pl.Date), sex=pl.lit(None, pl.Int64),
                           canonical="pid")
    elif scheme == "personnummer":
        out = _personnummer(frame, reference or dt.date.today())
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
