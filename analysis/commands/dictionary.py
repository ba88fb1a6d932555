"""`bcr dictionary`: the variable list as a readable document."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from analysis import resources
from analysis.data import dictionary as dd
from analysis.errors import UserError

if TYPE_CHECKING:  # imported inside the functions: `bcr --help` starts without them
    import polars as pl


def _titles(lang: str) -> dict:
    """The document's wording in a language (data_dictionary/dictionary_text.yaml)."""
    return dd.load("dictionary_text.yaml")[dd.language(lang)]


def _heading(ds: str, lang: str) -> str:
    t = _titles(lang)
    if ds in t:
        return t[ds]
    s = dd.subregistry(ds)
    name, short = s[f"name_{lang}"], s[f"short_{lang}"]
    return name if short == name else f"{name} ({short})"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(table: pl.DataFrame, lang: str) -> str:
    """The variable table as Markdown, one section per dataset."""
    import polars as pl

    t = _titles(lang)
    name = dd.registry()[f"name_{lang}"]
    out = [f"# {t['title']}: {name}", ""]
    # The code lists the variables refer to (county, icd10, morphology).
    counties = dd.counties()
    out += [f"## {t['regions']}", "", "| " + " | ".join(t["region_cols"]) + " |", "|---|---|---|"]
    for r in dd.load("regions.yaml")["regions"]:
        members = counties.filter(pl.col("region") == r["id"])
        listed = ", ".join(f"{c} {n}" for c, n in members.select("county", "county_name").rows())
        out.append(f"| {r['code']} | {_cell(r[f'name_{lang}'])} | {_cell(listed)} |")
    out += ["", f"## {t['codes']}", "", "| " + " | ".join(t["code_cols"]) + " |",
            "|---|---|---|"]
    for sid in dd.subregistry_ids():
        s = dd.subregistry(sid)
        out.append(f"| {_cell(_heading(sid, lang))} | {_cell(', '.join(s['icd10']))} | "
                   f"{_cell(', '.join(s.get('morphology', [])))} |")
    out.append("")
    for (ds,), part in table.group_by("dataset", maintain_order=True):
        out += [f"## {_heading(ds, lang)}", "", "| " + " | ".join(t["cols"]) + " |",
                "|" + "---|" * len(t["cols"])]
        for r in part.iter_rows(named=True):
            cells = [f"`{r['variable']}`", r["label"], t["types"][r["type"]],
                     t["yes"] if r["required"] else t["no"], r["allowed"], r["description"]]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def dictionary(
    lang: str | None = typer.Option(None, "--lang", help="Language (default: the "
                                    "registry's; e.g. sv, nb or en)."),
    fmt: str = typer.Option("md", "--format", help="md, html or csv."),
    out: Path | None = typer.Option(None, "--out", help="File to write (default: stdout)."),
) -> None:
    """Write the data dictionary's variable list as a document (Markdown, HTML or CSV)."""
    lang = dd.language(lang)
    table = dd.variable_table(lang)
    if fmt == "csv":
        text = table.write_csv()
    elif fmt in ("md", "html"):
        text = markdown(table, lang)
        if fmt == "html":
            import pypandoc

            # The reports' house style: tables as wide as the page with wrapping cells
            # (pandoc's own style scrolls a wide table sideways, hiding the description).
            text = pypandoc.convert_text(
                text, "html", format="gfm", extra_args=[
                    "--standalone", "--embed-resources",
                    f"--css={resources.templates() / 'report.css'}",
                    f"--metadata=title:{_titles(lang)['title']}",
                    f"--metadata=lang:{lang}"])
    else:
        raise UserError(f"--format must be md, html or csv, not '{fmt}'")
    if out is None:
        print(text)
    else:
        out.write_text(text, encoding="utf-8")
