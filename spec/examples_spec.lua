-- examples/sync.lua, the script `make demo` runs, against the mock server: it must keep working
-- on odd accounts too (nulls, missing lists), and report a failed sync on stderr with exit 1.
local mock = require "support.mock_server"
local sys = require "support.sys"

local INTERPRETER = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

describe("examples/sync.lua", function()
  local srv

  lazy_setup(function() srv = mock.start() end)
  lazy_teardown(function() srv:stop() end)

  -- run(scenario, key) -> exit ok, stdout, stderr
  local function run(scenario, key)
    local err_file = os.tmpname()
    local command = ("cd %s && LUA_PATH=%s LUA_CPATH=%s LEADCONDUIT_API_KEY=%s LEADCONDUIT_BASE_URL=%s"
      .. " LEADCONDUIT_CA_FILE=%s %s examples/sync.lua 2>%s; echo \"exit=$?\""):format(
      sys.quote(sys.PROJECT_DIR), sys.quote(package.path), sys.quote(package.cpath),
      sys.quote(key or srv.api_key), sys.quote(srv:url(scenario)), sys.quote(srv.ca_file),
      INTERPRETER, sys.quote(err_file))
    local p = assert(io.popen(command))
    local out = p:read("*a")
    p:close()
    -- The status comes from the shell: Lua 5.1's popen close does not report it.
    local status
    out, status = out:match("^(.-)exit=(%d+)\n$")
    local ok = status == "0"
    local err = sys.read_file(err_file) or ""
    os.remove(err_file)
    return ok, out, err
  end

  it("prints the account, its open pending partners and its enabled features", function()
    local ok, out, err = run("fixture/demo")
    assert.is_truthy(ok, err)
    assert.matches("Account: Northwind Home Insurance %(64b0c0ffee0000000000d001%)", out)
    assert.matches("Pending sellers: 2 open, 2 expired", out, 1, true)
    assert.matches("Summit Referral Co%.%s+no expiry", out)
    assert.matches("Pending buyers: 1 open, 1 expired", out, 1, true)
    assert.matches("Enabled features: buyer_access, firehose, lead_transactions, real_time_bidding,"
      .. " seller_access", out, 1, true)
  end)

  it("shows null and missing fields as '-' instead of failing", function()
    for _, fixture in ipairs({ "nulls", "minimal", "empty" }) do
      local ok, out, err = run("fixture/" .. fixture)
      assert.is_truthy(ok, fixture .. ": " .. err)
      assert.matches("Account: ", out)
      assert.is_nil(out:find("userdata", 1, true), fixture)
    end
  end)

  it("reports a failed sync on stderr, without the key, and exits 1", function()
    local ok, out, err = run("status/401")
    assert.is_falsy(ok)
    assert.equal("", out)
    assert.equal("leadconduit: auth: HTTP 401: authentication failed\n", err)
    assert.is_nil(err:find(srv.api_key, 1, true))
  end)
end)
