"""Counts over pooled years for sparse subregistries (registry.yaml ``reports.pooled_counts``).

Where a subregistry's yearly counts are too sparse for yearly rates (a rare-diagnosis
subregistry with a handful of cases a year), the reports show its new cases over
consecutive periods of ``years`` years instead, the last ending with the report year,
back over the trend years. Each period is a window of the release's ``cases`` family
(analysis.privacy.release), so its counts are cells, suppressed jointly with the single
years and the other windows they add up from.
"""

from __future__ import annotations

from analysis.data import dictionary as dd


def settings() -> tuple[list[str], int]:
    """The subregistries shown with pooled counts and the period length in years."""
    cfg = (dd.registry().get("reports") or {}).get("pooled_counts") or {}
    sids = [str(s) for s in cfg.get("subregistries") or []]
    years = cfg.get("years", 5)
    unknown = [s for s in sids if s not in dd.subregistry_ids()]
    if unknown or isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise dd.DictionaryError(
            f"{dd.dictionary_dir() / 'registry.yaml'}: reports.pooled_counts needs known "
            f"subregistries (not {', '.join(unknown) or '-'}) and years, a whole number >= 1")
    return sids, years


def periods(year: int, first: int) -> list[tuple[int, int]]:
    """The pooled periods, latest first: consecutive windows of the configured length
    ending with ``year``, the earliest clipped to ``first``; none when no subregistry
    pools."""
    sids, length = settings()
    if not sids:
        return []
    out = []
    end = year
    while end >= first:
        out.append((max(first, end - length + 1), end))
        end -= length
    return out
