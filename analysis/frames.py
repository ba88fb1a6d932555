"""Polars helpers shared by the statistics modules."""

from __future__ import annotations

import polars as pl


def ordered_sum(values: pl.Expr) -> pl.Expr:
    """A float sum in a fixed order. polars adds a group's values in parallel pieces
    whose order depends on thread timing; the last-bit differences that gives would break
    byte-identical outputs (same inputs, same bytes)."""
    return values.sort().sum()
