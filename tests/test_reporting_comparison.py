"""The regional report's comparisons on the demo registry: the region among all regions,
funnels a region can read, and net survival on one standardised basis (issue 15)."""

from __future__ import annotations

import io

import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.quality import indicators
from analysis.reporting import cells, comparison, figure_specs, figures, tables
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.sections import methods

REGION = "syd"


# --- funnels ----------------------------------------------------------------------------


def test_funnel_panels_name_their_indicator_and_number_the_regions_hospitals(prepared):
    run, a = prepared.run, prepared.analyses
    sids = cells.subregistries_present(a)
    figure = figure_specs.funnel_figure(run, "funnel", sids, REGION)
    units = figure.arguments["units"]
    names = {i.id: i.name("sv") for i in a.indicator_list}
    drawn = cells.funnel_units(run, sids)
    # Every panel title names its subregistry and its indicator.
    for sid, ind in drawn.select("subregistry", "indicator").unique().iter_rows():
        title = next(p for p in units["subregistry"].unique()
                     if p.startswith(cells.subregistry_label(sid, "sv") + ":"))
        assert " ".join(title.split()).endswith(cells.lower_first(names[ind])), title
    # The region's own points carry the numbers of the hospital table; no other does.
    table = tables.hospital_table(run, "hospitals", sids, REGION)
    assert table.header[:3] == ["Nr", "Delregister", "Indikator"]
    number_of = {r[3]: r[0] for r in table.rows}
    hospital_names = cells.hospital_names()
    own = drawn.with_row_index().filter(pl.col("region") == REGION)
    assert own.height > 0
    labels = units["label"].to_list()
    for r in own.iter_rows(named=True):
        assert labels[r["index"]] == number_of[hospital_names[r["hospital"]]]
    assert all(labels[i] is None for i in range(len(labels)) if i not in set(own["index"]))
    indicator_of = dict(run.hospitals.select("subregistry", "indicator").unique().iter_rows())
    for row in table.rows:  # the indicator named on every row, drawn or masked
        sid = next(s for s in sids if cells.subregistry_label(s, "sv") == row[1])
        assert row[2] == names[indicator_of[sid]]
    # The caption gives the key to the numbers, and the diagnosis year.
    assert f"1 {table.rows[0][3]}" in figure.caption
    assert f"diagnosår {a.year}" in figure.caption


def test_funnel_limits_are_widened_where_hospitals_are_overdispersed(prepared):
    run, a = prepared.run, prepared.analyses
    curves = a.funnel_curves
    wide = curves.filter(pl.col("tau2") > 0)
    assert wide.height > 0 and (wide["phi"] > 1).all()
    assert (curves.filter(pl.col("tau2") == 0)["phi"].fill_null(0) <= 1).all()
    # A subregistry with widened limits and a panel drawn (three hospitals or more).
    drawn = set(cells.funnel_units(run, wide["subregistry"].unique().to_list())["subregistry"])
    sid = next(s for s in wide["subregistry"].unique(maintain_order=True) if s in drawn)
    figure = figure_specs.funnel_figure(run, "funnel", [sid], None)
    drawn = figure.arguments["curve"].filter((pl.col("side") == "upper")
                                             & (pl.col("limit") == "99,8 % gräns"))
    row = wide.filter((pl.col("subregistry") == sid) & (pl.col("n") == 20)).row(0, named=True)
    p0, tau2 = row["p0"], row["tau2"]
    expected = min(1.0, p0 + stats.norm.ppf(0.999) * (p0 * (1 - p0) / 20 + tau2) ** 0.5)
    assert drawn.filter(pl.col("n") == 20)["value"][0] == pytest.approx(expected)
    assert "överspridning" in figure.caption and "φ = " in figure.caption
    text = " ".join(methods.methods_section(run).paragraphs)
    assert "winsoriseras" in text and "τ²" in text


# --- net survival on one basis ----------------------------------------------------------


def test_report_national_net_survival_equals_the_cli(prepared):
    a = prepared.analyses
    first, last = a.period
    runner = CliRunner()
    for sid in ("myeloma", "all"):
        done = runner.invoke(app, [
            "survival", "--subregistry", sid, "--method", "pohar-perme",
            "--period", f"{first}-{last}", "--age-standardise", "auto", "--times", "1,5",
            "--format", "csv"])
        assert done.exit_code == 0, done.output
        cli = pl.read_csv(io.StringIO(done.stdout)).sort("time")
        report = a.relative.filter((pl.col("subregistry") == sid) & (pl.col("region") == NATION)
                                   & (pl.col("approach") == "period")).sort("time")
        # Standardised, a sparse (or, in ALL, an emptied) age group merged as NORDCAN does.
        assert report["standardised"].all()
        assert report["merged"].to_list() == cli["merged"].to_list()
        assert report["estimate"].to_list() == pytest.approx(cli["estimate"].to_list(),
                                                             rel=1e-9)
        assert report["upper"].to_list() == pytest.approx(cli["upper"].to_list(), rel=1e-9)


def test_regions_and_the_nation_share_the_standardised_basis(prepared):
    rel = prepared.analyses.relative
    estimated = rel.filter(pl.col("estimate").is_not_null())
    # No region drags the others off standardisation; a sparse age group is merged.
    assert estimated["standardised"].all()
    assert estimated["merged"].is_not_null().any()
    run = prepared.run
    sid = estimated.filter(pl.col("merged").is_not_null())["subregistry"][0]
    section_rows = tables.relative_table(
        run, "x", run.relative.filter((pl.col("subregistry") == sid)
                                      & (pl.col("approach") == "period")),
        ["region"], [lambda r: cells.region_label(r, run.text)],
        [cells.regions_nation_last()], "caption", ["Region"])
    assert any("sammanslagna åldersgrupper" in r[-1] for r in section_rows.rows)
    assert "över 100 %" in section_rows.note


# --- the region among all regions -------------------------------------------------------


def test_region_table_has_a_column_per_region_and_the_nation_coloured_by_level(prepared):
    run, a = prepared.run, prepared.analyses
    table = comparison.region_table(run, "g", "lymphoma", REGION)
    regions = [REGION, *(r for r in cells.regions_nation_last() if r != REGION)]
    # The report's region first, then the others and the nation.
    assert table.header[2:] == [cells.region_label(r, run.text) for r in regions]
    assert table.header[2] == "Syd"
    judged = run.indicators.filter((pl.col("subregistry") == "lymphoma")
                                   & (pl.col("year") == a.judged_year))
    assert not judged["preliminary"].any()
    names = {i.name("sv"): i.id for i in a.indicator_list}
    by_cell = {(r["indicator"], r["region"]): r for r in judged.iter_rows(named=True)}
    symbol = cells.symbol()
    shown = 0
    for row, fill in zip(table.rows, table.fills, strict=True):
        for region, value, colour in zip(regions, row[2:], fill[2:], strict=True):
            r = by_cell[(names[row[0]], region)]
            if r["estimate"] is None and r[disclosure.FLAG]:
                assert value == symbol and colour == ""  # masked: no level either
            elif r["estimate"] is not None:  # the release's share and the level reached
                shown += 1
                assert value == fmt.percent(r["estimate"], 1, "sv")
                level = r["classification"] or "few"
                assert colour == ("" if r["high"] is None else cells.LEVEL_FILLS[level])
    assert len(table.rows) > 7 and shown > 7 * len(regions)
    assert str(a.judged_year) in table.caption


def test_indicator_time_series_cover_the_trend_years_with_the_preliminary_year_open(prepared):
    run, a = prepared.run, prepared.analyses
    figure = comparison.indicator_trend_figure(run, "t", "myeloma", REGION)
    frame = figure.arguments["frame"]
    assert frame["year"].min() == a.first_year and frame["year"].max() == a.year
    assert set(frame["region"]) == {"Syd", "Riket"}
    prelim = frame.filter(pl.col("preliminary"))["year"].unique().to_list()
    assert prelim == ([a.year] if a.preliminary else [])
    expected = run.indicators.filter((pl.col("subregistry") == "myeloma")
                                     & (pl.col("region") == REGION))
    assert sorted(frame.filter(pl.col("region") == "Syd")["estimate"].drop_nulls()) == \
        sorted(expected["estimate"].drop_nulls())
    targets = figure.arguments["targets"]
    assert targets["high"].is_not_null().any()
    assert f"{a.first_year}–{a.year}" in figure.caption


def test_counties_of_the_region_with_enough_cases_beside_the_region(prepared):
    run, a, data = prepared.run, prepared.analyses, prepared.data
    table = comparison.county_table(run, "c", "lymphoma", REGION)
    names = dict(dd.counties().select("county", "county_name").iter_rows())
    own = [c for c, r in dd.counties().select("county", "region").iter_rows() if r == REGION]
    assert table.header[2:] == [names[c] for c in own] + ["Syd"]  # Kronoberg, Blekinge, Skåne
    [ind] = [i for i in a.indicator_list if i.id == "lymphoma_surgical_biopsy"]
    row = next(r for r in table.rows if r[0] == ind.name("sv"))
    cases = data.cases.filter((pl.col("subregistry") == "lymphoma")
                              & (pl.col("year") == a.judged_year))
    expected = indicators.compute_indicator(ind, cases, ["county"])
    for county, printed in zip(own, row[2:-1], strict=True):
        r = expected.filter(pl.col("county") == county).row(0, named=True)
        assert r["n"] >= ind.min_n and printed == fmt.percent(r["estimate"], 1, "sv")
    # The release holds the county cells, and they add up to the region's.
    cells_ = a.release.cells.filter((pl.col("family") == ind.id)
                                    & (pl.col("subregistry") == "lymphoma")
                                    & (pl.col("period") == str(a.judged_year))
                                    & (pl.col("region") == REGION)
                                    & (pl.col("hospital") == "*"))
    region_n = cells_.filter(pl.col("county") == "*")["n"].item()
    assert cells_.filter(pl.col("county") != "*")["n"].sum() == region_n > 0


# --- figures: one axis, the report's order, readable lines --------------------------------


def test_indicator_panels_share_one_axis_in_the_registrys_order(prepared):
    run, a = prepared.run, prepared.analyses
    judged = run.indicators.filter((pl.col("subregistry") == "lymphoma")
                                   & (pl.col("year") == a.judged_year))
    spec = figure_specs.indicator_figure(run, "ind", judged, cells.regions_nation_last(), None)
    order = spec.arguments["facet_order"]
    registry_order = [i.name("sv") for i in a.indicator_list if "lymphoma" in i.subregistries]
    assert [" ".join(o.split()) for o in order] == registry_order
    assert order != sorted(order)  # the demo's order is not alphabetical: the test can fail
    plot = figures.estimate_chart(**spec.arguments).plot
    plot.draw(show=False)  # plotnine lays out the panels when it draws
    assert plot.facet.free == {"x": False, "y": False}
    assert list(plot.facet.layout.layout["indicator"].astype(str)) == order


def test_seven_regions_as_small_multiples_without_yellow_and_km_with_bands(prepared):
    run, a = prepared.run, prepared.analyses
    myeloma = a.survival_curves.filter(pl.col("subregistry") == "myeloma")
    spec = figure_specs.survival_figure(run, "s", myeloma, None)
    assert spec.function == "spotlight_chart"
    regions = [cells.region_label(r, run.text) for r in dd.region_ids()]
    assert spec.arguments["panel_order"] == regions
    frame = spec.arguments["frame"]
    for panel in regions:  # in each panel its region in focus, the nation as reference
        roles = dict(frame.filter(pl.col("panel") == panel).select("region", "role")
                     .unique().iter_rows())
        assert roles[panel] == "focus" and roles["Riket"] == "reference"
        assert {r for r, role in roles.items() if role == "other"} == set(regions) - {panel}
    assert {"lower", "upper"} <= set(frame.columns)
    first = a.year - a.settings.survival_years + 1
    assert f"diagnosår {first}–{a.year}" in spec.caption and "konfidensband" in spec.caption
    # The region's report: the region beside the nation in a panel per subregistry, in
    # the registry's order, with the region's confidence band.
    pair = figure_specs.survival_figure(run, "s", a.survival_curves.filter(
        pl.col("region").is_in([REGION, NATION])), REGION)
    assert pair.function == "spotlight_chart" and pair.arguments["ncol"] == 4
    assert pair.arguments["panel_order"] == [cells.subregistry_label(s, "sv")
                                             for s in dd.subregistry_ids()]
    shown = pair.arguments["frame"]
    region = cells.region_label(REGION, run.text)
    assert dict(shown.select("region", "role").unique().iter_rows()) == {
        region: "focus", "Riket": "reference"}
    assert shown.filter(pl.col("role") == "focus")["lower"].is_not_null().any()
    assert pair.arguments["labels"]["focus"] == region
    # Net survival by region: the same panels, on the survival axes (years, 0-100 %).
    net, _ = figure_specs.relative_figure(run, "rs", "myeloma")
    assert net.function == "spotlight_chart" and net.arguments["survival"]
    assert net.arguments["panel_order"] == regions
    # Region colours: no low-contrast yellow among seven lines.
    palette = figures._palette([*regions, "Riket"], None, "Riket")
    assert "#F0E442" not in palette.values() and len(set(palette.values())) == 7
