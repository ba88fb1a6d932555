"""The annual publication: a Quarto book of every subregistry, built from _quarto.yml."""

from __future__ import annotations

import polars as pl

from analysis.data import dictionary as dd
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import subregistries_present
from analysis.reporting.documents.subregistry import subregistry_sections
from analysis.reporting.qmd import (
    DocumentJob,
    Page,
    Section,
    md,
    root_quarto,
)
from analysis.reporting.run import Run
from analysis.reporting.sections.data_quality import data_quality_section
from analysis.reporting.sections.distributions import volume_section
from analysis.reporting.sections.methods import (
    dictionary_section,
    methods_section,
    provenance_section,
)
from analysis.reporting.sections.overview import overview_section
from analysis.reporting.sections.summary import summary_paragraphs
from analysis.reporting.tables import key_numbers_table, moved_table


def publication(run: Run) -> DocumentJob:
    """The annual publication: a Quarto book built from the root _quarto.yml."""
    a, text, lang = run.analyses, run.text, run.lang
    registry_name = dd.registry()[f"name_{lang}"]
    sids = subregistries_present(a)
    nation_now = run.asr.filter((pl.col("region") == NATION) & (pl.col("year") == a.year))
    summary = Section(text("publication.summary"), paragraphs=[md(text(
        "publication.intro", cases=fmt.number(int(nation_now["n"].sum()), 0, lang),
        year=a.year, n_subregistries=len(sids))), *summary_paragraphs(run)],
        tables=[key_numbers_table(run, "summary", sids)],
        **run.preliminary_note)
    moved = moved_table(run, "moved")
    summary.subsections.append(Section(
        text("publication.moved"),
        paragraphs=[md(text("summary.moved_intro", previous=a.judged_year - 1, year=a.judged_year,
                            n=a.settings.indicators_moved_rows)
                       if moved else text("summary.none_moved"))],
        tables=[moved] if moved else []))
    pages = [Page("index.qmd", "chapter.qmd.j2", {}, [summary]),
             Page("overview.qmd", "chapter.qmd.j2", {}, [overview_section(run, "overview")])]
    for sid in sids:
        chapter = Section(dd.subregistry(sid)[f"name_{lang}"],
                          subsections=subregistry_sections(run, sid))
        prefix_ids(chapter, sid)
        pages.append(Page(f"{sid}.qmd", "chapter.qmd.j2", {}, [chapter]))
    pages.append(Page("hospitals.qmd", "chapter.qmd.j2", {},
                      [volume_section(run, "volumes", sids)]))
    quality = data_quality_section(run, "dq")
    pages.append(Page("quality.qmd", "chapter.qmd.j2", {}, [quality]))
    pages.append(Page("methods.qmd", "chapter.qmd.j2", {}, [methods_section(run)]))
    pages.append(Page("dictionary.qmd", "chapter.qmd.j2", {},
                      [dictionary_section(run, "dd")]))
    pages.append(Page("provenance.qmd", "chapter.qmd.j2", {},
                      [provenance_section(run, "prov")]))
    project = {k: v for k, v in root_quarto().items() if k != "project"}
    project.update({
        "project": {"type": "book", "output-dir": "_book"},
        "lang": lang,
        "book": {"title": text("publication.title", registry=registry_name, year=a.year),
                 "subtitle": text("publication.subtitle"),
                 "date": fmt.date(a.extract_date, lang),
                 "chapters": [p.file for p in pages]},
    })
    project["format"]["html"]["css"] = "report.css"
    # The book's pages share one set of resources (Quarto would otherwise inline every
    # figure and script into every page); the built-in path makes one self-contained file.
    project["format"]["html"]["embed-resources"] = False
    return DocumentJob("publication", f"publication-{a.year}", a.extract_date, pages, project)


def prefix_ids(section: Section, prefix: str) -> None:
    """Make table and figure ids unique within a book (one chapter per subregistry)."""
    for t in section.tables:
        t.id = t.id.replace("tbl-", f"tbl-{prefix}-", 1)
    for f in section.figures:
        f.id = f.id.replace("fig-", f"fig-{prefix}-", 1)
    for s in section.subsections:
        prefix_ids(s, prefix)
