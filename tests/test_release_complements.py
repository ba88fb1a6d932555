"""How many complements the release chooses: as few as the audit allows (issue 13's
over-suppression), on hand-made registries whose minimum is known."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import audit
from analysis.privacy import published as pb
from analysis.privacy import release as rl

K = 5  # registry.yaml disclosure.k


def hospitals_by_region() -> dict[str, list[str]]:
    region = dict(dd.counties().select("county", "region").iter_rows())
    out: dict[str, list[str]] = {}
    for h in dd.load("hospitals.yaml")["hospitals"]:
        out.setdefault(region[h["county"]], []).append(h["code"])
    return out


def registry(small: dict[str, int]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """400 lymphoma cases per region and year (2024, 2025), and the MDT indicator's
    eligible cases: 30 per hospital from its own region, ``small`` ones excepted."""
    county = {r: c for c, r in dd.counties().select("county", "region").iter_rows()}
    cases = pl.DataFrame([("lymphoma", county[r], 1 + i % 2, 60.0, y)
                          for r in county for y in (2024, 2025) for i in range(400)],
                         schema=["subregistry", "county", "sex", "age", "year"],
                         orient="row").with_columns(
        pl.col("county").replace_strict({c: r for r, c in county.items()}).alias("region"))
    rows = pl.DataFrame([("mdt_discussed", "lymphoma", r, h, y, small.get(h, 30))
                         for r, hs in hospitals_by_region().items() for h in hs
                         for y in (2024, 2025)],
                        schema=["family", "subregistry", "region", "hospital", "year", "n"],
                        orient="row")
    return cases, rows


def hospital_flags(release: rl.Release) -> dict[str, str | None]:
    cells = release.cells.filter((pl.col("family") == "mdt_discussed")
                                 & (pl.col("region") == rl.TOTAL)
                                 & ~pl.col("hospital").is_in([rl.TOTAL, rl.UNKNOWN]))
    return dict(cells.select("hospital", "flag").iter_rows())


def test_one_small_hospital_of_five_costs_one_complement_in_its_region():
    # Syd's five hospitals, one with 3 eligible cases: the region's total is shown, so
    # one more Syd hospital is masked (the minimum) and no other hospital anywhere.
    syd = hospitals_by_region()["syd"]
    assert len(syd) == 5
    cases, rows = registry({syd[-1]: 3})
    release = rl.build_release(cases, rl.release_spec(cases, 2025), rows)
    flags = hospital_flags(release)
    assert flags[syd[-1]] == "primary"
    masked = [h for h, f in flags.items() if f is not None]
    assert len(masked) == 2 and set(masked) <= set(syd)
    result = pb.audit_published(pb.published(release))
    assert result.height and result["ok"].all()


def test_hospitals_with_no_small_count_are_all_shown():
    # Every hospital serves only its own region, so each region's cells at the hospitals
    # follow from the hospitals' totals; they are large and need no protection.
    cases, rows = registry({})
    release = rl.build_release(cases, rl.release_spec(cases, 2025), rows)
    assert all(f is None for f in hospital_flags(release).values())


def test_a_patient_treated_outside_the_region_is_protected():
    # One Norr patient at a Syd hospital: the cell (norr, hospital) is never published,
    # and the rest of the release must not pin it down.
    syd = hospitals_by_region()["syd"]
    cases, rows = registry({})
    rows = pl.concat([rows, pl.DataFrame(
        [("mdt_discussed", "lymphoma", "norr", syd[0], 2025, 1)], schema=rows.schema,
        orient="row")])
    release = rl.build_release(cases, rl.release_spec(cases, 2025), rows)
    cell = release.cells.with_row_index("i").filter(
        (pl.col("family") == "mdt_discussed") & (pl.col("region") == "norr")
        & (pl.col("hospital") == syd[0]))
    assert cell["sensitive"].item() and cell["flag"].item() == "hidden"
    result = pb.audit_published(pb.published(release))
    found = result.filter((pl.col("region") == "norr") & (pl.col("hospital") == syd[0]))
    assert found["ok"].item() and found["highest"].item() - found["lowest"].item() >= K - 1
    assert result["ok"].all()


def test_complements_take_the_cheapest_cell_that_widens_the_interval_enough():
    # 50 = x + y + a + b with x = 1, y = 2 masked: x lies in 0..3. The smallest other
    # cell, a = 7, is pinned by 12 = a + c (c = 5 shown), so masking it changes nothing;
    # b = 40 is the cheapest complement that makes x's interval k-1 wide (0..43).
    values = [1, 2, 7, 40, 50, 5, 12]
    masked = [True, True, False, False, False, False, False]
    eqs = [(4, [0, 1, 2, 3]), (6, [2, 5])]
    assert audit.ranges(values, masked, eqs, [0]) == {0: (0.0, 3.0)}
    assert audit.complements(values, masked, [False] * 7, eqs, [0], K) == [3]
    assert audit.ranges(values, [True, True, False, True] + [False] * 3, eqs, [0]) == {
        0: (0.0, 43.0)}


def test_cases_with_no_hospital_are_not_pinned_by_the_published_sums():
    # Two Syd patients with no hospital: the region's total minus its hospitals would
    # give 2 if every Syd hospital were shown; the cell is never published and the
    # release must leave it at least k-1 wide.
    cases, rows = registry({})
    rows = pl.concat([rows, pl.DataFrame(
        [("mdt_discussed", "lymphoma", "syd", None, 2025, 2)], schema=rows.schema,
        orient="row")])
    release = rl.build_release(cases, rl.release_spec(cases, 2025), rows)
    result = pb.audit_published(pb.published(release))
    found = result.filter((pl.col("region") == "syd") & (pl.col("hospital") == rl.UNKNOWN)
                          & (pl.col("period") == "2025"))
    assert found.height == 1
    assert found["ok"].item() and found["highest"].item() - found["lowest"].item() >= K - 1
    assert result["ok"].all()
