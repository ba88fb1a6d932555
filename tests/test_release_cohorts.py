"""The survival and completeness families of the release: cohort counts as release cells,
the cases they leave out protected, and the audit's inequalities."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data import dictionary as dd
from analysis.privacy import audit, cohorts
from analysis.privacy import published as pb
from analysis.privacy import release as rl
from analysis.reporting.run import from_release
from analysis.stats import survival

K = 5  # registry.yaml disclosure.k
SID = "cml"
WINDOW = "2025-2025"  # the survival window of a registry of 2025 (clipped to its years)


def cohort_cases(rows: list[tuple[str, int, int, int, str, int]]) -> pl.DataFrame:
    """Cases as (county, sex, age, year, basis of diagnosis, treatment_given), diagnosed
    on 1 June, alive at the end of follow-up (31 March 2026), treated 10 days later."""
    regions = dict(dd.counties().select("county", "region").iter_rows())
    frame = pl.DataFrame(rows, schema=["county", "sex", "age", "year", "basis_of_diagnosis",
                                       "treatment_given"], orient="row")
    diagnosis = pl.date(pl.col("year"), 6, 1)
    return frame.with_columns(
        pl.lit(SID).alias("subregistry"),
        pl.col("county").replace_strict(regions).alias("region"),
        diagnosis.alias("diagnosis_date"),
        (diagnosis - pl.duration(days=pl.col("age") * 366)).alias("birth_date"),
        pl.lit(None, pl.Date).alias("death_date"),
        pl.lit(dt.date(2026, 3, 31)).alias("vital_status_date"),
        pl.when(pl.col("treatment_given") == 1).then(diagnosis + pl.duration(days=10))
        .alias("treatment_start_date"))


def regions_of(n: int, **extra: list[tuple]) -> list[tuple]:
    """``n`` cases aged 60 per region (half men) in 2025, plus ``extra`` rows by county."""
    rows = []
    for county in ("01", "03", "05", "12", "14", "22"):
        rows += [(county, 1 + i % 2, 60, 2025, "histology", 1) for i in range(n)]
        rows += extra.get(f"c{county}", [])
    return rows


def build(cases: pl.DataFrame) -> rl.Release:
    spec = rl.release_spec(cases, 2025)
    return rl.build_release(cases, spec, None, rl.cohort_rows(cases, spec))


def cell(release_cells: pl.DataFrame, **key: str) -> dict:
    row = {k: rl.TOTAL for k in rl.KEYS} | {"family": rl.CASES, "subregistry": SID} | key
    found = release_cells.filter(*(pl.col(k) == v for k, v in row.items()))
    assert found.height == 1, key
    return found.row(0, named=True)


def survival_table(cases: pl.DataFrame, release: rl.Release) -> pl.DataFrame:
    """The Kaplan-Meier table by region as the reports show it (reporting.run.Run)."""
    followup = survival.prepare_followup(cases).data
    km = survival.kaplan_meier(followup, ["subregistry", "region"], [1])
    return from_release(km, release, "survival", {
        "family": pl.lit(cohorts.SURVIVAL), "subregistry": pl.col("subregistry"),
        "region": pl.col("region"), "period": pl.lit(WINDOW)})


# --- the attack: a survival cohort against the new cases of its window -----------------------

# Stockholm has 30 new cases in 2025; two are aged 92 (excluded from survival, NORDCAN):
# the survival table's n of 28 beside the release's 30 new cases tells that exactly two
# were excluded.
OLD = [("01", 1, 92, 2025, "histology", 1), ("01", 2, 92, 2025, "histology", 1)]


def test_survival_cohort_minus_new_cases_attack_is_caught_by_the_audit():
    cases = cohort_cases(regions_of(28, c01=OLD))
    release = build(cases)
    # As published before (the survival table protected on its own): every new-cases and
    # cohort count shown, so the cohort of 28 stands beside its 30 new cases.
    spec = release.spec
    true = pl.concat([rl._cases_cells(cases, spec).select(*rl.KEYS, "n"),
                      rl.cohort_rows(cases, spec).with_columns(
                          pl.lit(rl.TOTAL).alias("county"), pl.lit(rl.TOTAL).alias("hospital")
                      ).select(*rl.KEYS, "n")])
    naive = pb.published(release).join(true, on=list(rl.KEYS), how="left", suffix="_true",
                                       maintain_order="left").with_columns(
        pl.when(pl.col("n_true").is_not_null()).then(pl.col("n_true")).otherwise(
            pl.col("n")).alias("n"),
        pl.when(pl.col("n_true").is_not_null()).then(pl.lit(pb.SHOWN)).otherwise(
            pl.col("status")).alias("status")).drop("n_true")
    assert cell(naive, family=cohorts.SURVIVAL, region="stockholm_gotland",
                period=WINDOW)["n"] == 28
    caught = pb.audit_published(naive).filter(
        (pl.col("family") == cohorts.SURVIVAL + cohorts.EXCLUDED)
        & (pl.col("region") == "stockholm_gotland"))
    assert caught.select("lowest", "highest", "ok").row(0) == (2.0, 2.0, False)


def test_survival_cohort_in_the_release_exposes_no_excluded_count():
    cases = cohort_cases(regions_of(28, c01=OLD))
    release = build(cases)
    # The release masks the cohort (or its new cases), and the audit of everything
    # published, protected cells included, passes.
    result = pb.audit_published(pb.published(release))
    assert result["ok"].all(), result.filter(~pl.col("ok"))
    protected = result.filter(pl.col("family").str.ends_with(cohorts.EXCLUDED))
    assert protected.height and (protected["highest"] - protected["lowest"] >= K - 1
                                 ).any()
    # The attack on what the report shows: cohort n beside the new cases of its window.
    table = survival_table(cases, release).filter(pl.col("time") == 1)
    for row in table.iter_rows(named=True):
        new = cell(release.cells, region=row["region"], period=WINDOW)["n"]
        if row["n"] is not None and new is not None:
            assert not 1 <= new - row["n"] <= K - 1, row["region"]
    stockholm = table.filter(pl.col("region") == "stockholm_gotland").row(0, named=True)
    assert stockholm["n"] is None and stockholm["estimate"] is None \
        and stockholm["lower"] is None and stockholm["suppressed"] is not None
    # A region with no excluded case is shown: a known 0 needs no protection.
    shown = table.filter(pl.col("suppressed").is_null())
    assert shown.height >= 3 and (shown["n"] == 28).all()


def test_cohort_cells_add_up_and_a_registry_without_exclusions_is_unchanged():
    cases = cohort_cases(regions_of(30))
    release = build(cases)
    survival_cells = release.cells.filter(pl.col("family") == cohorts.SURVIVAL)
    assert survival_cells["flag"].null_count() == survival_cells.height
    assert cell(release.cells, family=cohorts.SURVIVAL, period=WINDOW)["n"] == 180
    assert cell(release.cells, family=cohorts.SURVIVAL, sex="1", period=WINDOW)["n"] == 90
    assert cell(release.cells, family=cohorts.SURVIVAL, age_group="50\u201364",
                period=WINDOW)["n"] == 180
    assert cell(release.cells, family=cohorts.PERIOD, region="syd", period=WINDOW)["n"] == 30
    # Every relation holds on the true counts (excluded cells: parent minus cohort).
    spec = rl.release_spec(cases, 2025)
    true = rl.build_release(cases, spec, None, rl.cohort_rows(cases, spec))
    assert true.equations and all(c["n"] is not None for c in survival_cells.iter_rows(
        named=True))


def test_untreated_patients_behind_a_completeness_denominator_are_protected():
    # Syd: 30 new cases, 2 of them untreated: the treatment start date's completeness is
    # counted among the 28 treated (indicators.yaml completeness: among).
    untreated = [("12", 1, 60, 2025, "histology", 0)] * 2
    cases = cohort_cases(regions_of(28, c12=untreated))
    release = build(cases)
    family = cohorts.completeness_family("treatment_start_date")
    asked = cell(release.cells, family=family, region="syd", period="2025")
    new = cell(release.cells, region="syd", period="2025")
    assert asked["n"] is None or new["n"] is None or not 1 <= new["n"] - asked["n"] <= K - 1
    result = pb.audit_published(pb.published(release))
    assert result["ok"].all()
    assert result.filter(pl.col("family") == family + cohorts.EXCLUDED).height


def test_a_shown_count_that_is_not_its_release_cell_is_an_error():
    cases = cohort_cases(regions_of(30))
    release = build(cases)
    km = survival.kaplan_meier(survival.prepare_followup(cases).data, ["subregistry",
                                                                      "region"], [1])
    with pytest.raises(RuntimeError, match="differs from its release cell"):
        from_release(km.with_columns(pl.col("n") + 1), release, "survival", {
            "family": pl.lit(cohorts.SURVIVAL), "subregistry": pl.col("subregistry"),
            "region": pl.col("region"), "period": pl.lit(WINDOW)})


# --- the audit's inequalities on a hand-made table -------------------------------------------

def test_eligible_cases_at_most_new_cases_narrow_the_feasible_range():
    # Cells: 0 = new cases in region A (6, shown), 1 = in region B (5, shown), 2 = an
    # indicator's eligible cases in the nation (9, shown), 3 and 4 = in A and B (masked).
    # Equation: 9 = x_A + x_B. Alone, x_A lies in [0, 9]; with x_A <= 6 and x_B <= 5,
    # x_A = 9 - x_B >= 4, so x_A lies in [4, 6] and x_B in [3, 5]: too narrow for k = 5.
    values = [6, 5, 9, None, None]
    masked = [False, False, False, True, True]
    eqs = [(2, [3, 4])]
    assert audit.ranges(values, masked, eqs) == {3: (0.0, 9.0), 4: (0.0, 9.0)}
    ineqs = [(0, [3]), (1, [4])]
    assert audit.ranges(values, masked, eqs, ineqs=ineqs) == {3: (4.0, 6.0), 4: (3.0, 5.0)}
    truth = [6, 5, 9, 6, 3]
    assert audit.failures(truth, masked, masked, [False] * 5, eqs, K, ineqs=ineqs) == [3, 4]
    assert audit.failures(truth, masked, masked, [False] * 5, eqs, K) == []


def test_a_sensitive_hidden_count_fails_only_where_it_could_be_1_to_k_minus_1():
    # x is never published and x + 8 = total is: x = 10 - 8 = 2 exposes it; x = 8 - 8 = 0
    # and x = 17 - 8 = 9 tell nothing small.
    for total, expected in ((10, [0]), (8, []), (17, [])):
        values = [total - 8 if total != 8 else 0, 8, total]
        assert audit.failures(values, [True, False, False], [False] * 3, [True, False, False],
                              [(2, [0, 1])], K, sensitive=[True, False, False]) == expected


registries = st.lists(st.tuples(
    st.sampled_from(["01", "03", "05", "12", "14", "22"]), st.sampled_from([1, 2]),
    st.sampled_from([40, 60, 80, 92]), st.sampled_from([2024, 2025]),
    st.sampled_from(["histology", "histology", "dco"]), st.sampled_from([0, 1, 1])),
    min_size=1, max_size=150)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registries)
def test_random_cohorts_expose_no_left_out_count(rows):
    """Whatever the registry, no count a survival cohort or completeness denominator
    leaves out can be pinned inside 1..k-1 from the published release, and no shown
    cohort stands beside its shown parent at a difference of 1..k-1."""
    cases = cohort_cases(rows)
    release = build(cases)
    shown = pb.published(release)
    result = pb.audit_published(shown)
    assert result["ok"].all(), result.filter(~pl.col("ok"))
    visible = shown.filter(pl.col("status") == pb.SHOWN)
    dims = [k for k in rl.KEYS if k != "family"]
    for family in visible["family"].unique().to_list():
        parent = cohorts.parent_family(family)
        if parent is None:
            continue
        pairs = visible.filter(pl.col("family") == family).join(
            visible.filter(pl.col("family") == parent), on=dims, suffix="_parent")
        assert not (pairs["n_parent"] - pairs["n"]).is_between(1, K - 1).any(), family
