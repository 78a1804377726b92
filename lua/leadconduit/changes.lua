-- leadconduit.changes — what changed between two decoded accounts, as records sorted by path.
--
-- Data in, data out. Objects are compared key by key, down to their leaves; arrays whose entries
-- are all objects with distinct ids are matched by id (so a reordered list is no change); other
-- arrays compare as whole values. Secrets (api_key, *_api_key) never appear in a record: a value
-- reported whole goes through redact.fields, the rule every value leaving the library follows.

local core = require "leadconduit.core"
local redact = require "leadconduit.redact"

local null, array_mt = core.null, core.array_mt

local function is_array(v)
  return type(v) == "table" and getmetatable(v) == array_mt
end

local function is_object(v)
  return type(v) == "table" and not is_array(v)
end

-- A secret that one side holds as HIDDEN (an answer saved by `leadconduit sync --json`) is
-- unknown there: no difference can be seen.
local function unknown_secret(key, old, new)
  return redact.is_secret_field(key) and (old == redact.HIDDEN or new == redact.HIDDEN)
end

-- Deep equality of decoded JSON values (null by identity, numbers by value), an unknown secret
-- equal to any.
local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or is_array(a) ~= is_array(b) then return false end
  for k, v in pairs(a) do
    if not (same(v, b[k]) or unknown_secret(k, v, b[k])) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- The entries of an array of objects by id, or nil when it is not one: some entry is no object,
-- has no string or number id, or shares its id with another.
local function by_id(list)
  local entries = {}
  for i = 1, #list do
    local entry = list[i]
    local id = is_object(entry) and entry.id
    if (type(id) ~= "string" and type(id) ~= "number") or entries[id] ~= nil then return nil end
    entries[id] = entry
  end
  return entries
end

local function id_text(id)
  if type(id) == "number" and id == math.floor(id) and math.abs(id) < 2 ^ 53 then
    return ("%d"):format(id)
  end
  return tostring(id)
end

local compare

-- One record; the values of a secret field become redact.HIDDEN, and so do the secret fields
-- inside a value reported whole. An unknown secret is not changed.
local function record(out, op, path, key, old, new)
  if redact.is_secret_field(key) then
    if unknown_secret(key, old, new) then return end
    if old ~= nil then old = redact.HIDDEN end
    if new ~= nil then new = redact.HIDDEN end
  end
  out[#out + 1] = { op = op, path = path, old = redact.fields(old), new = redact.fields(new) }
end

local function compare_value(out, path, key, old, new)
  if old == nil then
    record(out, "added", path, key, nil, new)
  elseif new == nil then
    record(out, "removed", path, key, old, nil)
  elseif redact.is_secret_field(key) then
    -- A leaf, whatever it holds: nothing inside a secret is walked into or named by a path.
    if not same(old, new) then record(out, "changed", path, key, old, new) end
  elseif is_object(old) and is_object(new) then
    compare(out, path .. ".", old, new)
  elseif is_array(old) and is_array(new) and by_id(old) and by_id(new) then
    local old_entries, new_entries = by_id(old), by_id(new)
    local ids = {}
    for id in pairs(old_entries) do ids[id] = true end
    for id in pairs(new_entries) do ids[id] = true end
    for id in pairs(ids) do
      local a, b = old_entries[id], new_entries[id]
      local entry_path = path .. "[" .. id_text(id) .. "]"
      if a == nil or b == nil then
        compare_value(out, entry_path, nil, a, b)
      else
        compare(out, entry_path .. ".", a, b)
      end
    end
  elseif not same(old, new) then
    record(out, "changed", path, key, old, new)
  end
end

-- The records for every key of two objects, under `prefix` ("" at the top, "a.b." below).
function compare(out, prefix, old, new)
  local keys = {}
  for k in pairs(old) do keys[k] = true end
  for k in pairs(new) do keys[k] = true end
  for k in pairs(keys) do
    if type(k) == "string" then
      compare_value(out, prefix .. k, k, old[k], new[k])
    end
  end
end

local function check_account(position, name, account)
  if not is_object(account) then
    error(("leadconduit.changes: bad argument #%d '%s' (account table expected, got %s)"):format(position,
      name, account == null and "null" or (is_array(account) and "an array" or type(account))), 3)
  end
end

--- changes(old_account, new_account) -> array of { op, path, old, new }, sorted by path
local function changes(old_account, new_account)
  check_account(1, "old_account", old_account)
  check_account(2, "new_account", new_account)
  local out = setmetatable({}, array_mt)
  compare(out, "", old_account, new_account)
  table.sort(out, function(a, b) return a.path < b.path end)
  return out
end

return { changes = changes }
