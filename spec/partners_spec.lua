-- Pending partners: is_expired, active_pending, expired_pending (API.md, "Pending partners and features").
local leadconduit = require "leadconduit"
local null, array_mt = leadconduit.null, leadconduit.array_mt

local NOW = 1699335116 -- 2023-11-07T05:31:56Z

local function entry(id, expired, at)
  return { id = id, name = "partner " .. id, expired = expired, invitation_expires_at = at }
end

local function ids(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e.id end
  return out
end

describe("is_expired", function()
  it("is true when the entry says expired, whatever the expiry time", function()
    assert.is_true(leadconduit.is_expired(entry("a", true, "2999-01-01T00:00:00Z"), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", true, nil), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", true, null), NOW))
  end)

  it("is false for a future expiry when not flagged expired", function()
    assert.is_false(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:57Z"), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", nil, "2999-01-01T00:00:00Z"), NOW))
  end)

  it("is true for an expiry before now even when expired is false", function()
    assert.is_true(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:55Z"), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", null, "2001-01-01T00:00:00Z"), NOW))
  end)

  it("is true when the expiry is exactly now", function()
    assert.is_true(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:56Z"), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", false, "2023-11-07T07:31:56+02:00"), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:56.001Z"), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:56.5Z"), NOW + 0.5))
  end)

  it("honours the offset of the expiry time", function()
    -- 05:31:57 at -01:00 is 06:31:57Z: still open; 05:31:57 at +01:00 is 04:31:57Z: expired.
    assert.is_false(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:57-01:00"), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", false, "2023-11-07T05:31:57+01:00"), NOW))
  end)

  it("treats an expiry that is not a valid RFC 3339 time as expired", function()
    for _, bad in ipairs({ "tomorrow", "", "2999-02-30T00:00:00Z", "2999-01-01 00:00:00Z",
                           "2999-01-01T00:00:00", 4102444800, true, {} }) do
      assert.is_true(leadconduit.is_expired(entry("a", false, bad), NOW), tostring(bad))
    end
  end)

  it("leaves the decision to `expired` when the expiry is missing or null", function()
    assert.is_false(leadconduit.is_expired(entry("a", false, nil), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", false, null), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", nil, nil), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", null, null), NOW))
    assert.is_true(leadconduit.is_expired(entry("a", true, null), NOW))
  end)

  it("counts only the boolean true as an expired flag", function()
    assert.is_false(leadconduit.is_expired(entry("a", "true", null), NOW))
    assert.is_false(leadconduit.is_expired(entry("a", 1, null), NOW))
  end)

  it("uses the current time when now is omitted", function()
    assert.is_true(leadconduit.is_expired(entry("a", false, "2001-01-01T00:00:00Z")))
    assert.is_false(leadconduit.is_expired(entry("a", false, "9999-12-31T23:59:59Z")))
    local soon = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
    local past = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3600)
    assert.is_false(leadconduit.is_expired(entry("a", false, soon)))
    assert.is_true(leadconduit.is_expired(entry("a", false, past)))
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() leadconduit.is_expired(nil, NOW) end)
    assert.has_error(function() leadconduit.is_expired("x", NOW) end)
    assert.has_error(function() leadconduit.is_expired(null, NOW) end)
    assert.has_error(function() leadconduit.is_expired(entry("a", false, null), "now") end)
    assert.has_error(function() leadconduit.is_expired(entry("a", false, null), 0 / 0) end)
    local ok, err = pcall(leadconduit.is_expired, 42)
    assert.is_false(ok)
    assert.matches("leadconduit.is_expired: bad argument #1", err, 1, true)
  end)
end)

describe("active_pending and expired_pending", function()
  local list = {
    entry("open-future", false, "2023-11-08T00:00:00Z"),
    entry("flagged", true, "2023-11-08T00:00:00Z"),
    entry("past", false, "2023-11-01T00:00:00Z"),
    entry("no-expiry", false, null),
    entry("at-now", false, "2023-11-07T05:31:56Z"),
    entry("bad-time", false, "soon"),
    entry("missing-all", nil, nil),
    entry("open-offset", nil, "2023-11-07T01:00:00-05:00"),
  }

  it("splits a list into open and expired entries, keeping their order", function()
    assert.same({ "open-future", "no-expiry", "missing-all", "open-offset" },
      ids(leadconduit.active_pending(list, NOW)))
    assert.same({ "flagged", "past", "at-now", "bad-time" }, ids(leadconduit.expired_pending(list, NOW)))
  end)

  it("returns the original entry tables, not copies", function()
    assert.equal(list[1], leadconduit.active_pending(list, NOW)[1])
    assert.equal(list[2], leadconduit.expired_pending(list, NOW)[1])
  end)

  it("returns new arrays that carry array_mt", function()
    local a, e = leadconduit.active_pending(list, NOW), leadconduit.expired_pending(list, NOW)
    assert.equal(array_mt, getmetatable(a))
    assert.equal(array_mt, getmetatable(e))
    assert.are_not.equal(list, a)
  end)

  it("does not modify the input list", function()
    local copy = {}
    for i, v in ipairs(list) do copy[i] = v end
    leadconduit.active_pending(list, NOW)
    leadconduit.expired_pending(list, NOW)
    assert.same(copy, list)
  end)

  it("treats nil and null as an empty list", function()
    for _, f in ipairs({ leadconduit.active_pending, leadconduit.expired_pending }) do
      for _, empty in ipairs({ { nil }, { null } }) do
        local out = f(empty[1], NOW)
        assert.same({}, out)
        assert.equal(array_mt, getmetatable(out))
      end
      assert.same({}, f(setmetatable({}, array_mt), NOW))
    end
  end)

  it("uses the current time when now is omitted", function()
    local l = { entry("old", false, "2001-01-01T00:00:00Z"), entry("far", false, "9999-01-01T00:00:00Z") }
    assert.same({ "far" }, ids(leadconduit.active_pending(l)))
    assert.same({ "old" }, ids(leadconduit.expired_pending(l)))
  end)

  it("moves an entry from open to expired as now passes its expiry", function()
    local l = { entry("x", false, "2023-11-07T05:31:56Z") }
    assert.same({ "x" }, ids(leadconduit.active_pending(l, NOW - 1)))
    assert.same({}, ids(leadconduit.active_pending(l, NOW)))
    assert.same({ "x" }, ids(leadconduit.expired_pending(l, NOW)))
  end)

  it("works on a decoded API answer", function()
    local decoded, err = leadconduit.decode([=[
      [{"id":"a","expired":false,"invitation_expires_at":"2023-11-08T00:00:00Z"},
       {"id":"b","expired":true,"invitation_expires_at":null},
       {"id":"c","expired":false,"invitation_expires_at":null}]]=])
    assert.is_table(decoded, err)
    assert.same({ "a", "c" }, ids(leadconduit.active_pending(decoded, NOW)))
    assert.same({ "b" }, ids(leadconduit.expired_pending(decoded, NOW)))
  end)

  it("raises on bad arguments", function()
    for _, f in ipairs({ leadconduit.active_pending, leadconduit.expired_pending }) do
      assert.has_error(function() f("list", NOW) end)
      assert.has_error(function() f(42, NOW) end)
      assert.has_error(function() f({}, "now") end)
      assert.has_error(function() f({ "not an entry" }, NOW) end)
      assert.has_error(function() f({ null }, NOW) end)
    end
    local ok, err = pcall(leadconduit.active_pending, { entry("a", false, null), 7 }, NOW)
    assert.is_false(ok)
    assert.matches("leadconduit.active_pending: entry #2", err, 1, true)
  end)
end)

describe("expiring_pending", function()
  local HOUR, DAY = 3600, 86400
  local list = setmetatable({
    entry("soon", false, "2023-11-07T06:31:56Z"),        -- NOW + 1 h
    entry("edge", false, "2023-11-08T05:31:56Z"),        -- NOW + 1 d exactly
    entry("later", false, "2023-11-14T05:31:56Z"),       -- NOW + 7 d
    entry("lapsed", false, "2023-11-06T05:31:56Z"),      -- NOW - 1 d
    entry("flagged", true, "2023-11-07T07:31:56Z"),      -- NOW + 2 h, but expired
    entry("never", false, null),
    entry("missing", false, nil),
    entry("unreadable", false, "tomorrow"),
    entry("offset", false, "2023-11-07T08:31:56+02:00"), -- NOW + 1 h, written in +02:00
  }, array_mt)

  it("lists the open entries lapsing at or before now + within, in order", function()
    assert.same({ "soon", "offset" }, ids(leadconduit.expiring_pending(list, HOUR, NOW)))
    assert.same({ "soon", "edge", "offset" }, ids(leadconduit.expiring_pending(list, DAY, NOW)))
    assert.same({ "soon", "edge", "later", "offset" }, ids(leadconduit.expiring_pending(list, 7 * DAY, NOW)))
    assert.same({}, ids(leadconduit.expiring_pending(list, 0, NOW)))
    assert.same({}, ids(leadconduit.expiring_pending(list, HOUR - 1, NOW)))
  end)

  it("never lists an entry without an expiry time, an expired one or an unreadable one", function()
    local all = ids(leadconduit.expiring_pending(list, 1e9, NOW))
    for _, id in ipairs({ "never", "missing", "unreadable", "lapsed", "flagged" }) do
      for _, got in ipairs(all) do assert.is_true(got ~= id, id) end
    end
  end)

  it("returns a new array with array_mt; nil and null are empty lists; now defaults to the clock", function()
    local out = leadconduit.expiring_pending(list, DAY, NOW)
    assert.equal(array_mt, getmetatable(out))
    assert.same({}, leadconduit.expiring_pending(nil, DAY))
    assert.same({}, leadconduit.expiring_pending(null, DAY))
    local in_a_minute = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 60)
    assert.same({ "x" }, ids(leadconduit.expiring_pending({ entry("x", false, in_a_minute) }, HOUR)))
  end)

  it("raises for a within that is missing, negative or not a number, at the caller", function()
    for _, bad in ipairs({ -1, "7d", 0 / 0 }) do
      local ok, err = pcall(function()
        local out = leadconduit.expiring_pending(list, bad, NOW)
        return out
      end)
      assert.is_false(ok, tostring(bad))
      assert.matches("partners_spec.lua:%d+: leadconduit.expiring_pending: bad argument #2 'within'", err)
    end
    assert.has_error(function() leadconduit.expiring_pending(list) end)
    local ok, err = pcall(leadconduit.expiring_pending, list, DAY, "now")
    assert.is_false(ok)
    assert.matches("bad argument #3 'now'", err)
  end)
end)
