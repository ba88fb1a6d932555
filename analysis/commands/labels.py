"""One language per analyst's terminal table (`--lang`): column headers, indicator levels,
subregistries, regions (by name, in the registry's order) and sex as labels.

The wording is data_dictionary/report_text.yaml (section ``cli``, ``levels``); files
written with ``--out`` keep the codes and the canonical column names.
"""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy.disclosure import FLAG
from analysis.reporting.labels import Text


def _rank(column: str, order: list[str]) -> pl.Expr:
    return pl.col(column).replace_strict({v: i for i, v in enumerate(order)},
                                         default=len(order), return_dtype=pl.Int64)


def labelled(frame: pl.DataFrame, lang: str, order: list[str] | None = None,
             headers: bool = True) -> pl.DataFrame:
    """``frame`` for reading in ``lang``: rows in the registry's order (``order``: the
    indicator ids in declaration order; subregistries and regions as in data_dictionary/),
    codes replaced by labels and, with ``headers``, the indicator tables' headers in the
    language. The disclosure flag column keeps its name (the table printer marks masked
    cells by it)."""
    text = Text(lang)
    out = frame.with_row_index("_row")
    ranks = []
    for column, values in (("indicator", order or []), ("subregistry", dd.subregistry_ids()),
                           ("region", dd.region_ids())):
        if column in out.columns and values:
            out = out.with_columns(_rank(column, values).alias(f"_{column}"))
            ranks.append(f"_{column}")
    out = out.sort([*ranks, "_row"]).drop("_row", *ranks)
    levels = text.section("levels")
    replace = {
        "subregistry": lambda c: c.replace_strict(
            {s: dd.subregistry(s)[f"short_{lang}"] for s in dd.subregistry_ids()},
            default=c),
        "region": lambda c: c.replace_strict(
            {r: dd.region_name(r, lang) for r in dd.region_ids()}, default=c),
        "sex": lambda c: c.cast(pl.String).replace_strict(text.section("cli.sexes"),
                                                          default=c.cast(pl.String)),
        "classification": lambda c: c.replace_strict(levels, default=c),
        "preliminary": lambda c: pl.when(c).then(pl.lit(text("cli.affirmative")))
        .otherwise(pl.lit("")),
    }
    out = out.with_columns(fn(pl.col(c)).alias(c) for c, fn in replace.items()
                           if c in out.columns)
    if not headers:
        return out
    names = {k: v for k, v in text.section("cli").items() if k in out.columns and k != FLAG}
    return out.rename(names)
