"""The release families of the stage and risk distributions and of the hospitals' case
volumes (DESIGN.md §5): counts that add up to a count of the ``cases`` family.

- ``dist:<variable>:<category>``: a subregistry's new cases over the pooled window
  (the release's age window) by region and nationally, per category of a stage or risk
  variable (subregistries.yaml ``stage_variables``; the dictionary's codes, then
  ``not_stated``). The categories of one variable add up to the new cases of the same
  region and window.
- ``volume``: a subregistry's new cases in the report year per reporting hospital
  (hospitals.yaml), nationally only (a region's cases at one hospital are never
  published); cases with no hospital are a hidden cell. The hospitals add up to the
  nation's new cases of the year.

Each family is suppressed jointly with the rest of the release: the equations below join
it to the cases it divides (Hundepool et al. 2012, "Statistical Disclosure Control",
§4.2, linked tables).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis.data import dictionary as dd

TOTAL = "*"
CASES = "cases"
UNKNOWN = "unknown"  # as analysis.privacy.release: cases with no hospital
DISTRIBUTION = "dist"
VOLUME = "volume"
NOT_STATED = "not_stated"


def distribution_family(variable: str, category: str) -> str:
    return f"{DISTRIBUTION}:{variable}:{category}"


def stage_variables(sid: str) -> list[tuple[str, list[str]]]:
    """The stage and risk variables of a subregistry with their categories: the codes of
    the dictionary, then ``not_stated``."""
    fields = {f.name: f for f in dd.fields(sid)}
    out = []
    for variable in dd.subregistry(sid).get("stage_variables") or []:
        if variable not in fields or not fields[variable].constraints.get("enum"):
            raise dd.DictionaryError(
                f"{dd.dictionary_dir() / 'subregistries.yaml'}: {sid}: stage variable "
                f"'{variable}' must be a variable of the subregistry with a code list")
        out.append((variable, [*(str(v) for v in fields[variable].constraints["enum"]),
                               NOT_STATED]))
    return out


def _stage_cells(cases: pl.DataFrame, sid: str, window: tuple[int, int]) -> pl.DataFrame:
    label = f"{window[0]}-{window[1]}"
    pooled = cases.filter((pl.col("subregistry") == sid)
                          & pl.col("year").is_between(*window))
    regions = pl.DataFrame({"region": [TOTAL, *dd.region_ids()]})
    parts = []
    for variable, categories in stage_variables(sid):
        if variable not in cases.columns:  # an analyst's extract without it: not shown
            continue
        counts = pooled.select("region", pl.col(variable).cast(pl.String).fill_null(
            NOT_STATED).alias("category")).group_by("region", "category").len("n")
        counts = pl.concat([counts, counts.group_by("category").agg(pl.col("n").sum())
                            .with_columns(pl.lit(TOTAL).alias("region"))],
                           how="diagonal_relaxed")
        full = regions.join(pl.DataFrame({"category": categories}), how="cross").join(
            counts, on=["region", "category"], how="left", maintain_order="left")
        parts.append(full.select(
            (pl.lit(f"{DISTRIBUTION}:{variable}:") + pl.col("category")).alias("family"),
            "region", pl.lit(TOTAL).alias("hospital"), pl.lit(label).alias("period"),
            pl.col("n").fill_null(0).cast(pl.Int64), pl.lit(False).alias("hidden")))
    return pl.concat(parts) if parts else pl.DataFrame()


def _volume_cells(cases: pl.DataFrame, sid: str, year: int) -> pl.DataFrame:
    if "hospital" not in cases.columns:
        return pl.DataFrame()
    hospitals = [h["code"] for h in dd.load("hospitals.yaml")["hospitals"]]
    current = cases.filter((pl.col("subregistry") == sid) & (pl.col("year") == year))
    counts = current.select(pl.when(pl.col("hospital").is_in(hospitals))
                            .then(pl.col("hospital")).otherwise(pl.lit(UNKNOWN))
                            .alias("hospital")).group_by("hospital").len("n")
    full = pl.DataFrame({"hospital": [*hospitals, UNKNOWN]}).join(
        counts, on="hospital", how="left", maintain_order="left")
    return full.select(pl.lit(VOLUME).alias("family"), pl.lit(TOTAL).alias("region"),
                       "hospital", pl.lit(str(year)).alias("period"),
                       pl.col("n").fill_null(0).cast(pl.Int64),
                       (pl.col("hospital") == UNKNOWN).alias("hidden"))


def distribution_cells(cases: pl.DataFrame, sids: Sequence[str], window: tuple[int, int],
                       year: int) -> pl.DataFrame:
    """The cells of both families for the subregistries ``sids`` (zeros included), in
    the release's columns (county, sex and age group the total)."""
    parts = []
    for sid in sids:
        for part in (_stage_cells(cases, sid, window), _volume_cells(cases, sid, year)):
            if part.height:
                parts.append(part.with_columns(pl.lit(sid).alias("subregistry")))
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts).with_columns(pl.lit(TOTAL).alias("county"),
                                         pl.lit(TOTAL).alias("sex"),
                                         pl.lit(TOTAL).alias("age_group"))


def distribution_equations(keys: Sequence[tuple], index: dict[tuple, int],
                           names: Sequence[str]) -> list[tuple[int, list[int]]]:
    """Equations joining the families to the cases (margin cell, member cells): the
    categories of one variable, and the hospitals, add up to the new cases of the same
    subregistry, region and period. ``keys``: every cell's key in the order ``names``
    (the release's KEYS); ``index``: key -> cell number."""
    at = {name: i for i, name in enumerate(names)}
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        family = key[at["family"]]
        if family.startswith(f"{DISTRIBUTION}:"):
            group = family.split(":")[1]
        elif family == VOLUME:
            group = VOLUME
        else:
            continue
        margin = tuple(CASES if n == "family" else key[at[n]] if n in (
            "subregistry", "region", "period") else TOTAL for n in names)
        groups.setdefault((margin, group), []).append(i)
    return [(index[margin], members) for (margin, _), members in groups.items()
            if margin in index]
