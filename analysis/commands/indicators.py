"""`bcr indicators`: quality indicators with their target levels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from analysis.commands.options import (
    DataOption,
    ExtractDateOption,
    FormatOption,
    OutOption,
    PublicOption,
    SubregistryOption,
    YearsOption,
    in_years,
    load,
    parse_date,
    public_release,
    split_list,
)
from analysis.commands.output import write_frame
from analysis.data import dictionary as dd
from analysis.errors import UserError

if TYPE_CHECKING:
    from analysis.quality.indicators import Indicator


def _select(all_indicators: list[Indicator], ids: list[str], subregistry: list[str],
            keys: list[str], have_cancer_registry: bool) -> list[Indicator]:
    """The indicators asked for; without --indicator, every one that can be computed."""
    if ids:
        known = {ind.id: ind for ind in all_indicators}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UserError(f"unknown indicator(s) {', '.join(unknown)} "
                            f"(known: {', '.join(known)})")
        chosen = [known[i] for i in ids]
        survival = [i.id for i in chosen if i.kind == "net_survival"]
        if survival:
            raise UserError(f"{', '.join(survival)}: a net-survival indicator is the "
                            "five-year net survival of `bcr survival --method pohar-perme` "
                            "and of the reports, not computed by `bcr indicators`")
        if subregistry and not any(set(i.subregistries) & set(subregistry) for i in chosen):
            raise UserError(f"indicator(s) {', '.join(ids)} are not reported for "
                            f"{', '.join(subregistry)}")
        return chosen
    units = sorted({u for ind in all_indicators for u in ind.units} | {"year"})
    unknown = [k for k in keys if k not in units]
    if unknown:
        raise UserError(f"--by {', '.join(unknown)}: indicators are reported by "
                        f"{', '.join(units)}")
    return [ind for ind in all_indicators
            if (not subregistry or set(ind.subregistries) & set(subregistry))
            and all(k in (*ind.units, "year") for k in keys)
            and (ind.kind != "coverage" or have_cancer_registry)
            and ind.kind != "net_survival"]


def indicators(
    data: DataOption = None,
    subregistry: SubregistryOption = None,
    indicator: list[str] | None = typer.Option(None, "--indicator", "-i",
                                               help="Only these indicators (ids of "
                                               "data_dictionary/indicators.yaml)."),
    by: str = typer.Option("", "--by", help="Reporting unit: region, county or hospital, "
                           "and/or year (comma-separated); default national."),
    years: YearsOption = None,
    extract_date: ExtractDateOption = None,
    funnel: bool = typer.Option(False, "--funnel", help="With --by hospital: each hospital "
                                "against 95 % and 99.8 % exact binomial funnel limits "
                                "around the national proportion, and the limits widened "
                                "for overdispersion (phi, tau2, *_od columns; "
                                "Spiegelhalter 2005)."),
    lang: str = typer.Option("en", "--lang", help="Language of the table (indicator names, "
                             "headers, levels, regions, sex): en or the registry's own. "
                             "Files written with --out keep codes and column names; only "
                             "names follow it."),
    fmt: FormatOption = "table",
    out: OutOption = None,
    public_: PublicOption = False,
) -> None:
    """Quality indicators, classified against their target levels (high / intermediate /
    below). With --by year, a preliminary year (registry.yaml preliminary) is marked and
    not classified.

    Proportions with Wilson score CIs; lead times with median, quartiles and the share
    within the target number of days. Groups smaller than an indicator's min_n are shown
    but not classified. Without --indicator: every indicator reported at the --by level
    (coverage ones only when the data folder has a cancer-registry extract).
    """
    import polars as pl

    from analysis.commands.labels import labelled
    from analysis.privacy.disclosure import FLAG
    from analysis.quality.coverage import match_registries
    from analysis.quality.indicators import (
        compute_indicators,
        load_indicators,
    )
    from analysis.quality.preliminary import mark_preliminary
    from analysis.reporting.labels import Text
    from analysis.stats.funnel import funnel_limits

    dd.language(lang)  # an unknown language is a clear error
    keys = split_list(by)
    loaded = load(data, subregistry)
    cases = loaded.require("cases")
    chosen = _select(load_indicators(), indicator or [], subregistry or [], keys,
                     loaded.cancer_registry is not None)
    linked = None
    if any(ind.kind == "coverage" for ind in chosen):
        cancer = loaded.require("cancer_registry")
        linked = in_years(match_registries(cases, cancer, subregistries=loaded.subregistries),
                          years)
    extract = parse_date(extract_date, "--extract-date") or loaded.extract_date()
    frame = compute_indicators(chosen, in_years(cases, years), keys, linked, extract)
    if "year" in keys:  # a year whose registrations are not in yet is not classified
        frame = mark_preliminary(frame, extract)
    if subregistry:
        frame = frame.filter(pl.col("subregistry").is_in(subregistry))
    if funnel:
        if keys != ["hospital"]:
            raise UserError("--funnel needs --by hospital")
        parts = [funnel_limits(part, "hospital").select(
                     pl.lit(ind).alias("indicator"), pl.lit(sid).alias("subregistry"), pl.all())
                 for (ind, sid), part in frame.group_by("indicator", "subregistry",
                                                        maintain_order=True)
                 if part["n"].sum() > 0]
        if not parts:
            raise UserError("--funnel: no hospital has cases for these indicators and years")
        frame = pl.concat(parts)
    names = pl.DataFrame({"indicator": [i.id for i in chosen],
                          "name": [i.name(lang) for i in chosen]})
    frame = frame.join(names, on="indicator", how="left", maintain_order="left")
    frame = frame.select("indicator", "name", pl.exclude("indicator", "name"))
    title = Text(lang)("sections.indicators")
    if public_:
        frame = public_release(frame, loaded, keys, years, subregistry, family="indicator")
    if fmt == "table" and out is None and not funnel:
        # A terminal is narrow: the figures a reader compares; files keep every column.
        lead = ["median", "q1", "q3"] if "median" in frame.columns else []
        prelim = ["preliminary"] if "preliminary" in frame.columns else []
        frame = labelled(frame.select(
            "indicator", "name", "subregistry", *keys, "n", "estimate", "lower", "upper",
            *lead, "high", "classification", *prelim, *([FLAG] if public_ else [])),
            lang, [i.id for i in chosen]).drop("indicator")
    write_frame(frame, fmt, out, title, lang)
