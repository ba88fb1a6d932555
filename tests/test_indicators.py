"""Indicator declarations (checked at load time), computation and classification."""

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from test_coverage import cancer_frame, cases_frame

from analysis.data import dictionary
from analysis.data.dictionary import DictionaryError
from analysis.errors import UserError
from analysis.quality.coverage import match_registries
from analysis.quality.indicators import (
    classify,
    compute_indicator,
    compute_indicators,
    key_variables,
    load_indicators,
)
from analysis.quality.preliminary import final_year, mark_preliminary
from analysis.stats.proportions import wilson_interval

D = date(2021, 5, 3)


def _one(tmp_path: Path, **overrides) -> Path:
    """An indicators file holding one valid proportion indicator, with overrides."""
    ind = {
        "id": "test_ind", "subregistries": ["lymphoma"], "name_sv": "Test", "name_en": "Test",
        "description_sv": "Test.", "description_en": "Test.", "kind": "proportion",
        "numerator": [{"variable": "mdt_discussed", "op": "==", "value": 1}],
        "target": {"high": 0.9, "intermediate": 0.7, "source": "hand-made"},
        "direction": "higher_is_better", "units": ["region", "hospital"], "min_n": 1,
    }
    ind.update(overrides)
    ind = {k: v for k, v in ind.items() if v is not None}
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump({"indicators": [ind]}, allow_unicode=True))
    return path


def _load_one(tmp_path: Path, **overrides):
    return load_indicators(_one(tmp_path, **overrides))[0]


# --- the shipped dictionary ---------------------------------------------------------------

def test_shipped_dictionary_loads_with_three_per_subregistry():
    indicators = load_indicators()
    for sid in dictionary.subregistry_ids():
        assert sum(sid in ind.subregistries for ind in indicators) >= 3, sid
    svf = {ind.id: ind for ind in indicators}
    assert svf["acute_leukaemia_svf_lead_time"].target_days == 9
    assert svf["lymphoma_svf_lead_time"].target_days == 18
    assert svf["cll_svf_lead_time"].target_days == 22
    assert svf["coverage"].high == 0.95 and svf["registered_3m"].high == 0.70
    assert svf["lymphoma_trial_included"].high == 0.10
    assert svf["cml_mmr_12m"].high is None  # declared unknown, not invented
    assert set(key_variables()["myeloma"]) >= {"fish_done", "iss", "hospital"}


def test_published_lymphoma_levels_and_every_level_has_a_source():
    """The lymphoma levels published by Svenska Lymfomgruppen (RCC Kunskapsbanken), and a
    source under `sources:` for every level; an indicator without one says `unknown`."""
    by_id = {ind.id: ind for ind in load_indicators()}
    assert by_id["lymphoma_surgical_biopsy"].high == 0.75
    assert by_id["lymphoma_registered_3m"].high == 0.80
    assert by_id["lymphoma_trial_included"].high == 0.10
    assert "lymphoma" in by_id["coverage"].subregistries and by_id["coverage"].high == 0.95
    # Lymphoma is judged against its own 3-month level, not the general one.
    assert "lymphoma" not in by_id["registered_3m"].subregistries
    raw = yaml.safe_load((dictionary.dictionary_dir() / "indicators.yaml").read_text("utf-8"))
    sources = set(raw["sources"].values())
    for ind in raw["indicators"]:
        target = ind["target"]
        if target == "unknown":
            assert by_id[ind["id"]].high is None
            continue
        assert target["source"] in sources, ind["id"]
        assert by_id[ind["id"]].target_source == target["source"]


# --- preliminary years ------------------------------------------------------------------------

@pytest.mark.parametrize(("extract", "months", "expected"), [
    (date(2026, 3, 31), 12, 2024),   # the demo's extract: 2025 is preliminary
    (date(2025, 12, 31), 12, 2024),  # 2024's 12 months end on 31 December 2025
    (date(2025, 12, 30), 12, 2023),
    (date(2026, 3, 31), 3, 2025),    # with 3 months, 2025 is final on 31 March 2026
    (date(2026, 3, 30), 3, 2024),
    (date(2025, 12, 31), 0, 2025),
])
def test_final_year_is_the_last_whose_months_have_passed(extract, months, expected):
    assert final_year(extract, months) == expected


def test_final_year_reads_the_registry_setting():
    assert final_year(date(2026, 3, 31)) == 2024  # registry.yaml: 12 months


def test_preliminary_rows_keep_their_share_but_lose_their_classification():
    frame = pl.DataFrame({"year": [2023, 2024, 2025], "estimate": [0.9, 0.96, 0.91],
                          "classification": ["below", "high", "below"]})
    out = mark_preliminary(frame, date(2026, 3, 31))
    assert out["preliminary"].to_list() == [False, False, True]
    assert out["classification"].to_list() == ["below", "high", None]
    assert out["estimate"].to_list() == [0.9, 0.96, 0.91]


# --- wrong declarations --------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    ({"numerator": [{"variable": "no_such_var", "op": "==", "value": 1}]},
     "unknown variable 'no_such_var'"),
    # eln2022_risk is an AML variable, not a lymphoma one
    ({"population": [{"variable": "eln2022_risk", "op": "==", "value": "adverse"}]},
     "unknown variable 'eln2022_risk'"),
    ({"numerator": [{"variable": "mdt_discussed", "op": "=~", "value": 1}]},
     "unknown operator '=~'"),
    ({"numerator": [{"variable": "mdt_discussed", "op": "==", "value": "yes"}]},
     "is of type integer"),
    ({"numerator": [{"variable": "mdt_discussed", "op": "==", "value": 2}]},
     "has no value 2"),
    ({"numerator": [{"variable": "ann_arbor_stage", "op": ">=", "value": "III"}]},
     "compares numbers or dates"),
    ({"numerator": [{"variable": "treatment_type", "op": "in", "value": "palliative"}]},
     "non-empty list"),
    ({"numerator": [{"variable": "hospital", "op": "not_null", "value": 1}]},
     "takes no value"),
    ({"numerator": "mdt_discussed == 1"}, "non-empty list"),
    ({"numerator": [{"variable": "diagnosis_date", "op": ">=", "value": "2020-13-01"}]},
     "not YYYY-MM-DD"),
    ({"population": [{"variable": "person_id", "op": "not_null"}]},
     "unknown variable 'person_id'"),
    ({"target": None}, "no target"),
    ({"target": {"high": 0.9}}, "lacks its source"),
    ({"target": {"high": 90, "source": "x"}}, "between 0 and 1"),
    ({"target": {"high": 0.7, "intermediate": 0.9, "source": "x"}}, "must be below"),
    ({"direction": "up"}, "direction must be"),
    ({"units": ["ward"]}, "units must be"),
    ({"kind": "ratio"}, "unknown kind 'ratio'"),
    ({"numerator_typo": []}, "unknown key"),
    ({"subregistries": ["lymfom"]}, "unknown subregistry 'lymfom'"),
    ({"min_n": 0}, "min_n"),
    ({"kind": "lead_time", "numerator": None, "start": "referral_date", "end": "ipi",
      "target_days": 9}, "end must be a date variable"),
    ({"kind": "timeliness", "numerator": None, "months": 6}, "months must be one of"),
    ({"kind": "coverage", "numerator": None, "months": None,
      "population": [{"variable": "age", "op": ">=", "value": 18}]}, "takes no population"),
    ({"kind": "net_survival", "numerator": None, "time": 5, "approach": "both"},
     "needs time (years > 0) and approach"),
    ({"kind": "net_survival", "numerator": None, "approach": "period"}, "needs time"),
    ({"kind": "net_survival", "numerator": None, "time": 5, "approach": "period",
      "population": [{"variable": "age", "op": ">=", "value": 18}]}, "takes no population"),
])
def test_wrong_declaration_is_a_dictionary_error(tmp_path, overrides, message):
    path = _one(tmp_path, **overrides)
    with pytest.raises(DictionaryError) as err:
        load_indicators(path)
    text = str(err.value)
    assert message in text
    assert str(path) in text and "indicator 'test_ind'" in text


def test_duplicate_id_and_missing_id(tmp_path):
    path = _one(tmp_path)
    content = yaml.safe_load(path.read_text())
    content["indicators"].append(dict(content["indicators"][0]))
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(DictionaryError, match="used twice"):
        load_indicators(path)
    content["indicators"][1].pop("id")
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(DictionaryError, match="indicator 2: lacks 'id'"):
        load_indicators(path)


def test_bad_completeness_variable(tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump({"indicators": [], "completeness": {"cml": ["binet"]}}))
    with pytest.raises(DictionaryError, match="completeness of 'cml'.*binet"):
        key_variables(path)


# --- classification ------------------------------------------------------------------------

@pytest.mark.parametrize(("direction", "estimate", "expected"), [
    ("higher_is_better", 0.95, "high"),          # reaching the high level counts
    ("higher_is_better", 0.96, "high"),
    ("higher_is_better", 0.9499, "intermediate"),
    ("higher_is_better", 0.80, "intermediate"),  # reaching the intermediate level counts
    ("higher_is_better", 0.7999, "below"),
    ("lower_is_better", 0.05, "high"),
    ("lower_is_better", 0.04, "high"),
    ("lower_is_better", 0.0501, "intermediate"),
    ("lower_is_better", 0.20, "intermediate"),
    ("lower_is_better", 0.2001, "below"),
])
def test_classify_two_levels(direction, estimate, expected):
    high, intermediate = (0.95, 0.80) if direction == "higher_is_better" else (0.05, 0.20)
    out = pl.select(classify(pl.lit(estimate), high, intermediate, direction)).item()
    assert out == expected


def test_classify_one_level_and_unknown():
    frame = pl.DataFrame({"e": [0.7, 0.69, None]})
    got = frame.select(classify(pl.col("e"), 0.7, None, "higher_is_better"))
    assert got.to_series().to_list() == ["high", "below", None]
    got = frame.with_columns(c=classify(pl.col("e"), None, None, "higher_is_better"))
    assert got["c"].to_list() == [None, None, None]


def test_exact_fraction_at_the_level(tmp_path):
    # 19 of 20 is exactly 95 %: high.
    ind = _load_one(tmp_path, target={"high": 0.95, "source": "x"})
    cases = cases_frame([{"subregistry": "lymphoma", "icd10": "C83.3", "diagnosis_date": D,
                          "mdt_discussed": int(i < 19)} for i in range(20)])
    row = compute_indicator(ind, cases).row(0, named=True)
    assert (row["events"], row["n"], row["classification"]) == (19, 20, "high")


# --- computation -----------------------------------------------------------------------------

def _lymphoma(rows):
    return cases_frame([{"subregistry": "lymphoma", "icd10": "C83.3", "diagnosis_date": D,
                         **r} for r in rows])


def test_proportion_with_unknown_outcomes(tmp_path):
    cases = _lymphoma([
        {"mdt_discussed": 1, "hospital": "A"}, {"mdt_discussed": 1, "hospital": "A"},
        {"mdt_discussed": 0, "hospital": "A"}, {"mdt_discussed": None, "hospital": "A"},
        {"mdt_discussed": 1, "hospital": "B"},
    ])
    excl = compute_indicator(_load_one(tmp_path), cases, ["hospital"])
    a = excl.filter(pl.col("hospital") == "A").row(0, named=True)
    assert (a["events"], a["n"], a["n_unknown"]) == (2, 3, 1)
    assert (a["lower"], a["upper"]) == pytest.approx(wilson_interval(2, 3))
    assert a["classification"] == "below"  # 0.667 < 0.7
    not_met = compute_indicator(_load_one(tmp_path, unknown_outcome="not_met"), cases)
    row = not_met.row(0, named=True)
    assert (row["events"], row["n"], row["n_unknown"]) == (3, 5, 1)
    assert row["classification"] == "below"
    assert "person_id" not in excl.columns


def test_population_filter_and_min_n(tmp_path):
    ind = _load_one(tmp_path, min_n=3, population=[
        {"variable": "age", "op": ">=", "value": 60},
        {"any": [{"variable": "treatment_type", "op": "in",
                  "value": ["chemoimmunotherapy", "radiotherapy"]},
                 {"variable": "ann_arbor_stage", "op": "==", "value": "IV"}]}])
    cases = _lymphoma([
        # born 1950: age 71 at diagnosis
        {"treatment_type": "radiotherapy", "mdt_discussed": 1},
        {"ann_arbor_stage": "IV", "mdt_discussed": 1},
        {"treatment_type": "palliative", "mdt_discussed": 0},          # not in population
        {"birth_date": date(1980, 1, 1), "treatment_type": "radiotherapy",
         "mdt_discussed": 0},                                             # age 41
    ])
    row = compute_indicator(ind, cases).row(0, named=True)
    assert (row["events"], row["n"]) == (2, 2)
    assert row["enough_cases"] is False and row["classification"] is None


def test_lead_time_median_quartiles_and_share(tmp_path):
    ind = _load_one(tmp_path, kind="lead_time", numerator=None, start="referral_date",
                    end="treatment_start_date", target_days=9)
    days = {"A": [2, 5, 9, 10, 20], "B": [1, 2, 3, 4]}
    rows = [{"hospital": h, "referral_date": D, "treatment_start_date": D + timedelta(d)}
            for h, ds in days.items() for d in ds]
    rows += [{"hospital": "A", "referral_date": None, "treatment_start_date": D},
             {"hospital": "A", "referral_date": D, "treatment_start_date": D - timedelta(1)}]
    out = compute_indicator(ind, _lymphoma(rows), ["hospital"])
    a = out.filter(pl.col("hospital") == "A").row(0, named=True)
    # A: 2, 5, 9, 10, 20 -> median 9; type-7 quartiles at positions 1 and 3 -> 5, 10;
    # within 9 days (9 counts): 3 of 5. Two cases with unknown lead time are left out.
    assert (a["median"], a["q1"], a["q3"]) == (9.0, 5.0, 10.0)
    assert (a["events"], a["n"], a["n_unknown"]) == (3, 5, 2)
    assert a["estimate"] == pytest.approx(0.6)
    assert a["classification"] == "below"
    b = out.filter(pl.col("hospital") == "B").row(0, named=True)
    # B: 1, 2, 3, 4 -> median 2.5, q1 1 + 0.75 = 1.75, q3 3 + 0.25 = 3.25; all within.
    assert (b["median"], b["q1"], b["q3"]) == (2.5, 1.75, 3.25)
    assert (b["events"], b["n"], b["classification"]) == (4, 4, "high")


def test_lead_time_all_unknown(tmp_path):
    ind = _load_one(tmp_path, kind="lead_time", numerator=None, start="referral_date",
                    end="treatment_start_date", target_days=9)
    row = compute_indicator(ind, _lymphoma([{"referral_date": None}])).row(0, named=True)
    assert (row["n"], row["n_unknown"], row["estimate"], row["median"]) == (0, 1, None, None)
    assert row["classification"] is None


def test_coverage_and_timeliness_indicators(tmp_path):
    cases = _lymphoma([
        {"person_id": "p1", "report_date": D + timedelta(30)},
        {"person_id": "p2", "report_date": D + timedelta(200)},
    ])
    cancer = cancer_frame([{"person_id": "p1", "diagnosis_date": D, "icd10": "C83.3"},
                           {"person_id": "p9", "diagnosis_date": D, "icd10": "C83.3"}])
    linked = match_registries(cases, cancer)
    cov = _load_one(tmp_path, kind="coverage", numerator=None, months=None)
    row = compute_indicator(cov, cases, linked=linked).row(0, named=True)
    assert (row["events"], row["n"], row["classification"]) == (1, 2, "below")
    with pytest.raises(UserError, match="needs the cancer-registry extract"):
        compute_indicator(cov, cases)
    tim = _load_one(tmp_path, kind="timeliness", numerator=None, months=3,
                    target={"high": 0.5, "source": "x"})
    row = compute_indicator(tim, cases).row(0, named=True)
    assert (row["events"], row["n"], row["classification"]) == (1, 2, "high")
    both = compute_indicators([cov, tim], cases, linked=linked)
    assert both.height == 2


def test_by_must_be_a_reporting_unit(tmp_path):
    ind = _load_one(tmp_path, units=["region"])
    cases = _lymphoma([{"mdt_discussed": 1}])
    with pytest.raises(UserError, match="not reported by hospital"):
        compute_indicator(ind, cases, ["hospital"])
    assert compute_indicator(ind, cases, ["region", "year"])["year"].to_list() == [2021]


def test_cli_indicators_round_trip(tmp_path):
    from conftest import make_pnr
    from typer.testing import CliRunner

    from analysis.cli import app

    n = 4
    pl.DataFrame({
        "case_id": [f"L{i}" for i in range(n)],
        "person_id": [make_pnr(date(1950, 3, 14), 30 + i, 1) for i in range(n)],
        "sex": [1] * n, "birth_date": ["1950-03-14"] * n, "diagnosis_date": ["2021-05-03"] * n,
        "icd10": ["C83.3"] * n, "county": ["12"] * n, "hospital": ["1201", "1201", "1201", "1202"],
        "vital_status_date": ["2025-12-31"] * n, "report_date": ["2021-06-01"] * n,
        "trial_included": [1, 0, 0, 1],
    }).write_csv(tmp_path / "lymphoma.csv")
    result = CliRunner().invoke(app, ["indicators", "--data", str(tmp_path), "--by",
                                      "hospital", "-i", "lymphoma_trial_included",
                                      "--format", "csv"])
    assert result.exit_code == 0, result.output
    out = pl.read_csv(result.stdout.encode())
    got = {r["hospital"]: (r["events"], r["n"], r["classification"])
           for r in out.iter_rows(named=True)}
    # min_n is 10 in the dictionary: too few cases to classify.
    assert got == {1202: (1, 1, None), 1201: (1, 3, None)}  # read back as numbers
    bad = CliRunner().invoke(app, ["indicators", "--data", str(tmp_path), "-i", "nope"])
    assert bad.exit_code != 0 and "unknown indicator" in str(bad.exception)


def _table_rows(output: str) -> list[list[str]]:
    """The header and body rows of a rich table as printed (header cells split by ┃)."""
    return [[c.strip() for c in line.replace("┃", "│").split("│")[1:-1]]
            for line in output.splitlines() if line[:1] in ("│", "┃")]


def test_cli_table_in_one_language_regions_in_order_and_the_preliminary_year_marked():
    """bcr indicators: English by default with no Swedish beside it, Swedish with --lang
    sv; regions by name in the registry's order; the demo's report year (extract
    2026-03-31) marked preliminary and never classified, the year before classified."""
    from typer.testing import CliRunner

    from analysis.cli import app

    args = ["indicators", "-s", "aml", "-i", "coverage", "--by", "region,year",
            "--years", "2024-2025"]
    en = CliRunner().invoke(app, args)
    assert en.exit_code == 0, en.output
    assert "Quality indicators" in en.stdout and "Coverage against the cancer" in en.stdout
    assert not {"Kvalitetsindikatorer", "Täckningsgrad", "Målnivå", "Hög"} & set(
        en.stdout.replace("│", " ").split()) and "Täckningsgrad" not in en.stdout
    header, *rows = _table_rows(en.stdout)
    col = {h: i for i, h in enumerate(header)}
    regions = list(dict.fromkeys(r[col["Region"]] for r in rows))
    assert regions == [dictionary.region_name(r, "en") for r in dictionary.region_ids()]
    levels = {"High", "Intermediate", "Below"}
    by_year = {y: [r for r in rows if r[col["Year"]] == y] for y in ("2024", "2025")}
    assert len(by_year["2025"]) == len(by_year["2024"]) == 6
    assert all(r[col["Preliminary"]] == "yes" and r[col["Level"]] == ""
               for r in by_year["2025"])
    assert all(r[col["Preliminary"]] == "" and r[col["Level"]] in levels
               for r in by_year["2024"])
    sv = CliRunner().invoke(app, [*args, "--lang", "sv"])
    assert sv.exit_code == 0, sv.output
    assert "Kvalitetsindikatorer" in sv.stdout and "Täckningsgrad" in sv.stdout
    assert "Quality" not in sv.stdout and "Coverage" not in sv.stdout
    header = _table_rows(sv.stdout)[0]
    assert {"Indikator", "Delregister", "Målnivå", "Nivå", "Preliminärt"} <= set(header)


def test_cli_incidence_table_has_regions_by_name_in_order_and_sex_as_a_label():
    from typer.testing import CliRunner

    from analysis.cli import app

    result = CliRunner().invoke(app, ["incidence", "-s", "cml", "--by", "region,sex",
                                      "--years", "2025"])
    assert result.exit_code == 0, result.output
    header, *rows = _table_rows(result.stdout)
    col = {h: i for i, h in enumerate(header)}
    regions = list(dict.fromkeys(r[col["Region"]] for r in rows))
    assert regions == [dictionary.region_name(r, "en") for r in dictionary.region_ids()]
    assert [r[col["Sex"]] for r in rows[:2]] == ["Man", "Woman"]


@pytest.mark.parametrize("analysis", [[], ["--sir"], ["--apc"]])
def test_cli_incidence_in_swedish_is_swedish_throughout(analysis):
    """Issue 15: `bcr incidence --lang sv` prints title, headers, regions, sex and the
    method in Swedish, not beside English ones (as `bcr indicators --lang`)."""
    from typer.testing import CliRunner

    from analysis.cli import app

    by = "region" if analysis == ["--sir"] else "region,sex"
    result = CliRunner().invoke(app, ["incidence", "-s", "cml", "--by", by, *analysis,
                                      "--years", "2016-2025", "--lang", "sv"])
    assert result.exit_code == 0, result.output
    header, *rows = _table_rows(result.stdout)
    assert "Antal" in header and "Nedre 95 % KI" in header
    assert not {"n", "lower", "estimate", "region", "sex", "Cases"} & set(header)
    title = result.stdout.split("┏")[0]
    assert "incidens" in title.lower() and "incidence" not in title.lower()
    assert "person-years" not in title and "CI" not in title
    regions = list(dict.fromkeys(r[header.index("Region")] for r in rows))
    assert regions == [dictionary.region_name(r, "sv") for r in dictionary.region_ids()]
    if "Kön" in header:
        assert [r[header.index("Kön")] for r in rows[:2]] == ["Man", "Kvinna"]


def test_terminal_tables_print_one_precision_per_column():
    """8.5 and 14.0 days in one column print as 8.5 and 14.0 (before: 8.50 and 14.0)."""
    import io

    from rich.console import Console

    from analysis.commands.output import print_table

    buffer = io.StringIO()
    frame = pl.DataFrame({"median": [8.5, 14.0, None], "share": [0.953, 0.5, 0.0004],
                          "person_years": [1234.4, 99.5, 20000.0]})
    print_table(frame, console=Console(file=buffer, width=120))
    rows = _table_rows(buffer.getvalue())[1:]
    assert [r[0] for r in rows] == ["8.5", "14.0", ""]
    assert [r[1] for r in rows] == ["0.95", "0.50", "0.0004"]  # a tiny value keeps digits
    assert [r[2] for r in rows] == ["1 234", "100", "20 000"]


def test_aml_30_day_mortality_counts_deaths_on_day_30_among_the_intensively_treated():
    """Issue 15: 30-day mortality is an AML indicator, lower is better, with no target
    level; a case alive with less than 30 days of follow-up cannot be judged."""
    ind = {i.id: i for i in load_indicators()}["aml_30day_mortality"]
    assert ind.subregistries == ("aml",) and ind.direction == "lower_is_better"
    assert ind.high is None  # no published level: shown as "no target level"

    def case(days: int, dead: bool, treatment: str = "intensive") -> dict:
        end = D + timedelta(days=days)
        return {"subregistry": "aml", "icd10": "C92.0", "diagnosis_date": D,
                "treatment_type": treatment, "death_date": end if dead else None,
                "vital_status_date": end}

    cases = cases_frame([
        case(30, True), case(5, True),            # died within 30 days: events
        case(31, True), case(400, False),         # died later, alive: not events
        case(10, False),                          # alive, followed 10 days: not judged
        case(3, True, "palliative"),              # not intensively treated
    ])
    row = compute_indicator(ind, cases).row(0, named=True)
    assert (row["events"], row["n"]) == (2, 4)
    assert row["estimate"] == pytest.approx(0.5)


def test_every_shipped_indicator_has_the_three_part_description_in_both_languages():
    """Issue 15: about the indicator, how to read it, technical description (sv and en),
    as data in indicators.yaml; the technical part names the confidence interval."""
    from analysis.quality.indicators import TEXT_PARTS

    for ind in load_indicators():
        for lang in ("sv", "en"):
            parts = [ind.text(p, lang) for p in TEXT_PARTS]
            assert all(len(p) > 40 for p in parts), (ind.id, lang)
        assert ind.text("about", "sv") != ind.text("about", "en")
    mortality = {i.id: i for i in load_indicators()}["aml_30day_mortality"]
    assert "Lower is better" in mortality.text("reading", "en")
    assert "30 dagar" in mortality.text("technical", "sv")


def test_an_incomplete_description_is_a_dictionary_error(tmp_path):
    texts = {"sv": {"about": "Om.", "reading": "Läs."}, "en": {
        "about": "About.", "reading": "Read.", "technical": "Tech."}}
    with pytest.raises(DictionaryError, match="texts.sv lacks 'technical'"):
        _load_one(tmp_path, texts=texts)
