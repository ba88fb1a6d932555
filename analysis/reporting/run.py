"""The protected tables of a run: every analysis table passed through disclosure control once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from analysis.privacy import disclosure
from analysis.reporting.analyses import NATION, Analyses
from analysis.reporting.labels import Text

ESTIMATES = {
    "incidence": {"crude_rate": "n", "estimate": "n", "lower": "n", "upper": "n"},
    "share": {"events": "n", "estimate": "n", "lower": "n", "upper": "n"},
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
    @cached_property
    def asr(self) -> pl.DataFrame:
        return protect(self.analyses.asr, ["subregistry", "region", "year"], "incidence")

    @cached_property
    def apc(self) -> pl.DataFrame:
        return protect(self.analyses.apc, ["subregistry", "region"], "incidence")

    @cached_property
    def sir(self) -> pl.DataFrame:
        return protect(self.analyses.sir, ["subregistry", "region"], "incidence")

    @cached_property
    def age_sex(self) -> pl.DataFrame:
        # Not a margin table: no national rows, sexes and age groups side by side.
        frame = self.analyses.age_sex
        return disclosure.suppress(frame, ["subregistry", "sex", "age_group"], estimates={
            c: b for c, b in ESTIMATES["incidence"].items() if c in frame.columns})

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
        frame = self.analyses.indicators
        keys = ["subregistry", "region", "year"]
        return protect(frame, ["indicator", *keys], "share",
                        self._masked_cases(frame, keys))

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
    def completeness(self) -> pl.DataFrame:
        frame = self.analyses.completeness.with_columns(
            pl.lit(self.analyses.year).alias("year"))  # the report year's cases
        linked = self._masked_cases(frame, ["subregistry", "region", "year"])
        return protect(frame, ["subregistry", "variable", "region"], "share",
                        linked).drop("year")
