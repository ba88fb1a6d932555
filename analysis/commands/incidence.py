"""`bcr incidence`: incidence rates, SIR, rate ratios and trends from a data folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from analysis.commands.options import (
    ConfLevelOption,
    DataOption,
    FormatOption,
    OutOption,
    PublicOption,
    SubregistryOption,
    YearsOption,
    load,
    public_release,
    split_list,
    year_span,
)
from analysis.commands.output import write_frame
from analysis.data import dictionary as dd
from analysis.errors import UserError
from analysis.reporting.labels import Text

if TYPE_CHECKING:  # imported inside the functions: `bcr --help` starts without them
    import polars as pl

# Columns that repeat one value on every row: shown in the title of a terminal table.
_CAPTION_COLUMNS = ("per", "standard", "method")


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _breaks(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(p) for p in split_list(text)]
    except ValueError:
        raise UserError(f"--age-groups '{text}': write the first age of each group, e.g. "
                        "18,40,60,80") from None


def _readable(frame: pl.DataFrame, kind: str, text: Text, standard: str, tiwari: bool,
              conf_level: float) -> pl.DataFrame:
    """A terminal table in one language: regions by name in the registry's order, sex as
    a label, headers (and, in Swedish, the method line) from report_text.yaml."""
    import polars as pl

    from analysis.commands.labels import labelled

    frame = frame.drop(c for c in _CAPTION_COLUMNS if c in frame.columns and c != "method")
    frame = labelled(frame, text.lang, headers=False)
    if text.lang != "en" and "method" in frame.columns:  # the analysis names it in English
        key = "rates_tiwari" if kind == "rates" and tiwari else kind
        name = dd.load("standard_populations.yaml")["standards"].get(standard, {}).get(
            f"name_{text.lang}", standard)
        frame = frame.with_columns(pl.lit(text(f"incidence_cli.methods.{key}",
                                               standard=name)).alias("method"))
    level = f"{conf_level * 100:g}"
    headers = {c: h.format(level=level) for c, h in
               text.section("incidence_cli.columns").items() if c in frame.columns}
    headers["estimate"] = text(f"incidence_cli.estimate.{kind}")
    return frame.rename({c: h for c, h in headers.items() if c in frame.columns})


def incidence(
    data: DataOption = None,
    subregistry: SubregistryOption = None,
    by: str = typer.Option("", "--by", help="Group by any of subregistry, icd10, morphology, "
                           "year, period, region, county, sex, age_group (comma-separated)."),
    years: YearsOption = None,
    period_length: int = typer.Option(5, "--period-length",
                                      help="Years per period when grouping by period."),
    standard: str | None = typer.Option(None, "--standard",
                                        help="Standard population: esp2013, world1960, "
                                        "who2000, or a CSV file (age_group, weight)."),
    age_groups: str | None = typer.Option(None, "--age-groups",
                                          help="First age of each age group, e.g. "
                                          "18,40,60,80 (default 0,5,...,85)."),
    per: float | None = typer.Option(None, "--per", help="Rates per this many person-years."),
    tiwari: bool = typer.Option(False, "--tiwari",
                                help="Tiwari et al. (2006) modified gamma interval."),
    sir: bool = typer.Option(False, "--sir", help="Standardised incidence ratio per region "
                             "(or county, if in --by), national rates as reference."),
    rate_ratio: bool = typer.Option(False, "--rate-ratio",
                                    help="Ratio of each region's (or county's) "
                                    "standardised rate to the nation's."),
    apc: bool = typer.Option(False, "--apc", help="Annual percent change over the years."),
    adjust: str = typer.Option("", "--adjust", help="With --apc: adjust the trend for "
                               "any of age_group, sex, region, county (comma-separated; a "
                               "term per combination)."),
    conf_level: ConfLevelOption = 0.95,
    fmt: FormatOption = "table",
    out: OutOption = None,
    public_: PublicOption = False,
    lang: str = typer.Option("en", "--lang", help="Language of the table (title, headers, "
                             "regions, sex, method): en or sv. Files written with --out "
                             "keep codes and column names."),
) -> None:
    """Incidence: counts, person-years, crude and age-standardised rates with CIs.

    By default: age-standardised rates (direct method, Fay-Feuer gamma CI) per group;
    with age_group in --by: age-specific rates (exact Poisson CI). --sir, --rate-ratio and
    --apc switch to regional comparison or trends.
    """
    from analysis.stats import incidence as inc
    from analysis.stats import trend
    from analysis.stats.standard_populations import default_standard, load_standard

    if sum((sir, rate_ratio, apc)) > 1:
        raise UserError("choose one of --sir, --rate-ratio and --apc")
    # An option the chosen analysis does not use would be silently ignored.
    direct = not (sir or apc or "age_group" in split_list(by))
    for given, applies, name, where in (
            (tiwari, direct and not rate_ratio, "--tiwari", "age-standardised rates"),
            (bool(adjust), apc, "--adjust", "--apc"),
            (standard is not None, direct, "--standard",
             "age-standardised rates and --rate-ratio")):
        if given and not applies:
            raise UserError(f"{name} applies to {where} only")
    if per is not None and not per > 0:
        raise UserError(f"--per {per:g}: rates are per a positive number of person-years, "
                        "e.g. 100000")
    keys = split_list(by)
    loaded = load(data, subregistry)
    cases, population = loaded.require("cases"), loaded.require("population")
    if subregistry:
        cases = cases.filter(cases.get_column("subregistry").is_in(subregistry))
    per = per or float(dd.registry().get("incidence", {}).get("per", 100_000))
    span = year_span(years)
    breaks = _breaks(age_groups)
    common = {"years": span, "age_breaks": breaks, "conf_level": conf_level}
    unit = next((k for k in keys if k in inc.UNITS), "region")
    std = load_standard(standard or default_standard())
    if sir:
        frame = inc.sir(cases, population, unit, keys, period_length=period_length, **common)
        kind = "sir"
    elif rate_ratio:
        frame = inc.rate_ratios(cases, population, unit, keys, standard=std,
                                period_length=period_length, per=per, **common)
        kind = "rate_ratio"
    elif apc:
        frame = trend.annual_percent_change(cases, population, keys, adjust=split_list(adjust),
                                          **common)
        kind = "apc"
    elif "age_group" in keys:
        frame = inc.crude_rates(cases, population, keys, period_length=period_length,
                                per=per, **common)
        kind = "age_specific"
    else:
        frame = inc.standardised_rates(cases, population, keys, standard=std,
                                       period_length=period_length, per=per, tiwari=tiwari,
                                       **common)
        kind = "rates"
    if public_:
        frame = public_release(frame, loaded, keys, years, subregistry)
    text = Text(lang)
    units = text.section("incidence_cli.units")
    title = text(f"incidence_cli.titles.{kind}", per=_number(per), unit=units[unit],
                 units=units[f"{unit.replace('y', 'ie')}s"])
    if fmt == "table" and out is None:
        frame = _readable(frame, kind, text, std.id, tiwari, conf_level)
    write_frame(frame, fmt, out, title, lang)
