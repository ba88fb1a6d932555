"""Numbers, percentages and dates formatted for reading, in the registry's languages.

Uses the CLDR conventions through babel, for the locale each language names in
registry.yaml (``languages``): Swedish and Norwegian bokmål have a decimal comma, a
non-breaking space as thousands separator and a space before the percent sign
("1 234,5", "5,2 %"); English (British) has "1,234.5" and "5.2%".
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import NumberPattern, get_decimal_symbol, parse_pattern

from analysis.data import dictionary as dd


def locale(lang: str) -> str:
    """The babel locale of a report language (registry.yaml ``languages``)."""
    return dd.locale(lang)


@cache
def _babel(name: str) -> Locale:
    return Locale.parse(name)


@cache
def _pattern(decimals: int, percent: bool = False) -> NumberPattern:
    """The CLDR number pattern of a fixed number of decimals, parsed once (babel's
    format_decimal parses its pattern and locale at every call: a report prints 20 000
    numbers)."""
    return parse_pattern("#,##0" + ("." + "0" * decimals if decimals else "")
                         + ("%" if percent else ""))


@cache
def _spaced_percent(name: str) -> bool:
    """Whether the locale's CLDR percent pattern puts a space before the sign (sv, nb)."""
    return "\u00a0%" in Locale.parse(name).percent_formats[None].pattern


def _missing(value: float | int | None) -> bool:
    """No printable value: None, NaN, or an infinite bound (e.g. a hazard ratio's upper
    limit when a region has no deaths)."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _round(value: float | int, decimals: int) -> Decimal:
    # Half away from zero on the decimal digits as printed (0.125 -> 0.13, 2.5 -> 3), as
    # Stata and SAS display; babel alone would round half to even.
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def printed_percent(proportion: float, decimals: int = 1) -> float:
    """A proportion in percent rounded as :func:`percent` prints it (0.94855 -> 94.9), so
    that a difference of printed shares agrees with the printed columns."""
    return float(_round(proportion, decimals + 2).scaleb(2))


def _digits(value: float | int, decimals: int) -> localcontext:
    """A decimal context with digits enough for `value` at `decimals` places (the
    default 28 fail on a hazard ratio of 1e+30 when a Cox model separates)."""
    return localcontext(Context(prec=max(28, Decimal(repr(value)).adjusted() + decimals + 3)))


def number(value: float | int | None, decimals: int = 0, lang: str = "sv") -> str:
    """A number with a fixed number of decimals; empty for a missing value."""
    if _missing(value):
        return ""
    with _digits(value, decimals):
        return _pattern(decimals).apply(_round(value, decimals), _babel(locale(lang)),
                                        decimal_quantization=True)


def percent(proportion: float | None, decimals: int = 1, lang: str = "sv") -> str:
    """A proportion (0..1) as a percentage: "5,2 %" (sv), "5.2%" (en)."""
    if _missing(proportion):
        return ""
    with _digits(proportion * 100, decimals):
        text = _pattern(decimals, percent=True).apply(
            _round(proportion, decimals + 2), _babel(locale(lang)), decimal_quantization=True)
    # CLDR's Swedish and Norwegian percent patterns have a non-breaking space before the
    # sign; the explicit pattern above drops it, so put it back.
    return text.replace("%", "\u00a0%") if _spaced_percent(locale(lang)) else text


def interval(lower: float | None, upper: float | None, decimals: int = 1,
             lang: str = "sv", as_percent: bool = False) -> str:
    """A confidence interval "lower–upper" (en dash), or "lower till upper" / "lower to
    upper" when a bound is negative ("−6,4–0,8" reads as a range of two negatives); empty
    when a bound is missing."""
    if _missing(lower) or _missing(upper):
        return ""
    fmt = percent if as_percent else number
    to = dd.languages()[dd.language(lang)]["to"]
    dash = f" {to} " if min(lower, upper) < 0 else "\u2013"
    return f"{fmt(lower, decimals, lang)}{dash}{fmt(upper, decimals, lang)}"


def date(value: dt.date | None, lang: str = "sv", style: str = "long") -> str:
    """A date: "5 januari 2026" (sv long), "2026-01-05" (style 'iso')."""
    if value is None:
        return ""
    if style == "iso":
        return value.isoformat()
    return format_date(value, format=style, locale=locale(lang))


def decimal_mark(lang: str) -> str:
    """The decimal separator of a report language ("," in Swedish), for figure axes."""
    return get_decimal_symbol(locale(lang))
