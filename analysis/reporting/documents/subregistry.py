"""The subregistry report: all regions side by side, for the subregistry's steering group."""

from __future__ import annotations

from analysis.data import dictionary as dd
from analysis.reporting.cells import regions_nation_last
from analysis.reporting.documents.page import single_page_job
from analysis.reporting.qmd import DocumentJob, Section
from analysis.reporting.run import Run
from analysis.reporting.sections.distributions import stage_section, volume_section
from analysis.reporting.sections.incidence import subregistry_incidence_section
from analysis.reporting.sections.indicator_texts import indicator_texts_section
from analysis.reporting.sections.methods import methods_section, provenance_section
from analysis.reporting.sections.net_indicators import net_indicator_section
from analysis.reporting.sections.prevalence import prevalence_section
from analysis.reporting.sections.quality import subregistry_quality_section
from analysis.reporting.sections.series import series_section
from analysis.reporting.sections.summary import summary_section
from analysis.reporting.sections.survival import cox_section, subregistry_survival_section
from analysis.reporting.sections.survival_trend import survival_trend_section


def subregistry_sections(run: Run, sid: str) -> list[Section]:
    """Incidence, quality and survival of one subregistry, all regions side by side."""
    trend = survival_trend_section(run, "survival-trend", sid)
    net = net_indicator_section(run, sid)
    prevalent = prevalence_section(run, "prevalence", sid)
    return [subregistry_incidence_section(run, sid), subregistry_quality_section(run, sid),
            *([net] if net else []), indicator_texts_section(run, sid),
            series_section(run, "series", sid=sid),
            stage_section(run, "stage", [sid], regions_nation_last()),
            subregistry_survival_section(run, sid), *([trend] if trend else []),
            *([prevalent] if prevalent else []),
            cox_section(run, "cox", sid)]


def subregistry_report(run: Run, sid: str) -> DocumentJob:
    """The report of one subregistry for its steering group: all regions side by side."""
    a, text, lang = run.analyses, run.text, run.lang
    sections = [summary_section(run, sid=sid), *subregistry_sections(run, sid),
                volume_section(run, "volumes", [sid]), methods_section(run),
                provenance_section(run, "prov")]
    return single_page_job(run, f"subregistry-{sid}", f"subregistry-{sid}-{a.year}",
                           text("subregistry.title",
                                subregistry=dd.subregistry(sid)[f"name_{lang}"], year=a.year),
                           text("subregistry.subtitle", registry=dd.registry()[f"name_{lang}"]),
                           sections)
