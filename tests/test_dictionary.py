import re

import pytest

from analysis.data import dictionary as dd


def test_regions_and_counties_cover_sweden():
    counties = dd.counties()
    assert counties.height == 21
    assert counties.get_column("county").n_unique() == 21
    assert dd.region_ids() == ["stockholm_gotland", "mellansverige", "sydost", "syd", "vast",
                               "norr"]
    assert sorted(r["code"] for r in dd.regions()) == [1, 2, 3, 4, 5, 6]
    halland = counties.filter(counties["county"] == "13").row(0, named=True)
    assert halland["region"] == "vast"
    assert dd.region_name("sydost", "sv") == "Sydöst"


@pytest.mark.parametrize(("code", "sid"), [
    ("C92.0", "aml"), ("C92.3", "aml"), ("C92.6", "aml"), ("C92.7", None), ("C92.1", "cml"),
    ("C91.0", "all"), ("C91.1", "cll"), ("C81.9", "lymphoma"), ("C86.5", "lymphoma"),
    ("C87.0", None), ("C88.0", "lymphoma"), ("C90.0", "myeloma"), ("C90.3", "myeloma"),
    ("D47.2", None), ("D46.9", "mds"), ("D46", "mds"), ("C93.1", "mds"), ("D45", "mpn"),
    ("D47.1", "mpn"), ("C96.2", "mpn"), ("X99", None), ("", None), ("garbage", None),
])
def test_icd10_code_lists(code, sid):
    assert dd.subregistry_of(code) == sid


def test_icd10_category_entry_does_not_match_bare_subcode_range():
    # "C92.3-C92.6" must not match the bare category C92 (which includes C92.1 CML).
    assert not dd.icd10_in("C92", ["C92.3-C92.6"])
    assert dd.icd10_in("C92.5", ["C92.3-C92.6"])


@pytest.mark.parametrize(("code", "ok"), [
    ("9861/3", True), ("9865", True), ("9867/3", True), ("9868/3", False), ("9930/3", True),
    ("9932/3", False), (None, False), ("abcd", False),
])
def test_morphology_ranges(code, ok):
    assert dd.morphology_in(code, dd.subregistry("aml")["morphology"]) is ok


def test_every_subregistry_has_core_and_own_variables():
    core = {f.name for f in dd.fields("cancer_registry")}
    assert core == {"person_id", "diagnosis_date", "icd10", "morphology", "county", "hospital",
                    "birth_date"}
    expected = {"aml": "eln2022_risk", "all": "ph_status", "cll": "binet_stage",
                "cml": "bcr_abl1_is_12m", "lymphoma": "ann_arbor_stage", "myeloma": "iss",
                "mds": "ipss_r", "mpn": "driver_mutation"}
    for sid, var in expected.items():
        names = [f.name for f in dd.fields(sid)]
        assert names[:2] == ["case_id", "person_id"]
        assert var in names
        assert "treatment_start_date" in names and "mdt_discussed" in names


def test_unknown_subregistry_is_a_clear_error():
    with pytest.raises(dd.DictionaryError, match="unknown subregistry 'xyz'"):
        dd.subregistry("xyz")


def test_variable_table_is_bilingual():
    sv = dd.variable_table("sv")
    en = dd.variable_table("en")
    assert sv.height == en.height
    row = sv.filter((sv["dataset"] == "core") & (sv["variable"] == "sex")).row(0, named=True)
    assert row["allowed"] == "1 = Man; 2 = Kvinna"


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_dictionary_document_lists_regions_code_lists_and_variables(tmp_path, lang):
    from typer.testing import CliRunner

    from analysis.cli import app
    md = CliRunner().invoke(app, ["dictionary", "--lang", lang])
    assert md.exit_code == 0, md.output
    # Region 4 with its counties, a subregistry's code lists, a variable row.
    south = {"sv": "Syd", "en": "South"}[lang]
    assert f"| 4 | {south} | 07 Kronobergs län, 10 Blekinge län, 12 Skåne län |" in md.output
    assert "| C92.1 | 9875 |" in md.output
    assert "`person_id`" in md.output
    out = tmp_path / "dd.html"
    html = CliRunner().invoke(app, ["dictionary", "--lang", lang, "--format", "html",
                                    "--out", str(out)])
    assert html.exit_code == 0, html.output
    page = out.read_text(encoding="utf-8")
    assert f'lang="{lang}"' in page and page.count("<table") >= 10 and "Skåne län" in page
    # Issue 15: the house style, whose tables wrap their cells within the page, not
    # pandoc's own, which scrolls a wide table sideways and hides the description.
    tables = re.findall(r"(?m)^\s*table\s*\{[^}]*\}", page)
    assert tables and not any("overflow" in t or "display: block" in t for t in tables)
    assert "Segoe UI" in page


def test_the_parsed_dictionary_from_the_cache_is_what_yaml_gives(tmp_path, monkeypatch):
    """Every shipped dictionary file, parsed and kept, then read back from the cache, is
    exactly what PyYAML parses; one cached file per distinct content."""
    import yaml

    from analysis import resources

    monkeypatch.setenv("BCR_CACHE_DIR", str(tmp_path))
    files = sorted(resources.data_dictionary().rglob("*.yaml"))
    for path in files:
        parsed = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert dd._load.__wrapped__(path) == parsed  # parsed, and kept
        assert dd._load.__wrapped__(path) == parsed  # from the cache
    kept = list((tmp_path / "dictionary").glob("*.json"))
    assert len(kept) == len({p.read_bytes() for p in files}) > 20


def test_an_edited_file_is_parsed_again_and_dates_are_not_cached(tmp_path, monkeypatch):
    from datetime import date

    cache = tmp_path / "cache"
    monkeypatch.setenv("BCR_CACHE_DIR", str(cache))
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    assert dd._load.__wrapped__(path) == {"a": 1}
    path.write_text("a: 2\n")  # same size, same second
    assert dd._load.__wrapped__(path) == {"a": 2}
    # JSON would give these back as text: parsed from the YAML every time.
    path.write_text("when: 2020-01-31\n1: one\n")
    for _ in range(2):
        assert dd._load.__wrapped__(path) == {"when": date(2020, 1, 31), 1: "one"}
    kept = sorted(cache.joinpath("dictionary").glob("*.json"))
    assert len(kept) == 2
    # A damaged cache file is parsed again; a cache that cannot be written is no error.
    for k in kept:
        k.write_text("{not json")
    path.write_text("a: 2\n")
    assert dd._load.__wrapped__(path) == {"a": 2}
    cache.joinpath("dictionary").rename(tmp_path / "moved")
    cache.joinpath("dictionary").write_text("a file where the folder should be")
    path.write_text("a: 3\n")
    assert dd._load.__wrapped__(path) == {"a": 3}
    path.write_text("a: [1\n")
    with pytest.raises(dd.DictionaryError, match="not valid YAML"):
        dd._load.__wrapped__(path)
