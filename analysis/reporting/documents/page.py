"""A single-page document: front matter and sections in ``report.qmd.j2``."""

from __future__ import annotations

from analysis.reporting import formatting as fmt
from analysis.reporting.qmd import (
    DocumentJob,
    Page,
    Section,
    front_matter,
)
from analysis.reporting.run import Run


def single_page_job(run: Run, name: str, stem: str, title: str, subtitle: str,
                    sections: list[Section]) -> DocumentJob:
    """A document of one page (``index.qmd``) with the run's date and language."""
    front = front_matter(title, subtitle, run.lang, fmt.date(run.analyses.extract_date,
                                                             run.lang))
    return DocumentJob(name, stem, run.analyses.extract_date,
                       [Page("index.qmd", "report.qmd.j2", front, sections)])
