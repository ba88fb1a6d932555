"""The linear relations between the cells of the run's release (analysis.privacy.release).

Every margin cell is the sum of its members along one dimension: regions add to the
nation, counties and hospitals to their region, sexes and age groups to the total,
single years to each window; a cohort and the cases it leaves out add to its parent's
count; and the distributions' and cohort groups' own sums. An indicator's eligible cases
are some of the new cases of their region and year (an inequality). Built with joins over
the whole cell frame, as Hundepool et al. (2012, "Statistical Disclosure Control", ch. 4)
describe linked tables: one equation per margin cell and dimension.
"""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import cohorts
from analysis.privacy.cohorts import CASES, EXCLUDED, TOTAL
from analysis.privacy.distributions import distribution_equations
from analysis.quality.indicators import load_indicators

KEYS = ("family", "subregistry", "region", "county", "hospital", "sex", "age_group", "period")
DIMENSIONS = ("region", "county", "hospital", "sex", "age_group", "period")


def equations(cells: pl.DataFrame) -> list[tuple[int, list[int]]]:
    """Every margin equation between the cells: (margin cell, member cells), for each
    dimension whose value in the margin is a total or a window (``FIRST-LAST``); by
    margin cell, in the order of :data:`DIMENSIONS`, then the cohorts' and the
    distributions' sums."""
    keyed = cells.select(KEYS).with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    parts = [_dimension(keyed, cells, d, dim) for d, dim in enumerate(DIMENSIONS)]
    parts.append(_excluded(keyed))
    found = pl.concat(parts).sort("_order", "_d")
    keys = cells.select(KEYS).rows()
    index = {key: i for i, key in enumerate(keys)}
    return (list(found.select("_i", "_members").iter_rows())
            + distribution_equations(keys, index, KEYS)
            + cohorts.group_equations(keys, index))


def _children(cells: pl.DataFrame, dim: str) -> tuple[pl.DataFrame, list[str]]:
    """(what a margin's members are joined on, the member value ``_child`` and its place
    ``_pos``; the key columns joined on). The values of a dimension are those of the
    margin's family (the survival's age bands are not the cases' age groups)."""
    if dim == "period":
        labels = [p for p in cells["period"].unique().to_list() if "-" in p]
        rows = [(label, str(y), pos) for label in labels
                for pos, y in enumerate(range(int(label.partition("-")[0]),
                                              int(label.partition("-")[2]) + 1))]
        return pl.DataFrame(rows, schema={"period": pl.String, "_child": pl.String,
                                          "_pos": pl.Int64}, orient="row"), ["period"]
    if dim == "county":
        rows = dd.counties().select("region", pl.col("county").alias("_child"))
        return rows.with_columns(pl.int_range(pl.len()).over("region").cast(pl.Int64)
                                 .alias("_pos")), ["region"]
    values = cells.select("family", pl.col(dim).alias("_child")).unique().filter(
        pl.col("_child") != TOTAL).sort("family", "_child")
    return values.with_columns(pl.int_range(pl.len()).over("family").cast(pl.Int64)
                               .alias("_pos")), ["family"]


def _dimension(keyed: pl.DataFrame, cells: pl.DataFrame, d: int, dim: str) -> pl.DataFrame:
    """The equations along one dimension: margins whose members are all cells."""
    children, on = _children(cells, dim)
    margins = keyed if dim == "period" else keyed.filter(pl.col(dim) == TOTAL)
    pairs = margins.join(children, on=on).with_columns(pl.col("_child").alias(dim))
    members = pairs.drop("_child").join(
        keyed.rename({"_i": "_j"}), on=list(KEYS), how="left", nulls_equal=True)
    return members.group_by("_i").agg(
        pl.col("_j").sort_by("_pos").alias("_members"),
        pl.col("_j").null_count().alias("_missing")).filter(
        pl.col("_missing") == 0).select(
        pl.col("_i").alias("_order"), pl.lit(d).alias("_d"), "_i", "_members")


def _excluded(keyed: pl.DataFrame) -> pl.DataFrame:
    """A cohort and the cases it leaves out add to its parent family's cell."""
    families = [f for f in keyed["family"].unique().to_list() if f.endswith(EXCLUDED)]
    names = pl.DataFrame(
        [(f, f[:-len(EXCLUDED)], cohorts.parent_family(f[:-len(EXCLUDED)]))
         for f in families],
        schema={"family": pl.String, "_part": pl.String, "_whole": pl.String}, orient="row")
    rest = [k for k in KEYS if k != "family"]
    out = keyed.join(names, on="family").join(
        keyed.rename({"_i": "_p", "family": "_part"}), on=["_part", *rest]).join(
        keyed.rename({"_i": "_w", "family": "_whole"}), on=["_whole", *rest])
    return out.select(pl.col("_i").alias("_order"), pl.lit(len(DIMENSIONS)).alias("_d"),
                      pl.col("_w").alias("_i"), pl.concat_list("_p", "_i").alias("_members"))


def inequalities(cells: pl.DataFrame) -> list[tuple[int, list[int]]]:
    """(cases cell, [indicator cell]): an indicator's eligible cases of a region and year
    are some of its new cases (not so for coverage, counted in the cancer registry)."""
    ids = {i.id for i in load_indicators() if i.kind != "coverage"}
    keyed = cells.select(KEYS).with_row_index("_i")
    cases = keyed.filter(pl.col("family") == CASES)
    indicator = keyed.filter(
        (pl.col("family") != CASES) & (pl.col("hospital") == TOTAL)
        & pl.col("family").is_in(list(ids)))
    pairs = indicator.join(cases.drop("family"), on=[k for k in KEYS if k != "family"],
                           suffix="_cases")
    return [(int(c), [int(i)]) for i, c in pairs.select("_i", "_i_cases").rows()]
