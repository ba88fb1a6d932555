"""The data dictionary: registry settings, regions, subregistries, variables and code lists.

Everything the toolkit knows about what the data means is read from the YAML files of the
selected registry: `data_dictionary/` (the default registry), another shipped
configuration `data_dictionary/registries/<name>/` named by ``--registry`` or the
environment variable `BCR_REGISTRY`, or a user's own folder named by `BCR_DICTIONARY`
(which wins).
Functions here only read and interpret those files; they hold no state of their own
beyond a cache of the parsed YAML.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis import resources

if TYPE_CHECKING:  # polars only where a frame is built: the command line starts without it
    import polars as pl


class DictionaryError(ValueError):
    """A data-dictionary file is missing or declares something impossible."""


REGISTRY_ENV = "BCR_REGISTRY"


def registry_names() -> list[str]:
    """The shipped registries: the default one (its registry.yaml ``id``) first, then the
    folders of ``data_dictionary/registries/``."""
    default = str(_load(resources.data_dictionary() / "registry.yaml")["id"])
    others = resources.registries()
    return [default, *sorted(p.name for p in others.iterdir()
                             if (p / "registry.yaml").is_file())] if others.is_dir() else [default]


def registry_dir(name: str) -> Path:
    """The configuration folder of a shipped registry, or a clear error."""
    names = registry_names()
    if name not in names:
        raise DictionaryError(f"unknown registry '{name}' (shipped: {', '.join(names)}; "
                              "BCR_DICTIONARY names a folder of your own)")
    return resources.data_dictionary() if name == names[0] else resources.registries() / name


def dictionary_dir() -> Path:
    """The folder holding the data dictionary: BCR_DICTIONARY, else the registry named by
    BCR_REGISTRY (``--registry``), else the default registry."""
    if os.environ.get("BCR_DICTIONARY"):
        return Path(os.environ["BCR_DICTIONARY"])
    name = os.environ.get(REGISTRY_ENV)
    return registry_dir(name) if name else resources.data_dictionary()


# Names the form of the parsed files kept in the cache (a new one leaves the old unread).
_PARSED = b"bcr parsed yaml as json 1\n"


@cache
def _load(path: Path) -> Any:
    # Imported here: `bcr --help` reads no dictionary.
    import hashlib
    import json

    if not path.exists():
        raise DictionaryError(f"{path}: data-dictionary file not found")
    text = path.read_bytes()
    # The dictionary is read at every start: a file parsed before is taken from the cache
    # (JSON, 10x faster to read than YAML is to parse, and no yaml module to import),
    # found by the file's content, so that an edited file is parsed again.
    digest = hashlib.sha256(_PARSED + text).hexdigest()
    kept = resources.cache_dir() / "dictionary" / f"{digest}.json"
    try:
        return json.loads(kept.read_bytes())
    except (OSError, ValueError):
        pass
    import yaml

    try:
        # libyaml's parser where present.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        parsed = yaml.load(text.decode("utf-8"), Loader=loader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DictionaryError(f"{path}: not valid YAML ({exc})") from None
    _keep(kept, parsed)
    return parsed


def _keep(kept: Path, parsed: Any) -> None:
    """Write a parsed file to the cache, if JSON gives it back exactly (not, e.g., dates
    or numbers as keys) and the cache can be written; written whole, then renamed."""
    import json

    try:
        text = json.dumps(parsed)
        if json.loads(text) != parsed:
            return
        kept.parent.mkdir(parents=True, exist_ok=True)
        part = kept.with_name(f".{kept.name}.{os.getpid()}")
        part.write_text(text, encoding="utf-8")
        os.replace(part, kept)
    except (OSError, TypeError, ValueError):
        pass


def load(name: str) -> Any:
    """The parsed content of `data_dictionary/<name>` (e.g. ``"registry.yaml"``)."""
    return _load_from(os.environ.get("BCR_DICTIONARY"), os.environ.get(REGISTRY_ENV), name)


@cache
def _load_from(own: str | None, registry_name: str | None, name: str) -> Any:
    # Keyed by the variables ``dictionary_dir`` reads: a report's cells read the
    # dictionary about 100 000 times, and finding the folder was half of building them.
    return _load(dictionary_dir() / name)


def registry() -> dict[str, Any]:
    """Registry-wide settings (registry.yaml)."""
    return load("registry.yaml")


# --- languages ------------------------------------------------------------------------

def languages() -> dict[str, dict[str, str]]:
    """The registry's languages (registry.yaml ``languages``): code -> babel ``locale`` and
    the word joining the bounds of an interval with a negative bound (``to``)."""
    return _languages(os.environ.get("BCR_DICTIONARY"), os.environ.get(REGISTRY_ENV))


@cache
def _languages(own: str | None, registry_name: str | None) -> dict[str, dict[str, str]]:
    # Checked once per dictionary (keyed as ``_load_from``): every printed number asks.
    found = registry().get("languages")
    if not isinstance(found, dict) or not found or not all(
            isinstance(v, dict) and {"locale", "to"} <= set(v) for v in found.values()):
        raise DictionaryError(f"{dictionary_dir() / 'registry.yaml'}: `languages` must name "
                              "each report language with its locale and interval word, e.g. "
                              "{sv: {locale: sv_SE, to: till}, en: {locale: en_GB, to: to}}")
    return found


def locale(lang: str) -> str:
    """The babel locale of a report language (``languages``)."""
    return _locale(lang, os.environ.get("BCR_DICTIONARY"), os.environ.get(REGISTRY_ENV))


@cache
def _locale(lang: str, own: str | None, registry_name: str | None) -> str:
    return str(languages()[language(lang)]["locale"])


def language(lang: str | None = None) -> str:
    """A report language of the registry (its ``default_language`` when None), or a clear
    error naming the ones it has."""
    if lang is None:
        default = registry().get("default_language")
        if default not in languages():
            raise DictionaryError(f"{dictionary_dir() / 'registry.yaml'}: default_language "
                                  f"{default!r} is not one of its languages")
        return str(default)
    if lang not in languages():
        from analysis.errors import UserError

        raise UserError(f"unknown language '{lang}' for this registry (use one of: "
                        f"{', '.join(languages())})")
    return lang


def localized(raw: dict[str, Any], key: str, lang: str) -> str:
    """``raw[key_<lang>]``: a label, name or description in a language, the English one
    when the entry has none in it (English is every configuration's second language)."""
    value = raw.get(f"{key}_{lang}")
    return str(value if value is not None else raw.get(f"{key}_en", ""))


# --- regions and counties -------------------------------------------------------------

def regions() -> list[dict[str, Any]]:
    """The regions in their configured order."""
    return load("regions.yaml")["regions"]


def region_ids() -> list[str]:
    return [r["id"] for r in regions()]


def region_name(region_id: str, lang: str = "sv") -> str:
    for r in regions():
        if r["id"] == region_id:
            return localized(r, "name", lang)
    raise DictionaryError(f"regions.yaml: unknown region '{region_id}'")


def counties() -> pl.DataFrame:
    """One row per county: county, county_name, region, region_code."""
    import polars as pl

    names = {c["code"]: c["name"] for c in load("regions.yaml")["counties"]}
    rows = [
        {"county": c, "county_name": names.get(c, c), "region": r["id"], "region_code": r["code"]}
        for r in regions()
        for c in r["counties"]
    ]
    return pl.DataFrame(
        rows,
        schema={"county": pl.String, "county_name": pl.String, "region": pl.String,
                "region_code": pl.Int64},
    )


# --- reporting units -------------------------------------------------------------------

def hospitals() -> list[dict[str, Any]]:
    """The reporting units (hospitals.yaml): code, county, name (and the demo's weight)."""
    return load("hospitals.yaml")["hospitals"]


def hospital_codes() -> list[str]:
    """The unit codes an extract's `hospital` column may hold."""
    return [str(h["code"]) for h in hospitals()]


# --- subregistries and code lists ------------------------------------------------------

def subregistries() -> list[dict[str, Any]]:
    """The subregistries in their configured order."""
    return load("subregistries.yaml")["subregistries"]


def subregistry_ids() -> list[str]:
    return [s["id"] for s in subregistries()]


def subregistry(sid: str) -> dict[str, Any]:
    for s in subregistries():
        if s["id"] == sid:
            return s
    known = ", ".join(subregistry_ids())
    raise DictionaryError(f"unknown subregistry '{sid}' (known: {known})")


_ICD_CODE = re.compile(r"^([A-Z])(\d{2})(?:\.(\d{1,2}))?$")


def _icd_key(code: str) -> tuple[str, int, int | None]:
    m = _ICD_CODE.match(code.strip().upper())
    if not m:
        raise DictionaryError(f"not an ICD-10 code: '{code}'")
    letter, cat, sub = m.groups()
    return letter, int(cat), None if sub is None else int(sub)


def icd10_in(code: str | None, spec: list[str]) -> bool:
    """Whether an ICD-10 code is covered by a code list such as ``["C92.3-C92.6", "D46"]``.

    A list entry is a code (``C92.0``), a range of codes (``C92.3-C92.6``), a category
    (``D46``, covering all of D46.x) or a range of categories (``C81-C86``).
    """
    if not code:
        return False
    try:
        letter, cat, sub = _icd_key(code)
    except DictionaryError:
        return False
    for entry in spec:
        lo, _, hi = entry.partition("-")
        lo_l, lo_c, lo_s = _icd_key(lo)
        hi_l, hi_c, hi_s = _icd_key(hi) if hi else (lo_l, lo_c, lo_s)
        if letter != lo_l or letter != hi_l or not lo_c <= cat <= hi_c:
            continue
        if lo_s is None and hi_s is None:
            return True
        if sub is None:
            continue
        if (lo_c, lo_s or 0) <= (cat, sub) <= (hi_c, hi_s if hi_s is not None else 99):
            return True
    return False


def morphology_in(code: str | None, spec: list[str]) -> bool:
    """Whether an ICD-O-3 morphology (``9861/3`` or ``9861``) is in a list of codes/ranges."""
    if not code or not code[:4].isdigit():
        return False
    value = int(code[:4])
    for entry in spec:
        lo, _, hi = entry.partition("-")
        if int(lo) <= value <= int(hi or lo):
            return True
    return False


def diagnosis_group(sid: str, gid: str) -> dict[str, Any]:
    """A diagnosis group of a subregistry (subregistries.yaml ``diagnosis_groups``: id,
    names and an ICD-10 code list inside the subregistry's), e.g. Hodgkin lymphoma of the
    lymphoma subregistry: a part of its cases with a survival target of its own."""
    for group in subregistry(sid).get("diagnosis_groups") or []:
        if group.get("id") == gid:
            return group
    raise DictionaryError(f"{dictionary_dir() / 'subregistries.yaml'}: subregistry '{sid}' "
                          f"has no diagnosis group '{gid}'")


def in_diagnosis_group(frame: pl.DataFrame, sid: str, gid: str) -> pl.Expr:
    """Whether a case of ``frame`` belongs to the subregistry ``sid`` and an ICD-10 code of
    its diagnosis group ``gid`` (:func:`diagnosis_group`)."""
    import polars as pl

    spec = diagnosis_group(sid, gid)["icd10"]
    codes = [c for c in frame.get_column("icd10").unique().drop_nulls().sort().to_list()
             if icd10_in(c, spec)]
    return (pl.col("subregistry") == sid) & pl.col("icd10").is_in(codes)


def subregistry_of(icd10: str | None) -> str | None:
    """The subregistry whose ICD-10 list covers a code, or None."""
    for s in subregistries():
        if icd10_in(icd10, s["icd10"]):
            return s["id"]
    return None


# --- variables ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One variable in the Frictionless Table Schema vocabulary."""

    name: str
    type: str
    constraints: dict[str, Any]
    labels: dict[str, str]
    descriptions: dict[str, str]
    categories: tuple[dict[str, Any], ...] = ()
    code_list: str | None = None
    identity: bool = False

    @property
    def required(self) -> bool:
        return bool(self.constraints.get("required", False))

    def label(self, lang: str = "sv") -> str:
        return localized(self.labels, "label", lang)

    def description(self, lang: str = "sv") -> str:
        return localized(self.descriptions, "description", lang)


_TYPES = {"string", "integer", "number", "date", "boolean"}


def _fields(name: str) -> list[Field]:
    out = []
    for i, raw in enumerate(load(f"variables/{name}.yaml")["fields"]):
        try:
            f = Field(
                name=raw["name"], type=raw["type"], constraints=raw.get("constraints", {}),
                labels={k: raw[k] for k in raw if k.startswith("label_")},
                descriptions={k: raw[k] for k in raw if k.startswith("description_")},
                categories=tuple(raw.get("categories", ())),
                code_list=raw.get("code_list"), identity=bool(raw.get("identity", False)),
            )
        except KeyError as exc:
            raise DictionaryError(
                f"variables/{name}.yaml: field {i + 1} lacks the key {exc}") from None
        if "label_en" not in f.labels:
            raise DictionaryError(
                f"variables/{name}.yaml: field '{f.name}' lacks the key 'label_en'")
        if f.type not in _TYPES:
            raise DictionaryError(
                f"variables/{name}.yaml: field '{f.name}' has unknown type '{f.type}'")
        out.append(f)
    return out


def primary_key(dataset: str) -> list[str]:
    """The columns that identify a row of a dataset (Table Schema ``primaryKey``), if the
    dictionary declares them (e.g. population: year, county, sex, age)."""
    if dataset not in {"cancer_registry", "population", "lifetable"}:
        return []
    key = load(f"variables/{dataset}.yaml").get("primaryKey", [])
    return [key] if isinstance(key, str) else list(key)


def fields(dataset: str) -> list[Field]:
    """The variables of a dataset: a subregistry id (core + its own variables), or
    ``cancer_registry``, ``population`` or ``lifetable``."""
    if dataset in subregistry_ids():
        return _fields("core") + _fields(dataset)
    if dataset in {"cancer_registry", "population", "lifetable"}:
        return _fields(dataset)
    raise DictionaryError(f"no variables are declared for '{dataset}'")


def field(dataset: str, name: str) -> Field:
    for f in fields(dataset):
        if f.name == name:
            return f
    raise DictionaryError(f"'{dataset}' has no variable '{name}'")


def _allowed(f: Field, lang: str) -> str:
    if f.categories:
        return "; ".join(f"{c['value']} = {localized(c, 'label', lang)}" for c in f.categories)
    c = f.constraints
    if "enum" in c:
        return ", ".join(map(str, c["enum"]))
    if f.code_list:
        return {"icd10": "ICD-10", "morphology": "ICD-O-3",
                "counties": localized(load("regions.yaml"), "county_codes", lang),
                "hospitals": "hospitals.yaml"}[f.code_list]
    if "minimum" in c and "maximum" in c:
        return f"{c['minimum']}\u2013{c['maximum']}"
    if "minimum" in c:
        return f"\u2265 {c['minimum']}"
    return f"\u2264 {c['maximum']}" if "maximum" in c else ""


def variable_table(lang: str = "sv") -> pl.DataFrame:
    """The variable list as registries publish it: one row per dataset and variable."""
    import polars as pl

    datasets = ["core", *subregistry_ids(), "cancer_registry", "population", "lifetable"]
    rows = []
    for ds in datasets:
        for f in _fields(ds):
            rows.append({
                "dataset": ds, "variable": f.name, "label": f.label(lang),
                "type": f.type, "required": f.required, "allowed": _allowed(f, lang),
                "description": f.description(lang)})
    return pl.DataFrame(rows)
