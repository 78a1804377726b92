-- messages_spec.lua — every message the library raises (and parse_time's returned one) starts with
-- `leadconduit.<function>: `, the public name that was called, and names no internal module
-- (issue 28: leadconduit.public.decode, "leadconduit: sync_account:" and "leadconduit.new:"
-- were all in use).
local leadconduit = require "leadconduit"

local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1)

-- A client's methods are public names too.
local METHODS = { sync_account = true, close = true }

-- The message of a raised error, without the position Lua put in front of it.
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "did not raise")
  assert.is_string(err)
  return (err:gsub("^[^\n:]*:%d+: ", ""))
end

-- Every leadconduit.X in the message is a public name.
local function assert_public_names(message)
  for name in message:gmatch("leadconduit%.([%w_]+)") do
    assert.is_true(leadconduit[name] ~= nil or METHODS[name], "an internal name in: " .. message)
  end
end

local function assert_from(fname, message)
  assert.matches("^leadconduit%." .. fname .. ": ", message)
  assert_public_names(message)
end

describe("raised messages", function()
  it("decode and encode name themselves, not the table they were found in", function()
    for _, args in ipairs({ { nil }, { 5 }, { {} }, { "[]", 5 }, { "[]", { max_depth = -1 } },
                            { "[]", { max_depth = "x" } } }) do
      assert_from("decode", raised(leadconduit.decode, unpack(args, 1, 2)))
    end
    assert.equal("leadconduit.decode: bad argument #1 'text' (string expected, got nil)",
      raised(leadconduit.decode, nil))
    assert.equal("leadconduit.decode: bad argument #2 'opts' (table expected, got number)",
      raised(leadconduit.decode, "[]", 5))
    assert_from("encode", raised(leadconduit.encode))
    assert_from("encode", raised(leadconduit.encode, {}, 5))
    assert_from("encode", raised(leadconduit.encode, {}, { indent = 99 }))
  end)

  it("new and sync_account say leadconduit.new: and leadconduit.sync_account:", function()
    assert_from("new", raised(leadconduit.new, nil))
    assert_from("new", raised(leadconduit.new, { api_key = "k3y", bogus = 1 }))
    assert_from("new", raised(leadconduit.new, { api_key = "k3y", base_url = "ftp://x" }))
    local c = leadconduit.new{ api_key = "k3y" }
    assert.equal("leadconduit.sync_account: expected a table of options or nothing",
      raised(c.sync_account, c, 5))
    assert_from("sync_account", raised(c.sync_account, c, { bogus = 1 }))
    assert_from("sync_account", raised(c.sync_account, c, { sso_account_id = "nope" }))
    assert_from("sync_account", raised(c.sync_account, "not a client"))
    c:close()
    assert.equal("leadconduit.sync_account: the client is closed", raised(c.sync_account, c))
  end)

  it("the helpers name themselves", function()
    local account = { features = {}, subscriptions = {} }
    assert_from("is_expired", raised(leadconduit.is_expired, 5))
    assert_from("is_expired", raised(leadconduit.is_expired, {}, "now"))
    assert_from("active_pending", raised(leadconduit.active_pending, 5))
    assert_from("expired_pending", raised(leadconduit.expired_pending, { 5 }))
    assert_from("expiring_pending", raised(leadconduit.expiring_pending, {}, -1))
    assert_from("expiring_pending", raised(leadconduit.expiring_pending, {}, "soon"))
    assert_from("changes", raised(leadconduit.changes, 1, {}))
    assert_from("has_feature", raised(leadconduit.has_feature, account, "firehoze"))
    assert_from("has_feature", raised(leadconduit.has_feature, nil, "firehose"))
    assert_from("enabled_features", raised(leadconduit.enabled_features, nil))
    assert_from("subscription_active", raised(leadconduit.subscription_active, account, "partnr"))
    assert_from("account_cache", raised(leadconduit.account_cache, { shared_dict = "x" }))
    local _, message = leadconduit.parse_time("yesterday")
    assert_from("parse_time", message)
    local _, decode_message = leadconduit.decode("[1,")
    assert_from("decode", decode_message)
  end)
end)
