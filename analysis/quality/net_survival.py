"""Net-survival quality indicators: a survival target judged on the run's net survival.

A ``net_survival`` indicator of indicators.yaml (e.g. five-year relative survival of
myeloma >= 60 %) takes its estimate from the net survival the reports' survival section
shows (Pohar Perme et al. 2012, age-standardised with the ICSS weights; Corazziari et al.
2004), at the indicator's ``time`` and by its ``approach``: the cohort of the survival
years, or the period window's follow-up (Brenner and Gefeller 1996). Nothing is estimated
again here; the indicator only selects those rows and classifies them.

A net survival at T years is judged against its target only when its T-year follow-up is
complete (:func:`followup_complete`); otherwise it is shown, marked preliminary, and never
classified, as a preliminary diagnosis year is not (analysis.quality.preliminary).

An indicator with a ``diagnosis_group`` (e.g. Hodgkin lymphoma of the lymphoma
subregistry, subregistries.yaml) takes the same net survival of that part of the cohort
(:func:`diagnosis_cohorts` lists them; the reports estimate each once per run).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis.quality.indicators import NET_SURVIVAL, Indicator, classify

COLUMNS = ("indicator", "subregistry", "diagnosis_group", "region", "approach", "time",
           "window", "n",
           "estimate", "lower", "upper", "high", "intermediate", "direction",
           "enough_cases", "complete", "preliminary", "classification", "reason", "method")


def followup_complete(approach: str, time: float, diagnosis: tuple[int, int],
                      period: tuple[int, int], year: int, judged: int) -> bool:
    """Whether a net survival at ``time`` years rests on complete follow-up.

    Cohort approach: every case of the diagnosis years ``diagnosis`` has been followed
    ``time`` years by the end of the report year ``year`` (last year + time <= year), and
    no diagnosis year is preliminary (after ``judged``). Period approach (Brenner): the
    calendar window ``period`` holds no preliminary year (its end <= ``judged``) and its
    cases reach back ``time`` years before it (first diagnosis year <= its start - time),
    so that every interval up to ``time`` is estimated from registered follow-up.
    """
    if approach == "cohort":
        return diagnosis[1] + time <= year and diagnosis[1] <= judged
    return period[1] <= judged and diagnosis[0] <= period[0] - time


def diagnosis_cohorts(indicators: Sequence[Indicator]) -> list[tuple[str, str, str]]:
    """(subregistry, diagnosis group, approach) of every net-survival indicator with a
    diagnosis group, once each, in the order of the indicators."""
    return list(dict.fromkeys(
        (sid, ind.diagnosis_group, ind.approach) for ind in indicators
        if ind.kind == NET_SURVIVAL and ind.diagnosis_group for sid in ind.subregistries))


def net_survival_indicators(indicators: Sequence[Indicator], relative: pl.DataFrame,
                            diagnosis: tuple[int, int], period: tuple[int, int],
                            year: int, judged: int,
                            groups: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rows of every net-survival indicator: for each of its subregistries, every
    region and the nation of ``relative`` (analysis.reporting's net survival: subregistry,
    region, approach, time, n, estimate, lower, upper, reason, method) at the indicator's
    time and approach, with its target levels, ``complete`` (:func:`followup_complete`),
    ``preliminary`` (not complete), and ``classification`` (high, intermediate or below;
    null when preliminary, below min_n cases, or without an estimate). ``window``: the
    diagnosis years (cohort) or the calendar years of follow-up (period). An indicator
    with a diagnosis group takes its rows from ``groups`` (the same columns and
    ``diagnosis_group``: the net survival of :func:`diagnosis_cohorts`)."""
    parts = []
    for ind in indicators:
        source = relative if ind.diagnosis_group is None else (
            pl.DataFrame() if groups is None or groups.is_empty()
            else groups.filter(pl.col("diagnosis_group") == ind.diagnosis_group))
        if ind.kind != NET_SURVIVAL or source.is_empty():
            continue
        complete = followup_complete(ind.approach, ind.time, diagnosis, period, year, judged)
        shown = period if ind.approach == "period" else diagnosis
        rows = source.filter(pl.col("subregistry").is_in(ind.subregistries),
                               pl.col("approach") == ind.approach,
                               pl.col("time") == ind.time)
        enough = (pl.col("n") >= ind.min_n) & pl.col("estimate").is_not_null()
        judge = classify(pl.col("estimate"), ind.high, ind.intermediate, ind.direction)
        parts.append(rows.with_columns(
            pl.lit(ind.id).alias("indicator"), pl.lit(f"{shown[0]}-{shown[1]}").alias("window"),
            pl.lit(ind.diagnosis_group, pl.String).alias("diagnosis_group"),
            pl.lit(ind.high, pl.Float64).alias("high"),
            pl.lit(ind.intermediate, pl.Float64).alias("intermediate"),
            pl.lit(ind.direction).alias("direction"), enough.alias("enough_cases"),
            pl.lit(complete).alias("complete"), pl.lit(not complete).alias("preliminary"),
            pl.when(enough & pl.lit(complete)).then(judge).alias("classification"),
        ).select(COLUMNS))
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts)
