-- nginx_examples: examples/nginx/, the OpenResty configuration and handlers README.md shows, run
-- in a real nginx (several workers, as the file says) against the mock server. The files are used
-- as they are: only the paths and the port below are changed, so that README's configuration
-- cannot drift from one that works. Like spec/nginx_spec.lua, this runs in the Lua 5.4 suite.

local openresty = require "support.openresty"
local sys = require "support.sys"

local EXAMPLES = sys.PROJECT_DIR .. "/examples/nginx"
local HANDLERS = { "account.lua", "gate.lua", "status.lua" }

-- What changes between a Debian machine and the test bed, each of which must be in the file.
local SUBSTITUTIONS = {
  { "/run/nginx.pid", "@PREFIX@/nginx.pid" },
  { "/var/log/nginx/", "@PREFIX@/" },
  { "/usr/local/openresty-lc", "@INSTALL@" },
  { "/etc/nginx/lua", "@PREFIX@/lua" },
  { "127.0.0.1:8080", "127.0.0.1:@PORT@" },
}

local function plain(s) return (s:gsub("%p", "%%%0")) end

describe("README.md's OpenResty section", function()
  it("shows every file of examples/nginx as it is", function()
    local readme = assert(sys.read_file(sys.PROJECT_DIR .. "/README.md"))
    local files = { { "nginx.conf", "nginx" } }
    for _, name in ipairs(HANDLERS) do files[#files + 1] = { name, "lua" } end
    for _, f in ipairs(files) do
      local text = assert(sys.read_file(EXAMPLES .. "/" .. f[1]))
      assert(readme:find("```" .. f[2] .. "\n" .. text .. "```\n", 1, true),
        "README.md does not show examples/nginx/" .. f[1] .. " as it is")
    end
  end)
end)

describe("the nginx configuration in examples/nginx", function()
  if _VERSION ~= "Lua 5.4" then return end
  local available, why = openresty.available()
  if not available then
    it("runs", function() pending(why) end)
    return
  end

  -- What openresty.start takes to run the example as it is, with nginx's environment `env`.
  local function example(env)
    local conf = assert(sys.read_file(EXAMPLES .. "/nginx.conf"))
    for _, s in ipairs(SUBSTITUTIONS) do
      local n
      conf, n = conf:gsub(plain(s[1]), (s[2]:gsub("%%", "%%%%")))
      assert(n > 0, "examples/nginx/nginx.conf no longer has " .. s[1])
    end
    local files = {}
    for _, name in ipairs(HANDLERS) do
      files["lua/" .. name] = assert(sys.read_file(EXAMPLES .. "/" .. name))
    end
    return { conf = conf, files = files, env = env }
  end

  local env = openresty.for_specs(lazy_setup, lazy_teardown, function(srv)
    -- nginx's workers run as www-data (the file's user directive): they read the CA file.
    assert(sys.run("chmod 755 " .. sys.quote(srv.ca_file:match("^(.*)/"))))
    return example({
      LEADCONDUIT_API_KEY = srv.api_key,
      LEADCONDUIT_BASE_URL = srv:url("fixture/demo"),
      LEADCONDUIT_CA_FILE = srv.ca_file,
    })
  end)

  -- GET path until it stops answering 503 (the first sync is under way), for up to 10 s.
  local function get_synced(path)
    local status, body
    for _ = 1, 100 do
      status, body = env.bed:get(path)
      if status ~= 503 then return status, body end
      require("socket").sleep(0.1)
    end
    return status, body
  end

  it("lets a request through a gate whose feature is on", function()
    local status, body = get_synced("/leads")
    assert.equal(200, status, env.bed:error_log_tail())
    assert.equal("leads: accepted\n", body)
  end)

  it("answers 403 where the feature is off or the subscription inactive", function()
    assert.equal(403, (get_synced("/feedback")))
    assert.equal(403, (get_synced("/partners")))
  end)

  it("runs several workers, all answering from the one cache", function()
    assert.is_true(#env.bed:workers() > 1 or sys.capture("nproc"):match("^1%s"))
    local results = env.bed:get_parallel((function()
      local many = {}
      for i = 1, 40 do many[i] = { "/leads" } end
      return many
    end)())
    for i, r in ipairs(results) do assert.equal(200, r.status, i .. ": " .. tostring(r.body)) end
  end)

  it("reports the cache's status for monitoring", function()
    local status, body = get_synced("/leadconduit/status")
    assert.equal(200, status)
    assert.is_true(body.fresh)
    assert.same({ 1, 0 }, { body.syncs, body.failures })
    assert.is_number(body.synced_at)
  end)

  it("serves metrics that promtool accepts, without a warning", function()
    local status, text = env.bed:get("/leadconduit/metrics")
    assert.equal(200, status)
    assert.matches("\nleadconduit_account_fresh 1\n", text, 1, true)
    local path = env.bed.prefix .. "/metrics.txt"
    sys.write_file(path, text)
    local verdict = sys.capture("promtool check metrics < " .. sys.quote(path) .. " 2>&1; echo rc=$?")
    assert.equal("rc=0\n", verdict)
  end)

  it("never writes the key into nginx's error log", function()
    local log = env.bed:error_log()
    assert.is_nil(log:find(env.srv.api_key, 1, true))
    assert.is_nil(log:find(require("leadconduit.redact").secrets(env.srv.api_key)[2], 1, true))
  end)

  it("without a key still answers: 503 from the gates, the status JSON with kind config", function()
    env.bed:stop()
    local opts = example({ LEADCONDUIT_BASE_URL = env.srv:url("fixture/demo"),
      LEADCONDUIT_CA_FILE = env.srv.ca_file })
    opts.install, opts.base_url, opts.ca_file, opts.api_key =
      env.install, env.srv.base_url, env.srv.ca_file, ""
    env.bed = openresty.start(opts)
    local status, body
    for _ = 1, 50 do
      status, body = env.bed:get("/leadconduit/status")
      if type(body) == "table" and body.last_error then break end
      require("socket").sleep(0.1)
    end
    assert.equal(503, status)
    assert.is_false(body.fresh)
    assert.equal("config", body.last_error.kind)
    assert.matches("api_key is missing", body.last_error.message, 1, true)
    assert.equal(503, (env.bed:get("/leads")))
    assert.matches("%[error%][^\n]*sync failed: leadconduit: config: client: api_key is missing",
      env.bed:error_log())
  end)
end)
