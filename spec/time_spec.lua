-- parse_time: RFC 3339 date-times to UTC seconds since the epoch (API.md, "Module fields").
local leadconduit = require "leadconduit"
local parse_time = leadconduit.parse_time

local HAS_INTEGERS = math.type ~= nil

-- Days from 1970-01-01, counted the slow obvious way, as an independent oracle.
local function slow_days(y, m, d)
  local function leap(yy) return yy % 4 == 0 and (yy % 100 ~= 0 or yy % 400 == 0) end
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  local n = 0
  if y >= 1970 then
    for yy = 1970, y - 1 do n = n + (leap(yy) and 366 or 365) end
  else
    for yy = y, 1969 do n = n - (leap(yy) and 366 or 365) end
  end
  for mm = 1, m - 1 do n = n + mdays[mm] + ((mm == 2 and leap(y)) and 1 or 0) end
  return n + d - 1
end

local function rejects(s, what)
  local t, err = parse_time(s)
  assert.is_nil(t, ("expected %q to be rejected"):format(tostring(s)))
  assert.is_string(err)
  assert.matches("^leadconduit%.parse_time: ", err)
  if what then assert.matches(what, err, 1, true) end
end

describe("parse_time", function()
  it("reads the API's UTC timestamps", function()
    assert.equal(1699335116, parse_time("2023-11-07T05:31:56Z"))
    assert.equal(0, parse_time("1970-01-01T00:00:00Z"))
  end)

  it("does not depend on the local time zone", function()
    -- os.time would read a date table in local time: run the same parse under far-apart zones.
    local interpreter = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    local script = ("package.path = %q; package.cpath = %q; "
      .. "io.write(string.format('%%.1f', require('leadconduit').parse_time('2000-03-01T00:00:00Z')))")
      :format(package.path, package.cpath)
    for _, tz in ipairs({ "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati" }) do
      local p = assert(io.popen(("TZ=%s %s -e %q"):format(tz, interpreter, script)))
      local out = p:read("*a")
      p:close()
      assert.equal(("%.1f"):format(slow_days(2000, 3, 1) * 86400), out, tz)
    end
  end)

  it("returns an integer when there is no fraction (Lua 5.3+)", function()
    local t = parse_time("2023-11-07T05:31:56Z")
    if HAS_INTEGERS then assert.equal("integer", math.type(t)) end
    t = parse_time("2023-11-07T05:31:56+02:00")
    if HAS_INTEGERS then assert.equal("integer", math.type(t)) end
  end)

  it("keeps fractional seconds of any length as a float", function()
    assert.equal(1699335116.5, parse_time("2023-11-07T05:31:56.5Z"))
    assert.near(1699335116.123, parse_time("2023-11-07T05:31:56.123Z"), 1e-6)
    assert.near(1699335116.123457, parse_time("2023-11-07T05:31:56.123456789012345678901234567890Z"), 1e-6)
    local t = parse_time("2023-11-07T05:31:56.0Z")
    assert.equal(1699335116, t)
    if HAS_INTEGERS then assert.equal("float", math.type(t)) end
    assert.equal(-0.25, parse_time("1969-12-31T23:59:59.75Z"))
  end)

  it("applies positive and negative UTC offsets", function()
    assert.equal(1699335116, parse_time("2023-11-07T07:31:56+02:00"))
    assert.equal(1699335116, parse_time("2023-11-07T00:01:56-05:30"))
    assert.equal(1699335116, parse_time("2023-11-06T23:31:56-06:00"))   -- crosses a day
    assert.equal(1699335116, parse_time("2023-11-07T05:31:56+00:00"))
    assert.equal(1699335116, parse_time("2023-11-07T05:31:56-00:00"))   -- offset unknown: UTC
    assert.equal(0, parse_time("1970-01-01T23:59:00+23:59"))
    assert.equal(-86400 + 1, parse_time("1969-12-31T00:00:01+00:00"))
  end)

  it("accepts lower-case t and z as RFC 3339 allows", function()
    assert.equal(1699335116, parse_time("2023-11-07t05:31:56z"))
    assert.equal(1699335116, parse_time("2023-11-07t05:31:56Z"))
  end)

  it("rejects a space between date and time (not RFC 3339's date-time)", function()
    rejects("2023-11-07 05:31:56Z")
  end)

  it("counts a leap second 60 as the first second of the next minute", function()
    assert.equal(parse_time("2017-01-01T00:00:00Z"), parse_time("2016-12-31T23:59:60Z"))
    assert.equal(parse_time("2016-12-31T23:59:60Z"), parse_time("2016-12-31T18:59:60-05:00"))
    assert.near(parse_time("2017-01-01T00:00:00Z") + 0.5, parse_time("2016-12-31T23:59:60.5Z"), 1e-9)
    rejects("2016-12-31T23:59:61Z", "second")
  end)

  it("agrees with a day-by-day count across centuries and leap years", function()
    local samples = {
      { 1, 1, 1 }, { 1600, 2, 29 }, { 1699, 12, 31 }, { 1900, 2, 28 }, { 1900, 3, 1 },
      { 1969, 12, 31 }, { 1970, 1, 1 }, { 1972, 2, 29 }, { 1999, 12, 31 }, { 2000, 2, 29 },
      { 2000, 3, 1 }, { 2023, 11, 7 }, { 2024, 2, 29 }, { 2038, 1, 19 }, { 2100, 3, 1 },
      { 2400, 2, 29 }, { 9999, 12, 31 },
    }
    for _, s in ipairs(samples) do
      local y, m, d = s[1], s[2], s[3]
      local text = ("%04d-%02d-%02dT12:34:56Z"):format(y, m, d)
      assert.equal(slow_days(y, m, d) * 86400 + 12 * 3600 + 34 * 60 + 56, parse_time(text), text)
    end
  end)

  it("accepts every valid day of every month of a leap and a common year", function()
    local lengths = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    for _, y in ipairs({ 2023, 2024 }) do
      local prev
      for m = 1, 12 do
        local last = lengths[m] + ((m == 2 and y == 2024) and 1 or 0)
        for d = 1, last do
          local t = parse_time(("%04d-%02d-%02dT00:00:00Z"):format(y, m, d))
          if prev then assert.equal(prev + 86400, t) end
          prev = t
        end
        rejects(("%04d-%02d-%02dT00:00:00Z"):format(y, m, last + 1), "day")
      end
    end
  end)

  it("validates the calendar: leap years, month lengths, month range", function()
    rejects("2023-02-29T00:00:00Z", "day")
    rejects("1900-02-29T00:00:00Z", "day")
    rejects("2100-02-29T00:00:00Z", "day")
    assert.is_number(parse_time("2000-02-29T00:00:00Z"))
    assert.is_number(parse_time("2024-02-29T00:00:00Z"))
    rejects("2023-04-31T00:00:00Z", "day")
    rejects("2023-06-31T00:00:00Z", "day")
    rejects("2023-09-31T00:00:00Z", "day")
    rejects("2023-11-31T00:00:00Z", "day")
    rejects("2023-01-00T00:00:00Z", "day")
    rejects("2023-00-10T00:00:00Z", "month")
    rejects("2023-13-10T00:00:00Z", "month")
  end)

  it("validates hours, minutes, seconds and offsets", function()
    assert.is_number(parse_time("2023-11-07T23:59:59Z"))
    rejects("2023-11-07T24:00:00Z", "hour")
    rejects("2023-11-07T05:60:00Z", "minute")
    rejects("2023-11-07T05:31:99Z", "second")
    rejects("2023-11-07T05:31:56+24:00", "offset hour")
    rejects("2023-11-07T05:31:56+05:60", "offset minute")
  end)

  it("rejects malformed text", function()
    for _, s in ipairs({
      "", "2023-11-07", "2023-11-07T05:31:56", "2023-11-07T05:31Z", "23-11-07T05:31:56Z",
      "2023-1-07T05:31:56Z", "2023-11-7T05:31:56Z", "2023-11-07T5:31:56Z", "2023/11/07T05:31:56Z",
      "2023-11-07X05:31:56Z", "2023-11-07T05:31:56.Z", "2023-11-07T05:31:56,5Z",
      "2023-11-07T05:31:56+0200", "2023-11-07T05:31:56+02", "2023-11-07T05:31:56 +02:00",
      "2023-11-07T05:31:56ZZ", "2023-11-07T05:31:56Z ", " 2023-11-07T05:31:56Z",
      "2023-11-07T05:31:56Z\n", "2023-11-07T05:31:56Z\0", "+2023-11-07T05:31:56Z",
      "12023-11-07T05:31:56Z", "2023-11-07T05:31:56UTC", "2023-11-07T05:31:56.5.5Z",
      "2023-11-07T05:31:56+02:00:00", "２０２３-11-07T05:31:56Z", "2023-11-07T05:31:56.1e3Z",
    }) do
      rejects(s)
    end
  end)

  it("returns nil and a message for values that are not strings", function()
    rejects(nil, "string")
    rejects(1699335116, "string")
    rejects(leadconduit.null, "string")
    rejects({}, "string")
  end)
end)
