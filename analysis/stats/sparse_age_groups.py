"""Sparse age groups of a survival standard (ICSS): NORDCAN's rule of merging a sparse
age group with its neighbour, so that an age-standardised estimate stays standardised
(analysis.stats.relative_survival.age_standardised adds the merged groups' weights)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl


def merged_age_groups(counts: Sequence[int], minimum: int) -> list[int]:
    """NORDCAN's rule for a sparse age group of the standard: merge it with its
    neighbour, and repeat until every merged group has at least ``minimum`` cases (or one
    group is left). ``counts``: cases per age group, youngest first. Returns, per age
    group, the index of the merged group it belongs to (0, 0, 1, 2, 2: the first two
    merged, the last two). The smallest group goes first; the youngest merges upwards,
    the oldest downwards, any other into its smaller neighbour (the younger on a tie)."""
    members = [[i] for i in range(len(counts))]
    sizes = list(counts)
    while len(sizes) > 1 and min(sizes) < minimum:
        i = sizes.index(min(sizes))
        j = (i + 1 if i == 0 else i - 1 if i == len(sizes) - 1
             else i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1)
        lo, hi = min(i, j), max(i, j)
        members[lo:hi + 1] = [members[lo] + members[hi]]
        sizes[lo:hi + 1] = [sizes[lo] + sizes[hi]]
    return [k for i in range(len(counts)) for k, m in enumerate(members) if i in m]


def merge_sparse(inside: pl.DataFrame, weights: pl.DataFrame, by: list[str],
                  minimum: int, empty: pl.DataFrame | None = None
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cases relabelled to their merged age group (:func:`merged_age_groups`, per
    group of ``by``) and the merged groups' weights (the sum of their members'):
    columns by, _std_group, weight, _merged (the merged labels, "15-44 + 45-54").
    ``empty``: age groups (by, _std_group) counted as having no cases, e.g. those with
    no estimate at a time (nobody left at risk), so that they are merged as well."""
    labels = weights["age_group"].to_list()
    counts = inside.group_by([*by, "_std_group"]).len("_n")
    if empty is not None and empty.height:
        counts = counts.join(empty, on=[*by, "_std_group"], how="anti", nulls_equal=True)
    groups = inside.select(by).unique(maintain_order=True) if by else pl.DataFrame(
        {"_one": [0]})
    rows = []
    for key in groups.iter_rows(named=True):
        mine = counts.filter(pl.all_horizontal(
            [pl.col(k).eq_missing(key[k]) for k in by])) if by else counts
        n = dict(zip(mine["_std_group"], mine["_n"], strict=True))
        index = merged_age_groups([n.get(g, 0) for g in labels], minimum)
        for k in sorted(set(index)):
            parts = [g for g, i in zip(labels, index, strict=True) if i == k]
            rows += [{**key, "_original": g, "_std_group": parts[0],
                      "_merged": " + ".join(parts) if len(parts) > 1 else None,
                      "weight": weights.filter(pl.col("age_group") == g)["weight"][0]}
                     for g in parts]
    mapping = pl.DataFrame(rows, schema={**{k: inside.schema[k] for k in by},
                                         "_original": pl.String, "_std_group": pl.String,
                                         "_merged": pl.String, "weight": pl.Float64}
                           ) if by else pl.DataFrame(rows).drop("_one")
    relabelled = inside.rename({"_std_group": "_original"}).join(
        mapping.select(*by, "_original", "_std_group"), on=[*by, "_original"], how="left",
        nulls_equal=True, maintain_order="left")
    merged = mapping.group_by([*by, "_std_group"], maintain_order=True).agg(
        pl.col("weight").sum(), pl.col("_merged").first())
    return relabelled, merged


def smallest_age_group(inside: pl.DataFrame, weights: pl.DataFrame, by: list[str]
                        ) -> pl.DataFrame:
    """Per group of ``by``: the cases in its smallest age group of the standard (0 when
    one has none)."""
    labels = pl.DataFrame({"_std_group": weights["age_group"]})
    groups = inside.select(by).unique() if by else pl.DataFrame({"_one": [0]})
    counts = inside.group_by([*by, "_std_group"]).len("_n")
    return (groups.join(labels, how="cross").join(counts, on=[*by, "_std_group"],
                                                  how="left", nulls_equal=True)
            .group_by(by or "_one").agg(pl.col("_n").fill_null(0).min()
                                        .alias("smallest_age_group")).drop("_one",
                                                                            strict=False))


def estimate_merged(inside: pl.DataFrame, weights: pl.DataFrame, by: list[str],
                    minimum: int, estimate: Callable[[pl.DataFrame], pl.DataFrame]
                    ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The per-age-group estimates (``estimate`` of the cases, by by + _std_group) after
    merging the sparse age groups (:func:`merge_sparse`; ``minimum`` 0 merges none), and
    the merged groups' weights (None without merging). An age group with no estimate at
    a time (nobody left at risk) is merged too, as a sparse one, until every group has
    one or nothing is left to merge."""
    merged, empty, cases = None, None, inside
    for _ in range(weights.height):
        if minimum > 0 and inside.height:
            cases, merged = merge_sparse(inside, weights, by, minimum, empty)
        per_age = estimate(cases)
        if merged is None:
            break
        gaps = per_age.filter(pl.col("estimate").is_null()).select(*by, "_std_group")
        found = cases.join(gaps.unique(), on=[*by, "_std_group"], how="semi",
                           nulls_equal=True).select(*by, pl.col("_original")
                                                    .alias("_std_group")).unique()
        if found.is_empty() or (empty is not None and found.join(
                empty, on=[*by, "_std_group"], how="anti", nulls_equal=True).is_empty()):
            break
        empty = found if empty is None else pl.concat([empty, found]).unique()
    return per_age, merged
