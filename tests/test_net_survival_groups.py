"""Net-survival indicators of a diagnosis group (the Norwegian Hodgkin and non-Hodgkin
lymphoma five-year relative survival targets): the group's net survival is the
relative-survival function on the hand-filtered cases, its n a cell of the release, a
masked cell masks it, and a group without cases says "too few cases"."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import polars as pl
import pytest

from analysis.data import dictionary as dd
from analysis.privacy import cohorts
from analysis.privacy import published as pb
from analysis.privacy import release as rl
from analysis.privacy.disclosure import FLAG
from analysis.quality.indicators import load_indicators
from analysis.quality.net_survival import diagnosis_cohorts, net_survival_indicators
from analysis.reporting.analyses import NATION, _group_survival, report_settings
from analysis.reporting.run import Run
from analysis.reporting.sections.net_indicators import net_indicator_tables
from analysis.stats import relative_survival as rs
from analysis.stats import survival

K = 5  # registry.yaml disclosure.k of the Norwegian configuration
YEAR = 2024
GROUPS = [("lymphoma", "hodgkin", "period"), ("lymphoma", "nhl", "period")]
# One county of each Norwegian region (regions.yaml).
COUNTIES = {"sor_ost": "03", "vest": "46", "midt": "50", "nord": "18"}


@pytest.fixture(autouse=True)
def norway(monkeypatch):
    monkeypatch.delenv("BCR_DICTIONARY", raising=False)
    monkeypatch.setenv("BCR_REGISTRY", "no")


def lymphoma_cases(per_region: dict[str, list[str]]) -> pl.DataFrame:
    """Lymphoma cases by region, each an ICD-10 code: the i-th case of a region aged
    20 + (7 i) % 65, diagnosed on 1 March of 2015 + i % 10, a man for i // 10 even (so a
    region of 100 cases has 5 of each sex and year: no small count), treated two weeks
    later; a third of them die 30 + (11 i) % 1500 days after 1 February 2020 or after
    their diagnosis, whichever is later, if before 2025 (so every case is followed in
    the period window 2020-2024); the others are alive on 31 December 2024."""
    rows = []
    for region, codes in per_region.items():
        for i, code in enumerate(codes):
            diagnosed = dt.date(2015 + i % 10, 3, 1)
            start = max(diagnosed, dt.date(2020, 2, 1))
            death = start + dt.timedelta(days=30 + (11 * i) % 1500) if i % 3 == 0 else None
            age = 20 + (7 * i) % 65
            rows.append({"county": COUNTIES[region], "region": region, "icd10": code,
                         "sex": 1 + (i // 10) % 2, "age": age, "year": diagnosed.year,
                         "diagnosis_date": diagnosed,
                         "birth_date": dt.date(diagnosed.year - age, 1, 15),
                         "death_date": death if death and death.year <= YEAR else None,
                         "vital_status_date": dt.date(YEAR, 12, 31),
                         "basis_of_diagnosis": "histology", "treatment_given": 1,
                         "treatment_start_date": diagnosed + dt.timedelta(days=14)})
    return pl.DataFrame(rows).with_columns(pl.lit("lymphoma").alias("subregistry"))


def lifetable() -> pl.DataFrame:
    """A population hazard rising with age (0.001 at 20 to about 0.05 at 85)."""
    return pl.DataFrame([{"year": y, "sex": s, "age": a,
                          "mortality_rate": 0.001 * 1.062 ** max(a - 20, 0)}
                         for y in range(2010, 2026) for s in (1, 2) for a in range(101)])


def followup(cases: pl.DataFrame) -> pl.DataFrame:
    return survival.prepare_followup(cases).data


def by_hand(cases: pl.DataFrame, prefixes: list[str], spec: rl.ReleaseSpec) -> pl.DataFrame:
    """The reports' net survival (ICSS 1, period window) of the cases whose ICD-10 code
    starts with one of ``prefixes``, filtered by hand."""
    mine = followup(cases).filter(pl.col("icd10").str.slice(0, 3).is_in(prefixes))
    window = survival.period_window(mine, dt.date(spec.period[0], 1, 1),
                                    dt.date(spec.period[1], 12, 31))
    return rs.age_standardised(window, lifetable(), "icss1", ["subregistry"],
                               report_settings().net_survival_times)


def release_and_indicators(cases: pl.DataFrame) -> tuple[rl.Release, pl.DataFrame]:
    """The release of ``cases`` and their net-survival indicators, as a run makes them."""
    spec = rl.release_spec(cases, YEAR)
    release = rl.build_release(cases, spec, None, rl.cohort_rows(cases, spec))
    groups = _group_survival(followup(cases), lifetable(), spec.period, GROUPS,
                             report_settings())
    return release, net_survival_indicators(load_indicators(), pl.DataFrame(),
                                            spec.survival, spec.period, YEAR, YEAR, groups)


def published_indicators(release: rl.Release, frame: pl.DataFrame) -> pl.DataFrame:
    """The indicators as the reports read them: n and masks from the release."""
    return Run(SimpleNamespace(net_indicators=frame, release=release), "nb",
               pl.DataFrame(), {}, "builtin").net_indicators


# Hodgkin lymphoma (C81), non-Hodgkin lymphoma (C82-C86, C88) and hairy-cell leukaemia
# (C91.4, in neither group) by region: Hodgkin 40 + 30 + 30 + 30 = 130 cases,
# non-Hodgkin 74 + 70 + 70 + 70 = 284, all followed up in the period window.
MIXED = {"sor_ost": ["C81.1"] * 40 + ["C83.3"] * 60 + ["C88.0"] * 14 + ["C91.4"] * 6,
         "vest": ["C81.2"] * 30 + ["C82.0"] * 70,
         "midt": ["C81.1"] * 30 + ["C85.9"] * 70,
         "nord": ["C81.1"] * 30 + ["C84.0"] * 70}


def test_the_norwegian_lymphoma_targets_are_indicators_of_their_diagnosis_groups():
    found = {i.id: i for i in load_indicators()}
    assert (found["hodgkin_net_survival"].high, found["nhl_net_survival"].high) == (0.85,
                                                                                  0.75)
    assert diagnosis_cohorts(load_indicators()) == GROUPS
    assert dd.diagnosis_group("lymphoma", "hodgkin")["icd10"] == ["C81"]
    # Every group's codes are lymphoma codes: a group is a part of its subregistry.
    for gid in ("hodgkin", "nhl"):
        for entry in dd.diagnosis_group("lymphoma", gid)["icd10"]:
            for code in entry.split("-"):
                assert dd.icd10_in(code + ".0", dd.subregistry("lymphoma")["icd10"])


def test_group_estimate_is_the_relative_survival_of_the_hand_filtered_cases():
    cases = lymphoma_cases(MIXED)
    spec = rl.release_spec(cases, YEAR)
    groups = _group_survival(followup(cases), lifetable(), spec.period, GROUPS,
                             report_settings())
    for gid, prefixes, n in (("hodgkin", ["C81"], 130),
                             ("nhl", ["C82", "C83", "C84", "C85", "C86", "C88"], 284)):
        hand = by_hand(cases, prefixes, spec).filter(pl.col("time") == 5).row(0, named=True)
        mine = groups.filter(pl.col("diagnosis_group") == gid, pl.col("region") == NATION,
                             pl.col("time") == 5).row(0, named=True)
        assert mine["estimate"] is not None
        assert (mine["n"], mine["estimate"], mine["lower"], mine["upper"]) == (
            hand["n"], hand["estimate"], hand["lower"], hand["upper"])
        # n: the group's cases followed up in the period window, inside the ICSS ages.
        assert hand["n"] == n


def test_the_group_cohort_is_a_release_cell_and_its_n_the_indicator_n():
    cases = lymphoma_cases(MIXED)
    release, frame = release_and_indicators(cases)
    shown = published_indicators(release, frame)
    nation = shown.filter(pl.col("region") == NATION, pl.col("time") == 5)
    assert sorted(nation["indicator"].to_list()) == ["hodgkin_net_survival",
                                                     "nhl_net_survival"]
    assert dict(nation.select("diagnosis_group", "n").rows()) == {"hodgkin": 130,
                                                                   "nhl": 284}
    family = cohorts.PERIOD_STANDARDISED
    for row in nation.iter_rows(named=True):
        cell = release.cells.filter(
            pl.col("family") == f"{family} [{row['diagnosis_group']}]",
            pl.col("subregistry") == "lymphoma", pl.col("region") == rl.TOTAL)
        assert cell["n"].to_list() == [row["n"]]
    # The cohort, its groups and the six cases outside them add up in the release.
    whole = release.cells.filter(pl.col("family") == family,
                                 pl.col("subregistry") == "lymphoma",
                                 pl.col("region") == "sor_ost")["n"].item()
    assert whole == 120
    result = pb.audit_published(pb.published(release))
    assert result["ok"].all(), result.filter(~pl.col("ok"))


def test_a_registry_with_only_hodgkin_cases_says_too_few_for_nhl():
    cases = lymphoma_cases({r: ["C81.1"] * 100 for r in COUNTIES})
    release, frame = release_and_indicators(cases)
    nhl = frame.filter(pl.col("indicator") == "nhl_net_survival")
    assert nhl.select("region", "n", "estimate", "enough_cases", "classification").rows() \
        == [(NATION, 0, None, False, None)]
    assert nhl["reason"].item() == "fewer than 25 cases"
    analyses = SimpleNamespace(net_indicators=frame, release=release,
                               indicator_list=load_indicators())
    run = Run(analyses, "nb", pl.DataFrame(), {}, "builtin")
    tables = net_indicator_tables(run, "net-ind", "lymphoma")
    captions = [t.caption for t in tables]
    assert len(tables) == 2 and "non-Hodgkin" in captions[1]
    assert tables[1].rows == [["Hele landet", "", "", "0", "≥ 75\u00a0%", "For få tilfeller"]]


def test_a_masked_group_cohort_masks_its_indicator():
    # Nord has three Hodgkin cases: its group cell is masked, and with it the estimate.
    cases = lymphoma_cases(MIXED | {"nord": ["C81.1"] * 3 + ["C84.0"] * 97})
    release, frame = release_and_indicators(cases)
    shown = published_indicators(release, frame)
    nord = shown.filter(pl.col("indicator") == "hodgkin_net_survival",
                        pl.col("region") == "nord", pl.col("time") == 5).row(0, named=True)
    assert nord[FLAG] is not None
    assert [nord[c] for c in ("n", "estimate", "lower", "upper", "classification")] == [
        None] * 5
    result = pb.audit_published(pb.published(release))
    assert result["ok"].all(), result.filter(~pl.col("ok"))


def test_the_cases_outside_the_groups_are_protected():
    # Vest: 2 hairy-cell leukaemias beside 30 Hodgkin and 68 non-Hodgkin lymphomas. The
    # lymphoma cohort minus its two groups would tell them.
    cases = lymphoma_cases(MIXED | {"vest": ["C81.2"] * 30 + ["C82.0"] * 68
                                    + ["C91.4"] * 2})
    spec = rl.release_spec(cases, YEAR)
    release = rl.build_release(cases, spec, None, rl.cohort_rows(cases, spec))
    family = cohorts.PERIOD_STANDARDISED
    shown = {f: release.cells.filter(pl.col("family") == f, pl.col("region") == "vest",
                                     pl.col("subregistry") == "lymphoma")["n"].item()
             for f in (family, f"{family} [hodgkin]", f"{family} [nhl]")}
    assert None in shown.values() or not 1 <= (
        shown[family] - shown[f"{family} [hodgkin]"] - shown[f"{family} [nhl]"]) <= K - 1
    result = pb.audit_published(pb.published(release))
    assert result["ok"].all(), result.filter(~pl.col("ok"))
    assert result.filter(pl.col("family") == family + cohorts.OUTSIDE_GROUPS).height


def test_overlapping_groups_and_unknown_groups_are_errors(tmp_path):
    cases = lymphoma_cases(MIXED)
    spec = rl.release_spec(cases, YEAR)
    with pytest.raises(dd.DictionaryError, match="overlap"):
        cohorts.survival_counts(cases, ["lymphoma"], spec.survival, spec.period, [0],
                                [GROUPS[0], ("lymphoma", "hodgkin", "period")])
    text = dd.dictionary_dir().joinpath("indicators.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "indicators.yaml"
    broken.write_text(text.replace("diagnosis_group: nhl", "diagnosis_group: burkitt"),
                      encoding="utf-8")
    with pytest.raises(dd.DictionaryError,
                       match="indicator 'nhl_net_survival'.*no diagnosis group 'burkitt'"):
        load_indicators(broken)
