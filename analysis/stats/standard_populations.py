"""Standard populations for direct age standardisation, and age groups for rates.

The built-in standards are data in `data_dictionary/standard_populations.yaml`, each with
its source. A user may give a CSV file instead (columns `age_group` or `age_start`, and
`weight`). Weights are kept as published; `reweight` re-distributes them to the age groups
of an analysis (e.g. adults 18+), assuming ages are spread evenly within a standard group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.data import dictionary as dd
from analysis.data.ingest import age_group_layout
from analysis.data.readers import read_table
from analysis.errors import InputError, UserError

FILE = "standard_populations.yaml"
_LABEL = re.compile(r"^(\d+)\s*(?:-\s*(\d+)|(\+))$")
WEIGHT_SCHEMA = {"age_group": pl.String, "age_start": pl.Int64, "age_end": pl.Int64,
                 "weight": pl.Float64}


@dataclass(frozen=True)
class StandardPopulation:
    """A standard population: weights by age group (age_end null for the open last group)."""

    id: str
    name: str
    source: str
    weights: pl.DataFrame

    @property
    def total(self) -> float:
        return float(self.weights.get_column("weight").sum())


def age_group_label(start: int, end: int | None) -> str:
    """``"15-19"`` for completed ages 15..19, ``"85+"`` for an open group."""
    return f"{start}+" if end is None else f"{start}-{end}"


def parse_age_group(label: str) -> tuple[int, int | None]:
    """(first age, last age or None if open) of a label such as ``"15-19"`` or ``"85+"``."""
    m = _LABEL.match(str(label).strip())
    if not m:
        raise ValueError(f"not an age group: '{label}' (write e.g. 15-19 or 85+)")
    start, end, plus = m.groups()
    if plus:
        return int(start), None
    if int(end) < int(start):
        raise ValueError(f"age group '{label}' ends before it starts")
    return int(start), int(end)


def default_age_breaks() -> list[int]:
    """The registry's age groups as break points: 0, 5, ..., 85 (85+ open; registry.yaml)."""
    width, open_from = age_group_layout()
    return [*range(0, open_from, width), open_from]


def age_groups(breaks: Sequence[int]) -> pl.DataFrame:
    """Age groups from break points: ``[18, 50, 70]`` gives 18-49, 50-69 and 70+."""
    b = [int(x) for x in breaks]
    if not b or b[0] < 0 or any(lo >= hi for lo, hi in zip(b, b[1:], strict=False)):
        raise UserError(f"age groups {b}: the break points must be increasing ages >= 0")
    ends: list[int | None] = [hi - 1 for hi in b[1:]] + [None]
    return pl.DataFrame(
        {"age_group": [age_group_label(s, e) for s, e in zip(b, ends, strict=True)],
         "age_start": b, "age_end": ends},
        schema={k: WEIGHT_SCHEMA[k] for k in ("age_group", "age_start", "age_end")})


def _weights_frame(rows: list[tuple[int, int | None, float]], where: str) -> pl.DataFrame:
    rows = sorted(rows)
    for (s, e, _), (s2, _, _) in zip(rows, rows[1:], strict=False):
        if e is None or e + 1 != s2:
            label = age_group_label(s, e)
            raise UserError(f"{where}: age groups must be contiguous; '{label}' is followed "
                            f"by a group starting at {s2}")
    if rows and rows[-1][1] is not None:
        raise UserError(f"{where}: the last age group must be open (e.g. 85+), not "
                        f"'{age_group_label(rows[-1][0], rows[-1][1])}'")
    return pl.DataFrame(
        [(age_group_label(s, e), s, e, w) for s, e, w in rows],
        schema=WEIGHT_SCHEMA, orient="row")


def available() -> list[str]:
    """Ids of the built-in standards."""
    return list(dd.load(FILE)["standards"])


def default_standard() -> str:
    """The registry's standard (registry.yaml incidence.standard_population), else the
    default of standard_populations.yaml."""
    chosen = dd.registry().get("incidence", {}).get("standard_population")
    return chosen or dd.load(FILE)["default"]


def _builtin(sid: str) -> StandardPopulation:
    spec = dd.load(FILE)["standards"][sid]
    where = f"{FILE}: standard '{sid}'"
    try:
        rows = [(*parse_age_group(k), float(v)) for k, v in spec["weights"].items()]
    except ValueError as exc:
        raise dd.DictionaryError(f"{where}: {exc}") from None
    weights = _weights_frame(rows, where)
    total = float(weights.get_column("weight").sum())
    if abs(total - float(spec["total"])) > 1e-9:
        raise dd.DictionaryError(f"{where}: weights sum to {total:g}, not the documented "
                                 f"total {spec['total']}")
    return StandardPopulation(sid, spec["name_en"], " ".join(spec["source"].split()), weights)


def _from_file(path: Path) -> StandardPopulation:
    raw = read_table(path)
    where = str(path)
    if "weight" not in raw.columns or not {"age_group", "age_start"} & set(raw.columns):
        raise InputError(where, "a standard population file needs the columns age_group "
                         "(e.g. 0-4, ..., 85+) or age_start (0, 5, ..., 85), and weight",
                         row=1)
    key = "age_group" if "age_group" in raw.columns else "age_start"
    rows: list[tuple[int, int | None, float]] = []
    starts = raw.get_column(key).to_list()
    for i, (label, weight) in enumerate(zip(starts, raw.get_column("weight"), strict=True)):
        line = i + 2  # the header is line 1
        try:
            if key == "age_group":
                start, end = parse_age_group(label)
            else:
                start, end = int(label), None
        except (TypeError, ValueError):
            raise InputError(where, "not an age group (write e.g. 15-19 or 85+)" if key ==
                             "age_group" else "age_start must be a whole number of years",
                             row=line, column=key, value=label) from None
        try:
            w = float(weight)
        except (TypeError, ValueError):
            w = -1.0
        if not w >= 0 or w == float("inf"):
            raise InputError(where, "weight must be a number >= 0", row=line,
                             column="weight", value=weight)
        rows.append((start, end, w))
    if key == "age_start":  # each group ends where the next begins; the last is open
        if len({s for s, _, _ in rows}) != len(rows):
            raise InputError(where, "age_start values must be unique", column="age_start")
        rows.sort()
        rows = [(s, nxt[0] - 1 if nxt else None, w)
                for (s, _, w), nxt in zip(rows, [*rows[1:], None], strict=True)]
    weights = _weights_frame(rows, where)
    if not weights.get_column("weight").sum() > 0:
        raise InputError(where, "the weights sum to 0", column="weight")
    return StandardPopulation(path.stem, path.name, f"user file {path.name}", weights)


def load_standard(spec: str | Path) -> StandardPopulation:
    """A built-in standard by id (e.g. ``"esp2013"``) or a user's CSV file by path."""
    text = str(spec)
    if text in available():
        return _builtin(text)
    unavailable = dd.load(FILE).get("unavailable", {})
    if text in unavailable:
        raise UserError(" ".join(unavailable[text].split()))
    path = Path(text)
    if path.suffix and path.exists():
        return _from_file(path)
    if path.suffix:
        raise UserError(f"{text}: standard population file not found")
    raise UserError(f"unknown standard population '{text}' (built in: "
                    f"{', '.join(available())}; or give the path of a CSV file)")


def _share(std_start: int, std_end: int | None, lo: int, hi: int | None) -> float:
    """Share of a standard group [std_start, std_end] lying in the age range [lo, hi]."""
    if std_end is None:
        if hi is None and lo <= std_start:
            return 1.0
        if hi is not None and hi < std_start:
            return 0.0
        raise UserError(f"age groups: the standard's open group {std_start}+ cannot be "
                    f"split at age {lo if hi is None else hi + 1}; use a last age "
                        f"group that starts at or below {std_start}")
    top = std_end if hi is None else min(std_end, hi)
    overlap = top - max(std_start, lo) + 1
    return max(overlap, 0) / (std_end - std_start + 1)


def reweight(standard: StandardPopulation, breaks: Sequence[int]) -> pl.DataFrame:
    """The standard's weights on the age groups given by `breaks`.

    A standard group cut by a break contributes in proportion to the ages on each side
    (even spread within the group): with ESP 2013, 18-19 gets 2/5 of the 15-19 weight.
    Ages below the first break are left out. Columns: age_group, age_start, weight.
    """
    groups = age_groups(breaks)
    first = int(standard.weights.get_column("age_start").min())
    if groups.get_column("age_start")[0] < first:
        raise UserError(f"standard population '{standard.id}' starts at age {first} and "
                        f"has no weight for the age group "
                        f"'{groups.get_column('age_group')[0]}'")
    std = standard.weights.select("age_start", "age_end", "weight").rows()
    out = [sum(w * _share(s, e, lo, hi) for s, e, w in std)
           for lo, hi in groups.select("age_start", "age_end").rows()]
    return groups.select("age_group", "age_start").with_columns(
        pl.Series("weight", out, dtype=pl.Float64))
