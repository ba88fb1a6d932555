"""The survival trend: a subregistry's national net survival for successive diagnosis
periods (Analyses.survival_trend) and, last, the period-approach estimate of the report's
net-survival table."""

from __future__ import annotations

import polars as pl

from analysis.reporting.analyses import NATION
from analysis.reporting.qmd import Section, md
from analysis.reporting.run import Run
from analysis.reporting.tables import relative_table


def survival_trend_section(run: Run, doc_id: str, sid: str) -> Section | None:
    """Net survival per diagnosis period, oldest first, the latest by the period approach;
    None when the data hold no period with complete follow-up."""
    a, text = run.analyses, run.text
    trend = run.survival_trend
    if trend.is_empty() or trend.filter(pl.col("subregistry") == sid).is_empty():
        return None
    cohorts = trend.filter(pl.col("subregistry") == sid)
    first, last = a.period
    latest_label = text("survival_trend.period_approach", first=first, last=last)
    latest = (run.relative.filter((pl.col("subregistry") == sid)
                                  & (pl.col("region") == NATION)
                                  & (pl.col("approach") == "period"))
              if run.relative.height else pl.DataFrame())
    columns = [c for c in cohorts.columns if c != "period"]
    frame = cohorts.with_columns(pl.col("period").str.replace("-", "\u2013"))
    if latest.height:
        frame = pl.concat([frame, latest.select(
            *(c for c in columns if c in latest.columns)).with_columns(
            pl.lit(latest_label).alias("period"))], how="diagonal_relaxed")
    periods = [*sorted(cohorts["period"].str.replace("-", "\u2013").unique().to_list()),
               latest_label]
    table = relative_table(run, f"{doc_id}", frame, ["period"], [lambda p: p], [periods],
                           text("survival_trend.caption"), [text("survival_trend.period")],
                           explain=False)
    # The cohorts' sizes are not published (Run.survival_trend): no column for them.
    drop = len(table.header) - len(a.settings.net_survival_times) - 2
    table.header.pop(drop)
    table.align.pop(drop)
    for row in table.rows:
        row.pop(drop)
    return Section(text("survival_trend.title"), paragraphs=[md(text(
        "survival_trend.intro", years=a.settings.period_years, first=first, last=last))],
        tables=[table])
