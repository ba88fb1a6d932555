"""The sections every document ends with: methods, provenance, and the data dictionary."""

from __future__ import annotations

from analysis import __version__
from analysis.data import dictionary as dd
from analysis.quality.preliminary import preliminary_months
from analysis.reporting import formatting as fmt
from analysis.reporting.cells import min_cases, subregistry_label, symbol, threshold
from analysis.reporting.qmd import (
    Section,
    Table,
    md,
)
from analysis.reporting.run import Run
from analysis.stats import survival


def methods_section(run: Run) -> Section:
    text = run.text
    std_id = dd.registry()["incidence"]["standard_population"]
    std = dd.load("standard_populations.yaml")["standards"].get(std_id, {})
    name = std.get(f"name_{run.lang}", std_id)
    a = run.analyses
    body = text("methods.text", standard=name, k=threshold(), symbol=symbol(),
                min_cases=min_cases(), min_age_group=survival.settings().min_age_group_cases,
                cohort_first=a.survival_window[0], cohort_last=a.year,
                period_first=a.period[0], period_last=a.period[1])
    paragraphs = body.strip().split("\n\n")
    # The rule for preliminary years (registry.yaml preliminary), after the paragraph on
    # proportions and target levels.
    paragraphs.insert(2, text("methods.preliminary", months=preliminary_months(),
                              extract_date=fmt.date(a.extract_date, run.lang, "iso"),
                              judged=a.judged_year, year=a.year,
                              no_target=text("levels.none")))
    if not run.prevalence.is_empty():
        paragraphs.append(text("methods.prevalence",
                               date=fmt.date(run.prevalence["date"][0], run.lang)))
    if not a.net_indicators.is_empty():
        paragraphs.append(text("methods.net_indicators"))
    return Section(text("sections.methods"), paragraphs=paragraphs)


def provenance_section(run: Run, doc_id: str) -> Section:
    text, a = run.text, run.analyses
    items = [
        (text("provenance.toolkit"), f"bcr {__version__}"),
        (text("provenance.extract_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.report_date"), fmt.date(a.extract_date, run.lang, "iso")),
        (text("provenance.options"), ", ".join(
            f"{text.section('provenance.option_names').get(k, k)} {v}"
            for k, v in run.options.items())),
        (text("provenance.renderer"),
         text.section("provenance.renderers").get(run.renderer, run.renderer)),
    ]
    basis = Table(f"tbl-{doc_id}-provenance", text("captions.provenance_table"),
                  [text("columns.item"), text("columns.value")],
                  [[k, v] for k, v in items], ["l", "l"])
    files = Table(
        f"tbl-{doc_id}-files", text("captions.validation_table"),
        [text("columns.file"), text("columns.read"), text("columns.accepted"),
         text("columns.rejected"), text("columns.sha256")],
        [[r["file"], fmt.number(r["read"], 0, run.lang), fmt.number(r["accepted"], 0, run.lang),
          fmt.number(r["rejected"], 0, run.lang),
          # In two halves, so that the 64 digits wrap inside an A4 column.
          f"{r['sha256'][:32]} {r['sha256'][32:]}"]
         for r in run.files.iter_rows(named=True)],
        ["l", "r", "r", "r", "l"])
    return Section(text("sections.provenance"),
                   paragraphs=[md(text("notes.rendered",
                                       date=fmt.date(a.extract_date, run.lang)))],
                   tables=[basis, files])


def dictionary_section(run: Run, doc_id: str) -> Section:
    """The data dictionary in brief: each subregistry's diagnosis codes, and the variables
    of every dataset with type, whether required, and the allowed values."""
    text, lang = run.text, run.lang
    codes = Table(f"tbl-{doc_id}-codes", text("captions.dictionary_table"),
                  [text("columns.subregistry"), text("dictionary.icd10"),
                   text("dictionary.morphology")],
                  [[dd.subregistry(s)[f"name_{lang}"], ", ".join(dd.subregistry(s)["icd10"]),
                    ", ".join(dd.subregistry(s).get("morphology", []))]
                   for s in dd.subregistry_ids()], ["l", "l", "l"])
    datasets = {"core": text("dictionary.core"), **{
        s: subregistry_label(s, lang) for s in dd.subregistry_ids()},
        **{d: text(f"dictionary.{d}") for d in ("cancer_registry", "population", "lifetable")}}
    types = text.section("dictionary.types")
    rows = [[datasets.get(r["dataset"], r["dataset"]), r["variable"], r["label"],
             types.get(r["type"], r["type"]),
             text("dictionary.required_yes") if r["required"] else "",
             r["allowed"] or ""]
            for r in dd.variable_table(lang).iter_rows(named=True)]
    variables = Table(f"tbl-{doc_id}-variables", text("captions.variables_table"),
                      [text("columns.dataset"), text("columns.variable"), text("columns.label"),
                       text("dictionary.type"), text("dictionary.required"),
                       text("dictionary.allowed")], rows, ["l", "l", "l", "l", "l", "l"])
    return Section(text("sections.dictionary"), paragraphs=[md(text("dictionary.intro"))],
                   tables=[codes, variables])
