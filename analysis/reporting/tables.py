"""Table builders: protected frames in, formatted ``Table`` objects out (no statistics)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from analysis.data import dictionary as dd
from analysis.privacy import disclosure
from analysis.reporting import formatting as fmt
from analysis.reporting.analyses import NATION
from analysis.reporting.cells import (
    cell,
    ci_cell,
    funnel_units,
    hospital_keys,
    hospital_names,
    min_cases,
    region_label,
    rs_cell,
    rs_note,
    shown_rows,
    subregistry_label,
    suppressed_note,
    symbol,
)
from analysis.reporting.labels import Text
from analysis.reporting.qmd import (
    Table,
)
from analysis.reporting.run import Run
from analysis.stats import survival
from analysis.stats.survival import age_band_labels


def incidence_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str],
                    show: pl.Expr | None = None, with_nation: bool = False) -> Table:
    """New cases, crude and age-standardised rate with CI per row of `key`; with
    `with_nation`, the nation's age-standardised rate with CI of the same row beside it."""
    text, lang = run.text, run.lang
    nation = ({r[key]: r for r in frame.filter(pl.col("region") == NATION).iter_rows(named=True)}
              if with_nation else {})
    rows = []
    for r in shown_rows(frame, key, order, show).iter_rows(named=True):
        row = [
            label(r[key]),
            cell(r, "n", lambda v: fmt.number(v, 0, lang)),
            cell(r, "crude_rate", lambda v: fmt.number(v, 1, lang)),
            cell(r, "estimate", lambda v: fmt.number(v, 1, lang)),
            ci_cell(r, lang, 1),
        ]
        if with_nation:
            other = nation.get(r[key], {"lower": None})
            row += [cell(other, "estimate", lambda v: fmt.number(v, 1, lang)),
                    ci_cell(other, lang, 1)]
        rows.append(row)
    headers = [text(f"columns.{key}"), text("columns.cases"), text("columns.crude_rate"),
               text("columns.asr"), text("columns.ci")]
    if with_nation:
        headers += [text("columns.asr_nation"), text("columns.ci")]
    return Table(f"tbl-{doc_id}", text("captions.incidence_table", year=run.analyses.year),
                 headers, rows, ["l", *("r" for _ in headers[1:])], suppressed_note(text))


def target_cell(r: dict, text: Text, lang: str) -> str:
    """The target level(s) of an indicator row ("≥ 95 %", "≥ 95 % / ≥ 80 %"), or the
    visible "no target level" mark where none has been set."""
    if r["high"] is None:
        return text("levels.none")
    sign = "\u2265" if r.get("direction", "higher_is_better") == "higher_is_better" \
        else "\u2264"
    levels = [r["high"], r.get("intermediate")]
    return " / ".join(f"{sign} {fmt.percent(v, 0, lang)}" for v in levels if v is not None)


def percent_ci_cell(r: dict, lang: str) -> str:
    """A share's confidence interval in percent without the signs, "92,9–99,4" (the share
    beside it carries the %), rounded as the shares are printed; the suppression symbol
    where the release masks it."""
    if r["lower"] is None:
        return symbol() if r.get(disclosure.FLAG) else ""
    return fmt.interval(fmt.printed_percent(r["lower"]), fmt.printed_percent(r["upper"]),
                        1, lang)


def lead_time_cell(r: dict | None, lang: str) -> str:
    """Median lead time with its quartiles in whole days, "12 (8–19)"; the suppression
    symbol where the release masks the row."""
    if r is None:
        return ""
    if r.get("median") is None:
        return symbol() if r.get(disclosure.FLAG) else ""
    days = [fmt.number(r[c], 0, lang) for c in ("median", "q1", "q3")]
    return f"{days[0]} ({days[1]}\u2013{days[2]})"


def indicator_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                    order: Sequence[str], label: Callable[[str], str]) -> Table:
    """Indicators per row, judged on the judged year (Analyses.judged_year, the last
    diagnosis year that is not preliminary): share with CI, n, the target level (or "no
    target level") and the level reached; for lead times the median and quartiles in
    days; and, when the report year is preliminary, its share beside them, marked and
    never classified. ``frame``: the protected indicator rows of every year."""
    a, text, lang = run.analyses, run.text, run.lang
    judged, year = a.judged_year, a.year
    names = {i.id: i.name(lang) for i in a.indicator_list}
    lead_ids = {i.id for i in a.indicator_list if i.kind == "lead_time"}
    judged_rows = frame.filter(pl.col("year") == judged)
    latest = ({(r["indicator"], r[key]): r for r in frame.filter(
        pl.col("year") == year).iter_rows(named=True)} if a.preliminary else {})
    show_lead = bool(lead_ids & set(judged_rows["indicator"].to_list()))
    rows = []
    for r in shown_rows(judged_rows, key, order).iter_rows(named=True):
        level = (text(f"levels.{r['classification']}") if r["classification"]
                 else text("levels.few") if r["high"] is not None else "")
        row = [names.get(r["indicator"], r["indicator"]), label(r[key]),
               cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)),
               percent_ci_cell(r, lang),
               cell(r, "n", lambda v: fmt.number(v, 0, lang)), target_cell(r, text, lang),
               "" if r[disclosure.FLAG] else level]
        if show_lead:
            row.append(lead_time_cell(r, lang) if r["indicator"] in lead_ids else "")
        if a.preliminary:
            other = latest.get((r["indicator"], r[key]))
            row.append(cell(other, "estimate", lambda v: fmt.percent(v, 1, lang))
                       if other else "")
        rows.append(row)
    headers = [text("columns.indicator"), text(f"columns.{key}"),
               text("columns.estimate"), text("columns.ci"), text("columns.n"),
               text("columns.target"), text("columns.level")]
    if show_lead:
        headers.append(text("columns.lead_time"))
    if a.preliminary:
        headers.append(text("columns.preliminary", year=year))
    note = suppressed_note(text)
    if show_lead:
        note = f"{text('notes.lead_time')} {note}"
    if a.preliminary:
        note = f"{text('notes.preliminary_indicators', year=year, judged=judged)} {note}"
    return Table(f"tbl-{doc_id}", text("captions.indicators_table", year=judged),
                 headers, rows, ["l", "l", *("r" for _ in headers[2:6]), "l",
                                 *("r" for _ in headers[7:])], note)


def survival_table(run: Run, doc_id: str, frame: pl.DataFrame, key: str,
                   order: Sequence[str], label: Callable[[str], str]) -> Table:
    """Observed survival at the configured times per row of `key`."""
    text, lang = run.text, run.lang
    times = sorted(frame["time"].unique().to_list())
    wide = {}
    for r in shown_rows(frame, key, order).iter_rows(named=True):
        value = cell(r, "estimate", lambda v: fmt.percent(v, 0, lang))
        if r["estimate"] is not None and r["lower"] is not None:
            value += f" ({ci_cell(r, lang, 0, as_percent=True)})"
        if not value and (r.get("reason") or "").startswith("follow-up ends"):
            value = "·"
        wide.setdefault(r[key], {"n": cell(r, "n", lambda v: fmt.number(v, 0, lang))})
        wide[r[key]][r["time"]] = value
    rows = [[label(k), v["n"], *(v.get(t, "") for t in times)] for k, v in wide.items()]
    note = suppressed_note(text)
    if any(cell == "·" for row in rows for cell in row):
        note = f"{text('notes.no_follow_up')} {note}"
    return Table(f"tbl-{doc_id}", text("captions.survival_table"),
                 [text(f"columns.{key}"), text("columns.n"),
                  *(text("columns.time", years=fmt.number(t, 0, lang)) for t in times)],
                 rows, ["l", "r", *("r" for _ in times)], note)


def survival_groups_table(run: Run, doc_id: str, sid: str) -> Table:
    """Observed survival of a subregistry (nation) by age band at diagnosis and by sex."""
    text, a = run.text, run.analyses
    frame = run.survival_groups.filter(
        (pl.col("subregistry") == sid)
        & ~((pl.col("grouping") == "sex") & (pl.col("group") == NATION)))
    bands = age_band_labels(a.settings.survival_age_groups)
    names = {"1": text("men"), "2": text("women"), NATION: text("all_ages_sexes")}
    table = survival_table(run, doc_id, frame, "group", [*bands, "1", "2", NATION],
                           lambda g: names.get(g, g))
    table.caption = text("captions.survival_groups", first=a.survival_window[0],
                         last=a.year)
    return table


def apc_table(run: Run, doc_id: str, frame: pl.DataFrame, order: Sequence[str],
              label: Callable[[str], str]) -> Table:
    """Annual percent change of the incidence per region with CI (log-linear Poisson)."""
    text, lang, a = run.text, run.lang, run.analyses
    rows = [[label(r["region"]), cell(r, "n", lambda v: fmt.number(v, 0, lang)),
             cell(r, "estimate", lambda v: fmt.number(v, 1, lang)), ci_cell(r, lang, 1)]
            for r in shown_rows(frame, "region", order).iter_rows(named=True)]
    return Table(f"tbl-{doc_id}", f"{text('columns.apc')}, {a.first_year}\u2013{a.year}",
                 [text("columns.region"), text("columns.cases"), text("columns.apc"),
                  text("columns.ci")], rows, ["l", "r", "r", "r"], suppressed_note(text))


def hospital_table(run: Run, doc_id: str, sids: Sequence[str], region: str | None
                   ) -> Table | None:
    """The hospitals of the funnel plots' indicator (of a region, or all): subregistry,
    the indicator, hospital, region, n, share and, for those drawn, the position against
    the limits drawn (flag_od of analysis.stats.funnel: widened for overdispersion where
    phi > 1), so that a point on the plot can be found and followed up. In a regional
    report each hospital carries the number printed beside its points. A hospital the
    release masks is listed with the symbol, not left out."""
    a, text, lang = run.analyses, run.text, run.lang
    if run.hospitals.is_empty():
        return None
    drawn = set(funnel_units(run, sids).select("subregistry", "hospital").rows())
    units = run.hospitals.filter(pl.col("subregistry").is_in(list(sids)))
    if region is not None:
        units = units.filter(pl.col("region") == region)
    if units.is_empty():
        return None
    names = hospital_names()
    indicator = {i.id: i.name(lang) for i in a.indicator_list}
    keys = hospital_keys(run, sids, region) if region else {}
    flags = text.section("notes.funnel_flags")
    order = {s: i for i, s in enumerate(sids)}
    rows = [[*([str(keys[r["hospital"]])] if keys else []),
             subregistry_label(r["subregistry"], lang),
             indicator.get(r["indicator"], r["indicator"]),
             names.get(r["hospital"], r["hospital"]),
             region_label(r["region"], text) if r["region"] else "",
             cell(r, "n", lambda v: fmt.number(v, 0, lang)),
             cell(r, "estimate", lambda v: fmt.percent(v, 1, lang)),
             flags.get(r["flag_od"], "") if (r["subregistry"], r["hospital"]) in drawn
             else ""]
            for r in sorted(units.iter_rows(named=True),
                            key=lambda r: (order[r["subregistry"]], r["region"] or "",
                                           names.get(r["hospital"], r["hospital"])))]
    headers = [*([text("comparison.number")] if keys else []), text("columns.subregistry"),
               text("columns.indicator"), text("columns.hospital"), text("columns.region"),
               text("columns.n"), text("columns.estimate"), text("columns.position")]
    return Table(f"tbl-{doc_id}", text("captions.funnel_table", year=a.year), headers,
                 rows, [*(["r"] if keys else []), "l", "l", "l", "l", "r", "r", "l"],
                 text("notes.funnel_table") + (f" {suppressed_note(text)}" if units[
                     disclosure.FLAG].is_not_null().any() else ""))


def relative_table(run: Run, doc_id: str, frame: pl.DataFrame, keys: Sequence[str],
                   labels: Sequence[Callable[[str], str]], orders: Sequence[Sequence[str]],
                   caption: str, headers: Sequence[str], explain: bool = True) -> Table:
    """Net survival at the report's times (reports.net_survival_times), one row per
    combination of `keys` (in `orders`): n, the estimates with CI, and a note (not
    age-standardised, or why no estimate).
    """
    text, lang, cfg = run.text, run.lang, run.analyses.settings
    cells: dict[tuple, dict[float, dict]] = {}
    for r in frame.iter_rows(named=True):
        cells.setdefault(tuple(r[k] for k in keys), {})[r["time"]] = r
    rank = [{v: i for i, v in enumerate(o)} for o in orders]
    rows = []
    for key in sorted((k for k in cells if all(v in rk for v, rk in zip(k, rank,
                                                                         strict=True))),
                      key=lambda k: tuple(rk[v] for v, rk in zip(k, rank, strict=True))):
        by_time = cells[key]
        first = by_time[min(by_time)]
        notes = list(dict.fromkeys(n for n in (rs_note(by_time[t], text)
                                                for t in sorted(by_time)) if n))
        rows.append([*(lab(v) for lab, v in zip(labels, key, strict=True)),
                     cell(first, "n", lambda v: fmt.number(v, 0, lang)),
                     *(rs_cell(by_time.get(t), lang) for t in cfg.net_survival_times),
                     "; ".join(notes)])
    note = (text("relative.note", min_age_group=survival.settings().min_age_group_cases,
                 min_cases=min_cases()) + " " if explain else "") + suppressed_note(text)
    times = cfg.net_survival_times
    return Table(f"tbl-{doc_id}", caption,
                 [*headers, text("columns.n"),
                  *(text("columns.time", years=fmt.number(t, 0, lang)) for t in times),
                  text("relative.note_column")],
                 rows, [*("l" for _ in headers), "r", *("r" for _ in times), "l"], note)


def validation_table(run: Run, doc_id: str) -> Table:
    """Per subregistry file: rows read, accepted, rejected and the rules broken most
    often (counts of rows only: no identity number, no value from the rows)."""
    text, lang = run.text, run.lang
    sids = set(dd.subregistry_ids()) | {"cases"}
    rules = run.rules
    names = {}
    for sid in dd.subregistry_ids():
        for f in dd.fields(sid):
            names.setdefault(f.name, f.label(lang))
    names["person_id"] = text("quality.identity_column")  # never the column's own name
    rows = []
    for f in run.files.filter(pl.col("dataset").is_in(list(sids))).iter_rows(named=True):
        broken = (rules.filter(pl.col("file") == f["file"]).sort(
            ["n", "rule", "column"], descending=[True, False, False]).head(3)
            if rules.height else rules)
        top = "; ".join(
            f"{names.get(r['column'], r['column'])}: "
            f"{text.section('quality.rules').get(r['rule'], r['rule'])} "
            f"({fmt.number(r['n'], 0, lang)})" for r in broken.iter_rows(named=True))
        rows.append([f["file"], fmt.number(f["read"], 0, lang),
                     fmt.number(f["accepted"], 0, lang), fmt.number(f["rejected"], 0, lang),
                     top or text("quality.none")])
    return Table(f"tbl-{doc_id}", text("quality.caption"),
                 [text("columns.file"), text("columns.read"), text("columns.accepted"),
                  text("columns.rejected"), text("quality.top_rules")], rows,
                 ["l", "r", "r", "r", "l"], text("quality.note"))


_LEVEL_RANK = {"below": 0, "intermediate": 1, "high": 2}


def _crossing(previous: str | None, current: str | None, text: Text) -> str:
    """The target level crossed between the years (the analysis' classification, so the
    indicator's direction is respected): "reached high target", "fell below ..."."""
    if previous is None or current is None or previous == current:
        return ""
    if _LEVEL_RANK[current] > _LEVEL_RANK[previous]:
        return text("summary.crossed_up", level=text(f"summary.{current}"))
    return text("summary.crossed_down", level=text(f"summary.{previous}"))


def moved_table(run: Run, doc_id: str) -> Table | None:
    """National indicators of the judged year (the last one not preliminary) against the
    year before: the change in percentage points, largest first, and whether a target
    level was crossed. A preliminary year is never compared."""
    a, text, lang = run.analyses, run.text, run.lang
    names = {i.id: i.name(lang) for i in a.indicator_list}
    judged = a.judged_year  # preliminary years are never counted as a change
    nation = run.indicators.filter((pl.col("region") == NATION) & ~pl.col("preliminary"))
    now = nation.filter(pl.col("year") == judged)
    before = nation.filter(pl.col("year") == judged - 1).select(
        "indicator", "subregistry", pl.col("estimate").alias("previous"),
        pl.col("classification").alias("previous_level"))
    both = now.join(before, on=["indicator", "subregistry"], how="inner").filter(
        pl.col("estimate").is_not_null() & pl.col("previous").is_not_null()).with_columns(
        # The change between the shares as printed (one decimal), so the columns agree.
        pl.struct("estimate", "previous").map_elements(
            lambda r: round(fmt.printed_percent(r["estimate"])
                            - fmt.printed_percent(r["previous"]), 1),
            return_dtype=pl.Float64).alias("change"))
    if both.is_empty():
        return None
    sorted_rows = both.sort([pl.col("change").abs(), "indicator", "subregistry"],
                            descending=[True, False, False])
    rows = []
    for i, r in enumerate(sorted_rows.iter_rows(named=True)):
        crossed = _crossing(r["previous_level"], r["classification"], text)
        if i >= a.settings.indicators_moved_rows and not crossed:
            continue
        change = fmt.number(r["change"], 1, lang)
        if r["change"] > 0 and change.strip("0,.") != "":
            change = "+" + change
        rows.append([names.get(r["indicator"], r["indicator"]),
                     subregistry_label(r["subregistry"], lang),
                     fmt.percent(r["previous"], 1, lang), fmt.percent(r["estimate"], 1, lang),
                     change, crossed])
    return Table(f"tbl-{doc_id}", text("captions.moved_table", previous=judged - 1,
                                       year=judged),
                 [text("columns.indicator"), text("columns.subregistry"),
                  str(judged - 1), str(judged), text("summary.change"),
                  text("summary.crossed")], rows, ["l", "l", "r", "r", "r", "l"])


def key_numbers_table(run: Run, doc_id: str, sids: Sequence[str]) -> Table:
    """The year's key numbers per subregistry, nationally: new cases, age-standardised
    incidence with CI, and 5-year net survival (period approach)."""
    a, text, lang = run.analyses, run.text, run.lang
    inc = run.asr.filter((pl.col("region") == NATION) & (pl.col("year") == a.year))
    rel = (run.relative.filter((pl.col("region") == NATION) & (pl.col("approach") == "period")
                               & (pl.col("time") == max(a.settings.net_survival_times)))
           if run.relative.height else pl.DataFrame())
    rows = []
    for sid in sids:
        i = inc.filter(pl.col("subregistry") == sid)
        ir = i.row(0, named=True) if i.height else None
        rr = rel.filter(pl.col("subregistry") == sid) if rel.height else rel
        rrow = rr.row(0, named=True) if rr.height else None
        note = rs_note(rrow, text) if rrow else ""
        rows.append([
            subregistry_label(sid, lang),
            cell(ir, "n", lambda v: fmt.number(v, 0, lang)) if ir else "",
            cell(ir, "estimate", lambda v: fmt.number(v, 1, lang)) if ir else "",
            ci_cell(ir, lang, 1) if ir else "",
            rs_cell(rrow, lang) + (f" ({note})" if note else ""),
        ])
    first, last = a.period
    return Table(f"tbl-{doc_id}", text("summary.key_caption", year=a.year),
                 [text("columns.subregistry"), text("columns.cases"), text("columns.asr"),
                  text("columns.ci"),
                  f"{text('summary.survival_column')} ({first}–{last})"],
                 rows, ["l", "r", "r", "r", "r"], suppressed_note(text))
