"""The toolkit for analysts in a notebook: the same functions the `bcr` commands use.

    from analysis import api as bcr

    data = bcr.load_data(bcr.demo_folder())          # or a folder of real extracts
    rates = bcr.standardised_rates(data.cases, data.population, ["subregistry"])

Every function takes polars frames and returns a tidy polars frame (DESIGN.md §2): the group
keys, ``n``, ``estimate``, ``lower``, ``upper`` and a column naming the method. Published
tables pass ``suppress`` (disclosure control) first; the reports do this for you.
"""

from __future__ import annotations

from analysis.data.dictionary import subregistry_ids
from analysis.data.ingest import RegistryData, load_data
from analysis.demo.registry import cached_demo_dir as demo_folder
from analysis.demo.registry import write_demo
from analysis.privacy.disclosure import suppress
from analysis.quality.coverage import completeness, coverage, match_registries, timeliness
from analysis.quality.indicators import compute_indicators, load_indicators
from analysis.stats.cox import cox_region
from analysis.stats.incidence import crude_rates, rate_ratios, sir, standardised_rates
from analysis.stats.prevalence import prevalence
from analysis.stats.relative_survival import age_standardised, relative_survival
from analysis.stats.survival import kaplan_meier, km_median, logrank, period_window
from analysis.stats.survival import prepare_followup as followup
from analysis.stats.trend import annual_percent_change

__all__ = [
    "RegistryData", "age_standardised", "annual_percent_change", "completeness",
    "compute_indicators", "cox_region", "coverage", "crude_rates", "demo_folder", "followup",
    "kaplan_meier", "km_median", "load_data", "load_indicators", "logrank",
    "match_registries", "period_window", "prevalence", "rate_ratios", "relative_survival",
    "sir",
    "standardised_rates", "subregistry_ids", "suppress", "timeliness", "write_demo",
]
