"""Coverage against the cancer registry, completeness of variables, and timeliness.

Coverage (täckningsgrad) is the share of the cancer registry's cases of a subregistry's
diagnoses that are also registered in the quality registry. Records are linked by
``match_registries`` into one frame with one row per record of either source; coverage,
the discrepancies in both directions and coverage within 3 and 12 months are all computed
from that linked frame, so a duplicate registration can never be counted twice. All
proportions carry Wilson score intervals (Wilson 1927).

The linked frame and every result frame leave out ``person_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment

from analysis.data import dictionary, identity
from analysis.data.validate import age_at
from analysis.errors import UserError
from analysis.stats.proportions import with_wilson

BOTH = "both"
CANCER_REGISTRY_ONLY = "cancer_registry_only"
QUALITY_REGISTRY_ONLY = "quality_registry_only"

GROUP_KEYS = ("region", "county", "hospital", "year")

_LINKED_SCHEMA = {
    "status": pl.String, "subregistry": pl.String, "cancer_registry_row": pl.Int64,
    "case_id": pl.String, "diagnosis_date": pl.Date, "registry_diagnosis_date": pl.Date,
    "report_date": pl.Date, "region": pl.String, "county": pl.String, "hospital": pl.String,
    "cancer_registry_hospital": pl.String, "year": pl.Int64, "days_apart": pl.Int64,
}


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{what} lacks the column(s) {', '.join(missing)}")


def _check_by(by: Sequence[str]) -> list[str]:
    unknown = [b for b in by if b not in GROUP_KEYS]
    if unknown:
        raise UserError(f"cannot group by {', '.join(unknown)} "
                        f"(use any of {', '.join(GROUP_KEYS)})")
    return ["subregistry", *by]


def assign_subregistry(cancer_registry: pl.DataFrame) -> pl.DataFrame:
    """The cancer registry with a ``subregistry`` column from the ICD-10 code lists.

    Codes outside every subregistry's list (other cancers) get a null subregistry. A
    ``birth_date`` column, when present, also applies each subregistry's ``min_age``
    (adult lymphoma): a younger patient's record gets a null subregistry.
    """
    codes = cancer_registry["icd10"].unique().to_list()
    lookup = pl.DataFrame(
        {"icd10": codes, "subregistry": [dictionary.subregistry_of(c) for c in codes]},
        schema={"icd10": pl.String, "subregistry": pl.String},
    )
    out = cancer_registry.join(lookup, on="icd10", how="left", nulls_equal=True)
    if "birth_date" not in out.columns:
        return out
    min_age = pl.DataFrame(
        {"subregistry": dictionary.subregistry_ids(),
         "min_age": [int(dictionary.subregistry(s).get("min_age", 0))
                     for s in dictionary.subregistry_ids()]})
    too_young = (age_at(pl.col("birth_date"), pl.col("diagnosis_date"))
                 < pl.col("min_age")).fill_null(False)
    return (out.join(min_age, on="subregistry", how="left")
            .with_columns(subregistry=pl.when(~too_young).then("subregistry"))
            .drop("min_age"))


def _pairs(candidates: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one pairs from candidate pairs: as many as possible, and among those the
    smallest total of days apart (an assignment problem, solved per person and
    subregistry with scipy's linear_sum_assignment; Crouse 2016).

    Greedy closest-first matching is not enough: with cancer-registry records on day 0
    and day 20 and registrations on day 10 and day -75 (window 90), the closest pair
    (0, 10) would leave day 20 and day -75 unmatched, while (0, -75) and (20, 10) match
    both.
    """
    # A pair whose two records have no other candidate cannot conflict: keep it directly
    # and solve the rest only (few, at registry scale).
    alone = ((pl.len().over("cr_row") == 1) & (pl.len().over("qr_row") == 1)).alias("alone")
    candidates = candidates.with_columns(alone)
    single = candidates.filter("alone")
    rest = candidates.filter(~pl.col("alone")).sort("person_id", "subregistry", "cr_row",
                                                    "qr_row")
    cr_out, qr_out, days_out = [], [], []
    for part in rest.partition_by("person_id", "subregistry", maintain_order=True):
        cr_ids, cr_at = np.unique(part["cr_row"].to_numpy(), return_inverse=True)
        qr_ids, qr_at = np.unique(part["qr_row"].to_numpy(), return_inverse=True)
        days = part["days_apart"].to_numpy()
        # Each pair saves more than any total of days, so the count comes first.
        big = float(days.sum() + 1)
        cost = np.zeros((len(cr_ids), len(qr_ids)))
        cost[cr_at, qr_at] = days - big
        rows, cols = linear_sum_assignment(cost)
        taken = cost[rows, cols] < 0
        cr_out.append(cr_ids[rows[taken]])
        qr_out.append(qr_ids[cols[taken]])
        days_out.append((cost[rows[taken], cols[taken]] + big).round().astype(np.int64))
    return (np.concatenate([single["cr_row"].to_numpy(), *cr_out]),
            np.concatenate([single["qr_row"].to_numpy(), *qr_out]),
            np.concatenate([single["days_apart"].to_numpy(), *days_out]))


def match_registries(cases: pl.DataFrame, cancer_registry: pl.DataFrame,
                     window_days: int | None = None,
                     subregistries: Sequence[str] | None = None) -> pl.DataFrame:
    """Link quality-registry cases to cancer-registry records, one to one.

    A cancer-registry record belongs to the subregistry whose ICD-10 list holds its code
    (records of other cancers are left out, and so are patients younger than the
    subregistry's ``min_age`` when the identity number gives the birth date). Identity
    numbers are compared in their canonical spelling (analysis.data.identity, scheme of
    registry.yaml), so ``YYMMDD-NNNC`` and ``YYYYMMDDNNNC`` of one person link. It matches
    a case of the same person and subregistry whose diagnosis date differs by at most
    ``window_days`` (default:
    registry.yaml ``coverage.match_window_days``). Each record is used at most once, with
    as many pairs as possible and the closest dates among them (:func:`_pairs`): a second
    registration of one tumour stays unmatched, and a person with diagnoses in two
    subregistries is matched in each.

    Returns one row per record of either source with ``status`` (both,
    cancer_registry_only, quality_registry_only), ``subregistry``, ``cancer_registry_row``
    (0-based row of the cancer-registry frame), ``case_id``, ``diagnosis_date`` (the cancer
    registry's when present), ``registry_diagnosis_date``, ``report_date``, ``region``,
    ``county`` (the cancer registry's when present), ``hospital`` (the quality
    registry's), ``cancer_registry_hospital`` (when the extract has one), ``year`` (of
    ``diagnosis_date``) and ``days_apart``. No person_id. With ``subregistries`` (those
    whose extracts were read), the cancer registry's records of the others are left out
    rather than counted as missing from the quality registry.
    """
    _require(cases, ["subregistry", "case_id", "person_id", "diagnosis_date", "report_date",
                     "region", "county", "hospital"], "the registry cases")
    _require(cancer_registry, ["person_id", "diagnosis_date", "icd10", "county", "region"],
             "the cancer-registry extract")
    if window_days is None:
        window_days = int(dictionary.registry()["coverage"]["match_window_days"])
    if window_days < 0:
        raise UserError(f"match window of {window_days} days: the largest difference in "
                        "diagnosis dates must be 0 days or more")
    scheme = dictionary.registry().get("identity_scheme", "pseudonym")
    # The latest diagnosis resolves the century of ten-digit numbers reproducibly.
    reference = pl.concat([cases["diagnosis_date"], cancer_registry["diagnosis_date"]]).max()
    ids = identity.parse(cancer_registry["person_id"], scheme, reference)
    birth = ids["birth_date"]
    cancer_registry = cancer_registry.with_columns(
        person_id=ids["canonical"],
        birth_date=(pl.coalesce(pl.lit(birth), "birth_date")
                    if "birth_date" in cancer_registry.columns else pl.lit(birth)))
    cases = cases.with_columns(
        person_id=identity.canonical(cases["person_id"], scheme, reference))
    present = list(subregistries) if subregistries is not None else dictionary.subregistry_ids()
    cr_hospital = (pl.col("hospital") if "hospital" in cancer_registry.columns
                   else pl.lit(None, pl.String))
    cr = (assign_subregistry(cancer_registry.with_row_index("cr_row"))
          .filter(pl.col("subregistry").is_in(present))
          .select("cr_row", "person_id", "subregistry", "diagnosis_date", "county", "region",
                  cr_hospital.alias("cancer_registry_hospital")))
    qr = cases.with_row_index("qr_row").select(
        "qr_row", "person_id", "subregistry", "case_id",
        pl.col("diagnosis_date").alias("registry_diagnosis_date"),
        "report_date", pl.col("region").alias("qr_region"),
        pl.col("county").alias("qr_county"), "hospital",
    )
    candidates = (
        cr.select("cr_row", "person_id", "subregistry", "diagnosis_date")
        .join(qr.select("qr_row", "person_id", "subregistry", "registry_diagnosis_date"),
              on=["person_id", "subregistry"])
        .with_columns(days_apart=(pl.col("registry_diagnosis_date") - pl.col("diagnosis_date"))
                      .dt.total_days().abs())
        .filter(pl.col("days_apart") <= window_days)
    )
    cr_idx, qr_idx, days = _pairs(candidates)
    pairs = pl.DataFrame({"cr_row": cr_idx, "qr_row": qr_idx, "days_apart": days},
                         schema={"cr_row": pl.UInt32, "qr_row": pl.UInt32,
                                 "days_apart": pl.Int64})
    cr, qr = cr.drop("person_id"), qr.drop("person_id")
    both = pairs.join(cr, on="cr_row").join(qr.drop("subregistry"), on="qr_row").with_columns(
        status=pl.lit(BOTH))
    cr_only = cr.join(pairs, on="cr_row", how="anti").with_columns(
        status=pl.lit(CANCER_REGISTRY_ONLY))
    qr_only = qr.join(pairs, on="qr_row", how="anti").with_columns(
        status=pl.lit(QUALITY_REGISTRY_ONLY),
        diagnosis_date=pl.col("registry_diagnosis_date"),
        county=pl.col("qr_county"), region=pl.col("qr_region"))
    linked = pl.concat([both, cr_only, qr_only], how="diagonal_relaxed")
    return (
        linked.with_columns(cancer_registry_row=pl.col("cr_row").cast(pl.Int64),
                            year=pl.col("diagnosis_date").dt.year().cast(pl.Int64))
        .select(*(pl.col(c).cast(t) for c, t in _LINKED_SCHEMA.items()))
        .sort("subregistry", "status", "cancer_registry_row", "case_id", nulls_last=True)
    )


def _within_months(months: int, start: str = "diagnosis_date") -> pl.Expr:
    """Reported no later than ``months`` calendar months after ``start``; reaching the
    boundary day counts as in time, an unknown report date as not in time."""
    return (pl.col("report_date") <= pl.col(start).dt.offset_by(f"{months}mo")).fill_null(False)


def _shares(frame: pl.DataFrame, keys: list[str],
            measures: Mapping[str, tuple[pl.Expr, pl.Expr]], level: float) -> pl.DataFrame:
    """Long table of shares: for each measure (outcome, denominator condition) one row per
    group of ``frame``."""
    parts = []
    for order, (name, (outcome, population)) in enumerate(measures.items()):
        # Aggregate rather than filter, so a group none of whose cases is eligible yet
        # still shows, with n = 0 and no estimate.
        counts = (
            frame.with_columns(_in=population, _event=outcome & population)
            .group_by(keys)
            .agg(events=pl.col("_event").sum().cast(pl.Int64),
                 n=pl.col("_in").sum().cast(pl.Int64))
        )
        parts.append(counts.with_columns(measure=pl.lit(name), order=pl.lit(order)))
    counts = pl.concat(parts).sort(*keys, "order", nulls_last=True)
    return with_wilson(counts.select(*keys, "measure", "events", "n"), level)


def _timeliness_months() -> list[int]:
    return [int(m) for m in dictionary.registry()["coverage"]["timeliness_months"]]


def _eligible(months: int, extract_date: date | None, start: str) -> pl.Expr:
    """Cases whose ``months`` window has closed by the extract date (all when unknown)."""
    if extract_date is None:
        return pl.lit(True)
    return pl.col(start).dt.offset_by(f"{months}mo") <= pl.lit(extract_date)


def coverage(linked: pl.DataFrame, by: Sequence[str] = (), level: float = 0.95,
             extract_date: date | None = None) -> pl.DataFrame:
    """Coverage of the quality registry against the cancer registry, per group.

    Denominator: the cancer registry's records (of ``match_registries``); numerator: those
    matched to a registered case. Measures: ``coverage`` (at the extract date) and
    ``coverage_<k>m`` for each k of registry.yaml ``coverage.timeliness_months``: matched
    and reported within k calendar months of the registry's diagnosis date. With an
    ``extract_date``, the k-month measure only counts records whose k months have passed.
    Groups: subregistry and ``by`` (region, county, hospital, year, all of the cancer
    registry). By hospital needs the cancer registry's own hospital column: the quality
    registry's hospital would leave every unmatched record without one and every hospital
    at 100 %. Wilson score CI.
    """
    keys = _check_by(by)
    ref = linked.filter(pl.col("status") != QUALITY_REGISTRY_ONLY)
    if "hospital" in keys:
        if ref.height and ref["cancer_registry_hospital"].null_count() == ref.height:
            raise UserError("coverage by hospital needs the cancer registry's hospital (a "
                            "hospital column in the cancer-registry extract); the quality "
                            "registry's would leave its unmatched records without one")
        ref = ref.with_columns(hospital=pl.col("cancer_registry_hospital"))
    matched = pl.col("status") == BOTH
    measures = {"coverage": (matched, pl.lit(True))}
    for k in _timeliness_months():
        measures[f"coverage_{k}m"] = (
            matched & _within_months(k, "registry_diagnosis_date"),
            _eligible(k, extract_date, "diagnosis_date"),
        )
    return _shares(ref, keys, measures, level)


def discrepancies(linked: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Counts of linked records per group: ``both``, ``cancer_registry_only`` (missing from
    the quality registry) and ``quality_registry_only`` (not in the cancer registry)."""
    keys = _check_by(by)
    return (
        linked.group_by(keys).agg(
            *(pl.col("status").eq(s).sum().cast(pl.Int64).alias(s)
              for s in (BOTH, CANCER_REGISTRY_ONLY, QUALITY_REGISTRY_ONLY)))
        .sort(keys, nulls_last=True)
    )


def timeliness(cases: pl.DataFrame, by: Sequence[str] = (), level: float = 0.95,
               extract_date: date | None = None) -> pl.DataFrame:
    """Share of registered cases reported within k calendar months of diagnosis.

    One measure ``registered_within_<k>m`` per k of registry.yaml
    ``coverage.timeliness_months``; report_date <= diagnosis_date + k months counts (a
    missing report date does not). With an ``extract_date``, only cases whose k months have
    passed are counted. Wilson score CI.
    """
    keys = _check_by(by)
    _require(cases, [*keys, "diagnosis_date", "report_date"], "the registry cases")
    measures = {
        f"registered_within_{k}m": (_within_months(k), _eligible(k, extract_date,
                                                                  "diagnosis_date"))
        for k in _timeliness_months()
    }
    return _shares(cases, keys, measures, level)


def completeness(cases: pl.DataFrame, variables: Mapping[str, Sequence[str]],
                 by: Sequence[str] = (), level: float = 0.95,
                 populations: Mapping[str, pl.Expr] | None = None) -> pl.DataFrame:
    """Share of cases with a non-missing value, per subregistry, group and variable.

    ``variables`` maps a subregistry id to its key variables; subregistries not named are
    skipped. ``populations`` maps a variable asked only of some patients to the condition
    they meet (analysis.quality.indicators.completeness_populations, e.g. a treatment start
    date among treated patients): its completeness is counted among them, so that patients
    under watch and wait do not count as missing. Returns the group keys, ``variable``,
    ``events`` (non-missing), ``n`` (the cases asked), ``estimate``, ``lower``, ``upper``
    and ``method`` (Wilson score CI).
    """
    keys = _check_by(by)
    populations = populations or {}
    parts = []
    for sid, names in variables.items():
        _require(cases, [*keys, *names], "the registry cases")
        sub = cases.filter(pl.col("subregistry") == sid)
        if sub.is_empty() or not names:
            continue
        asked = {v: populations[v].fill_null(False) for v in names if v in populations}
        present = {v: (pl.col(v).is_not_null() & asked[v]) if v in asked
                   else pl.col(v).is_not_null() for v in names}
        # Prefixed, so that a key variable may also be a grouping (e.g. hospital).
        counts = sub.group_by(keys).agg(
            *((asked[v].sum() if v in asked else pl.len()).cast(pl.Int64).alias(f"n_{v}")
              for v in names),
            *(present[v].sum().cast(pl.Int64).alias(f"e_{v}") for v in names))
        parts += [counts.select(*keys, pl.lit(v).alias("variable"),
                                pl.col(f"e_{v}").alias("events"), pl.col(f"n_{v}").alias("n"))
                  for v in names]
    if not parts:
        return with_wilson(pl.DataFrame(
            schema={**{k: cases.schema[k] for k in keys}, "variable": pl.String,
                    "events": pl.Int64, "n": pl.Int64}), level)
    counts = pl.concat(parts, how="vertical_relaxed").select(*keys, "variable", "events", "n")
    return with_wilson(counts, level).sort(*keys, "variable", nulls_last=True)
