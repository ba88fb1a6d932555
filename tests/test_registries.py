"""A second registry by configuration alone (issue 17): registry selection, no place name
in the code, both identity schemes against python-stdnum as an independent oracle, the
fødselsnummer cases of the identity tests read through the Norwegian configuration, and
every configuration complete (its wording in every language, its indicators)."""

from __future__ import annotations

import datetime as dt
import random
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from babel import Locale

from analysis import resources
from analysis.data import dictionary as dd
from analysis.data.identity import valid_mask
from analysis.data.validate import check
from tests.test_identity import FODSELSNUMMER_INVALID, FODSELSNUMMER_VALID

stdnum_no = pytest.importorskip("stdnum.no.fodselsnummer")
stdnum_se = pytest.importorskip("stdnum.se.personnummer")
luhn = pytest.importorskip("stdnum.luhn")

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [resources.data_dictionary(),
           *sorted(p for p in resources.registries().iterdir() if (p / "registry.yaml").is_file())]
# Words of institution and region names that name no place.
GENERIC = {"health", "regional", "authority", "hospital", "sjukhus", "sjukhuset", "sykehus",
           "sykehuset", "lasarett", "universitetssjukhuset", "universitetssjukhus", "central",
           "helse", "west", "western", "north", "northern", "south", "eastern", "east"}


def _read(folder: Path, name: str) -> dict:
    return yaml.safe_load((folder / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BCR_DICTIONARY", raising=False)
    monkeypatch.delenv("BCR_REGISTRY", raising=False)


# --- selection ----------------------------------------------------------------------------

def test_both_configurations_are_shipped_and_selectable(monkeypatch) -> None:
    assert dd.registry_names() == ["se", "no"]
    assert dd.dictionary_dir() == resources.data_dictionary()
    monkeypatch.setenv("BCR_REGISTRY", "no")
    assert dd.dictionary_dir() == resources.registries() / "no"
    assert dd.registry()["identity_scheme"] == "fodselsnummer"
    assert len(dd.region_ids()) == 4 and dd.counties().height == 15
    # a user's own copy wins over the registry name
    monkeypatch.setenv("BCR_DICTIONARY", str(resources.data_dictionary()))
    assert dd.registry()["id"] == "se"


def test_an_unknown_registry_is_a_clear_error() -> None:
    done = subprocess.run([sys.executable, "-m", "analysis", "--registry", "xx", "dictionary"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown registry 'xx' (shipped: se, no" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_default_language_and_number_format_follow_the_registry(monkeypatch) -> None:
    from analysis.reporting import formatting as fmt

    assert dd.language() == "sv"
    monkeypatch.setenv("BCR_REGISTRY", "no")
    assert dd.language() == "nb"
    assert fmt.number(1234.5, 1, "nb") == "1\u00a0234,5"
    assert fmt.percent(0.052, 1, "nb") == "5,2\u00a0%"
    assert fmt.interval(-6.4, 0.8, 1, "nb")[1:] == "6,4 til 0,8"  # CLDR's minus sign
    assert fmt.date(dt.date(2026, 1, 5), "nb") == "5. januar 2026"
    with pytest.raises(Exception, match="unknown language 'sv' for this registry"):
        dd.language("sv")


# --- no place name in the code ------------------------------------------------------------

def _place_words() -> set[str]:
    names: set[str] = set()
    for folder in CONFIGS:
        registry = _read(folder, "registry.yaml")
        regions = _read(folder, "regions.yaml")
        for region in regions["regions"]:
            names |= {v for k, v in region.items() if k.startswith("name_")}
        names |= {c["name"] for c in regions["counties"]}
        names |= {h["name"] for h in _read(folder, "hospitals.yaml")["hospitals"]}
        for spec in registry["languages"].values():
            names.add(Locale.parse(spec["locale"]).territories[registry["country"]])
    words = {w for n in names for w in re.findall(r"[^\W\d_]+", n)}
    return {w for w in words if len(w) >= 3 and w.lower() not in GENERIC}


def test_no_region_county_hospital_or_country_name_in_the_code() -> None:
    words = _place_words()
    assert {"Sweden", "Norge", "Stockholm", "Finnmark", "Akershus", "Karolinska"} <= words
    found = []
    for path in sorted((ROOT / "analysis").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for word in words:
            for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {word}")
    assert not found, found


# --- identity numbers against python-stdnum ----------------------------------------------

def _random_fnr(rng: random.Random) -> str:
    """A random eleven-digit string, half of them with a calendar birth date (D- and
    H-numbers among them) and correct check digits, to reach the valid numbers."""
    if rng.random() < 0.5:
        return "".join(rng.choice("0123456789") for _ in range(11))
    born = dt.date(1855, 1, 1) + dt.timedelta(days=rng.randrange(0, 170 * 365))
    day, month = born.day + (40 if rng.random() < 0.2 else 0), born.month
    month += 40 if rng.random() < 0.1 else 0
    ind = rng.randrange(0, 1000)
    body = f"{day:02d}{month:02d}{born.year % 100:02d}{ind:03d}"
    digits = [int(c) for c in body]
    w1, w2 = (3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k1 = (11 - sum(w * d for w, d in zip(w1, digits, strict=True)) % 11) % 11
    k2 = (11 - sum(w * d for w, d in zip(w2, [*digits, k1], strict=True)) % 11) % 11
    return body + f"{k1 % 10}{k2 % 10}"


def _random_pnr(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "".join(rng.choice("0123456789") for _ in range(10))
    born = dt.date(1910, 1, 1) + dt.timedelta(days=rng.randrange(0, 110 * 365))
    day = born.day + (60 if rng.random() < 0.1 else 0)
    nine = f"{born:%y%m}{day:02d}{rng.randrange(1, 1000):03d}"
    total = sum((p // 10 + p % 10) for p in (int(c) * (2 - i % 2) for i, c in enumerate(nine)))
    check_digit = (10 - total % 10) % 10
    if rng.random() < 0.2:
        check_digit = (check_digit + 1) % 10
    return f"{born.year // 100}{nine[:6]}-{nine[6:]}{check_digit}"


def _coordination(pnr: str) -> bool:
    """A samordningsnummer (day of birth + 60), which stdnum.se.personnummer does not
    take: its oracle is stdnum's Luhn check of the ten digits and the real birth date."""
    digits = pnr.replace("-", "")
    return int(digits[-6:-4]) > 60


def _coordination_ok(pnr: str) -> bool:
    digits = pnr.replace("-", "")
    if len(digits) == 10:  # the century: the latest that is not in the future
        yy = int(digits[:2])
        year = 2000 + yy if 2000 + yy <= dt.date.today().year else 1900 + yy
        digits = f"{year}{digits[2:]}"
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]) - 60)
    except ValueError:
        return False
    return luhn.is_valid(digits[2:]) and digits[-4:-1] != "000" and born <= dt.date.today()


@pytest.mark.parametrize(("scheme", "draw", "oracle"), [
    ("fodselsnummer", _random_fnr, stdnum_no), ("personnummer", _random_pnr, stdnum_se)])
def test_identity_schemes_agree_with_python_stdnum(scheme, draw, oracle) -> None:
    rng = random.Random(17)
    numbers = [draw(rng) for _ in range(4000)]
    ours = valid_mask(pl.Series(numbers), scheme, dt.date.today()).to_list()
    theirs = [_coordination_ok(n) if scheme == "personnummer" and _coordination(n)
              else oracle.is_valid(n) for n in numbers]
    assert 1000 < sum(ours) < 3500  # both valid and invalid numbers are exercised
    disagree = [n for n, a, b in zip(numbers, ours, theirs, strict=True) if a != b]
    assert not disagree, f"{len(disagree)} disagreements, e.g. {disagree[:5]}"


def test_demo_fodselsnummer_are_valid_for_stdnum_with_the_sex_they_encode(tmp_path,
                                                                           monkeypatch) -> None:
    from analysis.demo.registry import generate_demo

    monkeypatch.setenv("BCR_REGISTRY", "no")
    demo = generate_demo(seed=3, scale=0.05, years=(2020, 2025), error_rate=0.0)
    cases = pl.concat([demo.frames[s].select("person_id", "sex", "birth_date")
                       for s in dd.subregistry_ids()])
    assert cases.height > 500
    assert cases.select(pl.col("person_id").str.len_chars() == 11).to_series().all()
    for pid, sex, birth in cases.iter_rows():
        assert stdnum_no.is_valid(pid)
        assert stdnum_no.get_gender(pid) == ("M" if sex == 1 else "F")
        assert stdnum_no.get_birth_date(pid) == birth
    # one person is one number, and two persons never share one
    persons = cases.unique()
    assert persons.height == persons.select("person_id").n_unique()


def test_the_fodselsnummer_cases_through_the_norwegian_configuration(monkeypatch) -> None:
    """The identity tests' numbers, validated with the registry's own scheme (no
    --id-scheme): the configuration alone makes them Norwegian."""
    monkeypatch.setenv("BCR_REGISTRY", "no")
    rows = [(pid, birth.isoformat(), str(sex)) for pid, birth, sex in FODSELSNUMMER_VALID]
    rows += [(pid, "1990-01-01", "2") for pid in FODSELSNUMMER_INVALID]
    raw = pl.DataFrame(rows, schema=["person_id", "birth_date", "sex"], orient="row").with_columns(
        case_id=pl.format("C{}", pl.int_range(pl.len())), diagnosis_date=pl.lit("2020-01-01"),
        icd10=pl.lit("C83.3"), county=pl.lit("03"), vital_status_date=pl.lit("2021-01-01"))
    failures = check(raw, "lymphoma", "lymphoma.csv", extract_date=dt.date(2021, 1, 1)).failures
    bad = set(failures.filter(pl.col("rule") == "identity").get_column("row"))
    assert bad == {i + 2 for i in range(len(FODSELSNUMMER_VALID), len(rows))}
    assert failures.filter(pl.col("rule") == "identity_mismatch").is_empty()


# --- every configuration complete ---------------------------------------------------------

def _keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        out.add(prefix + key)
        if isinstance(value, dict) and key not in {"sexes", "option_names", "renderers",
                                                   "types"}:
            out |= _keys(value, f"{prefix}{key}.")
    return out


@pytest.mark.parametrize("folder", CONFIGS, ids=lambda p: p.name)
def test_every_language_has_all_the_report_wording(folder: Path) -> None:
    reference = _keys(_read(CONFIGS[0], "report_text.yaml")["sv"])
    text = _read(folder, "report_text.yaml")
    languages = _read(folder, "registry.yaml")["languages"]
    assert set(text) == set(languages)
    for lang in languages:
        assert _keys(text[lang]) == reference, lang
        assert set(_read(folder, "dictionary_text.yaml")[lang]) == set(
            _read(CONFIGS[0], "dictionary_text.yaml")["sv"])


@pytest.mark.parametrize("name", ["se", "no"])
def test_every_configuration_loads(name: str, monkeypatch) -> None:
    from analysis.quality.indicators import completeness_populations, key_variables, load_indicators

    monkeypatch.setenv("BCR_REGISTRY", name)
    indicators = load_indicators()
    assert set(key_variables()) == set(dd.subregistry_ids())
    assert completeness_populations()
    lang = dd.language()
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            assert f.labels.get(f"label_{lang}"), (sid, f.name)
    for ind in indicators:
        assert ind.name(lang) != ind.name("en") or lang == "en" or ind.name(lang).isupper()
    # every county in a region, every hospital in a county
    counties = set(dd.counties().get_column("county"))
    assert {c["code"] for c in dd.load("regions.yaml")["counties"]} == counties
    assert {h["county"] for h in dd.hospitals()} <= counties


def test_norwegian_quality_measures_carry_their_sourced_targets(monkeypatch) -> None:
    from analysis.quality.indicators import load_indicators

    monkeypatch.setenv("BCR_REGISTRY", "no")
    targets = {i.id: i.high for i in load_indicators()}
    assert targets["coverage"] == 0.98 and targets["clinical_reporting"] == 0.80
    assert targets["lymphoma_biopsy"] == targets["lymphoma_stage"] == 0.90
    assert targets["cll_flow_cytometry"] == 0.90
    # the five-year relative survival targets, as net-survival indicators
    survival = {i.id: (i.subregistries, i.diagnosis_group, i.time, i.high)
                for i in load_indicators() if i.kind == "net_survival"}
    assert survival == {"hodgkin_net_survival": (("lymphoma",), "hodgkin", 5.0, 0.85),
                        "nhl_net_survival": (("lymphoma",), "nhl", 5.0, 0.75),
                        "cll_net_survival": (("cll",), None, 5.0, 0.85),
                        "all_net_survival": (("all",), None, 5.0, 0.60),
                        "myeloma_net_survival": (("myeloma",), None, 5.0, 0.60)}
    rare = dd.subregistry("histio")
    for code in ("D47.0", "C96.2", "D76.1", "D76.2", "C96.5", "C96.6"):
        assert dd.subregistry_of(code) == "histio", code
    assert rare["min_age"] == 0


# --- opt-out per data source ----------------------------------------------------------------

def test_opt_out_erases_the_quality_registry_and_keeps_the_statutory_one(tmp_path,
                                                                         monkeypatch) -> None:
    """registry.yaml opt_out: the Norwegian configuration keeps the cancer registry's
    records (a statutory register) and erases the quality registry's; the default one
    erases both (tests/test_erasure.py)."""
    from analysis.privacy.erasure import AUDIT_LOG, erase

    monkeypatch.setenv("BCR_REGISTRY", "no")
    person, other = FODSELSNUMMER_VALID[0][0], FODSELSNUMMER_VALID[3][0]
    (tmp_path / "lymphoma.csv").write_text(
        f"case_id,person_id,sex\nL1,{person},2\nL2,{other},1\n", encoding="utf-8")
    (tmp_path / "cancer_registry.csv").write_text(
        f"person_id,icd10\n{person},C83.3\n{other},C83.3\n", encoding="utf-8")
    before = (tmp_path / "cancer_registry.csv").read_bytes()
    result = erase(tmp_path, person, key=b"0123456789abcdef0123456789abcdef")
    assert result.removed == {"lymphoma.csv": 1}
    assert result.kept == ("cancer_registry.csv",)
    assert (tmp_path / "cancer_registry.csv").read_bytes() == before
    assert person not in (tmp_path / "lymphoma.csv").read_text(encoding="utf-8")
    assert person not in (tmp_path / AUDIT_LOG).read_text(encoding="utf-8")
