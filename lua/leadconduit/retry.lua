-- retry.lua — how long to wait before the next attempt.
--
-- Exponential backoff with jitter, or what the server's Retry-After header asks
-- for (seconds or an HTTP date), never more than MAX_WAIT seconds. Pure functions:
-- the clock and the random source are parameters.

local calendar = require "leadconduit.calendar"

local retry = {}

retry.MAX_WAIT = 30

-- Jitter is there to spread clients out, so its default source must differ between processes.
-- math.random does on Lua 5.4, but on 5.1 and LuaJIT it starts from the same seed in every
-- process (every cron job and nginx worker would retry in step), and reseeding it would change
-- the caller's own sequence: retry keeps a small generator of its own.
local function seed()
  local s = os.time() + math.floor(os.clock() * 1e6)
  local f = io.open("/dev/urandom", "rb")
  if f then
    local bytes = f:read(4)
    f:close()
    if bytes and #bytes == 4 then
      local a, b, c, d = bytes:byte(1, 4)
      s = s + ((a * 256 + b) * 256 + c) * 256 + d
    end
  end
  s = s + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) -- differs with ASLR
  return s % 4294967296
end

-- Seeded at the first draw, not at load: nginx may load the module in its master process
-- (init_by_lua) and fork the workers from it, with the same state in each.
local state

-- A linear congruential generator mod 2^32: exact in doubles and integers alike, plenty for jitter.
local function default_random()
  state = (1664525 * (state or seed()) + 1013904223) % 4294967296
  return state / 4294967296
end

local MONTHS = {
  Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
  Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12,
}

-- HTTP-date (RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT") -> epoch seconds.
function retry.parse_http_date(text)
  local d, mon, y, hh, mm, ss = text:match(
    "^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local m = MONTHS[mon]
  if not m then return nil end
  d, y, hh, mm, ss = tonumber(d), tonumber(y), tonumber(hh), tonumber(mm), tonumber(ss)
  if d < 1 or d > calendar.days_in_month(y, m) or hh > 23 or mm > 59 or ss > 60 then return nil end
  return calendar.days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
end

-- Seconds a Retry-After header value asks to wait, or nil when it is not valid.
function retry.parse_retry_after(value, now)
  if type(value) ~= "string" then return nil end
  if value:match("^%d+$") then
    return tonumber(value)
  end
  local at = retry.parse_http_date(value)
  if at then
    local wait = at - (now or os.time())
    return wait > 0 and wait or 0
  end
  return nil
end

-- delay(attempt, base, retry_after, now, random) -> seconds to wait after attempt n (1-based).
function retry.delay(attempt, base, retry_after, now, random)
  local asked = retry.parse_retry_after(retry_after, now)
  if asked then
    return math.min(asked, retry.MAX_WAIT)
  end
  local ceiling = math.min(base * 2 ^ (attempt - 1), retry.MAX_WAIT)
  -- "Equal jitter": at least half the ceiling, so waits still grow, spread over the rest.
  return ceiling / 2 + (random or default_random)() * ceiling / 2
end

return retry
