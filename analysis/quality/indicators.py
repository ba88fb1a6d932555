"""Quality indicators declared in data_dictionary/indicators.yaml, computed and classified.

Loading parses every declaration and its filters into polars expressions and checks them
against the data dictionary (variables, types, operators, values, targets), so a wrong
declaration stops with a DictionaryError naming the file and the indicator before any
data are touched. Filters are a small declarative language (see indicators.yaml), never
evaluated as Python.

Proportion, coverage and timeliness indicators are shares with Wilson score intervals
(Wilson 1927). Lead-time indicators report the median and quartiles of the lead time in
days (linear interpolation between order statistics, R's default type 7; Hyndman and Fan
1996) and the share within the target number of days with a Wilson interval. Each result
is classified against its target levels (målnivåer): high, intermediate or below.
Preliminary diagnosis years (not classified): analysis.quality.preliminary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from analysis.data import dictionary
from analysis.data.dictionary import DictionaryError
from analysis.errors import UserError
from analysis.quality.coverage import coverage, timeliness
from analysis.stats.proportions import with_wilson

FILE = "indicators.yaml"
KINDS = ("proportion", "lead_time", "coverage", "timeliness", "net_survival")
NET_SURVIVAL = "net_survival"  # computed from the run's net survival: quality/net_survival.py
DIRECTIONS = ("higher_is_better", "lower_is_better")
UNITS = ("region", "county", "hospital")
# Columns derived by analysis.data.ingest for every case, with their dictionary types.
DERIVED = {"age": "integer", "year": "integer", "region": "string", "age_group": "string",
           "followup_years": "number", "followup_days": "integer", "dead": "integer"}
COMPARISONS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
LIST_OPS = ("in", "not_in")
NULL_OPS = ("is_null", "not_null")
HIGH, INTERMEDIATE, BELOW = "high", "intermediate", "below"

_COMMON_KEYS = {"id", "subregistries", "kind", "target", "direction", "units", "min_n",
                "population", "texts"}
# The three parts of an indicator's description in Swedish registry reports: about the
# indicator, how to read it, technical description (Om indikatorn / Att läsa diagrammet /
# Teknisk beskrivning).
TEXT_PARTS = ("about", "reading", "technical")
_KIND_KEYS = {"proportion": {"numerator", "unknown_outcome"},
              "lead_time": {"start", "end", "target_days"},
              "coverage": {"months"}, "timeliness": {"months"},
              NET_SURVIVAL: {"time", "approach", "diagnosis_group"}}


@dataclass(frozen=True, eq=False)
class Indicator:
    """One declared quality indicator, with its filters compiled to polars expressions."""

    id: str
    subregistries: tuple[str, ...]
    kind: str
    names: dict[str, str]  # name_<lang> and description_<lang>
    direction: str
    units: tuple[str, ...]
    min_n: int
    high: float | None
    intermediate: float | None
    target_source: str | None
    population: pl.Expr | None = None
    numerator: pl.Expr | None = None
    exclude_unknown: bool = True
    start: str | None = None
    end: str | None = None
    target_days: int | None = None
    months: int | None = None
    time: float | None = None  # net survival: years after diagnosis
    approach: str | None = None  # net survival: cohort or period (Brenner)
    diagnosis_group: str | None = None  # net survival: a part of the subregistry's cases
    texts: dict[str, dict[str, str]] | None = None  # lang -> TEXT_PARTS -> text

    def name(self, lang: str = "sv") -> str:
        return dictionary.localized(self.names, "name", lang)

    def description(self, lang: str = "sv") -> str:
        return dictionary.localized(self.names, "description", lang)

    def text(self, part: str, lang: str = "sv") -> str:
        """One part of the description (TEXT_PARTS) in ``lang`` (English where the
        language has none); "" when not written."""
        texts = self.texts or {}
        return (texts.get(lang) or texts.get("en") or {}).get(part, "")


# --- the filter language ----------------------------------------------------------------

class _Problem(Exception):
    """A declaration problem; the loader adds file and indicator to the message."""


def _variable_types(subregistries: Sequence[str]) -> dict[str, tuple[str, tuple]]:
    """Variables present in every one of the subregistries: name -> (type, enum)."""
    per_sub = []
    for sid in subregistries:
        known = {f.name: (f.type, tuple(f.constraints.get("enum", ())))
                 for f in dictionary.fields(sid) if not f.identity}
        known.update({name: (t, ()) for name, t in DERIVED.items()})
        per_sub.append(known)
    return {k: v for k, v in per_sub[0].items() if all(k in s for s in per_sub[1:])}


def _check_value(variable: str, vtype: str, enum: tuple, value: Any) -> Any:
    if vtype == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise _Problem(f"'{variable}' is a date; '{value}' is not YYYY-MM-DD") from None
    ok = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
          "string": lambda v: isinstance(v, str),
          "boolean": lambda v: isinstance(v, bool)}[vtype]
    if not ok(value):
        raise _Problem(f"'{variable}' is of type {vtype}; the value {value!r} is not")
    if enum and value not in enum:
        raise _Problem(f"'{variable}' has no value {value!r} "
                       f"(allowed: {', '.join(map(str, enum))})")
    return value


def _condition(raw: Any, types: Mapping[str, tuple[str, tuple]]) -> pl.Expr:
    """One condition of the filter language as a polars expression (null when unknown)."""
    if not isinstance(raw, dict):
        raise _Problem(f"a condition must be a mapping, not {raw!r}")
    if "any" in raw:
        if set(raw) != {"any"} or not isinstance(raw["any"], list) or not raw["any"]:
            raise _Problem("'any' takes a non-empty list of conditions and nothing else")
        return reduce(lambda a, b: a | b, (_condition(c, types) for c in raw["any"]))
    extra = set(raw) - {"variable", "op", "value"}
    if extra or "variable" not in raw or "op" not in raw:
        raise _Problem(f"a condition needs the keys variable, op (and value), got {raw!r}")
    variable, op = raw["variable"], raw["op"]
    if variable not in types:
        raise _Problem(f"unknown variable '{variable}' (not declared in "
                       "data_dictionary/variables/ for every subregistry of the indicator)")
    vtype, enum = types[variable]
    col = pl.col(variable)
    if op in NULL_OPS:
        if "value" in raw:
            raise _Problem(f"'{op}' takes no value")
        return col.is_null() if op == "is_null" else col.is_not_null()
    if "value" not in raw:
        raise _Problem(f"the condition on '{variable}' with '{op}' lacks a value")
    value = raw["value"]
    if op in LIST_OPS:
        if not isinstance(value, list) or not value:
            raise _Problem(f"'{op}' needs a non-empty list of values")
        values = [_check_value(variable, vtype, enum, v) for v in value]
        inside = col.is_in(values)
        return inside if op == "in" else ~inside
    if op not in COMPARISONS:
        raise _Problem(f"unknown operator '{op}' (use one of "
                       f"{', '.join([*COMPARISONS, *LIST_OPS, *NULL_OPS])})")
    if op not in ("==", "!=") and vtype not in ("integer", "number", "date"):
        raise _Problem(f"'{op}' compares numbers or dates; '{variable}' is {vtype}")
    return getattr(col, COMPARISONS[op])(pl.lit(_check_value(variable, vtype, enum, value)))


def _conditions(raw: Any, types: Mapping[str, tuple[str, tuple]]) -> pl.Expr:
    if not isinstance(raw, list) or not raw:
        raise _Problem("conditions must be a non-empty list")
    return reduce(lambda a, b: a & b, (_condition(c, types) for c in raw))


# --- loading ------------------------------------------------------------------------------

def _level(raw: dict, key: str) -> float | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not 0 <= value <= 1):
        raise _Problem(f"target {key} must be a proportion between 0 and 1, got {value!r}")
    return None if value is None else float(value)


def _target(raw: dict) -> tuple[float | None, float | None, str | None]:
    if "target" not in raw:
        raise _Problem("no target: give {high: ..., source: ...} or the word unknown")
    target = raw["target"]
    if target == "unknown":
        return None, None, None
    if not isinstance(target, dict) or set(target) - {"high", "intermediate", "source"}:
        raise _Problem(f"target must be unknown or {{high, intermediate, source}}, "
                       f"got {target!r}")
    high, intermediate = _level(target, "high"), _level(target, "intermediate")
    if high is None:
        raise _Problem("target lacks the high level")
    if not target.get("source"):
        raise _Problem("target lacks its source")
    if intermediate is not None:
        higher = raw.get("direction") == "higher_is_better"
        if (intermediate >= high) if higher else (intermediate <= high):
            raise _Problem(f"the intermediate level {intermediate} must be "
                           f"{'below' if higher else 'above'} the high level {high}")
    return high, intermediate, str(target["source"])


def _months(raw: dict) -> int | None:
    months = raw.get("months")
    allowed = [int(m) for m in dictionary.registry()["coverage"]["timeliness_months"]]
    if months is None and raw["kind"] == "coverage":
        return None
    if months not in allowed:
        raise _Problem(f"months must be one of {allowed} (registry.yaml "
                       f"coverage.timeliness_months), got {months!r}")
    return int(months)


def _texts(raw: Any) -> dict[str, dict[str, str]] | None:
    """The optional ``texts``: every part in each language, each a non-empty string."""
    if raw is None:
        return None
    langs = list(dictionary.languages())
    if not isinstance(raw, dict):
        raise _Problem("texts must be a mapping {<language>: {about, reading, technical}}")
    for lang in langs:
        parts = raw.get(lang)
        if not isinstance(parts, dict):
            raise _Problem(f"texts lacks '{lang}'")
        for part in TEXT_PARTS:
            if not isinstance(parts.get(part), str) or not parts[part].strip():
                raise _Problem(f"texts.{lang} lacks '{part}'")
        extra = set(parts) - set(TEXT_PARTS)
        if extra:
            raise _Problem(f"texts.{lang}: unknown part(s) {', '.join(sorted(extra))} "
                           f"(use {', '.join(TEXT_PARTS)})")
    return {lang: {p: str(raw[lang][p]).strip() for p in TEXT_PARTS} for lang in langs}


def _indicator(raw: Any) -> Indicator:
    if not isinstance(raw, dict):
        raise _Problem("an indicator must be a mapping")
    texts = [f"{key}_{lang}" for key in ("name", "description")
             for lang in dictionary.languages()]
    for key in ("subregistries", *texts, "kind", "direction", "units", "min_n"):
        if raw.get(key) in (None, "", []):
            raise _Problem(f"lacks '{key}'")
    kind = raw["kind"]
    if kind not in KINDS:
        raise _Problem(f"unknown kind '{kind}' (use one of {', '.join(KINDS)})")
    extra = set(raw) - _COMMON_KEYS - set(texts) - _KIND_KEYS[kind]
    if extra:
        raise _Problem(f"unknown key(s) for a {kind} indicator: {', '.join(sorted(extra))}")
    subs = raw["subregistries"]
    if not isinstance(subs, list):
        raise _Problem("subregistries must be a list")
    for sid in subs:
        if sid not in dictionary.subregistry_ids():
            raise _Problem(f"unknown subregistry '{sid}'")
    if raw["direction"] not in DIRECTIONS:
        raise _Problem(f"direction must be one of {', '.join(DIRECTIONS)}")
    units = raw["units"]
    if not isinstance(units, list) or set(units) - set(UNITS):
        raise _Problem(f"units must be a list from {', '.join(UNITS)}, got {units!r}")
    min_n = raw["min_n"]
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise _Problem(f"min_n must be a positive integer, got {min_n!r}")
    high, intermediate, source = _target(raw)
    types = _variable_types(subs)
    fields: dict[str, Any] = {}
    if raw.get("population") is not None:
        if kind in ("coverage", NET_SURVIVAL):
            raise _Problem(f"a {kind} indicator takes no population (its cohort is given)")
        fields["population"] = _conditions(raw["population"], types)
    if kind == "proportion":
        if "numerator" not in raw:
            raise _Problem("a proportion indicator needs a numerator")
        fields["numerator"] = _conditions(raw["numerator"], types)
        unknown = raw.get("unknown_outcome", "exclude")
        if unknown not in ("exclude", "not_met"):
            raise _Problem(f"unknown_outcome must be exclude or not_met, got {unknown!r}")
        fields["exclude_unknown"] = unknown == "exclude"
    elif kind == "lead_time":
        for key in ("start", "end"):
            name = raw.get(key)
            if name not in types or types[name][0] != "date":
                raise _Problem(f"{key} must be a date variable, got {name!r}")
            fields[key] = name
        days = raw.get("target_days")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise _Problem(f"target_days must be a whole number of days, got {days!r}")
        fields["target_days"] = days
    elif kind == NET_SURVIVAL:
        time, group = raw.get("time"), raw.get("diagnosis_group")
        if raw.get("approach") not in ("cohort", "period") or not isinstance(time, int | float) \
                or isinstance(time, bool) or time <= 0:
            raise _Problem("a net_survival indicator needs time (years > 0) and approach "
                           "(cohort or period)")
        for sid in subs if group is not None else ():
            dictionary.diagnosis_group(sid, group)  # raises naming subregistries.yaml
        fields.update(time=float(time), approach=raw["approach"], diagnosis_group=group)
    else:
        fields["months"] = _months(raw)
    return Indicator(
        id=str(raw["id"]), subregistries=tuple(subs), kind=kind,
        names={k: raw[k] for k in texts},
        direction=raw["direction"], units=tuple(units), min_n=min_n,
        high=high, intermediate=intermediate, target_source=source,
        texts=_texts(raw.get("texts")), **fields,
    )


def _read(path: Path | None) -> tuple[str, Any]:
    if path is None:
        return FILE, dictionary.load(FILE)
    try:
        return str(path), yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DictionaryError(f"{path}: cannot be read as YAML ({exc})") from None


def load_indicators(path: Path | None = None) -> list[Indicator]:
    """Every indicator of data_dictionary/indicators.yaml (or ``path``), checked: a
    DictionaryError names the file, the indicator and the problem."""
    name, content = _read(path)
    if not isinstance(content, dict) or not isinstance(content.get("indicators"), list):
        raise DictionaryError(f"{name}: needs a list under 'indicators'")
    out, seen = [], set()
    for i, raw in enumerate(content["indicators"]):
        ident = raw.get("id") if isinstance(raw, dict) else None
        label = f"indicator '{ident}'" if ident else f"indicator {i + 1}"
        try:
            if not ident:
                raise _Problem("lacks 'id'")
            if ident in seen:
                raise _Problem("the id is used twice")
            seen.add(ident)
            out.append(_indicator(raw))
        except (_Problem, DictionaryError) as exc:
            raise DictionaryError(f"{name}: {label}: {exc}") from None
    return out


def key_variables(path: Path | None = None) -> dict[str, list[str]]:
    """The key variables whose completeness is reported, per subregistry (common + own)."""
    name, content = _read(path)
    section = (content or {}).get("completeness") or {}
    common = section.get("common", [])
    out = {}
    for sid in dictionary.subregistry_ids():
        names = [*common, *(v for v in section.get(sid, []) if v not in common)]
        known = {f.name for f in dictionary.fields(sid) if not f.identity}
        unknown = [v for v in names if v not in known]
        if unknown:
            raise DictionaryError(f"{name}: completeness of '{sid}': unknown variable(s) "
                                  f"{', '.join(unknown)}")
        out[sid] = names
    return out


def completeness_populations(path: Path | None = None) -> dict[str, pl.Expr]:
    """Key variables asked only of some patients (indicators.yaml ``completeness: among``):
    variable -> the condition a case must meet to be counted in its completeness, e.g. a
    treatment start date among treated patients (their labels: :func:`completeness_labels`)."""
    name, content = _read(path)
    among = ((content or {}).get("completeness") or {}).get("among") or {}
    types = _variable_types(dictionary.subregistry_ids())
    out = {}
    for variable, raw in among.items():
        try:
            if not isinstance(raw, dict) or "population" not in raw:
                raise _Problem("give {population: [conditions], label_<language>...}")
            out[variable] = _conditions(raw["population"], types)
        except _Problem as exc:
            raise DictionaryError(f"{name}: completeness among for '{variable}': {exc}"
                                  ) from None
    return out


def completeness_labels(lang: str, path: Path | None = None) -> dict[str, str]:
    """variable -> who its completeness is counted among, in ``lang``."""
    _, content = _read(path)
    among = ((content or {}).get("completeness") or {}).get("among") or {}
    return {v: dictionary.localized(raw, "label", lang) for v, raw in among.items()
            if isinstance(raw, dict)}


# --- computing ------------------------------------------------------------------------------

def classify(estimate: pl.Expr, high: float | None, intermediate: float | None,
             direction: str) -> pl.Expr:
    """high / intermediate / below against the target levels; reaching a level counts.

    Higher is better: estimate >= high is high, else >= intermediate is intermediate.
    Lower is better: estimate <= high is high, else <= intermediate is intermediate.
    Null when there is no target level or no estimate.
    """
    if high is None:
        return pl.lit(None, pl.String)
    meets = (lambda lvl: estimate >= lvl) if direction == "higher_is_better" else (
        lambda lvl: estimate <= lvl)
    out = pl.when(estimate.is_null()).then(None).when(meets(high)).then(pl.lit(HIGH))
    if intermediate is not None:
        out = out.when(meets(intermediate)).then(pl.lit(INTERMEDIATE))
    return out.otherwise(pl.lit(BELOW))


def _shares(frame: pl.DataFrame, keys: list[str], outcome: pl.Expr,
            exclude_unknown: bool) -> pl.DataFrame:
    unknown = outcome.is_null()
    counts = frame.group_by(keys).agg(
        events=outcome.fill_null(False).sum().cast(pl.Int64),
        n=((~unknown).sum() if exclude_unknown else pl.len()).cast(pl.Int64),
        n_unknown=unknown.sum().cast(pl.Int64),
    )
    return with_wilson(counts)


def _lead_time(ind: Indicator, frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    days = (pl.col(ind.end) - pl.col(ind.start)).dt.total_days()
    # An end before the start is impossible (ingest validation reports it); it is
    # counted as unknown rather than used as a lead time.
    frame = frame.with_columns(lead_time=pl.when(days >= 0).then(days))
    lt = pl.col("lead_time")
    shares = _shares(frame, keys, lt <= ind.target_days, exclude_unknown=True)
    quartiles = frame.group_by(keys).agg(
        median=lt.median(), q1=lt.quantile(0.25, "linear"), q3=lt.quantile(0.75, "linear"))
    return shares.join(quartiles, on=keys, nulls_equal=True).with_columns(
        method=pl.lit(f"share with lead time <= {ind.target_days} days: Wilson score "
                      "interval (Wilson 1927); quartiles: linear interpolation "
                      "(Hyndman and Fan 1996, type 7)"))


def _registry_share(ind: Indicator, frame: pl.DataFrame, keys: list[str],
                    extract_date: dt.date | None) -> pl.DataFrame:
    """Coverage and timeliness indicators: one measure of analysis.quality.coverage."""
    by = keys[1:]
    if ind.kind == "coverage":
        table = coverage(frame, by, extract_date=extract_date)
        measure = "coverage" if ind.months is None else f"coverage_{ind.months}m"
    else:
        table = timeliness(frame, by, extract_date=extract_date)
        measure = f"registered_within_{ind.months}m"
    return table.filter(pl.col("measure") == measure).drop("measure").with_columns(
        n_unknown=pl.lit(0, pl.Int64))


def compute_indicator(ind: Indicator, cases: pl.DataFrame, by: Sequence[str] = (),
                      linked: pl.DataFrame | None = None,
                      extract_date: dt.date | None = None) -> pl.DataFrame:
    """One indicator per subregistry (and per group of ``by``), classified.

    ``cases``: the canonical cases frame; ``linked``: the output of
    analysis.quality.coverage.match_registries, needed for coverage indicators only. ``by`` may
    hold the indicator's reporting units and ``year``. ``extract_date``: coverage and
    timeliness within k months count only cases whose k months have passed by then.
    Returns ``indicator``, ``subregistry``, the ``by`` keys, ``events``, ``n``,
    ``n_unknown``, ``estimate``, ``lower``, ``upper`` (and ``median``, ``q1``, ``q3``
    for lead times), ``high``, ``intermediate``, ``direction``, ``enough_cases``
    (n >= min_n), ``classification`` (null without a target or enough cases) and
    ``method``.
    """
    if ind.kind == NET_SURVIVAL:  # estimated on the survival cohort, not per case
        raise UserError(f"indicator '{ind.id}': see analysis.quality.net_survival")
    bad = [b for b in by if b not in (*ind.units, "year")]
    if bad:
        raise UserError(f"indicator '{ind.id}' is not reported by {', '.join(bad)} "
                        f"(its units: {', '.join(ind.units)}, year)")
    keys = ["subregistry", *by]
    if ind.kind == "coverage":
        if linked is None:
            raise UserError(f"indicator '{ind.id}' needs the cancer-registry extract")
        frame = linked.filter(pl.col("subregistry").is_in(ind.subregistries))
    else:
        frame = cases.filter(pl.col("subregistry").is_in(ind.subregistries))
        if ind.population is not None:
            # A case whose membership cannot be decided (null) is not in the population.
            frame = frame.filter(ind.population.fill_null(False))
    if ind.kind == "proportion":
        table = _shares(frame, keys, ind.numerator, ind.exclude_unknown)
    elif ind.kind == "lead_time":
        table = _lead_time(ind, frame, keys)
    else:
        table = _registry_share(ind, frame, keys, extract_date)
    classification = classify(pl.col("estimate"), ind.high, ind.intermediate, ind.direction)
    enough = pl.col("n") >= ind.min_n
    lead_cols = ["median", "q1", "q3"] if ind.kind == "lead_time" else []
    return table.sort(keys, nulls_last=True).select(
        pl.lit(ind.id).alias("indicator"), *keys, "events", "n", "n_unknown", "estimate",
        "lower", "upper", *lead_cols,
        pl.lit(ind.high, pl.Float64).alias("high"),
        pl.lit(ind.intermediate, pl.Float64).alias("intermediate"),
        pl.lit(ind.direction).alias("direction"), enough.alias("enough_cases"),
        pl.when(enough).then(classification).alias("classification"), "method",
    )


def funnel_indicator(indicator_list: Sequence[Indicator], sid: str) -> Indicator | None:
    """The subregistry's indicator shown by hospital on the funnel plots: its first
    proportion indicator reported by hospital."""
    for ind in indicator_list:
        if sid in ind.subregistries and ind.kind == "proportion" and "hospital" in ind.units:
            return ind
    return None


def compute_indicators(indicators: Sequence[Indicator], cases: pl.DataFrame,
                       by: Sequence[str] = (), linked: pl.DataFrame | None = None,
                       extract_date: dt.date | None = None) -> pl.DataFrame:
    """Indicators stacked (net survival: analysis.quality.net_survival)."""
    parts = [compute_indicator(ind, cases, by, linked, extract_date) for ind in indicators
             if ind.kind != NET_SURVIVAL]
    if not parts:
        raise UserError("no indicator selected")
    return pl.concat(parts, how="diagonal_relaxed")
