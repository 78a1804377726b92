-- leadconduit.partners — which pending partner invitations are open and which expired.
-- Data in, data out: the clock is the `now` parameter (default os.time()), nothing is cached.

local core = require "leadconduit.core"
local parse_time = require("leadconduit.time").parse_time

local null, array_mt = core.null, core.array_mt

-- `level` is the error level that blames the caller of the public function.
local function check_now(fname, now, level)
  if now == nil then return os.time() end
  if type(now) ~= "number" or now ~= now then
    error(("leadconduit.%s: bad argument #2 'now' (number expected, got %s)"):format(fname,
      now ~= now and "nan" or type(now)),
      level + 1)
  end
  return now
end

local function expired(entry, now)
  if entry.expired == true then return true end
  local at = entry.invitation_expires_at
  if at == nil or at == null then return false end -- no expiry: `expired` alone decides
  local t = parse_time(at)
  if t == nil then return true end                 -- an unreadable expiry never counts as open
  return t <= now
end

--- is_expired(entry [, now]) -> boolean
local function is_expired(entry, now)
  if type(entry) ~= "table" then
    error("leadconduit.is_expired: bad argument #1 'entry' (table expected, got " .. type(entry) .. ")", 2)
  end
  return expired(entry, check_now("is_expired", now, 2))
end

-- The entries of `list` whose expiry equals `want`, in order, as a new array.
local function pick(fname, list, now, want)
  now = check_now(fname, now, 3)
  local out = setmetatable({}, array_mt)
  if list == nil or list == null then return out end
  if type(list) ~= "table" then
    error(("leadconduit.%s: bad argument #1 'list' (array expected, got %s)"):format(fname, type(list)), 4)
  end
  for i = 1, #list do
    local entry = list[i]
    if type(entry) ~= "table" then
      error(("leadconduit.%s: entry #%d is not an object (got %s)"):format(fname, i,
        entry == null and "null" or type(entry)), 4)
    end
    if expired(entry, now) == want then out[#out + 1] = entry end
  end
  return out
end

--- active_pending(list [, now]) -> array of the entries that are not expired
local function active_pending(list, now)
  local out = pick("active_pending", list, now, false) -- not a tail call: keeps error levels right
  return out
end

--- expired_pending(list [, now]) -> array of the entries that are expired
local function expired_pending(list, now)
  local out = pick("expired_pending", list, now, true)
  return out
end

return {
  is_expired = is_expired,
  active_pending = active_pending,
  expired_pending = expired_pending,
}
