"""`bcr survival`: observed, relative and net survival, age-standardised, and Cox models."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date
from pathlib import Path

import typer

from analysis.commands.options import (
    DataOption,
    FormatOption,
    IdSchemeOption,
    OutOption,
    PublicOption,
    SubregistryOption,
    load,
    not_in_release,
    split_list,
)
from analysis.commands.output import write_frame
from analysis.data import dictionary as dd
from analysis.errors import UserError

_ALIASES = {"agegroup": "age_group"}


def _times(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(t) for t in split_list(text)]
    except ValueError:
        raise UserError(f"--times '{text}': write years separated by commas, e.g. 1,3,5"
                        ) from None


def _period(text: str | None) -> tuple[date, date] | None:
    if not text:
        return None
    first, dash, last = text.partition("-")
    try:
        start, end = int(first), int(last if dash else first)
    except ValueError:
        raise UserError(f"--period '{text}': write a year range, e.g. 2021-2025") from None
    if not 1900 <= start <= end <= 2100:
        raise UserError(f"--period '{text}': years must be 1900-2100 and FIRST <= LAST, "
                        "e.g. 2021-2025")
    return date(start, 1, 1), date(end, 12, 31)


def _link(folder: Path, source: Path, name: str, links: dict[str, str]) -> None:
    if not source.exists():
        raise UserError(f"{source}: file not found")
    link = folder / f"{name}{source.suffix.lower()}"
    link.symlink_to(source.resolve())
    links[str(link)] = str(source)


def _load_linked(folder: Path, links: dict[str, str], subregistry: list[str] | None,
                 id_scheme: str | None):
    """load_data on the folder of links; errors name the user's files, not the links."""
    try:
        return load(folder, subregistry, id_scheme)
    except UserError as exc:
        message = str(exc)
        for link, source in links.items():
            message = message.replace(link, source)
        raise UserError(message) from None


def _load(data: Path | None, cases: Path | None, lifetable: Path | None,
          subregistry: list[str], id_scheme: str | None, stack: ExitStack):
    """The registry data: a folder, or single files in the registry-extract contract (a
    --cases file is read with the data_folder.yaml beside it, if there is one)."""
    import tempfile

    from analysis.data.folder import FOLDER_SETTINGS

    if cases is None and lifetable is None:
        return load(data, subregistry, id_scheme), None
    if cases is not None and data is not None:
        raise UserError("give either --data or --cases, not both")
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bcr-survival-")))
    links: dict[str, str] = {}
    if lifetable is not None:
        _link(folder, lifetable, "lifetable", links)
    if cases is not None:
        # A file of one subregistry (named by --subregistry or, like aml.csv, by its own
        # name) needs no subregistry column.
        named = cases.stem.lower() if cases.stem.lower() in dd.subregistry_ids() else None
        one = subregistry[0] if len(subregistry) == 1 else named
        _link(folder, cases, one or "cases", links)
        if (cases.parent / FOLDER_SETTINGS).exists():
            _link(folder, cases.parent / FOLDER_SETTINGS, "data_folder", links)
        try:
            return _load_linked(folder, links, [one] if one else subregistry or None,
                                id_scheme), None
        except UserError as exc:
            if one or "missing required column subregistry" not in str(exc):
                raise
            raise UserError(f"{exc}; for a file of one subregistry give --subregistry ID"
                            ) from None
    own_lifetable = _load_linked(folder, links, None, id_scheme).lifetable
    return load(data, subregistry, id_scheme), own_lifetable


def survival(
    data: DataOption = None,
    cases: Path | None = typer.Option(None, "--cases", help="A registry extract file "
                                      "(CSV, Parquet or Excel) instead of a data folder."),
    lifetable: Path | None = typer.Option(None, "--lifetable",
                                          help="A life table file (year, sex, age, "
                                          "mortality_rate or qx; optional region/county)."),
    subregistry: SubregistryOption = None,
    id_scheme: IdSchemeOption = None,
    by: str = typer.Option("", "--by", help="Group by columns, e.g. region,sex,agegroup "
                           "(comma-separated)."),
    method: str = typer.Option("km", "--method", help="km, ederer2 or pohar-perme."),
    times: str | None = typer.Option(None, "--times", help="Years, e.g. 1,3,5 (default "
                                     "from registry.yaml)."),
    period: str | None = typer.Option(None, "--period", help="Period analysis window of "
                                      "calendar years, e.g. 2021-2025 (Brenner)."),
    age_standardise: str | None = typer.Option(None, "--age-standardise",
                                               help="icss1, icss2, icss3 or nordcan_icss1; "
                                               "'auto' takes the subregistry's set."),
    conf_type: str = typer.Option("log", "--ci", help="Relative survival CI scale: log "
                                  "or log-log."),
    median: bool = typer.Option(False, "--median", help="Median survival (km) instead."),
    logrank: bool = typer.Option(False, "--logrank", help="Log-rank test across --by."),
    cox: bool = typer.Option(False, "--cox", help="Cox model of region adjusted for age "
                             "and sex."),
    reference: str | None = typer.Option(None, "--reference",
                                         help="Reference region of --cox."),
    fmt: FormatOption = "table",
    out: OutOption = None,
    public_: PublicOption = False,
) -> None:
    """Survival: Kaplan-Meier (default), relative (Ederer II) or net (Pohar Perme)
    survival by group, optionally for a period window and age-standardised (ICSS), the
    median, a log-rank test, or a Cox model of region.

    NORDCAN exclusions (age 90+, death certificate or autopsy only) are applied and
    counted on stderr; groups below the minimum size get no estimate.
    """
    import polars as pl

    from analysis.stats import relative_survival as rs
    from analysis.stats import survival as sv

    if public_:
        raise not_in_release("survival estimates")
    keys = [_ALIASES.get(k, k) for k in split_list(by)]
    subs = list(subregistry or [])
    if method not in ("km", *rs.METHODS):
        raise UserError(f"--method '{method}': use km, ederer2 or pohar-perme")
    if age_standardise and method == "km":
        raise UserError("--age-standardise applies to relative or net survival: add "
                        "--method ederer2 or --method pohar-perme")
    # Options the chosen analysis does not use would be silently ignored.
    other = "--cox" if cox else "--logrank" if logrank else "--median" if median else None
    if other and method != "km":
        raise UserError(f"{other} is observed survival: leave out --method {method}")
    if cox and keys:
        raise UserError("--cox models region adjusted for age and sex: leave out --by")
    if other and times:
        raise UserError(f"{other} does not take --times")
    with ExitStack() as stack:
        loaded, own_lifetable = _load(data, cases, lifetable, subs, id_scheme, stack)
        frame = loaded.require("cases")
        if subs:
            frame = frame.filter(pl.col("subregistry").is_in(subs))
        source = str(cases) if cases is not None else "cases"
        fu = sv.prepare_followup(frame, source=source)
        life = own_lifetable if own_lifetable is not None else loaded.lifetable
    if fu.excluded.height:
        from rich.console import Console  # only with something to say

        err = Console(stderr=True)
        for reason, n in fu.excluded.iter_rows():
            err.print(f"excluded from survival: {n} case(s), {reason}", highlight=False)
    followup = fu.data
    window = _period(period)
    if window is not None:
        followup = sv.period_window(followup, *window)
        if followup.is_empty():
            raise UserError(f"--period {period}: no follow-up of these cases falls in the "
                            "window")
    when = f", period {period}" if window else ""
    if cox:
        from analysis.stats import cox as cx  # lifelines: slow to import, only for Cox

        result = cx.cox_region(followup, reference=reference)
        title = "Cox model of region, adjusted for age and sex"
    elif logrank:
        result = sv.logrank(followup, keys)
        title = "Log-rank test"
    elif median:
        result = sv.km_median(followup, keys)
        title = f"Median survival (years){when}"
    elif method == "km":
        result = sv.kaplan_meier(followup, keys, _times(times))
        title = f"Observed survival (Kaplan-Meier){when}"
    else:
        if life is None:
            raise UserError("relative survival needs a life table (lifetable.csv in the "
                            "data folder, or --lifetable FILE)")
        if age_standardise:
            standard = age_standardise
            if standard == "auto":
                if len(subs) != 1:
                    raise UserError("--age-standardise auto needs exactly one --subregistry")
                standard = rs.standard_for(subs[0])
            result = rs.age_standardised(followup, life, standard, keys, _times(times),
                                         method, conf_type=conf_type)
            title = f"Age-standardised {rs.METHODS[method]}{when}"
        else:
            result = rs.relative_survival(followup, life, keys, _times(times), method,
                                          conf_type=conf_type)
            title = f"{rs.METHODS[method]}{when}"
    write_frame(result, fmt, out, title)
