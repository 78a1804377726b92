-- Specs for lua/leadconduit/retry.lua: how long the client waits between attempts.
local retry = require "leadconduit.retry"

describe("retry.delay", function()
  it("grows exponentially with jitter between half and all of the ceiling", function()
    assert.are.equal(0.25, retry.delay(1, 0.5, nil, 0, function() return 0 end))
    assert.are.equal(0.5, retry.delay(1, 0.5, nil, 0, function() return 1 end))
    assert.are.equal(1, retry.delay(2, 0.5, nil, 0, function() return 1 end))
    assert.are.equal(2, retry.delay(3, 0.5, nil, 0, function() return 1 end))
    for _ = 1, 100 do
      local d = retry.delay(3, 0.5, nil, 0)
      assert.is_true(d >= 1 and d <= 2)
    end
  end)

  it("jitters differently in every process, on every Lua (5.1 and LuaJIT do not seed math.random)", function()
    local interpreter = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    local command = interpreter .. [[ -e "package.path = 'lua/?.lua;' .. package.path ]]
      .. [[local r = require 'leadconduit.retry' ]]
      .. [[io.write(string.format('%.17g %.17g', r.delay(1, 1, nil, 0), r.delay(1, 1, nil, 0)))"]]
    local seen = {}
    for _ = 1, 3 do
      local p = assert(io.popen(command))
      local out = p:read("*a")
      p:close()
      assert.matches("^[%d.e-]+ [%d.e-]+$", out)
      assert.is_nil(seen[out], "two processes drew the same jitter: " .. out)
      seen[out] = true
    end
  end)

  it("never waits more than 30 seconds", function()
    assert.are.equal(30, retry.delay(20, 1, nil, 0, function() return 1 end))
    assert.are.equal(30, retry.delay(1, 0.5, "3600", 0))
  end)

  it("honours Retry-After in seconds instead of the backoff", function()
    assert.are.equal(7, retry.delay(1, 0.5, "7", 0))
    assert.are.equal(0, retry.delay(1, 0.5, "0", 0))
  end)

  it("honours Retry-After as an HTTP date relative to now", function()
    local now = retry.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    assert.are.equal(784111777, now)
    assert.are.equal(12, retry.delay(1, 0.5, "Sun, 06 Nov 1994 08:49:49 GMT", now))
    -- A date in the past means "now".
    assert.are.equal(0, retry.delay(1, 0.5, "Sun, 06 Nov 1994 08:00:00 GMT", now))
  end)

  it("falls back to the backoff when Retry-After is not valid", function()
    for _, bad in ipairs({ "soon", "-5", "1.5", "Sun, 32 Nov 1994 08:49:37 GMT", "" }) do
      assert.are.equal(0.5, retry.delay(1, 0.5, bad, 0, function() return 1 end), bad)
    end
  end)
end)

describe("retry.parse_http_date", function()
  it("reads IMF-fixdate across leap years", function()
    assert.are.equal(0, retry.parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"))
    assert.are.equal(951782400, retry.parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"))
    assert.are.equal(1699335116, retry.parse_http_date("Tue, 07 Nov 2023 05:31:56 GMT"))
  end)

  it("rejects other shapes", function()
    assert.is_nil(retry.parse_http_date("2023-11-07T05:31:56Z"))
    assert.is_nil(retry.parse_http_date("Tue, 07 Foo 2023 05:31:56 GMT"))
    assert.is_nil(retry.parse_http_date("Tue, 07 Nov 2023 25:31:56 GMT"))
  end)
end)
