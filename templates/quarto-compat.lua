--[[
quarto-compat.lua: the Quarto features our templates use, for plain pandoc (DESIGN.md §9).

Used only on the built-in render path (no `quarto` executable). It
  * lifts `format: <html|typst>: {...}` options to top-level metadata and drops the
    Quarto-only keys pandoc does not know (format, execute, crossref, ...);
  * numbers `{#tbl-x}` tables and `{#fig-x}` figures and turns `@tbl-x` / `@fig-x`
    (which pandoc reads as citations) into cross-references: links with "Tabell 1" in
    HTML, native typst references (`@tbl-x`) in typst, which numbers figures itself;
  * turns a table div (raw HTML, raw typst, caption: table_markup.py) into the format's
    table with its numbered caption;
  * uses `fig-alt` as the image's alt text;
  * turns callouts (`.callout-note`, ...) into styled boxes;
  * turns `.panel-tabset` into plain headed sections;
  * adds layout.css (a side table of contents, a readable measure) to the HTML, unless
    the document names it.
]]

local is_typst = FORMAT:match("typst") ~= nil
local target = is_typst and "typst" or "html"

local QUARTO_ONLY = { "format", "execute", "crossref", "jupyter", "engine", "editor",
                      "project", "book", "website", "params", "knitr", "filters",
                      "html-table-processing" }

local titles = { tbl = "Table", fig = "Figure" }
local numbers = {}      -- id -> number
local counters = { tbl = 0, fig = 0 }

local CALLOUT_COLOURS = {
  note = "#0072B2", tip = "#009E73", important = "#D55E00",
  warning = "#E69F00", caution = "#CC79A7",
}

local function meta_string(value)
  if value == nil then return nil end
  return pandoc.utils.stringify(value)
end

function Meta(meta)
  local lang = meta_string(meta.lang) or "en"
  if lang:sub(1, 2) == "sv" then titles = { tbl = "Tabell", fig = "Figur" } end
  if meta.crossref then
    titles.tbl = meta_string(meta.crossref["tbl-title"]) or titles.tbl
    titles.fig = meta_string(meta.crossref["fig-title"]) or titles.fig
  end
  if meta.book then  -- a book project's title page (Quarto's book: title/subtitle/date)
    for _, key in ipairs({ "title", "subtitle", "date", "author" }) do
      if meta[key] == nil then meta[key] = meta.book[key] end
    end
  end
  local options = meta.format and meta.format[target]
  if type(options) == "table" then
    for key, value in pairs(options) do
      if meta[key] == nil then meta[key] = value end
    end
  end
  for _, key in ipairs(QUARTO_ONLY) do meta[key] = nil end
  if not is_typst then
    -- Pandoc's page is bare: add the house layout (side table of contents, measure)
    -- after the house style, unless the document names it (a single document does;
    -- Quarto's book brings its own layout).
    local css = meta.css
    if css == nil then css = pandoc.List{}
    elseif pandoc.utils.type(css) ~= "List" then css = pandoc.List{ css } end
    local named = false
    for _, sheet in ipairs(css) do
      if pandoc.path.filename(pandoc.utils.stringify(sheet)) == "layout.css" then named = true end
    end
    if not named then
      css:insert(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "layout.css" }))
    end
    meta.css = css
  end
  return meta
end

local function kind_of(id)
  return id and id:match("^(%a+)%-") or nil
end

local function register(id)
  local kind = kind_of(id)
  if kind ~= "tbl" and kind ~= "fig" then return nil end
  if numbers[id] == nil then
    counters[kind] = counters[kind] + 1
    numbers[id] = counters[kind]
  end
  return titles[kind] .. " " .. numbers[id]
end

-- In HTML, prefix a caption with its number ("Tabell 1: ..."); typst numbers itself.
local function prefix_caption(caption, label)
  if is_typst or label == nil then return caption end
  local prefix = { pandoc.Str(label .. ":"), pandoc.Space() }
  if #caption.long > 0 and caption.long[1].content then
    local first = caption.long[1]
    first.content = prefix .. first.content
  else
    caption.long = { pandoc.Plain(prefix) }
  end
  return caption
end

local function set_alt(image)
  local alt = image.attributes["fig-alt"]
  if alt then
    image.caption = { pandoc.Str(alt) }
    image.attributes["fig-alt"] = nil
  end
  return image
end

local function callout(div, kind)
  local title
  local content = div.content
  if div.attributes.title then
    title = div.attributes.title
  elseif #content > 0 and content[1].t == "Header" then
    title = pandoc.utils.stringify(content[1])
    content = pandoc.List({ table.unpack(content, 2) })
  end
  local colour = CALLOUT_COLOURS[kind] or CALLOUT_COLOURS.note
  if title then
    content = pandoc.List({ pandoc.Para({ pandoc.Strong({ pandoc.Str(title) }) }) }) .. content
  end
  if is_typst then
    local open = string.format(
      '#block(width: 100%%, inset: 8pt, radius: 2pt, fill: rgb("%s").lighten(90%%), '
      .. 'stroke: (left: 3pt + rgb("%s")))[', colour, colour)
    return pandoc.List({ pandoc.RawBlock("typst", open) }) .. content
      .. pandoc.List({ pandoc.RawBlock("typst", "]") })
  end
  return pandoc.Div(content, pandoc.Attr("", { "bcr-callout", "bcr-callout-" .. kind },
    { style = "border-left-color: " .. colour }))
end

-- A table as the templates write it: a `{#tbl-x}` div of raw HTML, raw typst and the
-- caption (its last paragraph), which Quarto makes a cross-referenced float. Here: the
-- format's raw table with its numbered caption (HTML) or in a table figure (typst).
local function table_float(div)
  local raw, caption = nil, {}
  for _, block in ipairs(div.content) do
    if block.t == "RawBlock" and block.format == target then raw = block.text
    elseif block.t == "Para" or block.t == "Plain" then caption = block.content end
  end
  if raw == nil then return nil end
  local label = register(div.identifier)
  if is_typst then
    local text = pandoc.write(pandoc.Pandoc({ pandoc.Plain(caption) }), "typst")
    return pandoc.RawBlock("typst", "#figure(kind: table, caption: [" .. text:gsub("%s+$", "")
      .. "])[\n" .. raw .. "\n] <" .. div.identifier .. ">")
  end
  local text = pandoc.write(pandoc.Pandoc({ pandoc.Plain(
    pandoc.List({ pandoc.Str(label .. ":"), pandoc.Space() }) .. caption) }), "html")
  raw = raw:gsub("^<table([^>]*)>", function(attributes)
    return '<table id="' .. div.identifier .. '"' .. attributes .. "><caption>" .. text
      .. "</caption>"
  end, 1)
  return pandoc.RawBlock("html", raw)
end

-- Two passes: number every table and figure first, so a reference may come before
-- its target; then rewrite references, captions and boxes.
local function number_pass(doc)
  doc:walk({
    Table = function(t) register(t.identifier) end,
    Figure = function(f) register(f.identifier) end,
    Div = function(d) if kind_of(d.identifier) == "tbl" then register(d.identifier) end end,
  })
end

local function rewrite_pass(doc)
  return doc:walk({
    Table = function(t)
      t.caption = prefix_caption(t.caption, register(t.identifier))
      return t
    end,
    Figure = function(f)
      f.caption = prefix_caption(f.caption, register(f.identifier))
      return f:walk({ Image = set_alt })
    end,
    Image = set_alt,
    Cite = function(cite)
      local id = cite.citations[1].id
      local label = numbers[id] and titles[kind_of(id)] .. " " .. numbers[id]
      if not label then return nil end
      if is_typst then return pandoc.RawInline("typst", "@" .. id) end
      return pandoc.Link({ pandoc.Str(label) }, "#" .. id)
    end,
    Div = function(div)
      if kind_of(div.identifier) == "tbl" then return table_float(div) end
      if div.classes:includes("panel-tabset") then return div.content end
      for _, class in ipairs(div.classes) do
        local kind = class:match("^callout%-(%a+)$")
        if kind then return callout(div, kind) end
      end
      return nil
    end,
  })
end

function Pandoc(doc)
  number_pass(doc)
  return rewrite_pass(doc)
end

return {
  { Meta = Meta },
  { Pandoc = Pandoc },
}
