"""The release as a published file (``release.csv``), and its audit (DESIGN.md §5).

``bcr publish`` writes every cell of the run's release with its count where shown and its
status; ``bcr audit`` reads such a file and solves, for every masked count and every
protected one, what an attacker can learn from the rest (analysis.privacy.audit).
"""

from __future__ import annotations

import polars as pl

from analysis.errors import UserError
from analysis.privacy import audit as lp_audit
from analysis.privacy.disclosure import rules
from analysis.privacy.release import KEYS, TOTAL, Release, equations, inequalities

RELEASE_FILE = "release.csv"
SHOWN, MASKED, UNPUBLISHED = "shown", "masked", "not published"
PROTECTED = "not published, protected"  # a count left out of a cohort: never pinned small


def published(release: Release) -> pl.DataFrame:
    """The release as it is published: every cell with its count where shown, and its
    status. Cells that are never published (cases with no hospital, a region's cases at
    one hospital, the cases a cohort leaves out) are listed without a count, since the
    sums run through them; which masked cells are primary is not said."""
    cross = (pl.col("region") != TOTAL) & (pl.col("hospital") != TOTAL)
    status = (pl.when(pl.col("sensitive")).then(pl.lit(PROTECTED))
              .when(pl.col("hidden") | cross).then(pl.lit(UNPUBLISHED))
              .when(pl.col("flag").is_not_null()).then(pl.lit(MASKED))
              .otherwise(pl.lit(SHOWN)))
    return release.cells.select(
        *KEYS, pl.when(status == SHOWN).then(pl.col("n")).alias("n"), status.alias("status"))


def audit_published(cells: pl.DataFrame, k: int | None = None) -> pl.DataFrame:
    """What an attacker can learn from a published release: for every masked count and
    every protected one (a count a cohort leaves out), the lowest and highest value
    consistent with everything shown (analysis.privacy.audit), and whether that interval
    tells too little to expose it (``ok``: a masked count's interval at least k-1 wide;
    a protected one's too, unless it cannot hold a count of 1..k-1)."""
    k = rules().k if k is None else k
    eqs, ineqs = equations(cells), inequalities(cells)
    values = cells["n"].cast(pl.Float64).fill_null(0.0).to_list()
    hidden = (cells["status"] != SHOWN).to_list()
    targets = cells["status"].is_in([MASKED, PROTECTED]).arg_true().to_list()
    found = lp_audit.ranges(values, hidden, eqs, targets, ineqs)
    low = [found[i][0] for i in targets]
    high = [found[i][1] for i in targets]
    protected = (cells["status"] == PROTECTED).to_list()
    ok = [not (lp_audit.exposes(lo, hi, k) if protected[i] else lp_audit.too_narrow(lo, hi, k))
          for i, lo, hi in zip(targets, low, high, strict=True)]
    return cells[targets].select(*KEYS).with_columns(
        pl.Series("lowest", low, dtype=pl.Float64), pl.Series("highest", high, dtype=pl.Float64),
        pl.Series("ok", ok, dtype=pl.Boolean))


def read_published(path: str) -> pl.DataFrame:
    """A published release file, checked to hold the release's columns."""
    frame = pl.read_csv(path, infer_schema=False).with_columns(pl.col("n").cast(pl.Int64))
    missing = [c for c in (*KEYS, "n", "status") if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: not a release file (no column {', '.join(missing)})")
    return frame
