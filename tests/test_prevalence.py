"""Prevalence (analysis/stats/prevalence.py) on a hand-made cohort whose answer is counted
by hand, in both shipped configurations (their age-group layouts are configuration)."""

from __future__ import annotations

from datetime import date as D

import polars as pl
import pytest

from analysis.commands.prevalence import default_date
from analysis.errors import UserError
from analysis.stats.prevalence import prevalence

AT = D(2020, 12, 31)
ALIVE = D(2021, 3, 31)  # vital status known to (the extract)

# person, subregistry, diagnosis, death, vital status date, birth, sex, county
ROWS = [
    ("p1", "lymphoma", D(2015, 3, 1), None, ALIVE, D(1950, 5, 5), 1, "01"),
    ("p2", "lymphoma", AT, None, ALIVE, D(1950, 12, 31), 2, "01"),       # diagnosed on the date
    ("p3", "lymphoma", D(2019, 6, 1), AT, AT, D(1940, 1, 1), 1, "01"),   # died on the date
    ("p4", "lymphoma", D(2018, 1, 1), D(2021, 1, 5), D(2021, 1, 5), D(1945, 2, 2), 1, "02"),
    ("p5", "lymphoma", D(2017, 1, 1), None, D(2019, 5, 1), D(1960, 1, 1), 2, "02"),  # lost
    ("p6", "lymphoma", D(2016, 5, 5), None, ALIVE, D(1955, 7, 7), 2, "02"),  # and in cll
    ("p6", "cll", D(2010, 1, 1), None, ALIVE, D(1955, 7, 7), 2, "02"),
    ("p7", "lymphoma", D(2012, 2, 2), None, ALIVE, D(1970, 1, 1), 1, "01"),  # registered
    ("p7", "lymphoma", D(2020, 2, 2), None, ALIVE, D(1970, 1, 1), 1, "02"),  # twice
    ("p8", "lymphoma", D(2021, 1, 1), None, ALIVE, D(1950, 1, 1), 1, "01"),  # after the date
    ("p9", "lymphoma", D(2005, 1, 1), None, ALIVE, D(1935, 1, 1), 1, "01"),
    ("p10", "lymphoma", D(2011, 1, 1), D(2020, 6, 1), D(2020, 6, 1), D(1930, 1, 1), 2, "01"),
]
CASES = pl.DataFrame(
    ROWS, orient="row",
    schema={"person_id": pl.String, "subregistry": pl.String, "diagnosis_date": pl.Date,
            "death_date": pl.Date, "vital_status_date": pl.Date, "birth_date": pl.Date,
            "sex": pl.Int64, "county": pl.String},
).with_columns(pl.col("county").replace_strict({"01": "r1", "02": "r2"}).alias("region"),
               pl.format("c{}", pl.int_range(pl.len())).alias("case_id"))
# 1000 persons in every county x sex x single year of age 0-100 in 2020: 404 000 in all.
POPULATION = (pl.DataFrame({"county": ["01", "02"], "region": ["r1", "r2"]})
              .join(pl.DataFrame({"sex": [1, 2]}), how="cross")
              .join(pl.DataFrame({"age": list(range(101))}), how="cross")
              .with_columns(year=pl.lit(2020, pl.Int64), population=pl.lit(1000.0)))


@pytest.fixture(params=["se", "no"], autouse=True)
def registry(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("BCR_DICTIONARY", raising=False)
    monkeypatch.setenv("BCR_REGISTRY", request.param)
    return request.param


def _row(frame: pl.DataFrame, sid: str, duration: int | None, **keys: object) -> dict:
    match = frame.filter(pl.col("subregistry") == sid, pl.col("duration").eq_missing(duration),
                         *(pl.col(k) == v for k, v in keys.items()))
    assert match.height == 1, match
    return match.row(0, named=True)


def test_counts_by_duration_follow_the_counting_method() -> None:
    out = prevalence(CASES, POPULATION, AT)
    # complete: p1, p2 (diagnosed on the date), p4 (dies after it), p6, p7 (once), p9;
    # not p3 (died on the date), p8 (diagnosed after), p10 (died before); p5 unknown.
    want = {None: (6, 1), 10: (5, 1), 5: (3, 1), 1: (1, 0)}
    for duration, (n, unknown) in want.items():
        row = _row(out, "lymphoma", duration)
        assert (row["n"], row["n_unknown_vital_status"]) == (n, unknown), duration
    # 10 years: after 2010-12-31 (p9 2005 out); 5: after 2015-12-31 (p1 March 2015 out,
    # p7 counts from its first diagnosis, 2012); 1: after 2019-12-31 (p2 only).
    assert _row(out, "lymphoma", None)["registry_start"] == D(2005, 1, 1)


def test_a_person_in_two_subregistries_counts_in_each() -> None:
    out = prevalence(CASES, POPULATION, AT)
    assert _row(out, "cll", None)["n"] == 1
    assert _row(out, "cll", 10)["n"] == 0  # diagnosed 2010-01-01, more than 10 years before


def test_rate_and_exact_poisson_interval() -> None:
    row = _row(prevalence(CASES, POPULATION, AT), "lymphoma", None)
    assert row["population"] == 404_000
    assert row["estimate"] == pytest.approx(6 / 404_000 * 1e5)
    # Garwood limits of a count of 6: chi2(0.025; 12) / 2 = 2.2018, chi2(0.975; 14) / 2
    # = 13.0591 (e.g. Ulm 1990, Am J Epidemiol 131:373, table of exact limits).
    assert row["lower"] == pytest.approx(2.2018 / 404_000 * 1e5, rel=1e-4)
    assert row["upper"] == pytest.approx(13.0591 / 404_000 * 1e5, rel=1e-4)


def test_groups_take_the_first_diagnosis_and_the_age_at_the_date() -> None:
    by_region = prevalence(CASES, POPULATION, AT, ["region"])
    # p7's first registration was in county 01 (r1); the second one, in 02, does not move it
    assert _row(by_region, "lymphoma", None, region="r1")["n"] == 4   # p1 p2 p7 p9
    assert _row(by_region, "lymphoma", None, region="r2")["n"] == 2   # p4 p6
    assert _row(by_region, "lymphoma", None, region="r2")["population"] == 202_000
    by_age = prevalence(CASES, POPULATION, AT, ["age_group", "sex"])
    # p2, born 1950-12-31, turns 70 on the date; p9, born 1935-01-01, is 85 (open group)
    assert _row(by_age, "lymphoma", 1, age_group="70-74", sex=2)["n"] == 1
    assert _row(by_age, "lymphoma", None, age_group="85+", sex=1)["n"] == 1
    # ages 85-100 of men in two counties: 16 x 1000 x 2
    assert _row(by_age, "lymphoma", None, age_group="85+", sex=1)["population"] == 32_000
    # every group is listed, also without prevalent persons
    assert _row(by_age, "cll", None, age_group="0-4", sex=1)["n"] == 0


def test_input_order_does_not_change_the_result() -> None:
    one = prevalence(CASES, POPULATION, AT, ["county"])
    two = prevalence(CASES.reverse(), POPULATION, AT, ["county"])
    assert one.equals(two)


def test_bad_requests_are_clear_errors() -> None:
    with pytest.raises(UserError, match="grouped by hospital"):
        prevalence(CASES, POPULATION, AT, ["hospital"])
    with pytest.raises(UserError, match="no figures for 2019"):
        prevalence(CASES, POPULATION, D(2019, 12, 31))


def test_default_date_is_the_last_year_end_before_the_extract() -> None:
    assert default_date(D(2026, 3, 31)) == D(2025, 12, 31)
    assert default_date(D(2025, 12, 31)) == D(2025, 12, 31)
