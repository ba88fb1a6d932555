"""The Quarto calls of a run: as few as can be, and their work balanced over the workers.

A Quarto call costs a start (deno and Quarto's modules) and, per output, the filter chain
and post-processing, whatever the document's length: one project call renders an output
in about 2 s against 6 s for a call per document. So a run renders its documents in as
many project calls as it has workers, each given about the same work.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

QUARTO_PROJECT = "_quarto.yml"  # a Quarto project: its settings file
COMBINED_PDF = "publication-pdf"  # a book's chapters as one typst document
# Quarto's fixed work per output, in bytes of source of the same cost: a short document
# still costs its filters. A fit on the default demo's calls gives about 90 000 and the
# same groups (bench/RESULTS.md, "Publishing through Quarto").
PER_OUTPUT = 120_000


def quarto_env(jobs: Sequence[Any]) -> dict[str, str]:
    """Quarto's environment: SOURCE_DATE_EPOCH fixes the PDF dates typst writes
    (reproducible builds) to the data's date."""
    moment = dt.datetime.combine(max(j.date for j in jobs), dt.time(), tzinfo=dt.UTC)
    return {**os.environ, "SOURCE_DATE_EPOCH": str(int(moment.timestamp()))}


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def combined_source(book: Path, target: Path) -> None:
    """A book's chapters as one document for Quarto's typst format, which book projects
    do not take: the book's options and title as front matter, then every chapter."""
    config = yaml.safe_load((book / QUARTO_PROJECT).read_text(encoding="utf-8"))
    front = {k: v for k, v in config.items() if k not in {"project", "book"}}
    front.update({k: config["book"][k] for k in ("title", "subtitle", "date")})
    front["format"] = {"typst": config["format"]["typst"]}
    body = [_FRONT_MATTER.sub("", (book / c).read_text(encoding="utf-8"), count=1)
            for c in config["book"]["chapters"]]
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(book / "figures", target / "figures", dirs_exist_ok=True)
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n"
    (target / "index.qmd").write_text(text + "\n\n".join(body), encoding="utf-8")


def work(folder: Path, outputs: int) -> int:
    """A folder's Quarto work, roughly: each of its sources rendered to ``outputs``
    formats, each output Quarto's fixed work (``PER_OUTPUT``) and its source's bytes."""
    return outputs * sum(PER_OUTPUT + f.stat().st_size for f in folder.glob("*.qmd"))


def balanced(work_of: dict[str, int], loads: Sequence[int]) -> list[list[str]]:
    """Folders into ``len(loads)`` groups of about equal work: the costliest first, each
    to the group with the least work so far (longest processing time first, Graham
    1969), a group starting from its load (a book's HTML call before it on its worker).
    Groups keep the folders' given order and come in the order of their loads, the
    least first (a free worker takes them first); empty groups are dropped."""
    totals, groups = list(loads), [[] for _ in loads]
    for name in sorted(work_of, key=lambda n: -work_of[n]):
        least = min(range(len(totals)), key=totals.__getitem__)
        totals[least] += work_of[name]
        groups[least].append(name)
    order = {n: i for i, n in enumerate(work_of)}
    by_load = sorted(range(len(loads)), key=loads.__getitem__)
    return [sorted(groups[i], key=order.__getitem__) for i in by_load if groups[i]]


def quarto_calls(jobs: Sequence[Any], staging: Path, formats: Sequence[str], groups: int,
                 quarto: str) -> list[tuple[str, list[str], Path]]:
    """The Quarto calls that render a run whose sources are written into ``staging``:

    - each book's HTML pages in one call of its own project (pages share one set of
      resources; a book does not take typst, DESIGN.md §9);
    - the single documents, and each book's chapters combined into one typst document,
      in ``groups`` folders ``quarto-<i>/`` of about equal work (:func:`balanced`, the
      books' calls counted), each rendered in one call as a default project (its own
      .qmd per document folder, so no source is rendered twice and no figure is shared).
      :func:`gather` moves them back.
    Returns (what, command, folder) per call, in the order to start them."""
    calls, loads = [], [0] * groups
    books = [j for j in jobs if j.kind == "project"]
    if "html" in formats:
        for i, job in enumerate(books):
            calls.append((job.name, [quarto, "render", "--to", "html"], staging / job.name))
            loads[i % groups] += work(staging / job.name, 1)
    work_of = {}
    if "pdf" in formats:
        for job in books:
            name = f"{job.name}-{COMBINED_PDF}"
            combined_source(staging / job.name, staging / name)
            work_of[name] = work(staging / name, 1)
    work_of.update({j.name: work(staging / j.name, len(formats)) for j in jobs
                    if j.kind == "document"})
    # Without --to every file renders to the formats of its front matter (a combined
    # book: typst only).
    only = [] if len(set(formats)) == 2 else [
        "--to", {"html": "html", "pdf": "typst"}[formats[0]]]
    for i, members in enumerate(balanced(work_of, loads)):
        project = staging / f"quarto-{i}"
        project.mkdir()
        for name in members:
            os.rename(staging / name, project / name)
        (project / QUARTO_PROJECT).write_text(yaml.safe_dump(
            {"project": {"type": "default", "render": [f"{n}/index.qmd" for n in members]}}),
            encoding="utf-8")
        calls.append((f"{len(members)} documents", [quarto, "render", *only], project))
    return calls


def gather(staging: Path) -> None:
    """Move the documents of the ``quarto-<i>`` project folders back into the staging
    folder (one folder per document, as the built-in path leaves them)."""
    for project in sorted(staging.glob("quarto-*")):
        for folder in sorted(p for p in project.iterdir() if p.is_dir()
                             and (p / "index.qmd").exists()):
            os.rename(folder, staging / folder.name)
        shutil.rmtree(project)
