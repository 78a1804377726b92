-- Differential specs: leadconduit.decode must agree with Debian's lua-cjson (the oracle) on
-- every valid document we have: the benchmark corpora, the spec fixtures and generated
-- documents. Numbers are compared by value (cjson makes every number a float).
local leadconduit = require "leadconduit"
local shared = require "support.shared"
local sys = require "support.sys"
local park_miller = require "support.park_miller"
local cjson = require "cjson"

local read = sys.slurp

local function list(dir)
  return sys.list_files(dir, ".json")
end

local function same_number(a, b)
  if a == b then
    return true
  end
  -- An integer beyond 2^53 compares exactly in 5.3+; cjson holds its nearest double.
  return math.type ~= nil and math.type(a) == "integer" and a + 0.0 == b
end

-- nil when equal, else a path and a description of the first difference.
local function difference(ours, theirs, path)
  local to, tt = type(ours), type(theirs)
  if to ~= tt then
    return path .. ": " .. to .. " vs " .. tt
  end
  if to == "number" then
    if not same_number(ours, theirs) and not (ours ~= ours and theirs ~= theirs) then
      return string.format("%s: %.17g vs %.17g", path, ours, theirs)
    end
    return nil
  end
  if to ~= "table" then
    if ours ~= theirs then
      return path .. ": " .. tostring(ours) .. " vs " .. tostring(theirs)
    end
    return nil
  end
  for k, v in pairs(ours) do
    local d = difference(v, theirs[k], path .. "." .. tostring(k))
    if d then
      return d
    end
  end
  for k in pairs(theirs) do
    if ours[k] == nil then
      return path .. "." .. tostring(k) .. ": missing"
    end
  end
  return nil
end

local function agree(text, label)
  local theirs = cjson.decode(text)
  local ours, err = leadconduit.decode(text)
  assert(ours ~= nil, label .. ": " .. tostring(err))
  local d = difference(ours, theirs, label)
  assert(d == nil, d)
end

-- A deterministic generator of valid JSON: nested containers, escapes, unicode, every
-- number shape; the same documents on every interpreter.
local function generator(seed)
  local rand, digits = park_miller.new(seed)
  local pieces = {
    "plain", "caf\195\169", "\230\151\165\230\156\172\232\170\158", "\240\159\152\128",
    "\\n", "\\t", '\\"',
    "\\\\", "\\/", "\\u00e9", "\\u20AC", "\\uD83D\\uDE00", "\\u0000", "\\b\\f\\r", " ", "\127",
  }
  local function str()
    local t = {}
    for i = 1, rand(6) do
      t[i] = pieces[rand(#pieces) + 1]
    end
    return '"' .. table.concat(t) .. '"'
  end
  local function num()
    local int = rand(5) == 0 and "0" or tostring(rand(9) + 1) .. digits(rand(20))
    local s = (rand(3) == 0 and "-" or "") .. int
    if rand(2) == 0 then
      s = s .. "." .. digits(rand(18) + 1)
    end
    if rand(3) == 0 then
      s = s .. (rand(2) == 0 and "e" or "E") .. ({ "", "+", "-" })[rand(3) + 1] .. tostring(rand(300))
    end
    return s
  end
  local function ws()
    return ({ "", "", " ", "\n", "\t", "\r\n  " })[rand(6) + 1]
  end
  local value
  local function container(depth)
    local n, t = rand(8), {}
    if rand(2) == 0 then
      for i = 1, n do
        t[i] = ws() .. value(depth + 1) .. ws()
      end
      return "[" .. table.concat(t, ",") .. "]"
    end
    for i = 1, n do
      t[i] = ws() .. str() .. ws() .. ":" .. ws() .. value(depth + 1)
    end
    return "{" .. table.concat(t, ",") .. ws() .. "}"
  end
  function value(depth)
    local r = rand(depth > 6 and 6 or 8)
    if r == 0 then return str() end
    if r == 1 then return num() end
    if r == 2 then return ({ "true", "false", "null" })[rand(3) + 1] end
    if r <= 5 then return rand(2) == 0 and str() or num() end
    return container(depth)
  end
  return function()
    return ws() .. container(0) .. ws()
  end
end

describe("decode agrees with lua-cjson", function()
  -- The extras on ../shared data are defined only where it is there (spec/shared_data_spec.lua).
  local corpora = shared.files("bench-data", ".json")
  local suite = shared.files("conformance/JSONTestSuite", ".json")

  if corpora then
    it("on the benchmark corpora", function()
      assert.is_true(#corpora >= 4)
      for _, path in ipairs(corpora) do
        agree(read(path), path)
      end
    end)
  end

  it("on every JSON fixture of the specs", function()
    local names = list("spec/fixtures")
    for _, name in ipairs(names) do
      agree(read("spec/fixtures/" .. name), name)
    end
  end)

  if suite then
    it("on every accepted JSONTestSuite file", function()
      local compared = 0
      for _, path in ipairs(suite) do
        local text = read(path)
        -- cjson's own limit is 1000 levels; it rejects a few valid y_ files (e.g. big exponents)
        local ok_theirs = pcall(cjson.decode, text)
        if path:match("/y_[^/]*$") and ok_theirs then
          agree(text, path)
          compared = compared + 1
        end
      end
      assert.is_true(compared >= 90, "only " .. compared .. " y_ files compared")
    end)
  end

  it("on 3000 generated documents", function()
    local next_document = generator(20261127)
    for i = 1, 3000 do
      local text = next_document()
      agree(text, "document " .. i .. " " .. text:sub(1, 60))
    end
  end)

  it("on a generated document of a few megabytes", function()
    local next_document = generator(7)
    local docs = {}
    for i = 1, 2000 do
      docs[i] = next_document()
    end
    agree("[" .. table.concat(docs, ",\n") .. "]", "big document")
  end)
end)
