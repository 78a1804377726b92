-- leadconduit.time — RFC 3339 date-time strings to seconds since the epoch (UTC).
-- Pure arithmetic (days-from-civil), so the local time zone and os.time never matter.
-- Strict RFC 3339 section 5.6 `date-time`: the separator is "T" or "t" (a space is rejected).

local tointeger = math.tointeger -- nil on Lua 5.1/LuaJIT, where every number is a double
local calendar = require "leadconduit.calendar"

local DATE_TIME = "^([0-9][0-9][0-9][0-9])%-([0-9][0-9])%-([0-9][0-9])[Tt]"
  .. "([0-9][0-9]):([0-9][0-9]):([0-9][0-9])(.*)$"

local days_from_civil = calendar.days_from_civil

local function fail(what)
  return nil, "leadconduit.parse_time: " .. what
end

--- parse_time(s) -> seconds since the epoch, or nil, errmsg.
-- An integer on Lua 5.3+ when `s` has no fractional seconds, otherwise a float.
-- Seconds "60" (a leap second) counts as the first second of the next minute.
local function parse_time(s)
  if type(s) ~= "string" then
    return fail("expected a string, got " .. type(s))
  end
  local ys, mos, ds, hs, mis, ss, rest = s:match(DATE_TIME)
  if not ys then
    return fail("not an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm))")
  end
  local frac, offset = rest:match("^(%.[0-9]+)(.*)$")
  if not frac then
    if rest:sub(1, 1) == "." then
      return fail("fractional seconds need at least one digit")
    end
    offset = rest
  end

  local sign, ohs, oms
  if offset == "Z" or offset == "z" then
    sign, ohs, oms = 1, "00", "00"
  else
    local sg
    sg, ohs, oms = offset:match("^([+-])([0-9][0-9]):([0-9][0-9])$")
    if not sg then
      return fail("missing or malformed UTC offset (Z, +hh:mm or -hh:mm)")
    end
    sign = sg == "-" and -1 or 1
  end

  local y, mo, d = tonumber(ys), tonumber(mos), tonumber(ds)
  local h, mi, sec = tonumber(hs), tonumber(mis), tonumber(ss)
  local oh, om = tonumber(ohs), tonumber(oms)
  if mo < 1 or mo > 12 then return fail("month out of range") end
  if d < 1 or d > calendar.days_in_month(y, mo) then return fail("day out of range for the month") end
  if h > 23 then return fail("hour out of range") end
  if mi > 59 then return fail("minute out of range") end
  if sec > 60 then return fail("second out of range") end
  if oh > 23 then return fail("offset hour out of range") end
  if om > 59 then return fail("offset minute out of range") end

  -- A local time minus its offset is UTC; "-00:00" (offset unknown) is UTC as well.
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
    - sign * (oh * 3600 + om * 60)
  if tointeger then t = tointeger(t) or t end
  if frac then
    return t + tonumber("0" .. frac)
  end
  return t
end

return { parse_time = parse_time }
