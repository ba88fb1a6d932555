"""The interactive report (issue 16): only the release's numbers, offline, in a real browser."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from analysis.data import dictionary as dd
from analysis.demo import registry
from analysis.privacy.release import CASES, TOTAL
from analysis.reporting import checks
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.interactive.data import interactive_data
from analysis.reporting.interactive.page import interactive_job, interactive_jobs
from analysis.reporting.publish import parse_outputs, prepare, publish

REGION = "syd"


@pytest.fixture(scope="module")
def page(prepared, tmp_path_factory) -> Path:
    """The region's interactive report as `publish` writes it (checked and placed)."""
    out = tmp_path_factory.mktemp("interactive")
    pub = publish(None, out, regions=[REGION], subregistries=[], with_publication=False,
                  formats=parse_outputs("interactive"), workers=1, prepared=prepared)
    [result] = pub.results
    return result.files[0]


def _embedded(html: Path) -> dict:
    text = html.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="bcr-data">')
    body = text[text.index(">", start) + 1:text.index("</script>", start)]
    return json.loads(body)


def _cell(release: pl.DataFrame, **keys: str) -> dict:
    """The one release cell with these dimensions (the others are totals)."""
    wanted = {"family": CASES, "subregistry": TOTAL, "region": TOTAL, "county": TOTAL,
              "hospital": TOTAL, "sex": TOTAL, "age_group": TOTAL, "period": TOTAL, **keys}
    found = release.filter(*(pl.col(k) == v for k, v in wanted.items()))
    assert found.height == 1, wanted
    return found.row(0, named=True)


def _area(region: str) -> str:
    return TOTAL if region == NATION else region


# --- only the release's numbers ---------------------------------------------------------------

def test_every_count_embedded_is_a_cell_of_the_release(prepared, page):
    data, cells = _embedded(page), prepared.run.release.cells
    checked = 0
    for r in data["indicator_rows"]:
        keys = {"family": r["indicator"], "subregistry": r["subregistry"],
                "period": str(r["year"])}
        keys.update({"hospital": {"hospital": r["unit"]},
                     "county": {"region": r["region"], "county": r["unit"]},
                     "region": {"region": _area(r["unit"])}}[r["level"]])
        cell = _cell(cells, **keys)
        assert not cell["hidden"]
        assert r["n"] == cell["n"] and r["masked"] == (cell["flag"] is not None), (r, cell)
        checked += 1
    for r in data["incidence"]:
        cell = _cell(cells, subregistry=r["subregistry"], region=_area(r["region"]),
                     period=str(r["year"]))
        assert r["n"] == cell["n"] and r["masked"] == (cell["flag"] is not None), (r, cell)
        checked += 1
    for r in data["sir"]:  # over the pooled window
        cell = _cell(cells, subregistry=r["subregistry"], region=r["region"],
                     period=data["meta"]["window"])
        assert r["n"] == cell["n"] and r["masked"] == (cell["flag"] is not None), (r, cell)
        checked += 1
    for r in data["county_cases"]:
        cell = _cell(cells, subregistry=r["subregistry"], region=r["region"],
                     county=r["county"], period=r["period"])
        assert r["n"] == cell["n"], (r, cell)
        checked += 1
    assert checked > 1500
    assert any(r["masked"] for r in data["indicator_rows"])  # the demo has masked cells
    # The county cells: every county of every region, in the judged year only.
    counties = [r for r in data["indicator_rows"] if r["level"] == "county"]
    assert {r["year"] for r in counties} == {data["meta"]["judged_year"]}
    assert {r["unit"] for r in counties} == set(dd.counties()["county"].to_list())
    assert any(r["masked"] for r in counties) and not all(r["masked"] for r in counties)


def test_estimates_are_the_published_tables_and_masked_with_their_counts(prepared, page):
    data, run = _embedded(page), prepared.run
    k, symbol = data["meta"]["k"], data["meta"]["symbol"]
    published = {(r["indicator"], r["subregistry"], r["region"], r["year"]): r
                 for r in run.indicators.iter_rows(named=True)}
    by_county = {(r["indicator"], r["subregistry"], r["county"], r["year"]): r
                 for r in run.indicator_counties.iter_rows(named=True)}
    for r in data["indicator_rows"]:
        if r["preliminary"]:  # shown, never judged
            assert r["classification"] is None
        if r["masked"]:
            assert r["n"] is r["estimate"] is r["lower"] is r["upper"] is None
            assert r["classification"] is None and r["position"] is None
            assert r["value_text"] == r["n_text"] == symbol
            continue
        assert r["n"] >= k or r["n"] == 0  # zero counts are shown (DESIGN.md §5)
        if r["level"] in ("region", "county"):
            row = (published if r["level"] == "region" else by_county)[
                (r["indicator"], r["subregistry"], r["unit"], r["year"])]
            assert (r["estimate"], r["lower"], r["upper"]) == (
                row["estimate"], row["lower"], row["upper"])
            assert r["value_text"] == fmt.percent(row["estimate"], 1, "sv")
            assert r["classification"] == (None if r["preliminary"] else row["classification"])
    # Net survival is published in the reports (not a release count): at least k cases
    # behind every estimate shown, and exactly the reports' protected table.
    survival = {(r["subregistry"], r["region"], r["time"]): r for r in
                run.relative.filter(pl.col("approach") == "period").iter_rows(named=True)}
    for r in data["survival"]:
        row = survival[(r["subregistry"], r["region"], r["time"])]
        assert r["estimate"] == row["estimate"]
        assert r["masked"] or r["n"] >= k
    # Nothing finer than the release and no person: only these numeric fields.
    numeric = {key for part in ("indicator_rows", "incidence", "sir", "survival",
                                "county_cases")
               for r in data[part] for key, v in r.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    assert numeric == {"year", "n", "estimate", "lower", "upper", "time"}
    text = page.read_text(encoding="utf-8")
    assert "person_id" not in text and "case_id" not in text


def test_the_page_is_self_contained_small_checked_and_the_same_bytes_again(prepared, page,
                                                                            tmp_path):
    assert page.stat().st_size < 5_000_000
    again = interactive_job(prepared.run, REGION, interactive_data(prepared.run))
    again.write(tmp_path)
    assert (tmp_path / page.name).read_bytes() == page.read_bytes()
    assert checks._check_interactive(page) == ""
    bad = tmp_path / "bad.html"
    bad.write_text(page.read_text(encoding="utf-8").replace(
        "<head>", '<head><script src="https://cdn.example.org/vega.js"></script>', 1),
        encoding="utf-8")
    assert "loads a resource from outside" in checks._check_interactive(bad)


def test_national_and_english_files(prepared, tmp_path):
    run = prepared.run
    english = replace(run, lang="en")
    [nation] = interactive_jobs(english, [], national=True)
    nation.write(tmp_path)
    data = nation.payload
    assert nation.stem.startswith("interactive-nation") and data["meta"]["area"] == NATION
    assert data["text"]["views"]["comparison"] == "Comparison"
    # The description view's texts are the configuration's, in the page's language.
    raw = {i["id"]: i for i in dd.load("indicators.yaml")["indicators"]}
    assert data["indicators"] and all(
        i["description"] == raw[i["id"]]["description_en"] for i in data["indicators"])
    shown = next(r for r in data["indicator_rows"] if not r["masked"]
                 and r["estimate"] not in (0.0, 1.0))
    assert shown["value_text"] == fmt.percent(shown["estimate"], 1, "en")
    assert "." in shown["value_text"] and "," not in shown["value_text"]


def test_the_tile_map_must_place_every_county(prepared, tmp_path, monkeypatch):
    from analysis.reporting.interactive.data import units

    tiles = units(prepared.run)["counties"]
    assert len(tiles) == 21 and len({(c["col"], c["row"]) for c in tiles}) == 21
    folder = tmp_path / "dictionary"
    shutil.copytree(dd.dictionary_dir(), folder)
    config = folder / "interactive.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace('  "09": [3, 6]', ""),
                      encoding="utf-8")
    monkeypatch.setenv("BCR_DICTIONARY", str(folder))
    with pytest.raises(dd.DictionaryError, match="interactive.yaml: tiles lacks county 09"):
        units(prepared.run)


def test_format_interactive_is_parsed_beside_html_and_pdf():
    assert parse_outputs("interactive, pdf,html") == ["html", "pdf", "interactive"]
    with pytest.raises(Exception, match="use html, pdf, interactive"):
        parse_outputs("docx")


# --- in a real browser, offline -----------------------------------------------------------

def _driver_paths() -> tuple[str, str] | None:
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if None in found and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium", "chromium-driver"],
                       capture_output=True, check=False, timeout=600)
        found = shutil.which("chromium"), shutil.which("chromedriver")
    return None if None in found else found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    paths = _driver_paths()
    if paths is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400",
                "--disable-background-networking", "--no-first-run"):
        options.add_argument(arg)
    options.binary_location = paths[0]
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    # All network requests blocked: the page must work from the file alone.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [
        "http://*", "https://*", "ws://*", "wss://*", "ftp://*"]})
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow",
                                                         "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


def _ready(driver, view: str) -> None:
    deadline = time.monotonic() + 20
    while driver.execute_script("return document.body.dataset.ready") != view:
        assert time.monotonic() < deadline, f"view {view} was not drawn"
        time.sleep(0.05)


def _choose(driver, control: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    view = driver.execute_script("return window.bcr.state.view")
    Select(driver.find_element("id", f"c-{control}")).select_by_value(value)
    _ready(driver, view)


def _table(driver) -> list[list[str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#bcr-table tr')].map("
        "r => [...r.children].map(c => c.textContent));")


def _show(driver, view: str) -> None:
    driver.find_element("css selector", f"#bcr-tabs button[data-view={view}]").click()
    _ready(driver, view)


def test_in_chromium_offline_the_controls_change_highlight_figure_and_table(browser, page,
                                                                            prepared,
                                                                            tmp_path):
    run, driver = prepared.run, browser
    driver.get(page.as_uri())
    _ready(driver, "comparison")
    # The region of the file is highlighted at first.
    assert driver.execute_script(
        "return document.querySelector('#bcr-table tr.highlight').dataset.unit") == REGION
    # Another subregistry, indicator, year and highlighted unit.
    _choose(driver, "subregistry", "myeloma")
    _choose(driver, "indicator", "mdt_discussed")
    _choose(driver, "year", str(run.analyses.year - 2))
    _choose(driver, "unit", "norr")
    year = run.analyses.year - 2
    expected = run.indicators.filter(
        (pl.col("subregistry") == "myeloma") & (pl.col("indicator") == "mdt_discussed")
        & (pl.col("year") == year))
    cells = run.release.cells
    rows = _table(driver)
    assert len(rows) == 1 + expected.height
    by_name = {r[0]: r for r in rows[1:]}
    for r in expected.iter_rows(named=True):
        shown = by_name["Riket" if r["region"] == NATION else dd.region_name(r["region"])]
        cell = _cell(cells, family="mdt_discussed", subregistry="myeloma",
                     region=_area(r["region"]), period=str(year))
        if cell["flag"] is None:
            assert shown[1:4] == [fmt.percent(r["estimate"], 1, "sv"),
                                  fmt.interval(r["lower"], r["upper"], 1, "sv", True),
                                  fmt.number(cell["n"], 0, "sv")]
        else:
            assert shown[1] == shown[3] == "–"
    highlighted = driver.execute_script(
        "return [...document.querySelectorAll('#bcr-table tr.highlight')]"
        ".map(r => r.dataset.unit)")
    assert highlighted == ["norr"]
    # The figure holds the same values, with norr highlighted.
    figure = driver.execute_script(
        "return window.bcrView.data('rows').map(d => [d.unit, d.estimate, d.role])")
    want = {r["region"]: r["estimate"] for r in expected.iter_rows(named=True)}
    assert {u: e for u, e, _ in figure} == want
    assert [u for u, _, role in figure if role == "highlight"] == ["norr"]
    # Hovering the highlighted point shows its value, CI and n.
    from selenium.webdriver.common.action_chains import ActionChains

    [point] = [p for p in driver.find_elements(
        "css selector", "#bcr-chart svg path[aria-roledescription=point]")
        if "role: highlight" in p.get_attribute("aria-label")]
    ActionChains(driver).move_to_element(point).perform()
    norr = expected.filter(pl.col("region") == "norr").row(0, named=True)
    deadline = time.monotonic() + 5
    while "visible" not in (driver.execute_script(
            "const t = document.getElementById('vg-tooltip-element');"
            "return t ? t.className : ''")):
        assert time.monotonic() < deadline, "no tooltip"
        time.sleep(0.05)
    tip = driver.execute_script("return document.getElementById('vg-tooltip-element')"
                                ".innerText").split()
    cell = _cell(cells, family="mdt_discussed", subregistry="myeloma", region="norr",
                 period=str(year))
    for part in ("Norr", fmt.percent(norr["estimate"], 1, "sv").split("\u00a0")[0],
                 str(cell["n"])):
        assert part in tip, (part, tip)
    # The county level: norr's counties beside norr and the nation, in the judged year
    # (the page says so, 2022 being chosen), each with its release cell.
    judged = run.analyses.judged_year
    _choose(driver, "level", "county")
    notes = driver.find_element("id", "bcr-notes").text
    assert f"länen visas för {judged}" in notes and str(year) in notes
    counties = run.indicator_counties.filter(
        (pl.col("subregistry") == "myeloma") & (pl.col("indicator") == "mdt_discussed")
        & (pl.col("region") == "norr"))
    names = dict(dd.counties().select("county", "county_name").iter_rows())
    by_name = {r[0]: r for r in _table(driver)[1:]}
    assert set(by_name) == {*(names[c] for c in counties["county"]), "Norr", "Riket"}
    for r in counties.iter_rows(named=True):
        cell = _cell(cells, family="mdt_discussed", subregistry="myeloma", region="norr",
                     county=r["county"], period=str(judged))
        shown = by_name[names[r["county"]]]
        if cell["flag"] is None:
            assert shown[1:4] == [fmt.percent(r["estimate"], 1, "sv"),
                                  fmt.interval(r["lower"], r["upper"], 1, "sv", True),
                                  fmt.number(cell["n"], 0, "sv")]
        else:
            assert shown[1:5] == ["–"] * 4
    unit = driver.execute_script("return window.bcr.state.unit")
    assert driver.execute_script(
        "return [...document.querySelectorAll('#bcr-table tr.highlight')]"
        ".map(r => r.dataset.unit)") == [unit] and unit in counties["county"].to_list()
    # The map at county level: every tile coloured by its own county's target level (in
    # the demo 9 of 21 counties' levels differ from their region's), masked ones by it.
    _show(driver, "map")
    _choose(driver, "indicator", "coverage")
    tiles = driver.execute_script(
        "return Object.fromEntries(window.bcrView.data('rows').map(d => [d.id, d.level]))")
    every = run.indicator_counties.filter(
        (pl.col("subregistry") == "myeloma") & (pl.col("indicator") == "coverage"))
    assert len(tiles) == every.height == 21
    for r in every.iter_rows(named=True):
        assert tiles[r["county"]] == ("masked" if r["suppressed"]
                                      else r["classification"] or "few"), r
    driver.save_screenshot(str(tmp_path / "county-map.png"))
    _choose(driver, "indicator", "mdt_discussed")
    _show(driver, "comparison")
    # The hospital level of the funnel indicator: the report year only.
    _choose(driver, "level", "hospital")
    hospitals = run.hospitals.filter((pl.col("subregistry") == "myeloma")
                                     & (pl.col("indicator") == "mdt_discussed"))
    assert len(_table(driver)) == 1 + hospitals.height
    assert driver.execute_script("return window.bcr.state.year") == run.analyses.year
    driver.save_screenshot(str(tmp_path / "hospitals.png"))
    # Every view draws; the CSV download equals the table shown.
    for view in ("comparison", "table", "trend", "map", "description", "incidence",
                 "survival"):
        _show(driver, view)
        driver.save_screenshot(str(tmp_path / f"{view}.png"))
        has_chart = driver.execute_script("return !!document.querySelector('#bcr-chart svg')")
        assert has_chart == (view not in ("table", "description")), view
    # The pooled window: the regions' SIR over it, as the subregistry reports publish it.
    _show(driver, "incidence")
    window = _embedded(page)["meta"]["window"]
    _choose(driver, "year", window)
    sir = run.sir.filter(pl.col("subregistry") == "myeloma")
    assert sorted(_table(driver)[1:]) == sorted(
        [dd.region_name(r["region"]), fmt.number(r["estimate"], 2, "sv"),
         fmt.interval(r["lower"], r["upper"], 2, "sv"), fmt.number(r["n"], 0, "sv")]
        if r["suppressed"] is None else [dd.region_name(r["region"]), "–", "–", "–"]
        for r in sir.iter_rows(named=True))
    for r in sir.iter_rows(named=True):
        assert r["n"] == _cell(cells, subregistry="myeloma", region=r["region"],
                               period=window)["n"]
    _show(driver, "trend")
    driver.find_element("css selector", "#bcr-table th").click()  # sorted by year
    shown = _table(driver)
    trend = run.indicators.filter(
        (pl.col("subregistry") == "myeloma") & (pl.col("indicator") == "mdt_discussed")
        & (pl.col("region") == NATION)).sort("year")
    assert trend.height >= 5 and [r[0] for r in shown[1:] if r[1] == "Riket"] == [
        f"{y} (preliminärt)" if p else str(y) for y, p in trend.select(
            "year", "preliminary").iter_rows()]
    assert all(r[-1] == "preliminärt" for r in shown[1:] if "preliminärt" in r[0])
    driver.find_element("id", "bcr-csv").click()
    deadline = time.monotonic() + 10
    while not list(driver.downloads.glob("*.csv")):
        assert time.monotonic() < deadline, "no CSV downloaded"
        time.sleep(0.1)
    [download] = list(driver.downloads.glob("*.csv"))
    text = download.read_bytes().decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text), delimiter=";")) == shown
    # No console error, and no request left the page.
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    urls = [json.loads(e["message"])["message"]["params"].get("request", {}).get("url", "")
            for e in driver.get_log("performance")
            if '"Network.requestWillBeSent"' in e["message"]]
    assert urls and all(u.split(":", 1)[0] in {"file", "data", "blob"} for u in urls), urls


def test_a_sparse_registry_gives_a_page_whose_views_all_draw(browser, tmp_path):
    """Two years of one small subregistry: few cells, many masked, no survival estimate;
    every view still draws (a chart or the 'no data' sentence), without a console error."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    demo = registry.generate_demo(seed=3, scale=0.02, years=(2024, 2025), error_rate=0.0)
    for name in ("myeloma", "population", "lifetable", "cancer_registry"):
        demo.frames[name].write_csv(folder / f"{name}.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BCR_RENDERER", "builtin")
        small = prepare(folder)
    pub = publish(folder, tmp_path / "out", regions=["norr"], subregistries=[],
                  with_publication=False, formats=["interactive"], workers=1, prepared=small)
    browser.get(pub.results[0].files[0].as_uri())
    _ready(browser, "comparison")
    for view in ("table", "trend", "map", "description", "incidence", "survival"):
        _show(browser, view)
    # The county level too, where most county cells are masked or too few.
    _show(browser, "comparison")
    _choose(browser, "level", "county")
    for view in ("table", "map"):
        _show(browser, view)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
