"""The survival and completeness families of the release (DESIGN.md §5).

The survival tables publish the size of each survival cohort and the completeness tables
the patients a variable is asked of. Each such count is a part of a count the release
already holds (the new cases of the same window), and the part left out (cases aged 90+
or known from the death certificate only, cases outside the standard's ages, patients not
treated) follows by difference. So each family is a cell of the release, and the part it
leaves out is a cell of its own, ``<family> excluded``: never published, yet protected as
a small count is (sensitive), with the equation ``parent = family + excluded``
(Hundepool et al. 2012, "Statistical Disclosure Control", §4.2 on linked tables).

Families (each by region and the nation; the period is the diagnosis window):

- ``survival``: the Kaplan-Meier cohort (analysis.stats.survival.prepare_followup of the
  survival window's cases), also by sex and by age band (reports.survival_age_groups);
  part of ``cases``;
- ``survival standardised``: of the cohort, the cases inside the ages of the subregistry's
  ICSS standard (the n of an age-standardised net survival); part of ``survival``;
- ``survival period``: the cohort followed up in the period window (Brenner), part of
  ``survival``, and ``survival period standardised``, part of ``survival period``;
- ``<standardised family> [<group>]``: of a standardised cohort (cohort or period, as
  the indicator's approach), the cases of a diagnosis group of a net-survival indicator
  (analysis.quality.net_survival.diagnosis_cohorts, e.g. Hodgkin lymphoma of lymphoma);
  part of the standardised cohort; the groups of a cohort are disjoint, and its cases in
  none of them are the hidden cell ``<standardised family> outside groups`` (else the
  published cohort minus its published groups would tell that count);
- ``completeness <variable>``: for a variable asked only of some patients
  (indicators.yaml ``completeness: among``), the report year's cases asked; part of
  ``cases``. Variables asked of every case are counted by the ``cases`` cell itself.

The prevalence family (analysis.privacy.prevalence) is linked the same way: each
duration's count is a part of the next wider one's (:func:`parent_family`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import prevalence
from analysis.quality.coverage import completeness
from analysis.quality.indicators import (
    completeness_populations,
    key_variables,
    load_indicators,
)
from analysis.quality.net_survival import diagnosis_cohorts
from analysis.stats import relative_survival as rs
from analysis.stats import survival as sv

TOTAL = "*"
CASES = "cases"
SURVIVAL = "survival"
SURVIVAL_STANDARDISED = "survival standardised"
PERIOD = "survival period"
PERIOD_STANDARDISED = "survival period standardised"
COMPLETENESS = "completeness "  # followed by the variable
EXCLUDED = " excluded"
GROUP_OPEN, GROUP_CLOSE = " [", "]"  # a diagnosis group's part of a standardised cohort
OUTSIDE_GROUPS = " outside groups"  # a standardised cohort's cases in none of its groups
_PARENT = {SURVIVAL: CASES, SURVIVAL_STANDARDISED: SURVIVAL, PERIOD: SURVIVAL,
           PERIOD_STANDARDISED: PERIOD}
COUNTED = ("subregistry", "region", "sex", "age_group", "period", "n")


def parent_family(family: str) -> str | None:
    """The family a cohort family is a part of (None for any other family)."""
    if family.startswith(COMPLETENESS):
        return CASES
    if _is_group(family):
        return family.rsplit(GROUP_OPEN, 1)[0]
    return _PARENT.get(family) or prevalence.parent_family(family)


def _is_group(family: str) -> bool:
    return family.endswith(GROUP_CLOSE) and GROUP_OPEN in family


def group_family(family: pl.Expr, group: pl.Expr) -> pl.Expr:
    """The family of a diagnosis group's part of a standardised cohort family (the
    family itself where the group is null)."""
    return pl.when(group.is_null()).then(family).otherwise(
        pl.concat_str(family, pl.lit(GROUP_OPEN), group, pl.lit(GROUP_CLOSE)))


def window_label(window: tuple[int, int]) -> str:
    return f"{window[0]}-{window[1]}"


def completeness_family(variable: str) -> str | None:
    """The family counting the patients a key variable is asked of; None when it is asked
    of every case (then the ``cases`` cell is its count)."""
    return COMPLETENESS + variable if variable in completeness_populations() else None


def _grid(sids: Sequence[str], by: str, values: Sequence[str]) -> pl.DataFrame:
    """Every subregistry x value of one dimension (the others the total)."""
    return pl.DataFrame({"subregistry": list(sids)}).join(
        pl.DataFrame({by: list(values)}), how="cross")


def _counted(counts: pl.DataFrame, family: str, sids: Sequence[str], by: str,
             values: Sequence[str], period: str) -> pl.DataFrame:
    """Cells of a family from ``counts`` (subregistry, ``by``, n): per subregistry and
    value of ``by``, and its total, zeros included."""
    counts = pl.concat([counts, counts.group_by("subregistry").agg(
        pl.col("n").sum()).with_columns(pl.lit(TOTAL).alias(by))], how="diagonal_relaxed")
    rows = _grid(sids, by, [TOTAL, *values]).join(
        counts, on=["subregistry", by], how="left", maintain_order="left")
    return rows.select(
        "subregistry", *(pl.col(by) if k == by else pl.lit(TOTAL).alias(k)
                         for k in ("region", "sex", "age_group")),
        pl.lit(period).alias("period"), pl.col("n").fill_null(0).cast(pl.Int64),
        pl.lit(family).alias("family"))


def _tally(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    return frame.group_by("subregistry", by).len("n")


def _in_standard(sids: Sequence[str], data: pl.DataFrame) -> pl.Expr:
    """Whether a case's age is inside its subregistry's ICSS standard."""
    inside = pl.lit(False)
    for sid in sids:
        group = rs.standard_group(rs.standard_weights(rs.standard_for(sid)), data)
        inside = pl.when(pl.col("subregistry") == sid).then(group.is_not_null()).otherwise(
            inside)
    return inside


def _group_counts(inside: pl.DataFrame, in_period: pl.DataFrame,
                  groups: Sequence[tuple[str, str, str]], label: str) -> list[pl.DataFrame]:
    """The diagnosis groups' parts of the standardised cohorts (cohort or period, as
    each group's indicator), by region. Groups of one cohort must be disjoint (a case in
    two would make the cases outside them negative): else a DictionaryError."""
    parts, members = [], {}
    for sid, group, approach in groups:
        frame = inside if approach == "cohort" else in_period.filter("_inside")
        family = SURVIVAL_STANDARDISED if approach == "cohort" else PERIOD_STANDARDISED
        member = dd.in_diagnosis_group(frame, sid, group)
        members.setdefault((sid, family), []).append((group, frame.select(member)
                                                      .to_series().cast(pl.Int64)))
        counts = _counted(_tally(frame.filter(member), "region"), family, [sid], "region",
                          dd.region_ids(), label)
        parts.append(counts.with_columns(group_family(pl.col("family"), pl.lit(group))))
    for (sid, _), marks in members.items():
        if len(marks) > 1 and (sum(m for _, m in marks) > 1).any():
            raise dd.DictionaryError(
                f"{dd.dictionary_dir() / 'subregistries.yaml'}: the diagnosis groups "
                f"{', '.join(g for g, _ in marks)} of '{sid}' overlap (a case is in two)")
    return parts


def survival_counts(cases: pl.DataFrame, sids: Sequence[str], window: tuple[int, int],
                    period: tuple[int, int], bands: Sequence[int],
                    groups: Sequence[tuple[str, str, str]] | None = None) -> pl.DataFrame:
    """The survival families' counts: the cases of the diagnosis ``window`` followed up
    (NORDCAN exclusions), by region, sex and age band (first ages ``bands``), inside the
    standard's ages, and followed up in the calendar window ``period``; and the parts of
    the diagnosis ``groups`` (subregistry, group, approach; default those of the
    net-survival indicators) of the standardised ones."""
    if groups is None:
        groups = diagnosis_cohorts(load_indicators())
    groups = [g for g in groups if g[0] in sids]
    used = ["subregistry", "region", "sex", "age", "year", "birth_date", "diagnosis_date",
            "death_date", "vital_status_date", "basis_of_diagnosis", "icd10"]
    followup = sv.prepare_followup(cases.lazy().select(
        [c for c in used if c in cases.columns]).filter(
        pl.col("year").is_between(*window) & pl.col("subregistry").is_in(list(sids)))
        .collect()).data
    followup = followup.with_columns(pl.col("sex").cast(pl.String), sv.age_band(bands)
                                     .alias("age_group"), _in_standard(sids, followup)
                                     .alias("_inside"))
    in_period = sv.period_window(followup, dt.date(period[0], 1, 1),
                                 dt.date(period[1], 12, 31))
    label, regions = window_label(window), dd.region_ids()
    inside = followup.filter("_inside")
    return pl.concat([
        _counted(_tally(followup, "region"), SURVIVAL, sids, "region", regions, label),
        _counted(_tally(followup, "sex"), SURVIVAL, sids, "sex", ["1", "2"], label).filter(
            pl.col("sex") != TOTAL),
        _counted(_tally(followup, "age_group"), SURVIVAL, sids, "age_group",
                 sv.age_band_labels(bands), label).filter(pl.col("age_group") != TOTAL),
        _counted(_tally(inside, "region"), SURVIVAL_STANDARDISED, sids, "region", regions,
                 label),
        _counted(_tally(in_period, "region"), PERIOD, sids, "region", regions, label),
        _counted(_tally(in_period.filter("_inside"), "region"), PERIOD_STANDARDISED, sids,
                 "region", regions, label),
        *_group_counts(inside, in_period, groups, label),
    ])


def completeness_counts(cases: pl.DataFrame, sids: Sequence[str], year: int
                        ) -> pl.DataFrame:
    """The completeness families' counts: per key variable asked only of some patients,
    the report year's cases asked, by region (as analysis.quality.coverage.completeness
    counts them)."""
    among = completeness_populations()
    wanted = {sid: [v for v in names if v in among]
              for sid, names in key_variables().items() if sid in sids}
    current = cases.filter(pl.col("year") == year)
    asked = completeness(current, wanted, ["region"], populations=among)
    parts = [_counted(asked.filter(pl.col("subregistry") == sid, pl.col("variable") == v)
                      .select("subregistry", "region", "n"), COMPLETENESS + v, [sid],
                      "region", dd.region_ids(), str(year))
             for sid, names in wanted.items() for v in names]
    return pl.concat(parts) if parts else pl.DataFrame()


def excluded_cells(cells: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The ``<family> excluded`` cell of every cohort cell whose parent family has a cell
    of the same keys: the parent's count minus the cohort's, hidden and sensitive; and
    the cases outside the diagnosis groups of a cohort (:func:`_outside_groups`)."""
    dims = [k for k in keys if k != "family"]
    parents = {f: parent_family(f) for f in cells["family"].unique().to_list()}
    children = cells.with_columns(pl.col("family").replace_strict(
        parents, return_dtype=pl.String).alias("_parent")).filter(
        pl.col("_parent").is_not_null())
    joined = children.join(cells.select(pl.col("family").alias("_parent"), *dims,
                                        pl.col("n").alias("_whole")),
                           on=["_parent", *dims], how="inner", maintain_order="left")
    return pl.concat([joined.select(
        (pl.col("family") + EXCLUDED).alias("family"), *dims,
        (pl.col("_whole") - pl.col("n")).alias("n"), pl.lit(True).alias("hidden"),
        pl.lit(True).alias("sensitive")).select(cells.columns),
        _outside_groups(children.filter(
            pl.col("family").str.ends_with(GROUP_CLOSE)
            & pl.col("family").str.contains(GROUP_OPEN, literal=True)), cells, dims)])


def _outside_groups(groups: pl.DataFrame, cells: pl.DataFrame, dims: Sequence[str]
                    ) -> pl.DataFrame:
    """The ``<family> outside groups`` cell of every standardised cohort cell with
    diagnosis groups (rows ``groups``, their ``_parent`` the cohort's family): its count
    minus its groups', hidden and sensitive."""
    sums = groups.group_by("_parent", *dims).agg(pl.col("n").sum())
    joined = sums.join(cells.select(pl.col("family").alias("_parent"), *dims,
                                    pl.col("n").alias("_whole")),
                       on=["_parent", *dims], how="inner").sort("_parent", *dims)
    return joined.select(
        (pl.col("_parent") + OUTSIDE_GROUPS).alias("family"), *dims,
        (pl.col("_whole") - pl.col("n")).alias("n"), pl.lit(True).alias("hidden"),
        pl.lit(True).alias("sensitive")).select(cells.columns)


def group_equations(keys: Sequence[tuple], index: dict[tuple, int]
                    ) -> list[tuple[int, list[int]]]:
    """(standardised cohort cell, [its diagnosis groups' cells, its cases outside them])
    for the cells ``keys`` (family first) and their positions ``index``."""
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        if _is_group(key[0]):
            groups.setdefault((parent_family(key[0]), *key[1:]), []).append(i)
    out = []
    for whole, members in groups.items():
        rest = index.get((whole[0] + OUTSIDE_GROUPS, *whole[1:]))
        if whole in index and rest is not None:
            out.append((index[whole], [*members, rest]))
    return out
