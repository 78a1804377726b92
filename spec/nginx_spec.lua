-- nginx: leadconduit inside OpenResty (lua/leadconduit/nginx.lua).
--
-- First the glue on its own, with a stand-in ngx table, under every interpreter. Then a real
-- test nginx (spec/nginx/) that loads the LuaJIT build from a `make install LUA_VERSION=jit`
-- prefix and syncs against the mock server from its handlers; the results are compared with
-- what the same client reports in plain Lua. nginx runs LuaJIT whichever interpreter runs the
-- suite, so that part runs once, in the Lua 5.4 suite.

local openresty = require "support.openresty"
local sys = require "support.sys"
local leadconduit = require "leadconduit"
local nginx = require "leadconduit.nginx"

local fake_ngx = require "support.fake_ngx"

local fake_ngx_new = fake_ngx.new

describe("leadconduit.nginx with a stand-in ngx", function()
  local saved, fake

  before_each(function()
    saved = rawget(_G, "ngx")
    fake = fake_ngx_new("content")
    rawset(_G, "ngx", fake)
  end)

  after_each(function()
    rawset(_G, "ngx", saved)
    fake_ngx.restore()
  end)

  local function client(opts)
    opts = opts or {}
    opts.api_key = "k3y"
    opts.base_url = opts.base_url or "https://127.0.0.1:1"
    opts.max_retries = opts.max_retries or 0
    return leadconduit.new(opts)
  end

  it("tells nginx's event loop, its worker threads' VMs and plain Lua apart", function()
    assert.equal("request", nginx.runtime())
    fake.sleep, fake.run_worker_thread = nil, nil
    assert.equal("worker_thread", nginx.runtime())
    rawset(_G, "ngx", nil)
    assert.is_nil(nginx.runtime())
  end)

  it("allows syncs in the rewrite, access, content and timer phases", function()
    for _, phase in ipairs({ "rewrite", "access", "content", "timer" }) do
      fake.phase = phase
      assert.is_true(nginx.check_phase())
    end
  end)

  it("refuses the other phases with a message naming the phase and suggesting a timer", function()
    for _, phase in ipairs({ "init_worker", "set", "header_filter", "body_filter", "log",
                             "balancer", "ssl_cert" }) do
      fake.phase = phase
      local ok, message = nginx.check_phase()
      assert.is_nil(ok)
      assert.matches("nginx's " .. phase .. " phase", message, 1, true)
      assert.matches("ngx.timer.at(0, ", message, 1, true)
    end
  end)

  it("says in init_by_lua what to do instead, not a timer, which init cannot start", function()
    fake.phase = "init"
    local ok, message = nginx.check_phase()
    assert.is_nil(ok)
    assert.matches("nginx's init phase", message, 1, true)
    assert.matches("create clients here", message, 1, true)
    assert.matches("init_worker_by_lua", message, 1, true)
    assert.is_nil(message:find("ngx.timer.at(0", 1, true))
  end)

  it("names nginx's env directive, and where nginx's environment comes from, when api_key is nil", function()
    local ok, err = pcall(leadconduit.new, { api_key = nil })
    assert.is_false(ok)
    assert.matches("unless nginx.conf names the variable", err, 1, true)
    assert.matches("env LEADCONDUIT_API_KEY;", err, 1, true)
    assert.matches("nginx itself was started with it set (under systemd", err, 1, true)
    assert.matches("api_key_file", err, 1, true)
    rawset(_G, "ngx", nil)
    ok, err = pcall(leadconduit.new, {})
    assert.is_false(ok)
    assert.is_nil(err:find("env directive", 1, true))
  end)

  it("uses the blocking C transport inside a worker thread's own VM", function()
    fake.sleep, fake.run_worker_thread, fake.phase = nil, nil, "init"
    local res, err = client({ base_url = "http://127.0.0.1:1", timeout = 2 }):sync_account()
    assert.is_nil(res)
    assert.equal("network", err.kind) -- refused by the port, not by the phase
    assert.same({}, fake.calls)
  end)

  it("returns unsupported_phase without any I/O in the log phase", function()
    fake.phase = "log"
    local res, err = client():sync_account()
    assert.is_nil(res)
    assert.equal("unsupported_phase", err.kind)
    assert.is_false(err.retryable)
    assert.equal(0, err.attempts)
    assert.matches("log phase", tostring(err), 1, true)
    assert.same({}, fake.calls)
  end)
end)

describe("leadconduit inside nginx", function()
  -- nginx runs its own LuaJIT, whichever interpreter runs busted: the integration specs are
  -- defined once, in the Lua 5.4 suite, rather than repeated (or skipped) under every Lua.
  if _VERSION ~= "Lua 5.4" then return end
  local available, why = openresty.available()
  if not available then
    it("syncs from OpenResty handlers", function() pending(why) end)
    return
  end

  local cjson = require "cjson"
  local mock = require "support.mock_server"
  local env = openresty.for_specs(lazy_setup, lazy_teardown)

  local function reference_id()
    return cjson.decode((mock.read_fixture("reference"))).account.id
  end

  -- GET path with args from the test nginx; the handler's report, with the log on failure.
  local function sync(path, args)
    local status, body = env.bed:get(path, args)
    assert(status == 200 and type(body) == "table",
      ("%s answered %s: %s\n%s"):format(path, tostring(status), tostring(body), env.bed:error_log_tail()))
    return body
  end

  local function assert_synced(out, phase)
    assert(out.ok, "sync failed: " .. cjson.encode(out))
    assert.equal(reference_id(), out.id)
    assert.is_true(out.success)
    assert.is_true(out.pending_is_array)
    assert.equal(phase, out.phase)
  end

  describe("in the phases that can do network I/O", function()
    it("a content handler syncs and gets the account decoded by the C decoder", function()
      assert_synced(sync("/sync"), "content")
    end)

    it("rewrite and access handlers sync too", function()
      assert_synced(sync("/rewrite"), "rewrite")
      assert_synced(sync("/access"), "access")
    end)

    it("gets gzip-encoded answers inflated", function()
      assert_synced(sync("/sync", { path = "gzip" }), "content")
    end)

    it("a timer started with ngx.timer.at syncs", function()
      assert_synced(sync("/timer"), "timer")
    end)

    it("keeps one connection alive across the syncs of a client", function()
      local url, token = env.srv:counted("")
      assert_synced(sync("/sync", { base = url, count = 3 }), "content")
      local seen = env.srv:count(token)
      assert.equal(3, seen.requests)
      assert.equal(1, seen.connections)
    end)

    it("shares the worker's connections between its clients, and keeps them when one closes", function()
      local url, token = env.srv:counted("")
      assert_synced(sync("/sync", { base = url }), "content") -- a client made, used and closed
      assert_synced(sync("/sync", { base = url, count = 2 }), "content") -- another one
      local seen = env.srv:count(token)
      assert.equal(3, seen.requests)
      assert.equal(1, seen.connections)
    end)

    it("reports on a unix socket in a directory of the worker's own, under $TMPDIR", function()
      local found = sys.capture("find " .. sys.quote(env.bed.prefix .. "/tmp") .. " -maxdepth 2"
        .. " -path '*/leadconduit-*/driver' -type s")
      local dir = found:match("^(%S+)/driver\n$")
      assert(dir, "no driver socket (or more than one) under the bed's TMPDIR: " .. found)
      -- Only the worker's user may connect to it: the directory is its own.
      local mode = sys.capture("stat -c %a " .. sys.quote(dir)):match("%d+")
      assert.equal("700", mode)
    end)

    it("blocks every signal on the driver thread, so that nginx's handlers run on its own", function()
      assert_synced(sync("/sync"), "content") -- the driver runs from the first sync on
      local pid = env.bed.pid
      -- SIGHUP, SIGQUIT, SIGALRM, SIGTERM, SIGCHLD, SIGIO: bits 0, 2, 13, 14, 16, 28 of SigBlk
      local function blocks_nginx_signals(low32)
        for _, bit in ipairs({ 0, 2, 13, 14, 16, 28 }) do
          if math.floor(low32 / 2 ^ bit) % 2 ~= 1 then return false end
        end
        return true
      end
      local blocking = 0
      for tid in sys.capture("ls /proc/" .. pid .. "/task"):gmatch("%d+") do
        local status = sys.read_file(("/proc/%d/task/%s/status"):format(pid, tid)) or ""
        local low32 = tonumber(status:match("SigBlk:%s*%x*(%x%x%x%x%x%x%x%x)\n") or "0", 16)
        if tid ~= tostring(pid) and blocks_nginx_signals(low32) then blocking = blocking + 1 end
      end
      assert.equal(1, blocking)
    end)
  end)

  describe("without blocking the worker", function()
    it("20 concurrent syncs against a mock answering after 0.5 s end within 2 s on one worker", function()
      local requests = {}
      for i = 1, 20 do requests[i] = { "/sync", { path = "slow/500" } } end
      local results, seconds = env.bed:get_parallel(requests)
      for _, r in ipairs(results) do
        assert_synced(r.body, "content")
        assert.is_true(r.body.elapsed >= 0.45, "the mock answered early: " .. r.body.elapsed)
      end
      assert.is_true(seconds < 2, ("20 concurrent syncs took %.2f s"):format(seconds))
    end)

    it("ends every sync at its timeout while the API hangs, 10 at once", function()
      local requests = {}
      for i = 1, 10 do requests[i] = { "/shared", { path = "slow/3000", timeout = 0.5 } } end
      local results = env.bed:get_parallel(requests)
      for _, r in ipairs(results) do
        local out = r.body
        assert.equal("timeout", out.kind, cjson.encode(out))
        assert.is_true(out.elapsed >= 0.45 and out.elapsed < 0.5 + 0.2,
          ("a timeout came after %.3f s"):format(out.elapsed))
      end
    end)

    it("32 concurrent requests share one client: 0 errors, connections kept alive and bounded", function()
      local url, token = env.srv:counted("slow/100")
      local requests = {}
      for i = 1, 32 do requests[i] = { "/shared", { base = url } } end
      for wave = 1, 2 do
        local results = env.bed:get_parallel(requests)
        for _, r in ipairs(results) do
          assert(r.status == 200 and r.body.ok, ("wave %d: %s"):format(wave, cjson.encode(r.body)))
          assert.equal(reference_id(), r.body.id)
        end
        local seen = env.srv:count(token)
        assert.equal(32 * wave, seen.requests)
        -- One transport, and so one connection, per sync in flight; the second wave reuses them.
        assert.is_true(seen.connections <= 32, seen.connections .. " connections")
      end
    end)

    it("has no cliff: 200 syncs at once on one worker against a slow API end in one wave", function()
      local requests = {}
      for i = 1, 200 do requests[i] = { "/shared", { path = "slow/300", timeout = 5 } } end
      local results, seconds = env.bed:get_parallel(requests)
      for _, r in ipairs(results) do
        assert(r.body.ok, cjson.encode(r.body))
      end
      -- One wave of 0.3 s, and the setting up of 200 connections on a loaded machine.
      assert.is_true(seconds < 2, ("200 syncs took %.2f s"):format(seconds))
    end)

    it("syncs with lua_code_cache off: a VM and a reader per request, each woken in time", function()
      for wave = 1, 2 do
        local requests = {}
        for i = 1, 20 do requests[i] = { "/shared-no-code-cache", { path = "slow/200" } } end
        for _, r in ipairs((env.bed:get_parallel(requests))) do
          assert(r.body.ok, cjson.encode(r.body))
          -- Woken by its reader's report, not by polling for the outcome.
          assert.is_true(r.body.elapsed < 0.4, ("wave %d: a sync took %.2f s"):format(wave, r.body.elapsed))
        end
      end
    end)

    it("frees the transports of syncs whose requests nginx abandoned mid-exchange", function()
      local args = { path = "slow/300", timeout = 2 }
      local results = env.bed:get_parallel({ { "/abandon", args }, { "/abandon", args } })
      for _, r in ipairs(results) do assert.equal(200, r.status) end
      assert.is_true(sync("/collect").ok) -- collected while the driver still runs the exchanges
      require("socket").sleep(0.4) -- they end; nobody resumes their coroutines
      assert.is_true(sync("/collect").ok)
      results = env.bed:get_parallel({ { "/shared", args }, { "/shared", args } })
      for _, r in ipairs(results) do
        assert(r.body.ok, cjson.encode(r.body))
      end
      assert.is_nil(env.bed:error_log():find("leadconduit: the driver", 1, true), env.bed:error_log_tail())
    end)

    it("while libcurl called straight from a handler makes the same requests queue up (control)", function()
      local requests = {}
      for i = 1, 4 do requests[i] = { "/blocking", { path = "slow/500" } } end
      local results, seconds = env.bed:get_parallel(requests)
      for _, r in ipairs(results) do assert.equal(200, r.body.status) end
      assert.is_true(seconds >= 1.9, ("4 blocking syncs took only %.2f s"):format(seconds))
    end)

    it("waits between retries with ngx.sleep, serving other requests meanwhile", function()
      local url, token = env.srv:counted("fail/503/1/retry-after/1")
      local results = env.bed:get_parallel({
        { "/sync", { base = url, retries = 1 } },
        { "/sync", { path = "slow/300" } },
      })
      local retried, other = results[1].body, results[2].body
      assert_synced(retried, "content")
      assert.equal(2, env.srv:count(token).requests)
      assert.is_true(retried.elapsed >= 0.95, "Retry-After: 1 was not honoured: " .. retried.elapsed)
      assert_synced(other, "content")
      assert.is_true(results[2].seconds < 0.9, "the retry's wait blocked the worker: " .. results[2].seconds)
    end)
  end)

  describe("reports the same errors as plain Lua", function()
    -- name, the test nginx's arguments, the plain client's options, compare messages too
    local cases = {
      { "auth (401, wrong key)", function() return { key = "wrong-key" } end,
        function() return { api_key = "wrong-key" } end, true },
      { "auth (403)", function() return { path = "status/403" } end,
        function() return { base_url = env.srv:url("status/403") } end, true },
      { "auth, with the API key scrubbed from the server's text",
        function() return { path = "leak/403" } end,
        function() return { base_url = env.srv:url("leak/403") } end, true },
      { "tls (certificate not trusted)", function() return { base = env.srv.untrusted_url } end,
        function() return { base_url = env.srv.untrusted_url } end, true },
      { "tls (certificate for another host)", function() return { base = env.srv.wrong_host_url } end,
        function() return { base_url = env.srv.wrong_host_url } end, true },
      { "timeout", function() return { path = "hang", timeout = 0.5 } end,
        function() return { base_url = env.srv:url("hang"), timeout = 0.5 } end, false },
      { "network (connection refused)", function() return { base = env.srv.refused_url } end,
        function() return { base_url = env.srv.refused_url } end, false },
      { "http 503, retried",
        function() return { path = "status/503", retries = 1, retry_delay = 0.05 } end,
        function() return { base_url = env.srv:url("status/503"), max_retries = 1, retry_delay = 0.05 } end,
        true },
      { "too_large", function() return { path = "huge-chunked/1000000", max_bytes = 65536 } end,
        function() return { base_url = env.srv:url("huge-chunked/1000000"), max_response_bytes = 65536 } end,
        true },
      { "decode", function() return { path = "invalid-json" } end,
        function() return { base_url = env.srv:url("invalid-json") } end, true },
      { "api", function() return { path = "success-false" } end,
        function() return { base_url = env.srv:url("success-false") } end, true },
    }

    for _, case in ipairs(cases) do
      local name, nginx_args, plain_opts, same_message = case[1], case[2], case[3], case[4]
      it(name, function()
        local opts = plain_opts()
        opts.api_key = opts.api_key or env.srv.api_key
        opts.base_url = opts.base_url or env.srv.base_url
        opts.ca_file = env.srv.ca_file
        opts.max_retries = opts.max_retries or 0
        local client = leadconduit.new(opts)
        local res, err = client:sync_account()
        client:close()
        assert.is_nil(res)

        local out = sync("/sync", nginx_args())
        assert.is_false(out.ok)
        assert.equal(err.kind, out.kind)
        assert.equal(err.status, out.status)
        assert.equal(err.retryable, out.retryable)
        assert.equal(err.attempts, out.attempts)
        if same_message then assert.equal(err.message, out.message) end
        assert.is_nil(out.text:find(env.srv.api_key, 1, true))
      end)
    end
  end)

  describe("in the phases that cannot do network I/O", function()
    local function assert_refused(out, phase)
      assert.is_false(out.ok, cjson.encode(out))
      assert.equal("unsupported_phase", out.kind)
      assert.equal(phase, out.phase)
      assert.is_false(out.retryable)
      assert.equal(0, out.attempts)
      assert.matches(phase, out.message, 1, true)
      assert.matches("ngx.timer.at(0", out.message, 1, true)
      assert.equal("leadconduit: unsupported_phase: " .. out.message, out.text)
    end

    it("set_by_lua gets an unsupported_phase error naming the phase", function()
      assert_refused(sync("/set"), "set")
    end)

    it("log_by_lua gets an unsupported_phase error naming the phase", function()
      local status = env.bed:get("/log")
      assert.equal(200, status)
      -- The log phase may end just after the response reached curl.
      local result
      for _ = 1, 50 do
        status, result = env.bed:get("/result", { name = "log" })
        if status == 200 then break end
        require("socket").sleep(0.02)
      end
      assert.equal(200, status)
      assert_refused(result, "log")
    end)

    it("header_filter_by_lua and init_worker_by_lua get it too", function()
      local status, _, headers = env.bed:get("/header-filter")
      assert.equal(200, status)
      local mime = require "mime"
      assert_refused(cjson.decode((mime.unb64(headers["x-sync-result"]))), "header_filter")
      assert_refused(sync("/result", { name = "init_worker" }), "init_worker")
    end)
  end)
end)
