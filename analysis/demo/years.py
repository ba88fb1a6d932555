"""The demo's years of diagnosis as a `--years` option gives them: light enough for the
command line to import at its start (no numpy, no polars)."""

from __future__ import annotations

from analysis.errors import UserError

DEFAULT_YEARS = "2000-2025"


def parse_years(text: str) -> tuple[int, int]:
    """``"2000-2025"`` or ``"2020"`` as (first, last) year of diagnosis."""
    first, dash, last = text.strip().partition("-")
    try:
        lo, hi = int(first), int(last if dash else first)
    except ValueError:
        raise UserError(f"--years '{text}': expected YEAR or FIRST-LAST, e.g. 2000-2025") \
            from None
    if not 1900 <= lo <= hi <= 2100:
        raise UserError(f"--years '{text}': years must be 1900-2100 and FIRST <= LAST")
    return lo, hi
