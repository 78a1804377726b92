-- changes_fuzz_spec.lua — leadconduit.changes() over seeded pairs of random accounts, and every
-- rendering the command-line tool makes of the records (text columns, TSV, JSON, through
-- cli.lua's own render): no secret value (api_key, *_api_key) appears in the records or in any
-- rendering, and the caller's key, placed as object keys and plain values, in no rendering.
local leadconduit = require "leadconduit"
local cli = require "leadconduit.cli"
local redact = require "leadconduit.redact"
local park_miller = require "support.park_miller"

local CASES = tonumber(os.getenv("LEADCONDUIT_FUZZ_CHANGES")) or 3000
local KEY = "callerKEY]0123456789abcdef"
local null, array_mt = leadconduit.null, leadconduit.array_mt

-- A random account and the secret strings it holds; secrets are unique, so a secret shown
-- anywhere was leaked, not made up.
local function generator(rand)
  local serial = 0
  local function pick(list) return list[rand(#list) + 1] end
  local NAMES = { "a", "b", "id", "name", "state", "features", KEY, "x" .. KEY, "(redacted)" }
  local SECRET_NAMES = { "api_key", "keen_read_api_key", "keen_write_api_key", "partner_api_key" }

  local value
  local function secret(secrets)
    serial = serial + 1
    local s = ("SECRET%06dZ"):format(serial)
    secrets[#secrets + 1] = s
    return s
  end

  local function object(depth, secrets)
    local o = {}
    for _ = 1, rand(6) do
      if rand(3) == 0 then
        local name = pick(SECRET_NAMES)
        local kind = rand(8)
        if kind == 0 then o[name] = null
        elseif kind == 1 then o[name] = redact.HIDDEN
        elseif kind == 2 then o[name] = object(depth + 1, secrets)
        elseif kind == 3 then o[name] = rand(1000)
        else o[name] = secret(secrets) end
      else
        o[pick(NAMES)] = value(depth + 1, secrets)
      end
    end
    return o
  end

  local function array(depth, secrets)
    local a = setmetatable({}, array_mt)
    local with_ids = rand(2) == 0
    for i = 1, rand(4) do
      if with_ids then
        local entry = object(depth + 1, secrets)
        entry.id = rand(3) == 0 and KEY or ("e" .. i)
        a[i] = entry
      else
        a[i] = value(depth + 1, secrets)
      end
    end
    return a
  end

  function value(depth, secrets)
    local kind = rand(depth >= 4 and 5 or 8)
    if kind == 0 then return null end
    if kind == 1 then return rand(3) == 0 and KEY or "text" .. rand(5) end
    if kind == 2 then return rand(100) end
    if kind == 3 then return rand(2) == 0 end
    if kind == 4 then return "x" .. KEY .. "y" end
    if kind == 5 or kind == 6 then return object(depth, secrets) end
    return array(depth, secrets)
  end

  -- A changed copy of v: entries dropped, replaced, added; secrets of the copy also recorded.
  local function mutate(v, depth, secrets)
    if type(v) ~= "table" then
      if rand(4) == 0 then return value(depth, secrets) end
      return v
    end
    local copy = setmetatable({}, getmetatable(v))
    for k, x in pairs(v) do copy[k] = x end
    for k, x in pairs(copy) do
      local r = rand(10)
      if r == 0 then copy[k] = nil
      elseif r == 1 then copy[k] = null
      elseif r == 2 then copy[k] = value(depth + 1, secrets)
      elseif r <= 5 then copy[k] = mutate(x, depth + 1, secrets) end
    end
    if getmetatable(v) == array_mt then
      -- dropped entries leave no hole: JSON arrays have none
      local packed = setmetatable({}, array_mt)
      for k = 1, #v do
        if copy[k] ~= nil then packed[#packed + 1] = copy[k] end
      end
      return packed
    end
    if rand(3) == 0 then copy[pick(SECRET_NAMES)] = secret(secrets) end
    return copy
  end

  return function()
    local secrets = {}
    local old = object(0, secrets)
    local new = mutate(old, 0, secrets)
    return old, new, secrets
  end
end

local function shows(text, list)
  for _, s in ipairs(list) do
    if text:find(s, 1, true) then return s end
  end
end

-- Every string of a value, keys included, as one text.
local function strings(v, out)
  out = out or {}
  if type(v) == "string" then out[#out + 1] = v end
  if type(v) == "table" then
    for k, x in pairs(v) do
      strings(k, out)
      strings(x, out)
    end
  end
  return out
end

describe("changes() of random accounts (seeded, counted)", function()
  it(("shows no secret in records or any rendering, over %d pairs"):format(CASES), function()
    local make = generator(park_miller.new(20261207))
    local caller = redact.secrets(KEY)
    local reported = 0
    for i = 1, CASES do
      local old, new, secrets = make()
      local records = leadconduit.changes(old, new)
      reported = reported + #records
      local leaked = shows(table.concat(strings(records), "\n"), secrets)
      assert(not leaked, ("pair %d: records show %s"):format(i, tostring(leaked)))
      for _, args in ipairs({ {}, { tsv = true }, { json = true } }) do
        local result = cli.commands.changes({ account = new }, args, { account = old })
        local text = cli.render(result, args, caller) or ""
        leaked = shows(text, secrets) or shows(text, caller)
        assert(not leaked, ("pair %d (%s): the output shows %s:\n%s"):format(i,
          args.tsv and "tsv" or args.json and "json" or "text", tostring(leaked), text))
      end
    end
    assert.is_true(reported > CASES, reported .. " records in " .. CASES .. " pairs")
  end)
end)
