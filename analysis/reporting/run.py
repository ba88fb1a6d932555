"""The protected tables of a run: every analysis table passed through disclosure control once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from analysis.privacy import disclosure
from analysis.privacy.release import CASES, TOTAL, Release, window_label
from analysis.reporting.analyses import NATION, Analyses
from analysis.reporting.labels import Text

ESTIMATES = {
    "incidence": {"crude_rate": "n", "estimate": "n", "lower": "n", "upper": "n"},
    "share": {"events": "n", "estimate": "n", "lower": "n", "upper": "n", "median": "n",
              "q1": "n", "q3": "n"},
    "survival": {"estimate": "n", "lower": "n", "upper": "n", "n_at_risk": "n",
                 "n_events": "n"},
}


def protect(frame: pl.DataFrame, keys: Sequence[str], kind: str,
             linked: Sequence[bool] | None = None, margin: str = "region") -> pl.DataFrame:
    """Disclosure control of a table before it is shown (analysis.privacy.disclosure): the
    NATION row of the `margin` column is the margin of the other rows when both are
    present; `linked` rows are masked because a linked table masks their cases."""
    estimates = {c: b for c, b in ESTIMATES[kind].items() if c in frame.columns}
    return disclosure.suppress(frame, keys, estimates=estimates, margins={margin: NATION},
                               linked=linked)


def from_release(frame: pl.DataFrame, release: Release, kind: str,
                 cell: dict[str, pl.Expr]) -> pl.DataFrame:
    """The rows of an analysis table with the masks of their cells in the run's release:
    a masked count and every estimate built on it become null, the flag says why.
    ``cell`` gives the release dimensions of a row (the others are totals)."""
    estimates = {c: b for c, b in ESTIMATES[kind].items() if c in frame.columns}
    found = release.lookup(frame.select(**{k: v for k, v in cell.items() if k != "family"},
                                        family=cell.get("family", pl.lit(CASES))))
    masked = found["flag"]
    hide = pl.col(disclosure.FLAG).is_not_null()
    out = frame.with_columns(masked.alias(disclosure.FLAG))
    return out.with_columns(*(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
                              for c in {*estimates, "n"}))


def _region() -> pl.Expr:
    return pl.when(pl.col("region") == NATION).then(pl.lit(TOTAL)).otherwise(pl.col("region"))


def _period(first: int, last: int) -> pl.Expr:
    return pl.lit(window_label((first, last)))


@dataclass
class Run:
    """What every document of one run shares: the analyses, language and provenance."""

    analyses: Analyses
    lang: str
    files: pl.DataFrame  # dataset, file, read, accepted, rejected, sha256
    options: dict[str, str]
    renderer: str
    # file, rule, column, n: how many rows broke each validation rule (counts only)
    rules: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def text(self) -> Text:
        return Text(self.lang)

    # Each table kind is protected once, whole (every region and the nation, all years),
    # so that every document shows the same cells masked: two documents masking
    # differently could be combined to undo the masking.
    @property
    def release(self) -> Release:
        return self.analyses.release

    # Counts of cases and of indicator populations come from the run's one release, so
    # that every document (and every --public table) shows the same cells masked.
    @cached_property
    def asr(self) -> pl.DataFrame:
        return from_release(self.analyses.asr, self.release, "incidence", {
            "subregistry": pl.col("subregistry"), "region": _region(),
            "period": pl.col("year").cast(pl.String)})

    @cached_property
    def apc(self) -> pl.DataFrame:
        a = self.analyses
        return from_release(a.apc, self.release, "incidence", {
            "subregistry": pl.col("subregistry"), "region": _region(),
            "period": _period(a.first_year, a.year)})

    @cached_property
    def sir(self) -> pl.DataFrame:
        return from_release(self.analyses.sir, self.release, "incidence", {
            "subregistry": pl.col("subregistry"), "region": _region(),
            "period": _period(*self.release.spec.age_window)})

    @cached_property
    def age_sex(self) -> pl.DataFrame:
        return from_release(self.analyses.age_sex, self.release, "incidence", {
            "subregistry": pl.col("subregistry"), "sex": pl.col("sex").cast(pl.String),
            "age_group": pl.col("age_group"),
            "period": _period(*self.release.spec.age_window)})

    @cached_property
    def hospitals(self) -> pl.DataFrame:
        """The hospitals of the funnel plots with their release cells: a masked hospital
        is listed with the symbol, never left out (its region must not expose it)."""
        frame = self.analyses.hospitals
        if frame.is_empty():
            return frame
        return from_release(frame, self.release, "share", {
            "family": pl.col("indicator"), "subregistry": pl.col("subregistry"),
            "hospital": pl.col("hospital"), "period": pl.lit(str(self.analyses.year))})

    def _masked_cases(self, frame: pl.DataFrame, keys: Sequence[str]) -> list[bool]:
        """Per row of `frame`: do the incidence tables mask this region's new cases of
        the year? Indicators and completeness are about the same cases, so a masked
        count must not follow from them either (linked tables)."""
        cells = self.asr.filter(pl.col(disclosure.FLAG).is_in(
            [disclosure.PRIMARY, disclosure.SECONDARY, disclosure.LINKED])).select(
            *keys).unique().with_columns(pl.lit(True).alias("_masked"))
        return (frame.select(*keys).join(cells, on=list(keys), how="left",
                                          maintain_order="left")
                ["_masked"].fill_null(False).to_list())

    @cached_property
    def indicators(self) -> pl.DataFrame:
        return from_release(self.analyses.indicators, self.release, "share", {
            "family": pl.col("indicator"), "subregistry": pl.col("subregistry"),
            "region": _region(), "period": pl.col("year").cast(pl.String)})

    @cached_property
    def indicator_counties(self) -> pl.DataFrame:
        frame = self.analyses.indicator_counties
        if frame.is_empty():
            return frame
        return from_release(frame, self.release, "share", {
            "family": pl.col("indicator"), "subregistry": pl.col("subregistry"),
            "region": pl.col("region"), "county": pl.col("county"),
            "period": pl.col("year").cast(pl.String)})

    @cached_property
    def survival(self) -> pl.DataFrame:
        return protect(self.analyses.survival, ["subregistry", "region", "time"], "survival")

    @cached_property
    def survival_groups(self) -> pl.DataFrame:
        # Each grouping (age bands, sexes) adds up to the whole subregistry (NATION).
        frame = self.analyses.survival_groups
        return protect(frame, ["subregistry", "grouping", "group", "time"], "survival",
                        margin="group")

    @cached_property
    def relative(self) -> pl.DataFrame:
        frame = self.analyses.relative
        if frame.is_empty():
            return frame
        return protect(frame, ["subregistry", "approach", "time", "region"], "survival")

    @cached_property
    def survival_trend(self) -> pl.DataFrame:
        # National rows only (one per subregistry, period and time): no margin among them.
        frame = self.analyses.survival_trend
        if frame.is_empty():
            return frame
        return protect(frame, ["subregistry", "period", "time", "region"], "survival")

    @cached_property
    def completeness(self) -> pl.DataFrame:
        frame = self.analyses.completeness.with_columns(
            pl.lit(self.analyses.year).alias("year"))  # the report year's cases
        linked = self._masked_cases(frame, ["subregistry", "region", "year"])
        return protect(frame, ["subregistry", "variable", "region"], "share",
                        linked).drop("year")
