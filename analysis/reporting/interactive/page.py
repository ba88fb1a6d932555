"""The interactive report as a document of a run: one self-contained HTML file.

Charts are Vega-Lite, drawn in the browser by the Vega, Vega-Lite and vega-embed bundle
that ``vl-convert-python`` ships (``vl_convert.javascript_bundle``, about 0.9 MB): the
page holds that bundle, its own script (``templates/interactive.js``), its style and the
protected records (``data.interactive_data``) and asks nothing of a network or server.
The job writes the finished page itself; ``render_all`` only checks and places it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from analysis import __version__
from analysis.data import dictionary as dd
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.interactive.data import interactive_data
from analysis.reporting.render import TEMPLATES_DIR
from analysis.reporting.run import Run

INTERACTIVE = "interactive"  # the --format name and the job kind
CONTROLS = ("subregistry", "indicator", "level", "year", "unit")


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (globals vegaEmbed, vega, vegaLite);
    a ``</script`` inside would end the element early, so it is refused."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    if re.search(r"</script|<!--", bundle, re.IGNORECASE):
        raise RuntimeError("the Vega bundle holds '</script' or '<!--': it cannot be inlined")
    return bundle


def _json(payload: Any) -> str:
    """The records as JSON inside <script>: same input, same bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).replace("</", "<\\/")


@dataclass
class InteractiveJob:
    """One interactive report (``render.Job``): ``write`` produces the final page."""

    name: str
    stem: str
    date: dt.date
    title: str
    page: dict[str, str]  # the wording of the page around the views
    payload: dict[str, Any] = field(repr=False)
    kind: str = INTERACTIVE

    def headings(self) -> list[str]:
        return [self.title]

    def write(self, directory: Path) -> dict[str, float]:
        env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined,
                          keep_trailing_newline=True)
        text = self.payload["text"]
        html = env.get_template("interactive.html.j2").render(
            lang=self.payload["meta"]["lang"], version=__version__, title=self.title,
            **self.page, controls=[(c, text["controls"][c]) for c in CONTROLS],
            csv=text["csv"], data=_json(self.payload), bundle=vega_bundle(),
            css=(TEMPLATES_DIR / "interactive.css").read_text(encoding="utf-8"),
            script=(TEMPLATES_DIR / "interactive.js").read_text(encoding="utf-8"))
        (directory / f"{self.stem}.html").write_text(html, encoding="utf-8")
        return {}


def interactive_job(run: Run, area: str, data: dict[str, Any]) -> InteractiveJob:
    """The interactive report of a region (its id) or of the nation (NATION), embedding
    ``data`` (:func:`interactive_data` of the run)."""
    a, lang, text = run.analyses, run.lang, data["text"]
    registry = dd.registry()[f"name_{lang}"]
    name = f"{INTERACTIVE}-{area}"
    stem = f"{name}-{a.year}"
    payload = {**data, "meta": {**data["meta"], "area": area, "stem": stem}}
    area_name = run.text("nation") if area == NATION else dd.region_name(area, lang)
    title = text["title"].format(registry=registry, year=a.year, area=area_name)
    page = {"subtitle": text["subtitle"].format(date=fmt.date(a.extract_date, lang),
                                                 year=a.year),
            "intro": text["intro"], "footer": f"{registry} · bcr {__version__}"}
    return InteractiveJob(name, stem, a.extract_date, title, page, payload)


def interactive_jobs(run: Run, regions: Sequence[str] | None, national: bool
                     ) -> list[InteractiveJob]:
    """One interactive report per region asked for (all when None), and the national one."""
    areas = list(dd.region_ids() if regions is None else regions)
    data = interactive_data(run)  # the same records in every file
    return [interactive_job(run, r, data) for r in [*areas, *([NATION] if national else [])]]
