"""Number, percent and date formatting of the reports (CLDR conventions via babel)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from analysis.errors import UserError
from analysis.reporting import formatting as fmt
from analysis.reporting.labels import Text

NBSP = "\u00a0"


def test_swedish_numbers_have_decimal_comma_and_nbsp_thousands():
    # CLDR sv: decimal separator ",", grouping separator U+00A0.
    assert fmt.number(1234567.25, 2, "sv") == f"1{NBSP}234{NBSP}567,25"
    assert fmt.number(1234.5, 1, "en") == "1,234.5"


def test_percent_sv_has_space_before_sign_en_has_none():
    assert fmt.percent(0.052, 1, "sv") == f"5,2{NBSP}%"
    assert fmt.percent(0.052, 1, "en") == "5.2%"
    assert fmt.percent(1.0, 0, "sv") == f"100{NBSP}%"


def test_rounding_is_half_away_from_zero_on_the_printed_digits():
    # 0.125 and 2.5 are exact binary fractions: half-even would give 0.12 and 2.
    assert fmt.number(0.125, 2, "sv") == "0,13"
    assert fmt.number(2.5, 0, "en") == "3"
    assert fmt.number(-2.5, 0, "en") == "-3"
    assert fmt.percent(0.0525, 1, "en") == "5.3%"


def test_missing_values_are_empty_and_intervals_use_an_en_dash():
    assert fmt.number(None) == ""
    assert fmt.number(float("nan")) == ""
    assert fmt.interval(1.23, 4.5, 1, "sv") == "1,2\u20134,5"
    assert fmt.interval(0.25, 0.5, 0, "en", as_percent=True) == "25%\u201350%"
    assert fmt.interval(None, 4.5) == ""
    # A negative bound: "till", so that a range across zero does not read as two negatives.
    assert fmt.interval(-6.44, 0.8, 1, "sv") == f"{fmt.number(-6.44, 1, 'sv')} till 0,8"
    assert fmt.interval(-2.0, -1.0, 1, "en") == "-2.0 to -1.0"


def test_dates():
    day = dt.date(2026, 1, 5)
    assert fmt.date(day, "sv") == "5 januari 2026"
    assert fmt.date(day, "en") == "5 January 2026"
    assert fmt.date(day, "sv", "iso") == "2026-01-05"


def test_unknown_language_is_a_user_error():
    with pytest.raises(UserError, match="'de'"):
        fmt.number(1, 0, "de")
    with pytest.raises(UserError, match="'de'"):
        Text("de")


def _keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


def test_both_languages_have_the_same_wording_keys_and_placeholders():
    from analysis.data import dictionary as dd

    text = dd.load("report_text.yaml")
    assert _keys(text["sv"]) == _keys(text["en"])
    sv, en = Text("sv"), Text("en")
    for key in _keys(text["sv"]):
        assert sorted(re.findall(r"{(\w+)}", sv(key))) == sorted(
            re.findall(r"{(\w+)}", en(key))), key


def test_every_validation_rule_has_a_name_in_both_languages():
    import re

    from analysis.data import validate
    from analysis.reporting.labels import Text

    rules = [r.strip() for line in validate.__doc__.splitlines()
             if (m := re.match(r"^  ([a-z_]+(?:, [a-z_]+)*)\s{2,}", line))
             for r in m.group(1).split(",")]
    assert {"identity", "identity_mismatch", "minimum", "maximum"} <= set(rules)
    for lang in ("sv", "en"):
        for rule in rules:
            assert Text(lang)(f"quality.rules.{rule}")
