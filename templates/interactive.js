// The interactive report's page logic (issue 16): controls, views, sortable tables and
// the CSV download. It only selects and arranges the embedded records (the run's
// protected release); it computes no statistic and loads nothing from outside the file.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("bcr-data").textContent);
  const M = D.meta, T = D.text, NATION = M.nation;
  const byId = (list) => Object.fromEntries(list.map((x) => [x.id, x]));
  const REG = byId(D.regions), HOS = byId(D.hospitals), CTY = byId(D.counties);
  const IND = byId(D.indicators);
  const ORDER = Object.fromEntries(D.regions.map((r, i) => [r.id, i]));  // nation last
  const inOrder = (a, b) => ORDER[a.region] - ORDER[b.region];
  const COLORS = {high: "#1a9641", intermediate: "#f2c318", below: "#d7191c",
                  few: "#bdbdbd", none: "#9e9e9e", masked: "#e0e0e0", preliminary: "#c6dbef",
                  pooled: "#f3f3f3"};
  const VIEWS = ["comparison", "table", "trend", "map", "description", "incidence", "survival"];
  // focus: the region whose counties the county level shows (the highlighted unit's).
  const state = {subregistry: null, indicator: null, level: "region", year: null,
                 unit: M.area, focus: M.area, view: "comparison", sort: null};
  const $ = (id) => document.getElementById(id);

  function unitName(level, id) {
    if (level === "hospital") return (HOS[id] || {name: id}).name;
    if (level === "county") return (CTY[id] || {name: id}).name;
    return (REG[id] || {name: id}).name;
  }
  function regionOf(level, id) {
    if (level === "hospital") return (HOS[id] || {}).region;
    return level === "county" ? (CTY[id] || {}).region : id;
  }
  // The counties are published for the judged year only, whatever year is chosen.
  const county = () => state.level === "county";
  const shownYear = () => (county() ? M.judged_year : state.year);
  function yearLabel(r) {
    return r.preliminary ? `${r.year} (${T.preliminary})` : String(r.year);
  }
  function levelText(r) {
    if (r.masked) return M.symbol;
    if (r.preliminary && r.level === "region") return T.preliminary;
    if (r.level === "hospital") return r.position ? T.positions[r.position] : "";
    const ind = IND[r.indicator];
    if (ind && ind.high === null) return T.levels_target.none;
    return r.classification ? T.levels_target[r.classification] : T.levels_target.few;
  }
  function levelKey(r) {
    if (r.masked) return "masked";
    if (r.preliminary) return "preliminary";
    const ind = IND[r.indicator];
    if (ind && ind.high === null) return "none";
    return r.classification || "few";
  }

  // --- what the controls may show -------------------------------------------------------
  const rowsOf = (pred) => D.indicator_rows.filter(pred);
  function indicatorsOf(sid) {
    const ids = new Set(rowsOf((r) => r.subregistry === sid).map((r) => r.indicator));
    return D.indicators.filter((i) => ids.has(i.id));
  }
  function current(extra) {
    return rowsOf((r) => r.subregistry === state.subregistry && r.indicator === state.indicator
                  && (!extra || extra(r)));
  }
  function levelsNow() {
    return ["region", "county", "hospital"].filter((l) => current((r) => r.level === l).length);
  }
  function yearsNow() {
    const level = county() ? "region" : state.level;  // a county view says which year
    return [...new Set(current((r) => r.level === level).map((r) => r.year))].sort();
  }
  function unitsNow() {
    const year = shownYear();
    const ids = [...new Set(current((r) => r.level === state.level
      && (r.year === year || year === M.window)).map((r) => r.unit))];
    const order = {hospital: D.hospitals, county: D.counties, region: D.regions}[state.level]
      .map((u) => u.id);
    return order.filter((id) => ids.includes(id));
  }

  function fill(select, options, value) {
    select.replaceChildren(...options.map(([v, label]) => {
      const o = document.createElement("option");
      o.value = v; o.textContent = label; o.selected = String(v) === String(value);
      return o;
    }));
  }
  function choose(value, allowed, fallback) {
    return allowed.map(String).includes(String(value)) ? value : fallback;
  }
  function syncControls() {
    const sids = D.subregistries.map((s) => s.id);
    state.subregistry = choose(state.subregistry, sids, sids[0]);
    const inds = indicatorsOf(state.subregistry).map((i) => i.id);
    state.indicator = choose(state.indicator, inds, inds[0]);
    const levels = levelsNow();
    state.level = choose(state.level, levels, levels[0]);
    const years = [...yearsNow(), M.window];  // the single years, then the pooled window
    const year = choose(state.year, years, years.includes(M.judged_year)
      ? M.judged_year : years[0]);
    state.year = year === M.window ? M.window : Number(year);
    const units = unitsNow();
    // The focus region's first unit with a published cell (the first at all else).
    const mine = units.filter((u) => regionOf(state.level, u) === state.focus);
    const open = new Set(current((r) => r.level === state.level && !r.masked
                                 && r.year === shownYear()).map((r) => r.unit));
    const home = state.level === "region" ? state.focus
      : mine.find((u) => open.has(u)) || mine[0];
    state.unit = choose(state.unit, units, home || units[0]);
    state.focus = regionOf(state.level, state.unit) || state.focus;
    fill($("c-subregistry"), D.subregistries.map((s) => [s.id, s.name]), state.subregistry);
    fill($("c-indicator"), indicatorsOf(state.subregistry).map((i) => [i.id, i.name]),
         state.indicator);
    fill($("c-level"), levels.map((l) => [l, T.levels[l]]), state.level);
    fill($("c-year"), years.map((y) => [y, y === M.window ? `${y} (${T.pooled})`
      : y > M.judged_year ? `${y} (${T.preliminary})` : String(y)]), state.year);
    fill($("c-unit"), units.map((u) => [u, unitName(state.level, u)]), state.unit);
  }

  // --- charts (Vega-Lite) ---------------------------------------------------------------
  const LOCALE = M.lang === "sv"
    ? {decimal: ",", thousands: "\u00a0", grouping: [3], currency: ["", "\u00a0kr"],
       percent: "\u00a0%"}
    : {decimal: ".", thousands: ",", grouping: [3], currency: ["£", ""]};
  const CONFIG = {locale: {number: LOCALE}, font: "system-ui, sans-serif",
                  view: {stroke: null}, axis: {labelFontSize: 11, titleFontSize: 12}};
  function tooltip(first) {
    return [{field: "name", title: first}, {field: "value_text", title: T.columns.value},
            {field: "ci_text", title: T.columns.ci}, {field: "n_text", title: T.columns.n}];
  }
  // Hospitals have no interval of their own: their position in the funnel plot instead.
  function unitTooltip() {
    if (state.level !== "hospital") return tooltip(T.levels[state.level]);
    return [{field: "name", title: T.levels.hospital},
            {field: "value_text", title: T.columns.value},
            {field: "n_text", title: T.columns.n},
            {field: "level_text", title: T.columns.position}];
  }
  function bands(ind) {
    if (!ind || ind.high === null) return [];
    const h = ind.high, i = ind.intermediate === null ? h : ind.intermediate;
    const up = ind.direction === "higher_is_better";
    const out = up ? [{from: h, to: 1, level: "high"}, {from: i, to: h, level: "intermediate"},
                      {from: 0, to: i, level: "below"}]
      : [{from: 0, to: h, level: "high"}, {from: h, to: i, level: "intermediate"},
         {from: i, to: 1, level: "below"}];
    return out.filter((b) => b.to > b.from)
      .map((b) => ({...b, label: T.levels_target[b.level]}));
  }
  const levelScale = {domain: Object.keys(COLORS), range: Object.values(COLORS)};

  // The axis starts below the lowest interval and target, at a multiple of 10 %.
  function floor(rows, ind) {
    const low = [...rows.map((r) => r.lower ?? r.estimate).filter((v) => v !== null),
                 ...(ind && ind.high !== null ? [ind.high, ind.intermediate ?? ind.high] : [])];
    return Math.max(0, Math.floor(Math.min(...low, 1) * 10 - 0.5) / 10);
  }
  function comparisonSpec(rows, ind) {
    const order = rows.map((r) => r.name);
    const scale = {domain: [floor(rows, ind), 1]};  // every layer on the same axis
    const nation = rows.find((r) => r.unit === NATION)
      || current((r) => r.level === "region" && r.unit === NATION && r.year === state.year)[0];
    const layers = [];
    const b = bands(ind);
    if (b.length) {
      layers.push({data: {values: b}, mark: {type: "rect", opacity: 0.15, clip: true},
        encoding: {x: {field: "from", type: "quantitative", scale}, x2: {field: "to"},
                   color: {field: "level", type: "nominal", scale: levelScale, legend: null},
                   tooltip: [{field: "label", title: T.columns.level}]}});
    }
    if (nation && !nation.masked && state.level === "hospital") {  // the funnels' centre
      const at = {x: {field: "x", type: "quantitative", scale}};
      layers.push({data: {values: [{x: nation.estimate, label: REG[NATION].name}]}, layer: [
        {mark: {type: "rule", strokeDash: [4, 3], color: "#555"}, encoding: at},
        {mark: {type: "text", y: -6, color: "#555"}, encoding: {...at,
          text: {field: "label"}}}]});
    }
    // The highlighted unit's label in bold and its colour, also when its cell is masked.
    const mine = `datum.value === ${JSON.stringify(unitName(state.level, state.unit))}`;
    const y = {field: "name", type: "nominal", sort: order, title: null, axis: {labelLimit: 240,
      labelFontWeight: {condition: {test: mine, value: "bold"}, value: "normal"},
      labelColor: {condition: {test: mine, value: "#d95f02"}, value: "#222"}}};
    const x = {field: "estimate", type: "quantitative", title: T.columns.value, scale,
               axis: {format: ".0%"}};
    const colour = {field: "role", type: "nominal", legend: null,
                    scale: {domain: ["highlight", "nation", "reference", "other"],
                            range: ["#d95f02", "#252525", "#6a51a3", "#1f78b4"]}};
    layers.push({data: {name: "rows"}, layer: [
      {mark: {type: "rule"}, encoding: {y, x: {...x, field: "lower"}, x2: {field: "upper"},
        color: colour}},
      {mark: {type: "point", filled: true, size: 90},
        encoding: {y, x, color: colour, shape: {field: "role", type: "nominal", legend: null,
          scale: {domain: ["highlight", "nation", "reference", "other"],
                  range: ["circle", "diamond", "diamond", "circle"]}},
          tooltip: unitTooltip()}},
      {transform: [{filter: "datum.masked"}], mark: {type: "text", align: "left", dx: 4},
        encoding: {y, x: {datum: scale.domain[0], type: "quantitative", scale}, text: {field: "value_text"},
          tooltip: unitTooltip()}},
    ]});
    return {width: 520, height: Math.max(160, 22 * rows.length), config: CONFIG,
            datasets: {rows}, layer: layers, resolve: {scale: {color: "independent"}}};
  }

  function trendSpec(rows, ind) {
    const layers = [], scale = {domain: [floor(rows, ind), 1]};
    if (ind && ind.high !== null) {
      const targets = [{v: ind.high, label: T.levels_target.high}];
      if (ind.intermediate !== null) {
        targets.push({v: ind.intermediate, label: T.levels_target.intermediate});
      }
      layers.push({data: {values: targets}, layer: [
        {mark: {type: "rule", strokeDash: [6, 4], color: "#1a9641"},
         encoding: {y: {field: "v", type: "quantitative", scale}}},
        {mark: {type: "text", align: "right", dy: -6, color: "#1a9641"},
         encoding: {y: {field: "v", type: "quantitative", scale}, text: {field: "label"},
                    x: {value: 500}}}]});
    }
    const x = {field: "year_label", type: "ordinal", title: T.columns.year,
               sort: rows.map((r) => r.year_label),
               axis: {labelAngle: 0, labelExpr: "split(datum.label, ' ')"}};  // 2 lines
    const y = {field: "estimate", type: "quantitative", title: T.columns.value, scale,
               axis: {format: ".0%"}};
    const colour = {field: "name", type: "nominal", title: null,
                    legend: {orient: "bottom"}};
    layers.push({data: {name: "rows"}, layer: [
      {mark: {type: "line", invalid: "break-paths-show-domains"},
       encoding: {x, y, color: colour}},
      {mark: {type: "rule"}, encoding: {x, y: {...y, field: "lower"}, y2: {field: "upper"},
        color: colour}},
      {mark: {type: "point", size: 80}, encoding: {x, y, color: colour,
        fill: {condition: {test: "datum.preliminary", value: "white"}, field: "name",
               type: "nominal", legend: null},
        tooltip: [{field: "year_label", title: T.columns.year}, ...tooltip(T.columns.unit)]}},
    ]});
    return {width: 520, height: 300, config: CONFIG, datasets: {rows}, layer: layers,
            resolve: {scale: {color: "independent"}}};
  }

  function mapSpec(rows) {
    return {width: 360, height: 420, padding: 8, config: CONFIG, datasets: {rows},
      data: {name: "rows"},
      encoding: {x: {field: "col", type: "ordinal", axis: null},
                 y: {field: "row", type: "ordinal", axis: null}},
      layer: [
        {mark: {type: "rect", cornerRadius: 3, stroke: "white", strokeWidth: 2},
         encoding: {color: {field: "level", type: "nominal", scale: levelScale,
                            title: T.columns.level, legend: {orient: "right",
                            labelExpr: `${JSON.stringify(T.levels_target)}[datum.label] || `
                              + `${JSON.stringify({masked: `${M.symbol} ${M.masked_label}`,
                                 preliminary: T.preliminary, pooled: T.pooled})}`
                              + "[datum.label]"}},
                    strokeWidth: {condition: {test: "datum.highlight", value: 4}, value: 1},
                    stroke: {condition: {test: "datum.highlight", value: "#111"},
                             value: "white"},
                    tooltip: [{field: "county_name", title: T.columns.county},
                              {field: "name", title: T.columns.region},
                              {field: "value_text", title: T.columns.value},
                              {field: "ci_text", title: T.columns.ci},
                              {field: "n_text", title: T.columns.n},
                              {field: "level_text", title: T.columns.level},
                              {field: "cases_text", title: `${T.columns.cases} ${M.window}`}]}},
        {mark: {type: "text", fontSize: 9, limit: 62},
         encoding: {text: {field: "short"}}},
        {mark: {type: "text", fontSize: 10, fontWeight: "bold", dy: 12},
         encoding: {text: {field: "count"}}},
      ]};
  }

  function pointsSpec(rows, title, format, facet) {
    const y = {field: "name", type: "nominal", sort: D.regions.map((r) => r.name), title: null};
    const x = {field: "estimate", type: "quantitative", title, axis: {format},
               scale: {zero: false}};
    const colour = {field: "role", type: "nominal", legend: null,
                    scale: {domain: ["highlight", "nation", "other"],
                            range: ["#d95f02", "#252525", "#1f78b4"]}};
    const spec = {layer: [
      {mark: "rule", encoding: {y, x: {...x, field: "lower"}, x2: {field: "upper"},
                                color: colour}},
      {mark: {type: "point", filled: true, size: 80},
       encoding: {y, x, color: colour, tooltip: tooltip(T.columns.region)}}],
      width: 260, height: 200};
    return {config: CONFIG, datasets: {rows}, data: {name: "rows"},
            facet: {column: {field: facet, type: "ordinal", title: T.columns.time}}, spec};
  }

  function incidenceSpec(rows) {
    const x = {field: "year", type: "ordinal", title: T.columns.year, axis: {labelAngle: 0}};
    const y = {field: "estimate", type: "quantitative", title: T.columns.rate};
    const colour = {field: "name", type: "nominal", title: null, legend: {orient: "bottom"}};
    return {width: 520, height: 300, config: CONFIG, datasets: {rows}, data: {name: "rows"},
      layer: [
        {mark: {type: "area", opacity: 0.15, invalid: "break-paths-show-domains"},
         encoding: {x, y: {...y, field: "lower"}, y2: {field: "upper"}, color: colour}},
        {mark: {type: "line", point: true, invalid: "break-paths-show-domains"},
         encoding: {x, y, color: colour,
                    tooltip: [{field: "year", title: T.columns.year},
                              ...tooltip(T.columns.region)]}}]};
  }

  // --- views: a chart (or text) and a table ----------------------------------------------
  const role = (id) => (id === state.unit ? "highlight" : id === NATION ? "nation" : "other");
  // The county level: the focus region's counties, with the region and the nation beside.
  function indicatorRows() {
    const year = shownYear();
    const rows = current((r) => r.year === year && (county()
      ? (r.level === "county" && r.region === state.focus)
        || (r.level === "region" && (r.unit === state.focus || r.unit === NATION))
      : r.level === state.level));
    return rows.map((r) => ({...r, name: unitName(r.level, r.unit),
                             role: county() && r.level === "region" && r.unit !== NATION
                               ? "reference" : role(r.unit), level_text: levelText(r)}));
  }
  function indicatorTable(rows, withYear, level = state.level) {
    if (!rows.length) return null;
    // The county level's rows hold its region and the nation too: "unit" heads them.
    const header = [...(withYear ? [T.columns.year] : []),
                    level === "county" ? T.columns.unit : T.levels[level],
                    T.columns.value, T.columns.ci, T.columns.n,
                    level === "hospital" ? T.columns.position : T.columns.level];
    return {header, rows: rows.map((r) => ({
      unit: r.unit, highlight: r.role === "highlight",
      cells: [...(withYear ? [r.year_label] : []), r.name, r.value_text, r.ci_text, r.n_text,
              levelText(r)],
      sort: [...(withYear ? [r.year] : []), r.name, r.estimate, r.lower, r.n, levelText(r)],
    }))};
  }
  function byEstimate(rows) {
    return rows.slice().sort((a, b) => (a.masked - b.masked)
      || ((b.estimate ?? -1) - (a.estimate ?? -1)) || a.name.localeCompare(b.name));
  }

  const view = {
    comparison() {
      const ind = IND[state.indicator], rows = byEstimate(indicatorRows());
      return {spec: comparisonSpec(rows, ind), table: indicatorTable(rows, false),
              note: notes(rows)};
    },
    table() {
      const rows = byEstimate(indicatorRows());
      return {spec: null, table: indicatorTable(rows, false), note: notes(rows)};
    },
    trend() {
      const ind = IND[state.indicator];
      const area = regionOf(state.level, state.unit) || M.area;
      const rows = current((r) => r.level === "region" && (r.unit === area || r.unit === NATION))
        .map((r) => ({...r, name: unitName("region", r.unit),
                      role: r.unit === area ? "highlight" : role(r.unit),
                      year_label: yearLabel(r)}))
        .sort((a, b) => a.year - b.year || (a.unit === NATION) - (b.unit === NATION));
      return {spec: trendSpec(rows, ind), table: indicatorTable(rows, true, "region"),
              note: notes(rows, "region")};
    },
    // Each tile is coloured by its own cell at the county level, by its region's else.
    map() {
      const pooled = state.year === M.window, own = county() && !pooled;
      const shown = current((r) => r.level === (own ? "county" : "region")
                                   && r.year === shownYear());
      const of = Object.fromEntries(shown.map((r) => [r.unit, r]));
      const cases = Object.fromEntries(D.county_cases
        .filter((c) => c.subregistry === state.subregistry).map((c) => [c.county, c]));
      const rows = D.counties.map((c) => {
        // The pooled window has no indicator cells: the tiles show the new cases only.
        const r = pooled ? {value_text: "", ci_text: "", n_text: ""}
          : of[own ? c.id : c.region] || {masked: true, value_text: M.symbol,
                                          ci_text: M.symbol, n_text: M.symbol};
        return {...c, county_name: c.name, short: c.name.replace(/s? län$/, ""),
                name: unitName("region", c.region), value_text: r.value_text,
                ci_text: r.ci_text, n_text: r.n_text, level: pooled ? "pooled" : levelKey(r),
                level_text: pooled ? "" : levelText(r), estimate: r.estimate,
                highlight: county() ? c.id === state.unit : c.region === state.focus,
                cases_text: (cases[c.id] || {n_text: M.symbol}).n_text,
                count: pooled ? (cases[c.id] || {n_text: M.symbol}).n_text : ""};
      });
      const table = {header: [T.columns.county, T.columns.region, T.columns.value,
                              T.columns.ci, T.columns.n, T.columns.level,
                              `${T.columns.cases} ${M.window}`],
        rows: rows.map((r) => ({unit: r.region, highlight: r.highlight,
          cells: [r.county_name, r.name, r.value_text, r.ci_text, r.n_text, r.level_text,
                  r.cases_text],
          sort: [r.county_name, r.name, r.estimate, null, null, r.level_text,
                 (cases[r.id] || {}).n]}))};
      return {spec: mapSpec(rows), table, note: [
        fmt(own ? T.map_note_county : T.map_note, {period: M.window}),
        ...notes(shown, pooled ? "region" : state.level)]};
    },
    description() {
      const ind = IND[state.indicator];
      return {spec: null, table: null, html: ind ? describe(ind) : escape(T.no_data), note: []};
    },
    incidence() {
      const area = regionOf(state.level, state.unit) || M.area;
      if (state.year === M.window) return pooledIncidence(area);
      const rows = D.incidence.filter((r) => r.subregistry === state.subregistry
                                       && (r.region === area || r.region === NATION))
        .map((r) => ({...r, name: unitName("region", r.region), role: role(r.region)}))
        .sort((a, b) => inOrder(a, b) || a.year - b.year);
      const table = {header: [T.columns.year, T.columns.region, T.columns.rate,
                              T.columns.ci, T.columns.cases],
        rows: rows.map((r) => ({unit: r.region, highlight: r.role === "highlight",
          cells: [String(r.year), r.name, r.value_text, r.ci_text, r.n_text],
          sort: [r.year, r.name, r.estimate, r.lower, r.n]}))};
      return {spec: incidenceSpec(rows), table,
              note: [fmt(T.incidence_note, {region: unitName("region", area)}),
                     ...maskNote(rows)]};
    },
    survival() {
      const home = regionOf(state.level, state.unit);
      const rows = D.survival.filter((r) => r.subregistry === state.subregistry)
        .map((r) => ({...r, name: unitName("region", r.region),
                      role: r.region === home ? "highlight" : r.region === NATION
                        ? "nation" : "other"}))
        .sort((a, b) => inOrder(a, b) || a.time - b.time);
      const table = {header: [T.columns.region, T.columns.time, T.columns.survival,
                              T.columns.ci, T.columns.n],
        rows: rows.map((r) => ({unit: r.region, highlight: r.role === "highlight",
          cells: [r.name, String(r.time), r.value_text, r.ci_text, r.n_text],
          sort: [r.name, r.time, r.estimate, r.lower, r.n]}))};
      return {spec: rows.length ? pointsSpec(rows, T.columns.survival, ".0%", "time") : null,
              table, note: [fmt(T.survival_note, {first: M.period[0], last: M.period[1]}),
                            ...maskNote(rows)]};
    },
  };

  // The regions' SIR over the pooled window (the nation is the reference, SIR 1).
  function pooledIncidence(area) {
    const rows = D.sir.filter((r) => r.subregistry === state.subregistry)
      .map((r) => ({...r, name: unitName("region", r.region),
                    role: r.region === area ? "highlight" : "other"}))
      .sort(inOrder);
    const y = {field: "name", type: "nominal", sort: rows.map((r) => r.name), title: null};
    const x = {field: "estimate", type: "quantitative", title: `${T.columns.sir} ${M.window}`,
               scale: {zero: false}};
    const colour = {field: "role", type: "nominal", legend: null,
                    scale: {domain: ["highlight", "other"], range: ["#d95f02", "#1f78b4"]}};
    const spec = {width: 520, height: 30 * Math.max(rows.length, 3), config: CONFIG,
      datasets: {rows}, layer: [
        {data: {values: [{x: 1}]}, mark: {type: "rule", strokeDash: [4, 3], color: "#555"},
         encoding: {x: {field: "x", type: "quantitative"}}},
        {data: {name: "rows"}, mark: "rule", encoding: {y, x: {...x, field: "lower"},
                                                         x2: {field: "upper"}, color: colour}},
        {data: {name: "rows"}, mark: {type: "point", filled: true, size: 90},
         encoding: {y, x, color: colour, tooltip: tooltip(T.columns.region)}}]};
    const table = {header: [T.columns.region, T.columns.sir, T.columns.ci, T.columns.cases],
      rows: rows.map((r) => ({unit: r.region, highlight: r.role === "highlight",
        cells: [r.name, r.value_text, r.ci_text, r.n_text],
        sort: [r.name, r.estimate, r.lower, r.n]}))};
    return {spec, table, note: [fmt(T.sir_note, {window: M.window}), ...maskNote(rows)]};
  }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  }
  function maskNote(rows) {
    return rows.some((r) => r.masked) ? [T.suppressed] : [];
  }
  // What the shown rows need said: their level's limits, a preliminary year, the symbol.
  function notes(rows, level = state.level) {
    const out = [];
    if (level === "hospital") out.push(fmt(T.hospital_note, {year: M.year}));
    if (level === "county") {
      out.push(fmt(T.county_note, {year: M.judged_year}));
      if (state.year !== M.judged_year) {
        out.push(fmt(T.county_year_note, {chosen: state.year, year: M.judged_year}));
      }
    } else if (state.year === M.window) {
      out.push(fmt(T.window_note, {window: M.window}));
    }
    const early = [...new Set(rows.filter((r) => r.preliminary).map((r) => r.year))];
    if (early.length) out.push(fmt(T.preliminary_note, {year: early.join(", ")}));
    return [...out, ...maskNote(rows)];
  }
  function describe(ind) {
    const p = (text) => `<p>${escape(text)}</p>`;
    const reading = [T.reading[ind.direction]];
    if (ind.high === null) {
      reading.push(T.reading.no_target);
    } else {
      reading.push(fmt(T.reading.targets, {high: ind.high_text, intermediate:
        ind.intermediate === null ? "" : fmt(T.reading.intermediate,
                                             {value: ind.intermediate_text})}));
    }
    reading.push(fmt(T.reading.min_n, {min_n: ind.min_n}));
    const kind = fmt(T.technical.kinds[ind.kind], {days: ind.target_days, months: ind.months});
    const technical = [fmt(T.technical.kind, {kind}), T.technical.ci];
    if (ind.source) technical.push(fmt(T.technical.source, {source: ind.source}));
    return `<h3>${escape(T.technical.heading_about)}</h3>${p(ind.description)}`
      + `<h3>${escape(T.technical.heading_reading)}</h3>${reading.map(p).join("")}`
      + `<h3>${escape(T.technical.heading_technical)}</h3>${technical.map(p).join("")}`;
  }
  function escape(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  // --- the table, sorting and the CSV ---------------------------------------------------
  let shown = null;
  function sorted(table) {
    if (!state.sort) return table.rows;
    const {col, dir} = state.sort;
    return table.rows.slice().sort((a, b) => {
      const x = a.sort[col], y = b.sort[col];
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y), M.lang)) * dir;
    });
  }
  function drawTable(table) {
    const el = $("bcr-table");
    el.replaceChildren();
    $("bcr-csv").hidden = !table;
    if (!table) return;
    const head = el.createTHead().insertRow();
    table.header.forEach((h, i) => {
      const th = document.createElement("th");
      th.textContent = h;
      th.dataset.col = i;
      if (state.sort && state.sort.col === i) th.className = state.sort.dir > 0 ? "asc" : "desc";
      th.addEventListener("click", () => {
        state.sort = {col: i, dir: state.sort && state.sort.col === i ? -state.sort.dir : 1};
        drawTable(table);
      });
      head.appendChild(th);
    });
    const body = el.createTBody();
    for (const row of sorted(table)) {
      const tr = body.insertRow();
      tr.dataset.unit = row.unit;
      if (row.highlight) tr.className = "highlight";
      row.cells.forEach((c) => { tr.insertCell().textContent = c; });
    }
    shown = {header: table.header, rows: sorted(table).map((r) => r.cells)};
  }
  function csvText() {
    const sep = M.lang === "sv" ? ";" : ",";
    const quote = (v) => (/["\n;,]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    return [shown.header, ...shown.rows].map((r) => r.map(quote).join(sep)).join("\r\n")
      + "\r\n";
  }
  function download() {
    const blob = new Blob(["\ufeff" + csvText()], {type: "text/csv;charset=utf-8"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${M.stem}-${state.view}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // --- drawing everything -----------------------------------------------------------------
  let drawing = Promise.resolve();
  function draw() {
    syncControls();
    document.querySelectorAll("#bcr-tabs button").forEach((b) => {
      b.setAttribute("aria-selected", String(b.dataset.view === state.view));
    });
    const out = view[state.view]();
    $("bcr-text").innerHTML = out.html || "";
    $("bcr-notes").replaceChildren(...out.note.map((n) => {
      const p = document.createElement("p");
      p.textContent = n;
      return p;
    }));
    drawTable(out.table);
    const chart = $("bcr-chart");
    if (window.bcrResult) window.bcrResult.finalize();
    window.bcrResult = null;
    chart.replaceChildren();
    if (!out.spec || !out.spec.datasets.rows.length) {
      if (out.spec) chart.textContent = T.no_data;
      window.bcrView = null;
      document.body.dataset.ready = state.view;
      return drawing;
    }
    drawing = vegaEmbed(chart, out.spec, {actions: false, renderer: "svg"}).then((r) => {
      window.bcrResult = r;
      window.bcrView = r.view;
      document.body.dataset.ready = state.view;
    });
    return drawing;
  }

  function start() {
    for (const [id, key] of [["c-subregistry", "subregistry"], ["c-indicator", "indicator"],
                             ["c-level", "level"], ["c-year", "year"], ["c-unit", "unit"]]) {
      $(id).addEventListener("change", (e) => {
        const v = e.target.value;
        state[key] = key === "year" && v !== M.window ? Number(v) : v;
        state.sort = null;
        document.body.dataset.ready = "";
        draw();
      });
    }
    const tabs = $("bcr-tabs");
    for (const v of VIEWS) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.view = v; b.textContent = T.views[v];
      b.setAttribute("role", "tab");
      b.addEventListener("click", () => {
        state.view = v; state.sort = null; document.body.dataset.ready = ""; draw();
      });
      tabs.appendChild(b);
    }
    $("bcr-csv").addEventListener("click", download);
    window.bcr = {state, csvText, shown: () => shown, draw};
    draw();
  }
  start();
})();
