"""Identity numbers: check digits, century rules, coordination numbers and D-numbers.

Every valid example's check digits are worked by hand in the comment beside it (Luhn for
personnummer, Skatteverket SKV 704; the two mod-11 digits for fødselsnummer,
Skatteetaten's published weights 3 7 6 1 8 9 4 5 2 and 5 4 3 2 7 6 5 4 3 2).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analysis.data.identity import birth_date_and_sex, canonical, is_valid, parse, valid_mask
from analysis.errors import UserError

REF = dt.date(2024, 6, 15)
D = dt.date


# --- personnummer ------------------------------------------------------------------------
# 811218-9876 (Skatteverket's example): digits 8 1 1 2 1 8 9 8 7, weights 2 1 2 1 ...:
# 16->7, 1, 2, 2, 2, 8, 18->9, 8, 14->5 = 44 -> check 6; serial 987, 7 odd -> man.
# 121212-1212 ("Tolvan"): products all 2, sum 18 -> check 2; serial 121 -> man.
# 121212-1220: 2*8 + 4 = 20 -> check 0; serial 122 -> woman.
# 701063-2391 (samordningsnummer, day 63 = 3): 5+0+2+0+3+3+4+3+9 = 29 -> check 1.
# 240615-1239: 4+4+0+6+2+5+2+2+6 = 31 -> 9.   240616-1238: 32 -> 8.
# 000229-1235: 0+0+0+2+4+9+2+2+6 = 25 -> 5.
@pytest.mark.parametrize(("pid", "birth", "sex"), [
    ("811218-9876", D(1981, 12, 18), 1),
    ("8112189876", D(1981, 12, 18), 1),
    ("198112189876", D(1981, 12, 18), 1),
    ("19811218-9876", D(1981, 12, 18), 1),
    (" 811218-9876 ", D(1981, 12, 18), 1),
    ("121212-1212", D(2012, 12, 12), 1),
    ("121212+1212", D(1912, 12, 12), 1),   # '+' : 100 years or older
    ("19121212-1212", D(1912, 12, 12), 1),
    ("121212-1220", D(2012, 12, 12), 2),
    ("701063-2391", D(1970, 10, 3), 1),    # coordination number: day + 60
    # Century rule around the reference date 2024-06-15:
    ("240615-1239", D(2024, 6, 15), 1),    # born today: under 100 -> 2024
    ("240616-1238", D(1924, 6, 16), 1),    # 2024-06-16 is in the future -> 1924 (aged 99)
    ("240615+1239", D(1924, 6, 15), 1),    # exactly 100 today
    ("240616+1238", D(1824, 6, 16), 1),
    ("000229-1235", D(2000, 2, 29), 1),    # 2000 is a leap year
])
def test_valid_personnummer(pid: str, birth: dt.date, sex: int) -> None:
    assert is_valid(pid, "personnummer", REF)
    assert birth_date_and_sex(pid, "personnummer", REF) == (birth, sex)


@pytest.mark.parametrize("pid", [
    "811218-9877",      # wrong check digit
    "811218-9866",      # transposed digits change the Luhn sum
    "000229+1235",      # '+' puts it in 1900, which is no leap year
    "811318-9876",      # month 13
    "811232-9876",      # day 32
    "701092-2391",      # coordination day 92 -> 32
    "000229-0005",      # serial 000 is never issued (Luhn alone would pass: sum 15 -> 5)
    "19121212+1212",    # '+' has no meaning in the twelve-digit form
    "81121-89876", "811218_9876", "abcdefghij", "", "   ", "8112189876123",
])
def test_invalid_personnummer(pid: str) -> None:
    assert not is_valid(pid, "personnummer", REF)
    assert birth_date_and_sex(pid, "personnummer", REF) is None


def test_personnummer_of_every_form_mixed_in_one_column_keep_their_rows() -> None:
    """The numbers are decoded one block per length (10-13 bytes): in a column mixing the
    four forms with invalid values of the same lengths, each row gets its own result.
    A digit of another script (٣, two bytes) or a separator other than - and + is no
    personnummer; '+' in the twelve-digit form neither."""
    values = ["811218-9876", "121212+1212", "121212-1220", "8112189876", "811218/9876",
              "19811218-9876", None, "198112189876", "81121٣-9876", "19811218+9876",
              "701063-2391", "000229-0005", "", "19121212/1212", "1981121898760"]
    frame = parse(pl.Series(values, dtype=pl.String), "personnummer", REF)
    expected = {0: (D(1981, 12, 18), 1), 1: (D(1912, 12, 12), 1), 2: (D(2012, 12, 12), 2),
                3: (D(1981, 12, 18), 1), 5: (D(1981, 12, 18), 1), 7: (D(1981, 12, 18), 1),
                10: (D(1970, 10, 3), 1)}
    assert frame["valid"].to_list() == [i in expected for i in range(len(values))]
    assert frame["birth_date"].to_list() == [expected.get(i, (None,))[0]
                                             for i in range(len(values))]
    assert frame["sex"].to_list() == [expected.get(i, (None, None))[1]
                                      for i in range(len(values))]
    assert frame["canonical"].to_list()[:4] == ["198112189876", "191212121212",
                                                "201212121220", "198112189876"]
    assert frame["canonical"][4] == "811218/9876"  # invalid: as written


# --- fødselsnummer -----------------------------------------------------------------------
# 01019012480: digits 0 1 0 1 9 0 1 2 4;
#   K1: 0+7+0+1+72+0+4+10+8 = 102, 102 mod 11 = 3 -> 11-3 = 8
#   K2: 0+4+0+2+63+0+5+8+12+2*8 = 110, mod 11 = 0 -> 11 -> 0; individual 124, 4 even -> woman
# 41019012474 (D-number, day 41 = 1): K1 102+12 = 114, mod 11 = 4 -> 7;
#   K2 110 + 5*4 - 2*8 + 2*7 = 128, mod 11 = 7 -> 4
# 01019012561: K1 0+7+0+1+72+0+4+10+10 = 104 -> 6; K2 0+4+0+2+63+0+5+8+15+12 = 109 -> 1;
#   individual 125, odd -> man
# 01011050081: individual 500 with year 10 -> 2010; K1 7+1+8+20 = 36 -> 8;
#   K2 4+2+7+25+16 = 54, mod 11 = 10 -> 1
FODSELSNUMMER_VALID = [
    ("01019012480", D(1990, 1, 1), 2),
    ("010190 12480", D(1990, 1, 1), 2),
    ("41019012474", D(1990, 1, 1), 2),
    ("01019012561", D(1990, 1, 1), 1),
    ("01011050081", D(2010, 1, 1), 2),
    # H-number, month 41 = 1: K1 0+7+24+1+56+0+4+10+6 = 108, mod 11 = 9 -> 2;
    # K2 0+4+12+2+49+0+5+8+9+2*2 = 93, mod 11 = 5 -> 6; individual 123, odd -> man
    ("01417012326", D(1970, 1, 1), 1),
]
# Also read through the Norwegian configuration's identity scheme (tests/test_registries.py).
FODSELSNUMMER_INVALID = [
    "01019012481",   # K2 wrong
    "01019012470",   # K1 wrong
    "01019012300",   # individual 123 gives K1 remainder 10: no valid number exists
    "31029012480",   # 31 February
    "0101901248",    # ten digits
    "0101901248X",
]


@pytest.mark.parametrize(("pid", "birth", "sex"), FODSELSNUMMER_VALID)
def test_valid_fodselsnummer(pid: str, birth: dt.date, sex: int) -> None:
    assert is_valid(pid, "fodselsnummer")
    assert birth_date_and_sex(pid, "fodselsnummer") == (birth, sex)


@pytest.mark.parametrize("pid", FODSELSNUMMER_INVALID)
def test_invalid_fodselsnummer(pid: str) -> None:
    assert not is_valid(pid, "fodselsnummer")


def test_a_birth_date_after_the_reference_date_is_invalid() -> None:
    # 01.01.39 with individual 800 is 2039 (Folkeregisteret's table): not yet born.
    assert not is_valid("01013980094", "fodselsnummer", D(2026, 12, 1))
    assert is_valid("01013980094", "fodselsnummer", D(2039, 1, 1))
    assert not is_valid("20391212-1211", "personnummer", D(2026, 12, 1))
    assert is_valid("20391212-1211", "personnummer", D(2040, 1, 1))


def test_fodselsnummer_century_table() -> None:
    # Folkeregisteret: individual numbers 500-749 with year 40-53 were never allocated.
    # Date 01.01.45, individual 500: K1 = 0+7+0+1+32+45+20+0+0 = 105, mod 11 = 6 -> 5, so
    # a check-digit-only validator would accept one of 010145500 5x; none may pass.
    frame = parse(pl.Series([f"010145500{k1}{k2}" for k1 in range(10) for k2 in range(10)]),
                  "fodselsnummer")
    assert not frame["valid"].any()


# --- pseudonym and the vectorised API ------------------------------------------------------
def test_pseudonym_scheme() -> None:
    mask = valid_mask(pl.Series("person_id", ["a1b2", "", None, "  "]), "pseudonym")
    assert mask.to_list() == [True, False, False, False]
    assert mask.name == "person_id"
    assert birth_date_and_sex("a1b2", "pseudonym") is None


def test_valid_mask_matches_scalar_and_handles_nulls() -> None:
    ids = ["811218-9876", "811218-9877", None, "121212-1220"]
    mask = valid_mask(pl.Series(ids), "personnummer", REF)
    assert mask.to_list() == [True, False, False, True]
    frame = parse(pl.Series(ids), "personnummer", REF)
    assert frame["sex"].to_list() == [1, None, None, 2]
    assert frame["birth_date"].to_list() == [D(1981, 12, 18), None, None, D(2012, 12, 12)]


def test_unknown_scheme_is_a_user_error_without_the_number() -> None:
    with pytest.raises(UserError, match="unknown identity scheme 'ssn'") as info:
        is_valid("811218-9876", "ssn")
    assert "811218" not in str(info.value)


def test_canonical_spelling_links_the_forms_of_one_number() -> None:
    ids = pl.Series("p", ["811218-9876", " 8112189876", "19811218-9876", "121212+1212",
                          "701063-2391", "010190 12480", "bad ", None])
    se = canonical(ids, "personnummer", REF).to_list()
    # The century comes from the century rule: 121212+1212 is 1912, 701063 is 1970.
    assert se[:5] == ["198112189876", "198112189876", "198112189876", "191212121212",
                      "197010632391"]
    assert se[6:] == ["bad", None]                 # invalid: only stripped
    assert canonical(ids[5:6], "fodselsnummer").to_list() == ["01019012480"]


def _luhn_digit(nine: str) -> int:
    """The textbook Luhn check digit (weights 2, 1, 2, ... from the left)."""
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(nine))
    return (10 - total % 10) % 10


def test_every_birth_date_and_check_digit_of_a_century_decodes_by_the_lookups() -> None:
    """The Luhn sum looked up per three digits and the date per month give the textbook
    results: every 5th day of 1900-2023 (leap days included) with a right check digit is
    valid with its date and sex, the same number with any other check digit is not, and
    29 February of a year that is not a leap year is no date."""
    days = [D(1900, 1, 1) + dt.timedelta(days=k) for k in range(0, 45000, 5)]
    days += [D(2000, 2, 29), D(1904, 2, 29)]
    ids, wrong, births, sexes = [], [], [], []
    for k, day in enumerate(days):
        serial = f"{(k * 37) % 999 + 1:03d}"
        nine = day.strftime("%y%m%d") + serial
        digit = _luhn_digit(nine)
        ids.append(f"{day:%Y%m%d}-{serial}{digit}")
        wrong.append(f"{day:%Y%m%d}-{serial}{(digit + 1 + k % 9) % 10}")
        births.append(day)
        sexes.append(1 if int(serial) % 2 else 2)
    frame = parse(pl.Series(ids), "personnummer", REF)
    assert frame["valid"].all()
    assert frame["birth_date"].to_list() == births
    assert frame["sex"].to_list() == sexes
    assert not valid_mask(pl.Series(wrong), "personnummer", REF).any()
    no_day = [f"19000229-123{_luhn_digit('000229123')}", f"21000229-123{_luhn_digit('000229123')}"]
    assert not valid_mask(pl.Series(no_day), "personnummer", D(2200, 1, 1)).any()
