"""`--public`: CLI tables are the protected release's cells (tests/test_release.py has
the attacks); nothing small is shown."""

from __future__ import annotations

import io

import polars as pl
import pytest
from typer.testing import CliRunner

from analysis.cli import app

K = 5  # data_dictionary/registry.yaml disclosure.k


@pytest.mark.parametrize("args", [
    ["incidence", "-s", "cml", "--by", "region,sex", "--years", "2025"],
    ["indicators", "-s", "all", "--by", "region", "--years", "2025"],
])
def test_public_tables_show_no_small_counts(args):
    runner = CliRunner()
    raw = runner.invoke(app, [*args, "--format", "csv"])
    assert raw.exit_code == 0, raw.output
    before = pl.read_csv(io.StringIO(raw.stdout))
    assert before.filter(pl.col("n").is_between(1, K - 1)).height > 0, "no small cell to mask"
    done = runner.invoke(app, [*args, "--format", "csv", "--public"])
    assert done.exit_code == 0, done.output
    after = pl.read_csv(io.StringIO(done.stdout), schema_overrides={"n": pl.Int64})
    assert after.height == before.height
    assert after.filter(pl.col("n").is_between(1, K - 1)).is_empty()
    hidden = after.filter(pl.col("suppressed") == "masked")
    assert hidden.height >= 2  # a lone masked cell would follow from the total
    assert hidden.get_column("estimate").is_null().all()
    assert hidden.get_column("n").is_null().all()
    # A share's numerator is not published beside the share (it would be estimate x n).
    assert ("events" in before.columns) == (args[0] != "incidence")
    assert "events" not in after.columns
