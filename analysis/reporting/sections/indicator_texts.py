"""Per indicator the three-part description of Swedish registry reports (about the
indicator, how to read it, technical description), from indicators.yaml ``texts``."""

from __future__ import annotations

from analysis.reporting.qmd import Section, md
from analysis.reporting.run import Run
from analysis.reporting.tables import target_cell


def indicator_texts_section(run: Run, sid: str) -> Section:
    """A subsection per indicator of the subregistry, in declaration order, with its three
    parts and its target level (or "no target level") with the level's source."""
    text, lang = run.text, run.lang
    shown = set(run.indicators.filter(run.indicators["subregistry"] == sid)["indicator"])
    subs = []
    for ind in run.analyses.indicator_list:
        if sid not in ind.subregistries or ind.id not in shown or ind.texts is None:
            continue
        paragraphs = [f"**{md(text(f'indicator_texts.{part}'))}.** {md(ind.text(part, lang))}"
                      for part in ("about", "reading", "technical")]
        target = target_cell({"high": ind.high, "intermediate": ind.intermediate,
                              "direction": ind.direction}, text, lang)
        paragraphs.append(md(text("indicator_texts.target", target=target,
                                  source=ind.target_source)) if ind.target_source
                          else md(target))
        subs.append(Section(ind.name(lang), paragraphs=paragraphs))
    return Section(text("indicator_texts.title"), subsections=subs)
