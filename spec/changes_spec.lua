-- Specs for lua/leadconduit/changes.lua: leadconduit.changes(old_account, new_account).
local leadconduit = require "leadconduit"
local mock = require "support.mock_server"

local null = leadconduit.null

local function account(name)
  return assert(leadconduit.decode(mock.read_fixture(name))).account
end

local function decode(text)
  return assert(leadconduit.decode(text))
end

-- "op path old new" per record, values as JSON text.
local function summary(records)
  local out = {}
  for i, r in ipairs(records) do
    out[i] = table.concat({ r.op, r.path, r.old == nil and "-" or leadconduit.encode(r.old),
      r.new == nil and "-" or leadconduit.encode(r.new) }, " ")
  end
  return out
end

describe("leadconduit.changes", function()
  it("is empty, with array_mt, when nothing changed", function()
    for _, name in ipairs(mock.fixtures()) do
      local a = account(name)
      local records = leadconduit.changes(a, account(name))
      assert.same({}, records, name)
      assert.equal(leadconduit.array_mt, getmetatable(records))
    end
  end)

  it("reports toggled features, edited, added and removed entries, changed subscriptions, sorted", function()
    assert.same({
      'changed data_truncated_at "2025-11-01T00:00:00Z" null',
      "changed features.conversion_feedback false true",
      "changed features.firehose true false",
      'changed keen_read_api_key "(redacted)" "(redacted)"',
      'changed pending_sellers[64b0c0ffee0000000000a201].invitation_expires_at "2099-01-15T18:00:00Z" '
        .. '"2099-02-15T18:00:00Z"',
      "removed pending_sellers[64b0c0ffee0000000000a202] "
        .. '{"expired":false,"id":"64b0c0ffee0000000000a202","invitation_expires_at":"2021-06-30T12:00:00Z",'
        .. '"name":"Old Mill Marketing"} -',
      "added pending_sellers[64b0c0ffee0000000000a205] - "
        .. '{"expired":false,"id":"64b0c0ffee0000000000a205","invitation_expires_at":"2099-04-01T00:00:00Z",'
        .. '"name":"Cascade Partners"}',
      'changed subscriptions.partner.inactive_at "2025-01-15T10:30:00Z" null',
      'changed subscriptions.partner.state "inactive" "active"',
    }, summary(leadconduit.changes(account("demo"), account("demo_next"))))
  end)

  it("matches entries of arrays of objects by id, so a reordered list is no change", function()
    local old = decode('{"s":[{"id":"a","n":1},{"id":"b","n":2}],"c":[{"id":1},{"id":2}]}')
    local new = decode('{"s":[{"id":"b","n":2},{"id":"a","n":1}],"c":[{"id":2},{"id":1}]}')
    assert.same({}, leadconduit.changes(old, new))
    new = decode('{"s":[{"id":"b","n":3},{"id":"a","n":1}],"c":[{"id":2},{"id":1}]}')
    assert.same({ "changed s[b].n 2 3" }, summary(leadconduit.changes(old, new)))
  end)

  it("compares other arrays as whole values", function()
    local cases = {
      { '{"a":[1,2]}', '{"a":[2,1]}', { "changed a [1,2] [2,1]" } },
      { '{"a":[{"x":1}]}', '{"a":[{"x":2}]}', { 'changed a [{"x":1}] [{"x":2}]' } },
      -- an entry without an id, or a repeated id: the array is one value
      { '{"a":[{"id":"k"},{"v":1}]}', '{"a":[{"id":"k"},{"v":2}]}',
        { 'changed a [{"id":"k"},{"v":1}] [{"id":"k"},{"v":2}]' } },
      { '{"a":[{"id":"k","v":1},{"id":"k"}]}', '{"a":[{"id":"k","v":2},{"id":"k"}]}',
        { 'changed a [{"id":"k","v":1},{"id":"k"}] [{"id":"k","v":2},{"id":"k"}]' } },
      { '{"a":[]}', '{"a":[]}', {} },
      { '{"a":[]}', '{"a":{}}', { "changed a [] {}" } },
    }
    for _, case in ipairs(cases) do
      assert.same(case[3], summary(leadconduit.changes(decode(case[1]), decode(case[2]))), case[1])
    end
  end)

  it("counts null as a value: null to value and back is changed, a key that appears is added", function()
    local function diff(a, b) return summary(leadconduit.changes(decode(a), decode(b))) end
    assert.same({ 'changed a null "x"' }, diff('{"a":null}', '{"a":"x"}'))
    assert.same({ 'changed a "x" null' }, diff('{"a":"x"}', '{"a":null}'))
    assert.same({ "added a - null" }, summary(leadconduit.changes(decode("{}"), decode('{"a":null}'))))
    assert.same({ "removed a null -" }, summary(leadconduit.changes(decode('{"a":null}'), decode("{}"))))
    local records = leadconduit.changes(decode('{"a":null}'), decode('{"a":1}'))
    assert.equal(null, records[1].old)
  end)

  it("reports the leaves of nested objects, not the objects", function()
    assert.same({ "changed a.b.c 1 2", "added a.b.d - true", "removed a.e 1 -" },
      summary(leadconduit.changes(decode('{"a":{"b":{"c":1},"e":1}}'),
        decode('{"a":{"b":{"c":2,"d":true}}}'))))
    assert.same({ 'changed a {"b":1} 5' },
      summary(leadconduit.changes(decode('{"a":{"b":1}}'), decode('{"a":5}'))))
  end)

  it("never shows a secret: a rotated key is changed with both values redacted", function()
    local old = decode('{"api_key":"old-key","keen_write_api_key":"w1","x":{"partner_api_key":"p1"}}')
    local new = decode('{"api_key":"new-key","keen_write_api_key":"w2","x":{"partner_api_key":null}}')
    assert.same({
      'changed api_key "(redacted)" "(redacted)"',
      'changed keen_write_api_key "(redacted)" "(redacted)"',
      'changed x.partner_api_key "(redacted)" "(redacted)"',
    }, summary(leadconduit.changes(old, new)))
    assert.same({ 'added keen_read_api_key - "(redacted)"' },
      summary(leadconduit.changes(decode("{}"), decode('{"keen_read_api_key":"r"}'))))
  end)

  it("does not call a secret changed when one side holds it as (redacted)", function()
    assert.same({}, leadconduit.changes(decode('{"api_key":"(redacted)"}'), decode('{"api_key":"real"}')))
  end)

  it("never shows a secret inside a value reported whole: removed, added, changed to null, arrays", function()
    local cases = {
      { '{"integrations":{"keen":{"read_api_key":"KEENSECRET-OLD"}}}', '{"integrations":{"keen":null}}',
        { 'changed integrations.keen {"read_api_key":"(redacted)"} null' } },
      { '{"integrations":{"keen":{"read_api_key":"KEENSECRET-OLD","n":1}}}', '{"integrations":{}}',
        { 'removed integrations.keen {"n":1,"read_api_key":"(redacted)"} -' } },
      { '{}', '{"keen":{"write_api_key":"KEENSECRET-NEW"}}',
        { 'added keen - {"write_api_key":"(redacted)"}' } },
      { '{"a":[{"api_key":"KEENSECRET-A"}]}', '{"a":[{"api_key":"KEENSECRET-B"},{"v":1}]}',
        { 'changed a [{"api_key":"(redacted)"}] [{"api_key":"(redacted)"},{"v":1}]' } },
      { '{"s":[{"id":"x","x_api_key":"KEENSECRET-X"}]}', '{"s":[]}',
        { 'removed s[x] {"id":"x","x_api_key":"(redacted)"} -' } },
      { '{"k":{"api_key":{"deeper_api_key":"KEENSECRET-D"}}}', '{"k":5}',
        { 'changed k {"api_key":"(redacted)"} 5' } },
      -- A secret field is a leaf whatever it holds: not walked into, not matched by id.
      { '{"api_key":["KEENSECRET-0"]}', '{"api_key":["KEENSECRET-1"]}',
        { 'changed api_key "(redacted)" "(redacted)"' } },
      { '{"x_api_key":{"v":"KEENSECRET-1"}}', '{"x_api_key":{"v":"KEENSECRET-2"}}',
        { 'changed x_api_key "(redacted)" "(redacted)"' } },
      { '{"x_api_key":[{"id":"a","v":"KEENSECRET-1"}]}', '{"x_api_key":[{"id":"a","v":"KEENSECRET-2"}]}',
        { 'changed x_api_key "(redacted)" "(redacted)"' } },
    }
    for _, case in ipairs(cases) do
      local records = leadconduit.changes(decode(case[1]), decode(case[2]))
      assert.same(case[3], summary(records), case[1])
      assert.is_nil(leadconduit.encode(records):find("KEENSECRET", 1, true), case[1])
    end
  end)

  it("does not call a value changed when the only difference is a secret one side holds redacted", function()
    assert.same({}, leadconduit.changes(decode('{"a":[{"api_key":"(redacted)","v":1}]}'),
      decode('{"a":[{"api_key":"real","v":1}]}')))
  end)

  it("raises for arguments that are not accounts, at the caller", function()
    for _, bad in ipairs({ 1, "x", null, setmetatable({}, leadconduit.array_mt) }) do
      local ok, err = pcall(function()
        local records = leadconduit.changes(bad, {})
        return records
      end)
      assert.is_false(ok)
      assert.matches("changes_spec.lua:%d+: leadconduit.changes: bad argument #1", err)
      ok, err = pcall(leadconduit.changes, {}, bad)
      assert.is_false(ok)
      assert.matches("bad argument #2", err)
    end
  end)
end)
