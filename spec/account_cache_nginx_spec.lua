-- account_cache_nginx: leadconduit.account_cache in a real nginx with four workers
-- (spec/nginx/cache.conf, cache_handlers.lua: refresh = 1, stale = 2, timeout 2, no retries)
-- against the mock's "switch" scenario, which the specs turn off, on and into a hang. The
-- specs run in order, on one nginx, and take about 40 s; like spec/nginx_spec.lua they run in
-- the Lua 5.4 suite.

local openresty = require "support.openresty"
local sys = require "support.sys"
local socket = require "socket"

describe("leadconduit.account_cache in nginx with four workers", function()
  if _VERSION ~= "Lua 5.4" then return end
  local available, why = openresty.available()
  if not available then
    it("shares one account between the workers", function() pending(why) end)
    return
  end

  local cjson = require "cjson"
  local mock = require "support.mock_server"
  local redact = require "leadconduit.redact"
  local token
  local env = openresty.for_specs(lazy_setup, lazy_teardown, function(srv)
    local base_url
    base_url, token = srv:counted("switch")
    -- timeout 2 and no retries: a sync takes at most 2 s, so the lock expires 3 s after it was taken.
    local options = ("return { shared_dict = 'leadconduit', refresh = 1, stale = 2, client = {"
      .. " api_key = %q, base_url = %q, ca_file = %q, timeout = 2, max_retries = 0 } }\n")
      :format(srv.api_key, base_url, srv.ca_file)
    return { base_url = base_url, conf = assert(sys.read_file(sys.SPEC_DIR .. "/nginx/cache.conf")),
      files = { ["cache_options.lua"] = options } }
  end)

  local function reference_id()
    return cjson.decode((mock.read_fixture("reference"))).account.id
  end

  local function status()
    local code, body = env.bed:get("/status")
    assert(code == 200 and type(body) == "table",
      "/status: " .. tostring(code) .. "\n" .. env.bed:error_log_tail())
    return body
  end

  local function wait_for(check, seconds, what)
    return env.bed:wait_for(check, seconds, what)
  end

  local function requests()
    return env.srv:count(token).requests
  end

  it("syncs at start, then about once per second across all four workers, not once per worker", function()
    assert.equal(4, #env.bed:workers())
    wait_for(function() return status().syncs >= 1 end, 5, "the first sync")
    local before = requests()
    socket.sleep(5)
    local n = requests() - before
    assert(n >= 3 and n <= 6, n .. " syncs in 5 s")
  end)

  it("answers every worker's requests from the cache", function()
    local many = {}
    for i = 1, 40 do many[i] = { "/gate" } end
    local workers = {}
    for _, r in ipairs((env.bed:get_parallel(many))) do
      assert.equal(200, r.status)
      workers[r.body] = true
    end
    local n = 0
    for _ in pairs(workers) do n = n + 1 end
    assert(n >= 2, "only one worker answered 40 parallel requests")
  end)

  it("is unaffected by syncs per request: 100 at once against a slow API, the gate still open", function()
    local before = status()
    local many = {}
    -- 1 s each: the cache (refresh = 1) syncs meanwhile.
    for i = 1, 100 do many[i] = { "/sync", { base = env.srv.base_url .. "/slow/1000" } } end
    for i = 101, 140 do many[i] = { "/gate" } end
    local results = env.bed:get_parallel(many)
    for i, r in ipairs(results) do
      if i <= 100 then
        assert(r.status == 200 and r.body.ok, cjson.encode(r.body))
      else
        assert.equal(200, r.status)
        -- The gate answers from the cache, long before the slow syncs end.
        assert.is_true(r.seconds < 0.4, ("a gated request took %.2f s"):format(r.seconds))
      end
    end
    local after = status()
    assert.equal(before.failures, after.failures)
    assert.is_true(after.syncs > before.syncs, "the cache did not sync meanwhile")
  end)

  it("get() works in the header filter and log phases, and with lua_code_cache off", function()
    local code, _, headers = env.bed:get("/header-filter")
    assert.equal(200, code)
    assert.equal(reference_id(), headers["x-account"])
    assert.equal(200, (env.bed:get("/log")))
    assert.equal(reference_id(), wait_for(function()
      local _, body = env.bed:get("/result")
      return body ~= "none\n" and body
    end, 2, "the log phase's result"):match("%w+"))
    local _, body = env.bed:get("/no-code-cache")
    assert.equal(reference_id(), body.id)
  end)

  it("serves the last good account while syncs fail, then unavailable after refresh + stale", function()
    local good = status()
    env.srv:switch(token, "503")
    local failing = wait_for(function()
      local s = status()
      return s.failures > good.failures and s
    end, 3, "a failed sync")
    assert.equal(reference_id(), failing.id) -- stale, still served
    assert.same({ kind = "http", status = 503, message = "HTTP 503: mock switch 503" }, failing.last_error)
    assert.equal(200, (env.bed:get("/gate")))
    local gone = wait_for(function()
      local s = status()
      return s.err and s
    end, 6, "unavailable")
    -- refresh + stale = 3 s after the last success, not before.
    local unavailable_after = socket.gettime() - gone.synced_at
    assert(unavailable_after >= 3 and unavailable_after < 4.5, unavailable_after .. " s")
    assert.same({ "unavailable", "http" }, { gone.err.kind, gone.err.cause })
    assert.equal(503, (env.bed:get("/gate")))
    -- Back: within one interval.
    env.srv:switch(token, "ok")
    local _, seconds = wait_for(function() return status().id end, 4, "recovery")
    assert(seconds < 2, seconds .. " s to recover")
    assert.equal(200, (env.bed:get("/gate")))
    assert.is_nil(status().last_error)
  end)

  it("logs the same failure once a minute, at WARN, however often it fails, and never the key", function()
    local log = env.bed:error_log()
    local warnings = 0
    for line in log:gmatch("[^\n]+") do
      if line:find("leadconduit.account_cache: sync failed", 1, true) then
        assert.matches("[warn]", line, 1, true)
        assert.matches("sync failed: leadconduit: http: HTTP 503: mock switch 503; next sync in",
          line, 1, true)
        warnings = warnings + 1
      end
    end
    assert.equal(1, warnings)
    assert(status().failures >= 2, "the spec before made the same failure more than once")
    assert.is_nil(log:find(env.srv.api_key, 1, true))
    assert.is_nil(log:find(redact.secrets(env.srv.api_key)[2], 1, true))
  end)

  it("a worker killed while it holds the lock: another takes the lock over and syncs", function()
    env.srv:switch(token, "hang")
    local lock, seen_after = wait_for(function() return status().lock end, 3, "a sync holding the lock")
    local holder = tonumber(lock:match("^%d+"))
    local before = requests()
    assert(sys.run("kill -KILL " .. holder))
    env.srv:switch(token, "ok")
    local _, seconds = wait_for(function() return requests() > before end, 8, "a sync after the lock expired")
    -- Before the lock expires, 3 s (the longest sync, 2 s, and a second) after it was taken: the
    -- next tick of another worker finds its holder gone.
    seconds = seconds + seen_after
    assert(seconds < 2.4, seconds .. " s until the next sync")
    assert.matches("the worker that was syncing (pid " .. holder .. ") is gone; syncing again",
      env.bed:error_log(), 1, true)
    wait_for(function() return status().id and not status().lock end, 3, "a sync stored")
    wait_for(function() return #env.bed:workers() == 4 end, 3, "nginx to start a new worker")
  end)

  it("keeps the account and its counters through a reload (HUP)", function()
    local old = table.concat(env.bed:workers(), " ")
    local before = status()
    assert(sys.run("kill -HUP " .. env.bed.pid))
    wait_for(function()
      local now = env.bed:workers()
      return #now == 4 and table.concat(now, " ") ~= old
    end, 10, "new workers")
    local after = wait_for(function()
      local s = status()
      return s.syncs > before.syncs and s
    end, 4, "a sync by the new workers")
    assert.equal(reference_id(), after.id)
    assert.is_true(after.failures >= before.failures)
  end)

  it("refresh() syncs right now, counted once", function()
    local before = status().syncs
    local _, body = env.bed:get("/refresh")
    assert.same({ ok = true }, body)
    assert.is_true(status().syncs > before)
  end)
end)
