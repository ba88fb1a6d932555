"""`bcr coverage`: coverage against the cancer registry, completeness and timeliness."""

from __future__ import annotations

import typer

from analysis.commands.options import (
    ConfLevelOption,
    DataOption,
    ExtractDateOption,
    FormatOption,
    OutOption,
    PublicOption,
    SubregistryOption,
    YearsOption,
    in_years,
    load,
    not_in_release,
    parse_date,
    split_list,
)
from analysis.commands.output import write_frame
from analysis.errors import UserError

MEASURES = ("coverage", "discrepancies", "completeness", "timeliness")


def coverage(
    data: DataOption = None,
    subregistry: SubregistryOption = None,
    measure: str = typer.Option("coverage", "--measure",
                                help="coverage, discrepancies, completeness or timeliness."),
    by: str = typer.Option("", "--by", help="Group by any of region, county, hospital, year "
                           "(comma-separated); always by subregistry."),
    years: YearsOption = None,
    window_days: int | None = typer.Option(None, "--window-days",
                                           help="Largest difference in diagnosis dates for "
                                           "a match (default: registry.yaml)."),
    extract_date: ExtractDateOption = None,
    conf_level: ConfLevelOption = 0.95,
    fmt: FormatOption = "table",
    out: OutOption = None,
    public_: PublicOption = False,
) -> None:
    """Coverage (täckningsgrad) against the cancer registry, completeness and timeliness.

    coverage: share of the cancer registry's cases found in the quality registry (same
    person, subregistry and diagnosis date within the window, one to one), at the extract
    date and within 3 and 12 months of diagnosis, with Wilson score CIs. discrepancies:
    records in only one of the two sources. completeness: share of cases with each key
    variable filled in. timeliness: share registered within 3 and 12 months.
    """
    import polars as pl

    from analysis.quality import coverage as cov
    from analysis.quality.indicators import completeness_populations, key_variables

    if measure not in MEASURES:
        raise UserError(f"--measure '{measure}': use one of {', '.join(MEASURES)}")
    keys = split_list(by)
    if public_:
        raise not_in_release("coverage, completeness and timeliness")
    loaded = load(data, subregistry)
    cases = loaded.require("cases")
    if subregistry:
        cases = cases.filter(pl.col("subregistry").is_in(subregistry))
    extract = parse_date(extract_date, "--extract-date") or loaded.extract_date()
    if measure in ("coverage", "discrepancies"):
        cancer = loaded.require("cancer_registry")
        linked = cov.match_registries(cases, cancer, window_days, loaded.subregistries)
        if subregistry:
            linked = linked.filter(pl.col("subregistry").is_in(subregistry))
        linked = in_years(linked, years)
        if measure == "coverage":
            from analysis.privacy.erasure import opt_out_action

            frame = cov.coverage(linked, keys, conf_level, extract)
            title = "Coverage against the cancer registry"
            if opt_out_action("cancer_registry") == "keep":
                title += ("; persons who opted out of the quality registry remain in the "
                          "cancer registry and count as not registered")
        else:
            frame = cov.discrepancies(linked, keys)
            title = "Records in both sources or in only one"
    elif measure == "completeness":
        wanted = {sid: names for sid, names in key_variables().items()
                  if not subregistry or sid in subregistry}
        frame = cov.completeness(in_years(cases, years), wanted, keys, conf_level,
                                 populations=completeness_populations())
        title = "Completeness of key variables"
    else:
        frame = cov.timeliness(in_years(cases, years), keys, conf_level, extract)
        title = "Registered within 3 and 12 months of diagnosis"
    if extract is not None and measure in ("coverage", "timeliness"):
        title += f" (extract date {extract})"
    write_frame(frame, fmt, out, title)
