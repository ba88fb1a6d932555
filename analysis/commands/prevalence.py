"""`bcr prevalence`: complete and limited-duration prevalence at a date."""

from __future__ import annotations

from datetime import date

import typer

from analysis.commands.options import (
    ConfLevelOption,
    DataOption,
    FormatOption,
    OutOption,
    SubregistryOption,
    load,
    parse_date,
    split_list,
)
from analysis.commands.output import write_frame
from analysis.data import dictionary as dd
from analysis.errors import UserError


def default_date(extract: date | None) -> date:
    """The last 31 December on or before the extract date: every person's vital status is
    known up to it (NORDCAN publishes prevalence at the end of a year)."""
    if extract is None:
        raise UserError("give --date: the data folder has no extract date")
    return date(extract.year if (extract.month, extract.day) == (12, 31)
                else extract.year - 1, 12, 31)


def prevalence(
    data: DataOption = None,
    subregistry: SubregistryOption = None,
    at: str | None = typer.Option(None, "--date", help="Prevalence at the end of this day, "
                                  "YYYY-MM-DD (default: the last 31 December on or before "
                                  "the extract date)."),
    by: str = typer.Option("", "--by", help="Group by any of region, county, sex, "
                           "age_group (age at the date; comma-separated)."),
    durations: str = typer.Option("1,5,10,complete", "--durations",
                                  help="Limited durations in years, and/or complete."),
    per: float | None = typer.Option(None, "--per", help="Rates per this many persons."),
    conf_level: ConfLevelOption = 0.95,
    fmt: FormatOption = "table",
    out: OutOption = None,
) -> None:
    """Prevalence: persons alive at a date who were diagnosed before it, per 100 000.

    Counting method as SEER*Stat and NORDCAN: a person counts once per subregistry, from
    the first diagnosis; complete prevalence (since the registry began) and
    limited-duration prevalence (diagnosed within 1, 5, 10 years); exact Poisson CIs.
    Persons whose vital status is not known up to the date are left out and counted.
    """
    import polars as pl

    from analysis.stats.prevalence import prevalence as estimate

    wanted: list[int | None] = []
    for part in split_list(durations):
        if part == "complete":
            wanted.append(None)
        elif part.isdigit() and int(part) > 0:
            wanted.append(int(part))
        else:
            raise UserError(f"--durations '{part}': give whole years (e.g. 1,5,10) and/or "
                            "complete")
    if per is not None and not per > 0:
        raise UserError(f"--per {per:g}: give a positive number, e.g. 100000")
    loaded = load(data, subregistry)
    cases, population = loaded.require("cases"), loaded.require("population")
    if subregistry:
        cases = cases.filter(cases.get_column("subregistry").is_in(subregistry))
    when = parse_date(at, "--date") or default_date(loaded.extract_date())
    per = per or float(dd.registry().get("incidence", {}).get("per", 100_000))
    frame = estimate(cases, population, when, split_list(by), wanted, per=per,
                     conf_level=conf_level)
    # The widest window holds every person left out of the narrower ones.
    widest = (pl.col("duration").is_null() if None in wanted
              else pl.col("duration") == max(d for d in wanted if d is not None))
    unknown = frame.filter(widest).get_column("n_unknown_vital_status").sum()
    title = (f"Prevalence at {when.isoformat()} per {per:,.0f} persons; "
             f"{unknown} person(s) with vital status unknown at the date left out")
    if fmt == "table" and out is None:
        from analysis.commands.labels import labelled

        frame = labelled(frame.drop("per", "method", "date"), "en", headers=False).with_columns(
            pl.col("duration").cast(pl.String).fill_null("complete"))
    write_frame(frame, fmt, out, title)
