"""The release's prevalence family (analysis.privacy.prevalence) and pooled-year windows
(analysis.privacy.pooled): hand-counted cells, the nested windows linked so that a masked
count cannot be recovered by differencing them, and the disclosure audit passing."""

from __future__ import annotations

from datetime import date as D

import polars as pl
import pytest

from analysis.privacy import audit as lp_audit
from analysis.privacy import pooled
from analysis.privacy.disclosure import rules
from analysis.privacy.prevalence import period_label, prevalence_cells
from analysis.privacy.release import KEYS, TOTAL, build_release, release_spec

AT = D(2024, 12, 31)


def _cases(groups: list[tuple[str, str, list[D]]]) -> pl.DataFrame:
    """One case per diagnosis date: (subregistry, county, dates), every person alive and
    followed up to 2025, men and women alternately."""
    rows = [(sid, county, dx) for sid, county, dates in groups for dx in dates]
    from analysis.data import dictionary as dd
    region = dict(dd.counties().select("county", "region").iter_rows())
    return pl.DataFrame(rows, orient="row", schema=["subregistry", "county", "diagnosis_date"],
                        ).with_columns(
        pl.format("p{}", pl.int_range(pl.len())).alias("person_id"),
        pl.format("c{}", pl.int_range(pl.len())).alias("case_id"),
        (pl.int_range(pl.len()) % 2 + 1).alias("sex"),
        pl.col("county").replace_strict(region).alias("region"),
        pl.lit(D(1950, 6, 1)).alias("birth_date"), pl.lit(None, pl.Date).alias("death_date"),
        pl.lit(D(2025, 3, 31)).alias("vital_status_date"),
        pl.col("diagnosis_date").dt.year().alias("year"),
        (pl.col("diagnosis_date").dt.year() - 1950).alias("age"))


def _population(counties: list[str]) -> pl.DataFrame:
    from analysis.data import dictionary as dd
    region = dict(dd.counties().select("county", "region").iter_rows())
    return (pl.DataFrame({"county": counties, "region": [region[c] for c in counties]})
            .join(pl.DataFrame({"sex": [1, 2]}), how="cross")
            .join(pl.DataFrame({"age": list(range(101))}), how="cross")
            .with_columns(year=pl.lit(2024, pl.Int64), population=pl.lit(1000.0)))


@pytest.fixture(scope="module")
def cml():
    """CML: Stockholm (01) 2 persons diagnosed in 2024 and 10 in 2021-2022; Uppsala (03)
    8 in 2024 and 20 in 2010-2012; every other county none."""
    cases = _cases([
        ("cml", "01", [D(2024, 3, 1), D(2024, 9, 1)]),
        ("cml", "01", [D(2021, m, 1) for m in range(1, 11)]),
        ("cml", "03", [D(2024, m, 1) for m in range(1, 9)]),
        ("cml", "03", [D(2010 + i % 3, i % 12 + 1, 1) for i in range(20)]),
    ])
    return cases, _population(["01", "09", "03", "04", "17", "18", "19", "20", "21", "05",
                               "06", "08", "07", "10", "12", "13", "14", "22", "23", "24",
                               "25"])


def _n(cells: pl.DataFrame, family: str, region: str = TOTAL, sex: str = TOTAL) -> dict:
    row = cells.filter(pl.col("family") == family, pl.col("region") == region,
                       pl.col("sex") == sex)
    assert row.height == 1
    return row.row(0, named=True)


def test_prevalence_cells_count_persons_by_window(cml) -> None:
    cases, population = cml
    cells = prevalence_cells(cases, population, AT, ["cml"])
    assert set(cells["period"].to_list()) == {period_label(AT)} == {"2024.12.31"}
    sg, mv = "stockholm_gotland", "mellansverige"
    for family, want in (("prevalence 1", {sg: 2, mv: 8, TOTAL: 10}),
                         ("prevalence 5", {sg: 12, mv: 8, TOTAL: 20}),
                         ("prevalence 10", {sg: 12, mv: 8, TOTAL: 20}),
                         ("prevalence complete", {sg: 12, mv: 28, TOTAL: 40})):
        for region, n in want.items():
            assert _n(cells, family, region)["n"] == n, (family, region)
    # alternate sexes: Stockholm's two 2024 cases are one man and one woman
    assert _n(cells, "prevalence 1", sg, "1")["n"] == 1


def test_release_links_the_windows_and_passes_the_audit(cml) -> None:
    cases, population = cml
    # build_release repeats suppression and the LP audit until no masked count (and no
    # sensitive hidden one) can be pinned inside 1..k-1; it raises otherwise.
    release = build_release(cases, release_spec(cases, 2024), prevalence_rows=
                            prevalence_cells(cases, population, AT, ["cml"]))
    cells = release.cells
    sg = "stockholm_gotland"
    # Stockholm's 1-year count (2) is masked; Uppsala's complete count (28) is not.
    assert _n(cells, "prevalence 1", sg)["flag"] == "primary"
    assert _n(cells, "prevalence complete", "mellansverige")["n"] == 28
    # The (1, 5] persons are a hidden, sensitive cell: 5-year = 1-year + (1, 5].
    index = {k: i for i, k in enumerate(cells.select(KEYS).rows())}
    key = lambda fam: (fam, "cml", sg, TOTAL, TOTAL, TOTAL, TOTAL, "2024.12.31")  # noqa: E731
    p5, p1, between = (index[key(f)] for f in ("prevalence 5", "prevalence 1",
                                                "prevalence 1 excluded"))
    assert (p5, [p1, between]) in release.equations
    assert cells.row(between, named=True)["flag"] == "hidden"
    assert cells.row(between, named=True)["sensitive"]


def test_the_link_is_what_protects_the_one_year_count() -> None:
    """Stockholm's cells: 5-year 12 = 1-year 2 + (1, 5] 10. Were the (1, 5] count
    published, the masked 1-year count would be pinned at 2; hidden and sensitive, as the
    release keeps it, the audit finds nothing."""
    k, values, eqs = rules().k, [12.0, 2.0, 10.0], [(0, [1, 2])]
    published = lp_audit.failures(values, [False, True, False], [False, True, False],
                                  [False, False, False], eqs, k)
    assert published == [1]
    linked = lp_audit.failures(values, [False, True, True], [False, True, False],
                               [False, False, True], eqs, k, [False, False, True])
    assert linked == []


def test_pooled_periods_are_windows_of_the_release(monkeypatch) -> None:
    """Norway pools the rare-diagnosis subregistry over five years: the release holds
    2016-2020 and 2021-2025 as windows of new cases, linked to their single years, and
    its audit passes on a sparse subregistry."""
    monkeypatch.delenv("BCR_DICTIONARY", raising=False)
    monkeypatch.setenv("BCR_REGISTRY", "no")
    assert pooled.settings() == (["histio"], 5)
    assert pooled.periods(2025, 2016) == [(2021, 2025), (2016, 2020)]
    assert pooled.periods(2025, 2018) == [(2021, 2025), (2018, 2020)]
    from analysis.data import dictionary as dd
    counties = dd.counties()["county"].to_list()
    # 1 or 2 histiocytic cases a year in two counties, 2016-2025.
    cases = _cases([("histio", counties[0], [D(y, 5, 1) for y in range(2016, 2026)]),
                    ("histio", counties[-1], [D(y, 7, 1) for y in range(2016, 2026, 3)])])
    spec = release_spec(cases, 2025)
    assert (2016, 2020) in spec.windows and (2021, 2025) in spec.windows
    release = build_release(cases, spec)
    cells = release.cells
    nation = cells.filter(pl.col("family") == "cases", pl.col("region") == TOTAL,
                          pl.col("sex") == TOTAL, pl.col("county") == TOTAL,
                          pl.col("age_group") == TOTAL,
                          pl.col("subregistry") == "histio")
    by_period = dict(nation.select("period", "n").iter_rows())
    # 5 + 2 (2016, 2019) and 5 + 2 (2022, 2025): published; single years are 1 or 2.
    assert by_period["2016-2020"] == 7 and by_period["2021-2025"] == 7
    assert by_period["2017"] is None
    keys = cells.select(KEYS).rows()
    index = {k: i for i, k in enumerate(keys)}
    window = index[("cases", "histio", TOTAL, TOTAL, TOTAL, TOTAL, TOTAL, "2016-2020")]
    years = sorted(index[("cases", "histio", TOTAL, TOTAL, TOTAL, TOTAL, TOTAL, str(y))]
                   for y in range(2016, 2021))
    assert (window, years) in [(m, sorted(c)) for m, c in release.equations]
