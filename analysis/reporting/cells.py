"""Cells and labels shared by the table and figure builders: formatted values, the
suppression symbol, names of regions and subregistries, rows in the report's order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION, Analyses
from analysis.reporting.labels import Text
from analysis.reporting.run import Run

# A cell's background by the target level reached ("few": a target, too few cases).
LEVEL_FILLS = {"high": "#8FD1BB", "intermediate": "#F0E442", "below": "#F4A582",
               "few": "#C8C8C8"}


def threshold() -> int:
    return int(dd.registry()["disclosure"]["k"])


def symbol() -> str:
    return str(dd.registry()["disclosure"]["symbol"])


def suppressed_note(text: Text) -> str:
    cfg = dd.registry()["disclosure"]
    return text("notes.suppressed", symbol=cfg["symbol"], label=cfg[f"label_{text.lang}"],
                k=cfg["k"])


def region_label(region: str, text: Text) -> str:
    return text("nation") if region == NATION else dd.region_name(region, text.lang)


def subregistry_label(sid: str, lang: str) -> str:
    return dd.subregistry(sid)[f"short_{lang}"]


def cell(row: dict, column: str, render: Callable[[float], str]) -> str:
    """A formatted cell; the suppression symbol where disclosure control hid the value."""
    value = row.get(column)
    if value is None:
        return symbol() if row.get(disclosure.FLAG) else ""
    return render(value)


def ci_cell(row: dict, lang: str, decimals: int, as_percent: bool = False) -> str:
    """The confidence interval cell; the symbol where disclosure control hid it."""
    if row["lower"] is None:
        return symbol() if row.get(disclosure.FLAG) else ""
    return fmt.interval(row["lower"], row["upper"], decimals, lang, as_percent)


def shown_rows(protected: pl.DataFrame, key: str, order: Sequence[str],
           show: pl.Expr | None = None) -> pl.DataFrame:
    """The rows of a protected frame to show, ordered by `order` of the row key."""
    if show is not None:
        protected = protected.filter(show)
    return ordered(protected.filter(pl.col(key).is_in(list(order))), key, order)


def ordered(frame: pl.DataFrame, column: str, order: Sequence[str]) -> pl.DataFrame:
    rank = {v: i for i, v in enumerate(order)}
    return frame.sort(pl.col(column).replace_strict(rank, default=len(rank)))


def regions_nation_last() -> list[str]:
    return [*dd.region_ids(), NATION]


def min_cases() -> int:
    return disclosure.min_group_size("survival")


def rs_note(r: dict, text: Text) -> str:
    """Why a net-survival cell has no estimate, or that it is not age-standardised."""
    reason = r.get("reason")
    if r.get(disclosure.FLAG) and r["estimate"] is None:
        return ""
    if reason:
        if reason.startswith("fewer than"):
            return text("relative.too_few", min_cases=min_cases())
        if reason.startswith("no follow-up"):
            return text("relative.no_followup")
        return text("relative.no_estimate")
    if r.get("merged"):
        return text("relative.merged", groups=r["merged"].replace("-", "\u2013"))
    return "" if r["standardised"] else text("relative.not_standardised")


def rs_cell(r: dict | None, lang: str) -> str:
    if r is None:
        return ""
    value = cell(r, "estimate", lambda v: fmt.percent(v, 0, lang))
    if r["estimate"] is not None and r["lower"] is not None:
        value += f" ({ci_cell(r, lang, 0, as_percent=True)})"
    return value


def p_value(p: float | None, lang: str) -> str:
    if p is None:
        return ""
    return ("<" + fmt.number(0.001, 3, lang)) if p < 0.001 else fmt.number(p, 3, lang)


def lower_first(words: str) -> str:
    """The words inside a sentence: first letter lowered unless it starts an acronym."""
    return words if words[1:2].isupper() else words[:1].lower() + words[1:]


def subregistries_present(a: Analyses) -> list[str]:
    present = set(a.asr["subregistry"].unique().to_list())
    return [s for s in dd.subregistry_ids() if s in present]


def funnel_units(run: Run, sids: Sequence[str]) -> pl.DataFrame:
    """The hospitals drawn on the funnel plots of these subregistries: large enough to
    draw, in a panel of at least three (one or two hospitals show no comparison)."""
    hospitals = run.hospitals
    if not hospitals.height:
        return hospitals
    units = hospitals.filter(pl.col("subregistry").is_in(list(sids))
                             & pl.col(disclosure.FLAG).is_null())
    units = units.filter(disclosure.drawable(units, "funnel"))
    return units.filter(pl.len().over("subregistry") >= 3)


def hospital_names() -> dict[str, str]:
    return {h["code"]: h["name"] for h in dd.load("hospitals.yaml")["hospitals"]}


def hospital_keys(run: Run, sids: Sequence[str], region: str) -> dict[str, int]:
    """The numbers a region's hospitals carry on its funnel plots and in its hospital
    table: 1, 2, ... in the order of their names, the same in every panel."""
    names = hospital_names()
    own = run.hospitals.filter(pl.col("subregistry").is_in(list(sids))
                               & (pl.col("region") == region))["hospital"].unique()
    return {h: i for i, h in enumerate(sorted(own, key=lambda h: names.get(h, h)), 1)}
