-- leadconduit.partners — which pending partner invitations are open and which expired.
-- Data in, data out: the clock is the `now` parameter (default os.time()), nothing is cached.

local core = require "leadconduit.core"
local parse_time = require("leadconduit.time").parse_time

local null, array_mt = core.null, core.array_mt

-- A number argument (`now`, `within`) of public function fname, or its default; `level` is the
-- error level that blames the caller of the public function.
local function check_number(fname, position, name, value, default, level)
  if value == nil and default ~= nil then return default end
  if type(value) ~= "number" or value ~= value then
    error(("leadconduit.%s: bad argument #%d '%s' (number expected, got %s)"):format(fname, position,
      name, value ~= value and "nan" or type(value)), level + 1)
  end
  return value
end

local function check_now(fname, now, level, position)
  if now == nil then return os.time() end
  return check_number(fname, position or 2, "now", now, nil, level + 1)
end

-- The time an entry's invitation lapses: a number, false when it has none, nil when unreadable.
local function expiry(entry)
  local at = entry.invitation_expires_at
  if at == nil or at == null then return false end
  return parse_time(at)
end

local function expired(entry, now)
  if entry.expired == true then return true end
  local t = expiry(entry)
  if t == false then return false end -- no expiry: `expired` alone decides
  if t == nil then return true end    -- an unreadable expiry never counts as open
  return t <= now
end

--- is_expired(entry [, now]) -> boolean
local function is_expired(entry, now)
  if type(entry) ~= "table" then
    error("leadconduit.is_expired: bad argument #1 'entry' (table expected, got " .. type(entry) .. ")", 2)
  end
  return expired(entry, check_now("is_expired", now, 2))
end

-- The entries of `list` for which keep(entry) is true, in order, as a new array.
local function pick(fname, list, keep)
  local out = setmetatable({}, array_mt)
  if list == nil or list == null then return out end
  if type(list) ~= "table" then
    error(("leadconduit.%s: bad argument #1 'list' (array expected, got %s)"):format(fname, type(list)), 3)
  end
  for i = 1, #list do
    local entry = list[i]
    if type(entry) ~= "table" then
      error(("leadconduit.%s: entry #%d is not an object (got %s)"):format(fname, i,
        entry == null and "null" or type(entry)), 3)
    end
    if keep(entry) then out[#out + 1] = entry end
  end
  return out
end

--- active_pending(list [, now]) -> array of the entries that are not expired
local function active_pending(list, now)
  now = check_now("active_pending", now, 2)
  local out = pick("active_pending", list, function(entry) return not expired(entry, now) end)
  return out -- not a tail call: keeps error levels right
end

--- expired_pending(list [, now]) -> array of the entries that are expired
local function expired_pending(list, now)
  now = check_now("expired_pending", now, 2)
  local out = pick("expired_pending", list, function(entry) return expired(entry, now) end)
  return out
end

--- expiring_pending(list, within [, now]) -> array of the entries that are not expired at now
-- but whose invitation_expires_at is at or before now + within (seconds); an entry without an
-- expiry time never appears
local function expiring_pending(list, within, now)
  within = check_number("expiring_pending", 2, "within", within, nil, 2)
  if within < 0 then
    error("leadconduit.expiring_pending: bad argument #2 'within' (must not be negative)", 2)
  end
  now = check_now("expiring_pending", now, 2, 3)
  local out = pick("expiring_pending", list, function(entry)
    local t = expiry(entry)
    return not expired(entry, now) and type(t) == "number" and t <= now + within
  end)
  return out
end

return {
  is_expired = is_expired,
  active_pending = active_pending,
  expired_pending = expired_pending,
  expiring_pending = expiring_pending,
}
