"""The protected tables of a run: every analysis table with the masks of its cells in the
run's one release (analysis.privacy.release)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from analysis.privacy import cohorts, disclosure, prevalence
from analysis.privacy.release import CASES, TOTAL, Release, window_label
from analysis.reporting.analyses import NATION, Analyses
from analysis.reporting.labels import Text

ESTIMATES = {
    "incidence": {"crude_rate": "n", "estimate": "n", "lower": "n", "upper": "n"},
    "share": {"events": "n", "estimate": "n", "lower": "n", "upper": "n", "median": "n",
              "q1": "n", "q3": "n"},
    "survival": {"estimate": "n", "se": "n", "lower": "n", "upper": "n", "n_at_risk": "n",
                 "n_events": "n", "smallest_age_group": "n", "n_outside_standard": "n",
                 "classification": "n"},
}


def from_release(frame: pl.DataFrame, release: Release, kind: str,
                 cell: dict[str, pl.Expr]) -> pl.DataFrame:
    """The rows of an analysis table with the counts and masks of their cells in the run's
    release: a masked count and every estimate built on it become null, the flag says
    why. ``cell`` gives the release dimensions of a row (the others are totals). A shown
    count that is not its cell's is a bug, and an error."""
    estimates = {c: b for c, b in ESTIMATES[kind].items() if c in frame.columns}
    found = release.lookup(frame.select(**{k: v for k, v in cell.items() if k != "family"},
                                        family=cell.get("family", pl.lit(CASES))))
    masked = found["flag"]
    shown = masked.is_null()
    if not (found["n"].filter(shown) == frame["n"].filter(shown)).all():
        row = frame.filter(shown & (found["n"] != frame["n"])).row(0, named=True)
        raise RuntimeError(f"a {kind} table's count differs from its release cell: {row}")
    hide = pl.col(disclosure.FLAG).is_not_null()
    out = frame.with_columns(masked.alias(disclosure.FLAG), found["n"].alias("n"))
    return out.with_columns(*(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
                              for c in estimates))


def _region() -> pl.Expr:
    return pl.when(pl.col("region") == NATION).then(pl.lit(TOTAL)).otherwise(pl.col("region"))


def _period(first: int, last: int) -> pl.Expr:
    return pl.lit(window_label((first, last)))


def _group(grouping: str) -> pl.Expr:
    """A survival group's value of the release dimension ``grouping`` (age or sex)."""
    return pl.when((pl.col("grouping") == grouping) & (pl.col("group") != NATION)).then(
        pl.col("group")).otherwise(pl.lit(TOTAL))


def _net_family() -> pl.Expr:
    """The cohort family of a net-survival row: the survival cohort or the period's part
    of it, inside the standard's ages where the estimate is age-standardised."""
    cohort = pl.col("approach") == "cohort"
    inside = pl.col("n_in_standard")
    return (pl.when(cohort & inside).then(pl.lit(cohorts.SURVIVAL_STANDARDISED))
            .when(cohort).then(pl.lit(cohorts.SURVIVAL))
            .when(inside).then(pl.lit(cohorts.PERIOD_STANDARDISED))
            .otherwise(pl.lit(cohorts.PERIOD)))


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

    @property
    def preliminary_note(self) -> dict[str, str]:
        """A section's box saying that the run's year is preliminary (Section keywords)."""
        return {"callout": self.text("notes.preliminary", year=self.analyses.year),
                "callout_title": self.text("notes.callout_title")}

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

    @cached_property
    def indicators(self) -> pl.DataFrame:
        return from_release(self.analyses.indicators, self.release, "share", {
            "family": pl.col("indicator"), "subregistry": pl.col("subregistry"),
            "region": _region(), "period": pl.col("year").cast(pl.String)})

    # The survival cohorts and the completeness denominators are cells of the release
    # too (analysis.privacy.cohorts), with the cases they leave out protected as well.
    def _cohort(self, frame: pl.DataFrame, family: pl.Expr, **cell: pl.Expr) -> pl.DataFrame:
        if frame.is_empty():
            return frame
        return from_release(frame, self.release, "survival", {
            "family": family, "subregistry": pl.col("subregistry"),
            "period": _period(*self.release.spec.survival), **cell})

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
        return self._cohort(self.analyses.survival, pl.lit(cohorts.SURVIVAL),
                            region=_region())

    @cached_property
    def survival_groups(self) -> pl.DataFrame:
        return self._cohort(self.analyses.survival_groups, pl.lit(cohorts.SURVIVAL),
                            sex=_group("sex"), age_group=_group("age"))

    @cached_property
    def relative(self) -> pl.DataFrame:
        """Net survival; n counts the cohort (or the period's part of it), inside the
        standard's ages where the estimate is age-standardised."""
        return self._cohort(self.analyses.relative, _net_family(), region=_region())

    @cached_property
    def net_indicators(self) -> pl.DataFrame:
        """The net-survival indicators: rows of the net survival, so their n is the same
        cohort cell (a diagnosis group's part of it for an indicator of a group) and a
        masked cohort masks estimate and level alike."""
        frame = self.analyses.net_indicators
        if frame.is_empty():
            return frame
        family = cohorts.group_family(_net_family(), pl.col("diagnosis_group"))
        return self._cohort(frame.with_columns(pl.lit(True).alias("n_in_standard")),
                            family, region=_region()).drop("n_in_standard")

    @cached_property
    def cox(self) -> pl.DataFrame:
        """The Cox model of region per subregistry with each region's, the reference's and
        the nation's cohort n from the release (the survival family): a region whose
        cohort the release masks shows no n, hazard ratio, CI or p-value."""
        frame = self.analyses.cox
        if frame.is_empty() or disclosure.FLAG not in self.survival.columns:
            return frame
        cohort = self.survival.select("subregistry", "region", "n", disclosure.FLAG).unique(
            ["subregistry", "region"])
        out = frame.with_columns(
            pl.when(pl.col("term") == "region").then(pl.col("level")).alias("_region"),
            pl.lit(NATION).alias("_nation"))
        for key, n, flag in (("_region", "region_n", disclosure.FLAG),
                             ("reference", "reference_n", "_reference_flag"),
                             ("_nation", "n", "_nation_flag")):
            joined = out.join(cohort.rename({"n": "_n", disclosure.FLAG: flag}),
                              left_on=["subregistry", key], right_on=["subregistry", "region"],
                              how="left", maintain_order="left")
            known = pl.col(key).is_not_null() & pl.col(n).is_not_null()
            bad = joined.filter(known & pl.col(flag).is_null() & (pl.col("_n") != pl.col(n)))
            if bad.height:
                raise RuntimeError(f"a Cox count differs from its release cell: {bad.row(0)}")
            out = joined.with_columns(pl.when(known).then(pl.col("_n")).otherwise(
                pl.col(n)).alias(n)).drop("_n")
        hide = pl.col(disclosure.FLAG).is_not_null()
        return out.with_columns(*(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
                                  for c in ("hazard_ratio", "lower", "upper", "p_value"))
                                ).drop("_region", "_nation")

    @cached_property
    def survival_trend(self) -> pl.DataFrame:
        """Net survival of earlier diagnosis periods without their numbers of cases: those
        cohorts are no cells of the release (a cohort beside the new cases of its window
        would tell the cases it leaves out), so only estimates built on at least
        survival.min_cases cases are published."""
        frame = self.analyses.survival_trend
        if frame.is_empty():
            return frame
        return frame.with_columns(pl.lit(None, pl.Int64).alias("n"),
                                  pl.lit(None, pl.String).alias(disclosure.FLAG))

    @cached_property
    def prevalence(self) -> pl.DataFrame:
        """Prevalent persons and rates: each count a cell of the release's prevalence
        family (analysis.privacy.prevalence), a masked one without its rate."""
        frame = self.analyses.prevalence
        if frame.is_empty():
            return frame
        at = prevalence.period_label(frame["date"][0])
        return from_release(frame, self.release, "incidence", {
            "family": pl.col("family"), "subregistry": pl.col("subregistry"),
            "region": _region(), "sex": pl.col("sex").fill_null(TOTAL),
            "period": pl.lit(at)})

    @cached_property
    def completeness(self) -> pl.DataFrame:
        """Completeness of the key variables in the report year: n is the year's new
        cases, or the patients a variable is asked of (a family of its own)."""
        frame = self.analyses.completeness
        families = {v: cohorts.completeness_family(v) or CASES
                    for v in frame["variable"].unique().to_list()}
        return from_release(frame, self.release, "share", {
            "family": pl.col("variable").replace_strict(families, return_dtype=pl.String),
            "subregistry": pl.col("subregistry"), "region": _region(),
            "period": pl.lit(str(self.analyses.year))})
