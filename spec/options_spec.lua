-- Specs for lua/leadconduit/options.lua: what leadconduit.new accepts, and that it raises otherwise.
local leadconduit = require "leadconduit"
local options = require "leadconduit.options"

local KEY = "k3y-Secret_value"

local function settings(extra)
  local opts = { api_key = KEY }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return options.check(opts)
end

local function raises(pattern, opts)
  local ok, err = pcall(leadconduit.new, opts)
  assert.is_false(ok)
  assert.matches(pattern, err)
  assert.is_nil(tostring(err):find(KEY, 1, true), "the message must not quote the key")
end

describe("leadconduit.new options", function()
  it("uses the documented defaults", function()
    local s = settings()
    assert.are.equal("https://app.leadconduit.com/account_sso_sync", s.transport.url)
    assert.are.same({ 30, 10000, 8388608, false }, { s.timeout, s.transport.connect_timeout_ms,
      s.transport.max_response_bytes, s.transport.allow_http })
    assert.is_nil(s.max_time)
    assert.are.equal(2, s.max_retries)
    assert.is_nil(s.transport.ca_file)
    assert.matches("^leadconduit%-lua/%d+%.%d+%.%d+ libcurl/%d", s.transport.user_agent)
  end)

  it("keeps a base_url path prefix and ignores a trailing slash", function()
    assert.are.equal("https://api.example.com/v2/lc/account_sso_sync",
      settings({ base_url = "https://api.example.com/v2/lc/" }).transport.url)
    assert.are.equal("https://api.example.com:8443/account_sso_sync",
      settings({ base_url = "https://api.example.com:8443" }).transport.url)
  end)

  it("allows http:// only for loopback hosts", function()
    for _, url in ipairs({ "http://127.0.0.1:8080", "http://127.255.0.9", "http://localhost:1",
                           "http://LOCALHOST", "http://[::1]:8080/x" }) do
      assert.is_true(settings({ base_url = url }).transport.allow_http, url)
    end
    for _, url in ipairs({ "http://example.com", "http://128.0.0.1", "http://127.0.0.1.example.com",
                           "http://127.0.0.256", "http://localhost.example.com", "http://[::2]",
                           "http://10.0.0.1", "http://127.0.0.08", "http://127.000.0.1" }) do
      raises("https://", { api_key = KEY, base_url = url })
    end
  end)

  it("refuses other schemes, credentials, queries and bad ports in base_url", function()
    raises("https://", { api_key = KEY, base_url = "ftp://example.com" })
    raises("https://", { api_key = KEY, base_url = "example.com" })
    raises("credentials", { api_key = KEY, base_url = "https://user:pass@example.com" })
    raises("query", { api_key = KEY, base_url = "https://example.com/?a=1" })
    raises("port", { api_key = KEY, base_url = "https://example.com:0" })
    raises("port", { api_key = KEY, base_url = "https://example.com:99999" })
    raises("host", { api_key = KEY, base_url = "https://example.com:x" })
    raises("spaces", { api_key = KEY, base_url = "https://example.com/a b" })
    raises("URL", { api_key = KEY, base_url = 42 })
  end)

  it("requires an api_key of printable ASCII without spaces", function()
    raises("api_key", {})
    raises("api_key", { api_key = "" })
    raises("api_key", { api_key = 123 })
    raises("api_key", { api_key = "has space" })
    raises("api_key", { api_key = "line\nbreak" })
    raises("api_key", { api_key = "caf\195\169" })
    raises("api_key", { api_key = "tab\t" })
  end)

  it("checks numbers and names every unknown option", function()
    raises("timeout", { api_key = KEY, timeout = 0 })
    raises("timeout", { api_key = KEY, timeout = -1 })
    raises("timeout", { api_key = KEY, timeout = 0 / 0 })
    raises("connect_timeout", { api_key = KEY, connect_timeout = "10" })
    raises("max_retries", { api_key = KEY, max_retries = 1.5 })
    raises("max_retries", { api_key = KEY, max_retries = -1 })
    raises("max_response_bytes", { api_key = KEY, max_response_bytes = 0 })
    raises("unknown option 'timout'", { api_key = KEY, timout = 3 })
    raises("ca_file", { api_key = KEY, ca_file = "/nonexistent/ca.pem" })
    raises("ca_file", { api_key = KEY, ca_file = "/" }) -- a directory: io.open alone accepts it
    raises("ca_file", { api_key = KEY, ca_file = "/dev/null" })
    raises("user_agent", { api_key = KEY, user_agent = "x\r\nInjected: 1" })
    raises("table of options", "not a table")
  end)

  it("raises in new(), naming the option, for what the transport would refuse at every sync", function()
    local ca = os.tmpname()
    local f = assert(io.open(ca, "w")); f:write("not a bundle, but a file\n"); f:close()
    raises("ca_file", { api_key = KEY, ca_file = ca .. "\0suffix" })
    raises("ca_file", { api_key = KEY, ca_file = ca .. "\n" })
    os.remove(ca)
    raises("user_agent must be at most 512 bytes", { api_key = KEY, user_agent = ("u"):rep(4 * 1048576) })
    raises("base_url must be at most 2048 bytes",
      { api_key = KEY, base_url = "https://example.com/" .. ("p"):rep(4 * 1048576) })
    -- Options of earlier versions say why they went.
    raises("thread_pool: syncs inside nginx run on leadconduit's own thread and need no thread pool",
      { api_key = KEY, thread_pool = "leadconduit" })
    raises("thread_pool_size: syncs inside nginx", { api_key = KEY, thread_pool_size = 16 })
    raises("api_key must be at most 1024", { api_key = ("k"):rep(5000) })
    raises("max_time", { api_key = KEY, max_time = 0 })
    raises("max_time", { api_key = KEY, max_time = 86401 })
    raises("max_time", { api_key = KEY, max_time = "5" })
    assert.are.equal(0.001, settings({ max_time = 0.001 }).max_time)
  end)

  it("returns the problem as data, naming the option, for the CLI to map to its flags", function()
    local s, problem = options.check({ api_key = KEY, timeout = -1 })
    assert.is_nil(s)
    assert.are.equal("timeout", problem.option)
    assert.matches("^timeout must be", problem.message)
    s, problem = options.check({ api_key = KEY, bogus = 1 })
    assert.is_nil(s)
    assert.are.same({ "bogus", "unknown option 'bogus'" }, { problem.option, problem.message })
  end)

  it("refuses timeouts under a millisecond, which libcurl would read as no limit", function()
    raises("timeout", { api_key = KEY, timeout = 0.0001 })
    raises("connect_timeout", { api_key = KEY, connect_timeout = 1e-9 })
    assert.are.equal(0.001, settings({ timeout = 0.001 }).timeout)
  end)

  it("raises at the caller's line", function()
    local ok, err = pcall(function() leadconduit.new({}) end)
    assert.is_false(ok)
    assert.matches("options_spec.lua:%d+: leadconduit.new", err)
  end)
end)

describe("leadconduit.new{ api_key_file = }", function()
  local sys = require "support.sys"
  local dir

  setup(function() dir = sys.tempdir("keyfile") end)
  teardown(function() sys.run("rm -rf " .. sys.quote(dir)) end)

  local function key_file(name, text, mode)
    local path = dir .. "/" .. name
    sys.write_file(path, text)
    assert(sys.run(("chmod %s %s"):format(mode, sys.quote(path))))
    return path
  end

  local function authorization(opts)
    local s = assert(options.check(opts))
    return s.transport.authorization
  end

  it("reads the key from the file's first line, without its line ending", function()
    local expected = authorization({ api_key = KEY })
    for i, text in ipairs({ KEY, KEY .. "\n", KEY .. "\r\n", KEY .. "\nsecond line\n", KEY .. "  \n" }) do
      assert.are.equal(expected, authorization({ api_key_file = key_file("k" .. i, text, "600") }))
    end
    assert.are.equal(expected, authorization({ api_key_file = key_file("k400", KEY, "400") }))
  end)

  it("refuses a file that group or others may read, saying chmod 600, and never quotes the key", function()
    for _, mode in ipairs({ "640", "604", "644" }) do
      local path = key_file("open" .. mode, KEY .. "\n", mode)
      raises("readable by other users.*run: chmod 600 " .. path:gsub("%p", "%%%0"), { api_key_file = path })
    end
  end)

  it("raises for a missing, empty, oversized or non-regular file, naming the path", function()
    raises("cannot read the API key file " .. (dir .. "/none"):gsub("%p", "%%%0") .. ": No such file",
      { api_key_file = dir .. "/none" })
    raises("the API key file .-/empty is empty", { api_key_file = key_file("empty", "\n\n", "600") })
    raises("the API key file .-/long is larger than 4096 bytes",
      { api_key_file = key_file("long", ("k"):rep(5000), "600") })
    raises("is not a regular file", { api_key_file = dir })
    raises("api_key must be a non%-empty string of printable ASCII",
      { api_key_file = key_file("space", "two words\n", "600") })
  end)

  it("takes exactly one of api_key and api_key_file", function()
    raises("give api_key or api_key_file, not both", { api_key = KEY, api_key_file = dir .. "/none" })
    raises("api_key %(or api_key_file%) is required", {})
    raises("api_key_file must be a file path", { api_key_file = "" })
  end)
end)

describe("sync_account options", function()
  it("turns sso_account_id into a query, any hex case", function()
    assert.are.equal("sso_account_id=5fd4371e940df5a34a3888b2",
      options.query({ sso_account_id = "5fd4371e940df5a34a3888b2" }))
    assert.are.equal("sso_account_id=5FD4371E940DF5A34A3888B2",
      options.query({ sso_account_id = "5FD4371E940DF5A34A3888B2" }))
    assert.is_nil(options.query(nil))
    assert.is_nil(options.query({}))
  end)

  it("raises before any request for a malformed sso_account_id", function()
    local client = leadconduit.new({ api_key = KEY, base_url = "http://127.0.0.1:9" })
    for _, id in ipairs({ "5fd4371e940df5a34a3888b", "5fd4371e940df5a34a3888b2a", "5fd4371e940df5a34a3888bz",
                          "5fd4371e940df5a34a3888b2&x=1", 12345 }) do
      local ok, err = pcall(client.sync_account, client, { sso_account_id = id })
      assert.is_false(ok)
      assert.matches("sso_account_id must be 24 hexadecimal digits", err)
    end
    assert.has_error(function() client:sync_account({ sso_acount_id = "x" }) end)
    client:close()
  end)
end)
