"""The data inside an interactive report: the run's protected tables as JSON records.

Every number is taken from the tables the static reports print (``Run.indicators``,
``Run.indicator_counties``, ``Run.hospitals``, ``Run.asr``, ``Run.relative``) or from the
release's cells (new cases by county): counts are release cells, and an estimate built
on a masked count is null with it (``masked``). Nothing is computed here; values are also
given as the static reports print them (``analysis.reporting.formatting``), so both read
the same.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.privacy.release import CASES, TOTAL, window_label
from analysis.quality.indicators import Indicator
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import region_label, subregistries_present
from analysis.reporting.run import Run

REGION, COUNTY, HOSPITAL = "region", "county", "hospital"


def _masked() -> pl.Expr:
    return pl.col(disclosure.FLAG).is_not_null()


def _texts(row: dict, lang: str, symbol: str, as_percent: bool, decimals: int = 1
           ) -> dict[str, str]:
    """A row's value, interval and count as printed; the symbol for a masked row."""
    if row["masked"]:
        return {"value_text": symbol, "ci_text": symbol, "n_text": symbol}
    shown = fmt.percent if as_percent else fmt.number
    return {"value_text": shown(row["estimate"], decimals, lang),
            "ci_text": fmt.interval(row.get("lower"), row.get("upper"), decimals, lang,
                                    as_percent),
            "n_text": fmt.number(row["n"], 0, lang)}


def _records(frame: pl.DataFrame, lang: str, as_percent: bool) -> list[dict[str, Any]]:
    symbol = str(dd.registry()["disclosure"]["symbol"])
    return [{**r, **_texts(r, lang, symbol, as_percent)} for r in frame.iter_rows(named=True)]


def _judged(frame: pl.DataFrame, level: str, unit: str) -> pl.DataFrame:
    """Region or county rows as records: a masked or preliminary row keeps no target
    level (a preliminary year is shown, never judged)."""
    preliminary = pl.col("preliminary") if "preliminary" in frame.columns else pl.lit(False)
    return frame.select(
        "indicator", "subregistry", pl.lit(level).alias("level"), pl.col(unit).alias("unit"),
        "region", "year", "n", "estimate", "lower", "upper",
        pl.when(_masked() | preliminary).then(None).otherwise(pl.col("classification"))
        .alias("classification"), preliminary.alias("preliminary"),
        _masked().alias("masked"), pl.lit(None, pl.String).alias("position"))


def indicator_records(run: Run) -> list[dict[str, Any]]:
    """Each indicator's share by region (and the nation) in every trend year, by county in
    the judged year (``Run.indicator_counties``) and by hospital in the report year (the
    funnel plots' indicator): unit, region, year, n, estimate, lower, upper,
    classification, preliminary, masked, and the printed texts."""
    parts = [_judged(run.indicators, REGION, "region")]
    if run.indicator_counties.height:
        parts.append(_judged(run.indicator_counties, COUNTY, "county"))
    if run.hospitals.height:
        parts.append(run.hospitals.select(
            "indicator", "subregistry", pl.lit(HOSPITAL).alias("level"),
            pl.col("hospital").alias("unit"), "region",
            pl.lit(run.analyses.year).alias("year"), "n", "estimate",
            pl.lit(None, pl.Float64).alias("lower"), pl.lit(None, pl.Float64).alias("upper"),
            pl.lit(None, pl.String).alias("classification"),
            pl.lit(run.analyses.preliminary).alias("preliminary"), _masked().alias("masked"),
            # The funnel position follows from the count: hidden with it.
            pl.when(_masked()).then(None).otherwise(pl.col("flag")).alias("position")))
    frame = pl.concat(parts, how="vertical_relaxed").with_columns(
        pl.col("year").cast(pl.Int64)).sort("subregistry", "indicator", "level", "year", "unit")
    return _records(frame, run.lang, as_percent=True)


def incidence_records(run: Run) -> list[dict[str, Any]]:
    """Age-standardised incidence per 100 000 by subregistry, region (and the nation) and
    year, as the static reports' trend figures draw it."""
    frame = run.asr.select("subregistry", "region", pl.col("year").cast(pl.Int64), "n",
                           "estimate", "lower", "upper", _masked().alias("masked"))
    return _records(frame.sort("subregistry", "region", "year"), run.lang, as_percent=False)


def sir_records(run: Run) -> list[dict[str, Any]]:
    """Standardised incidence ratios by subregistry and region over the pooled window
    (indirect standardisation to the national rates, exact Poisson CI), as the
    subregistry reports draw them: observed cases, SIR and CI (not the expected count)."""
    frame = run.sir.select("subregistry", "region", "n", "estimate", "lower", "upper",
                           _masked().alias("masked"))
    symbol = str(dd.registry()["disclosure"]["symbol"])
    return [{**r, **_texts(r, run.lang, symbol, False, decimals=2)}
            for r in frame.sort("subregistry", "region").iter_rows(named=True)]


def survival_records(run: Run) -> list[dict[str, Any]]:
    """Net survival (Pohar Perme) by subregistry and region (and the nation), period
    approach (Brenner), at the report's times; a group the data are too few for keeps
    no estimate."""
    if not run.relative.height:
        return []
    frame = run.relative.filter(pl.col("approach") == "period").select(
        "subregistry", "region", "time", "n", "estimate", "lower", "upper", "standardised",
        (_masked() | pl.col("estimate").is_null()).alias("masked"))
    return _records(frame.sort("subregistry", "region", "time"), run.lang, as_percent=True)


def county_records(run: Run) -> list[dict[str, Any]]:
    """New cases per subregistry and county over the pooled window: release cells as
    published (null where masked)."""
    window = window_label(run.release.spec.age_window)
    cells = run.release.cells.filter(
        (pl.col("family") == CASES) & (pl.col("county") != TOTAL)
        & (pl.col("period") == window) & ~pl.col("hidden"))
    frame = cells.select("subregistry", "county", "region", "period", "n",
                         pl.col("flag").is_not_null().alias("masked"))
    symbol = str(dd.registry()["disclosure"]["symbol"])
    return [{**r, "n_text": symbol if r["masked"] else fmt.number(r["n"], 0, run.lang)}
            for r in frame.sort("subregistry", "county").iter_rows(named=True)]


def indicator_info(ind: Indicator, lang: str) -> dict[str, Any]:
    """What the description view says of an indicator, and its target levels."""
    return {"id": ind.id, "name": ind.name(lang), "subregistries": list(ind.subregistries),
            "kind": ind.kind, "direction": ind.direction, "high": ind.high,
            "intermediate": ind.intermediate, "min_n": ind.min_n,
            "description": ind.description(lang),
            "source": ind.target_source, "target_days": ind.target_days,
            "months": ind.months,
            "high_text": fmt.percent(ind.high, 0, lang),
            "intermediate_text": fmt.percent(ind.intermediate, 0, lang)}


def units(run: Run) -> dict[str, Any]:
    """Names of the regions (with the nation), counties with their tiles, hospitals and
    subregistries, in the configuration's order."""
    lang, text = run.lang, run.text
    tiles = dd.load("interactive.yaml")["tiles"]
    counties = dd.counties()
    missing = sorted(set(counties["county"].to_list()) - {str(c) for c in tiles})
    if missing:
        raise dd.DictionaryError(f"{dd.dictionary_dir() / 'interactive.yaml'}: tiles lacks "
                                 f"county {', '.join(missing)}")
    hospitals = dd.load("hospitals.yaml")["hospitals"]
    region_of = dict(counties.select("county", "region").iter_rows())
    return {
        "regions": [{"id": r, "name": region_label(r, text)}
                    for r in [*dd.region_ids(), NATION]],
        "counties": [{"id": c["county"], "name": c["county_name"], "region": c["region"],
                      "col": tiles[c["county"]][0], "row": tiles[c["county"]][1]}
                     for c in counties.iter_rows(named=True)],
        "hospitals": [{"id": h["code"], "name": h["name"],
                       "region": region_of[str(h["county"])]} for h in hospitals],
        "subregistries": [{"id": s, "name": dd.subregistry(s)[f"name_{lang}"]}
                          for s in subregistries_present(run.analyses)],
    }


def interactive_data(run: Run) -> dict[str, Any]:
    """Everything an interactive report embeds: the settings, the names, the wording and
    the protected records (the same for every region's file; ``meta.area`` tells whose)."""
    a, lang = run.analyses, run.lang
    reg = dd.registry()
    symbol = str(reg["disclosure"]["symbol"])
    shown = set(run.indicators["indicator"].unique().to_list())
    return {
        "meta": {"lang": lang, "year": a.year, "judged_year": a.judged_year,
                 "symbol": symbol, "k": disclosure.rules().k,
                 "masked_label": reg["disclosure"][f"label_{lang}"],
                 "period": list(a.period), "window": window_label(
                     run.release.spec.age_window),
                 "decimal": fmt.decimal_mark(lang), "nation": NATION},
        "text": {**dd.load("interactive.yaml")["text"][lang],
                 "levels_target": run.text.section("levels"),
                 "suppressed": run.text("notes.suppressed", symbol=symbol,
                                        label=reg["disclosure"][f"label_{lang}"],
                                        k=disclosure.rules().k)},
        **units(run),
        "indicators": [indicator_info(i, lang) for i in a.indicator_list if i.id in shown],
        "indicator_rows": indicator_records(run),
        "incidence": incidence_records(run),
        "sir": sir_records(run),
        "survival": survival_records(run),
        "county_cases": county_records(run),
    }
