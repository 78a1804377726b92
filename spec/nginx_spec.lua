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
local core = require "leadconduit.core"
local nginx = require "leadconduit.nginx"

local fake_ngx = require "support.fake_ngx"

local fake_ngx_new, answer = fake_ngx.new, fake_ngx.answer

describe("leadconduit.nginx with a stand-in ngx", function()
  local saved, fake

  before_each(function()
    saved = rawget(_G, "ngx")
    fake = fake_ngx_new("content")
    rawset(_G, "ngx", fake)
  end)

  after_each(function()
    rawset(_G, "ngx", saved)
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

  it("runs each exchange as core.perform_shared in the configured thread pool", function()
    fake.answer = { true, answer(200, '{"success":true,"account":{"id":"a","n":[1]}}') }
    local c = client({ thread_pool = "lc_pool", timeout = 5 })
    local before = core.monotime()
    local res = assert(c:sync_account{ sso_account_id = "5fd4371e940df5a34a3888b2" })
    local call = fake.calls[1]
    assert.same({ "run_worker_thread", "lc_pool", "leadconduit.core", "perform_shared" },
      { call[1], call[2], call[3], call[4] })
    assert.is_number(call[5]) -- the transport's id
    assert.equal("sso_account_id=5fd4371e940df5a34a3888b2", call[6])
    -- The deadline travels with the task: timeout seconds from the moment it was handed over.
    assert.is_true(call[7] >= before + 5 and call[7] <= core.monotime() + 5)
    -- Decoded in this VM by the C decoder: the module's own array_mt.
    assert.equal("a", res.account.id)
    assert.equal(core.array_mt, getmetatable(res.account.n))
    assert.equal("leadconduit", (function()
      fake.calls = {}
      assert(client():sync_account())
      return fake.calls[1][2]
    end)()) -- the default thread_pool option
  end)

  it("classifies what comes back like plain Lua: a body that is not JSON, a TLS failure", function()
    fake.answer = { true, answer(200, "<html>") }
    local res, err = client():sync_account()
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    fake.answer = { true,
      { curl_code = "CURLE_PEER_FAILED_VERIFICATION", curl_message = "SSL certificate problem" } }
    res, err = client():sync_account()
    assert.is_nil(res)
    assert.same({ "tls", "SSL certificate problem" }, { err.kind, err.message })
  end)

  it("counts a task that waited past its deadline in the pool's queue as a timeout, retried", function()
    fake.answer = { true, { deadline_passed = true } }
    local res, err = client({ max_retries = 1, retry_delay = 0.01 }):sync_account()
    assert.is_nil(res)
    assert.same({ "timeout", true, 2 }, { err.kind, err.retryable, err.attempts })
  end)

  it("turns a thread pool that cannot take the task into a network failure, retried", function()
    for _, why in ipairs({ "ngx_thread_task_post failed", "no memory" }) do
      fake.calls = {}
      fake.answer = { false, why }
      local res, err = client({ max_retries = 1, retry_delay = 0.01 }):sync_account()
      assert.is_nil(res)
      assert.same({ "network", true, 2 }, { err.kind, err.retryable, err.attempts })
      assert.matches(why, err.message, 1, true)
      assert.equal("sleep", fake.calls[2][1])
    end
  end)

  it("waits for a Lua VM when nginx has none free, never failing at once as network", function()
    local n = 0
    fake.answer = function()
      n = n + 1
      if n <= 3 then return false, "no available Lua vm" end
      return true, answer(200, '{"success":true,"account":{}}')
    end
    assert.truthy(client():sync_account())
    assert.same({ "sleep", 0.001 }, fake.calls[2])
    assert.same({ "sleep", 0.002 }, fake.calls[4])
    assert.same({ "sleep", 0.004 }, fake.calls[6])
    -- and when none comes back before the deadline: a timeout naming the pool
    fake.answer = { false, "no available Lua vm" }
    local res, err = client({ timeout = 0.05, thread_pool = "p", thread_pool_size = 3 }):sync_account()
    assert.is_nil(res)
    assert.same({ "timeout", true }, { err.kind, err.retryable })
    assert.matches("thread_pool 'p' (all 3 busy", err.message, 1, true)
  end)

  it("takes a turn of the pool's semaphore, sized thread_pool_size, within the time left", function()
    fake.answer = { true, answer(200, '{"success":true,"account":{}}') }
    local c = client({ thread_pool = "p", thread_pool_size = 5, timeout = 7 })
    assert.truthy(c:sync_account())
    assert.truthy(client({ thread_pool = "p", thread_pool_size = 5 }):sync_account())
    assert.equal(1, #fake.semaphores) -- one per pool name, whatever the client
    local sema = fake.semaphores[1]
    assert.equal(5, sema.count) -- every turn given back
    assert.is_true(sema.waits[1] > 6.9 and sema.waits[1] <= 7)
    -- No turn left: the attempt ends as timeout without posting any task.
    sema.count = 0
    fake.calls = {}
    local res, err = c:sync_account()
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.matches("thread_pool 'p' (all 5 busy: raise its threads= and the client's"
      .. " thread_pool_size together)", err.message, 1, true)
    for _, call in ipairs(fake.calls) do assert.not_equal("run_worker_thread", call[1]) end
    -- A client that says the pool is larger adds the difference.
    sema.count = 5
    assert.truthy(client({ thread_pool = "p", thread_pool_size = 8 }):sync_account())
    assert.equal(8, sema.count)
    -- and one that says smaller keeps the turns that come back until the count is right
    assert.truthy(client({ thread_pool = "p", thread_pool_size = 6 }):sync_account())
    assert.equal(7, sema.count)
    assert.truthy(c:sync_account())
    assert.equal(6, sema.count)
    -- A client that says nothing leaves the size as it is; a new pool starts at 16.
    assert.truthy(client({ thread_pool = "p" }):sync_account())
    assert.equal(6, sema.count)
    assert.truthy(client({ thread_pool = "q" }):sync_account())
    assert.equal(16, fake.semaphores[2].count)
  end)

  -- The stand-in's requests are coroutines that yield inside the client's pcall, as nginx's do;
  -- Lua 5.1 cannot yield across a pcall (nginx runs LuaJIT, which can): defined where it can.
  local pcall_yields = coroutine.wrap(function()
    pcall(coroutine.yield, "yielded")
    return "refused"
  end)() == "yielded"
  if pcall_yields then
  it("lets a worker's requests share a client: each sync in flight has a transport of its own", function()
    local ids, resume = {}, {}
    fake.answer = function(_, _, _, id)
      ids[#ids + 1] = id
      coroutine.yield() -- the request's coroutine waits for the thread, others run
      return true, answer(200, '{"success":true,"account":{}}')
    end
    local c = client()
    local results = {}
    for i = 1, 3 do
      resume[i] = coroutine.wrap(function() results[i] = c:sync_account() end)
      resume[i]()
    end
    for i = 1, 3 do resume[i]() end
    for i = 1, 3 do assert.truthy(results[i]) end
    assert.equal(3, #ids)
    assert.is_true(ids[1] ~= ids[2] and ids[2] ~= ids[3] and ids[1] ~= ids[3])
    -- The next sync reuses an idle transport, connection and all.
    fake.answer = function(_, _, _, id)
      ids[#ids + 1] = id
      return true, answer(200, '{"success":true,"account":{}}')
    end
    assert.truthy(c:sync_account())
    assert.is_true(ids[4] == ids[1] or ids[4] == ids[2] or ids[4] == ids[3])
    -- Closed while a sync is in flight: the idle transports close now, the busy one after.
    fake.answer = function(_, _, _, id)
      ids[#ids + 1] = id
      coroutine.yield()
      return true, answer(200, '{"success":true,"account":{}}')
    end
    local last = coroutine.wrap(function() return c:sync_account() end)
    last()
    c:close()
    assert.truthy(last())
    for _, id in ipairs(ids) do
      assert.has_error(function() core.perform_shared(id, nil, core.monotime() + 1) end,
        "leadconduit.sync_account: the client is closed")
    end
  end)
  end

  it("returns kind config naming the thread_pool directive to add when the pool does not exist", function()
    fake.answer = { false, "thread pool lc_pool not found" }
    local c = client({ thread_pool = "lc_pool" })
    local res, err = c:sync_account()
    assert.is_nil(res)
    assert.same({ "config", false, 1 }, { err.kind, err.retryable, err.attempts })
    assert.equal("leadconduit: config: nginx has no thread pool 'lc_pool': add `thread_pool lc_pool"
      .. " threads=16;` to the main context of nginx.conf (outside the http block)", tostring(err))
    assert.equal(1, #fake.calls) -- not retried
    -- and the client is usable again
    fake.answer = { true, answer(200, '{"success":true,"account":{}}') }
    assert.truthy(c:sync_account())
  end)

  it("raises what the worker thread raised, without the key", function()
    fake.answer = { false, "leadconduit: out of memory near k3y" }
    local ok, err = pcall(function() client():sync_account() end)
    assert.is_false(ok)
    assert.matches("in an nginx worker thread: leadconduit: out of memory", err, 1, true)
    assert.is_nil(err:find("k3y", 1, true))
  end)

  it("returns kind config without ngx.run_worker_thread", function()
    fake.run_worker_thread = nil
    fake.sleep = function() end
    local res, err = client():sync_account()
    assert.is_nil(res)
    assert.equal("config", err.kind)
    assert.matches("lua-nginx-module 0.10.21 or newer", err.message, 1, true)
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

  it("waits between retries with ngx.sleep", function()
    fake.answer = { true, answer(503, '{"error":"busy"}', { retry_after = "1" }) }
    local res, err = client({ max_retries = 1 }):sync_account()
    assert.is_nil(res)
    assert.equal("http", err.kind)
    assert.equal(2, err.attempts)
    assert.same({ "sleep", 1 }, fake.calls[2])
  end)

  it("closes the transport the worker threads use when the client is closed", function()
    local ids = {}
    fake.answer = function(_, _, _, id)
      ids[#ids + 1] = id
      return true, answer(200, '{"success":true,"account":{}}')
    end
    local c = client()
    assert(c:sync_account())
    c:close()
    assert.has_error(function() core.perform_shared(ids[1], nil, core.monotime() + 1) end,
      "leadconduit.sync_account: the client is closed")
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

    it("closes that connection when the client is closed", function()
      -- Established TCP connections to the mock's port, as the kernel lists them.
      local function connections()
        local n, port = 0, ("%04X"):format(env.srv.port)
        for line in sys.slurp("/proc/net/tcp"):gmatch("[^\n]+") do
          local remote, state = line:match("^%s*%d+: %x+:%x+ %x+:(%x+) (%x+)")
          if remote == port and state == "01" then n = n + 1 end
        end
        return n
      end
      local before = connections()
      assert.is_true(sync("/hold").ok)
      assert.equal(before + 1, connections())
      assert.is_true(sync("/release").ok)
      local after
      for _ = 1, 50 do
        after = connections()
        if after == before then break end
        require("socket").sleep(0.02)
      end
      assert.equal(before, after)
    end)

    it("says which thread_pool directive is missing when the pool does not exist", function()
      local out = sync("/sync", { pool = "no_such_pool" })
      assert.equal("config", out.kind)
      assert.matches("thread_pool no_such_pool", out.message, 1, true)
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

    it("counts the wait for a thread of the pool in timeout: no attempt runs over it", function()
      -- A pool of 2 threads, 6 syncs of 0.5 s at once, timeout 0.8: 2 succeed, the next 2 start
      -- 0.5 s late with 0.3 s left and time out, the last 2 start past their deadline.
      local requests = {}
      for i = 1, 6 do
        requests[i] = { "/sync", { path = "slow/500", timeout = 0.8, pool = "two_threads" } }
      end
      local results = env.bed:get_parallel(requests)
      local kinds = {}
      for _, r in ipairs(results) do
        local out = r.body
        assert.is_true(out.elapsed < 0.8 + 0.15, ("a sync took %.2f s"):format(out.elapsed))
        local kind = out.ok and "ok" or out.kind
        kinds[kind] = (kinds[kind] or 0) + 1
      end
      assert.same({ ok = 2, timeout = 4 }, kinds)
    end)

    it("32 concurrent requests share one client: 0 errors, connections kept alive and bounded", function()
      local url, token = env.srv:counted("slow/100")
      local requests = {}
      for i = 1, 32 do requests[i] = { "/shared", { base = url, size = 32 } } end
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

    it("a saturated pool: syncs wait their turn and time out at their deadline, not at once", function()
      -- 100 syncs of 0.2 s through 2 threads, timeout 1, with 64 Lua VMs for worker threads:
      -- 2 at a time succeed, the others wait for a turn until their deadline.
      local requests = {}
      for i = 1, 100 do
        requests[i] = { "/shared", { path = "slow/200", timeout = 1, pool = "two_threads", size = 2 } }
      end
      local results = env.bed:get_parallel(requests)
      local kinds = {}
      for _, r in ipairs(results) do
        local out = r.body
        local kind = out.ok and "ok" or out.kind
        kinds[kind] = (kinds[kind] or 0) + 1
        assert.is_true(out.elapsed < 1 + 0.15, ("a sync took %.2f s"):format(out.elapsed))
        if kind ~= "ok" then
          assert.equal("timeout", kind, cjson.encode(out))
          assert.is_true(out.elapsed >= 0.95, ("a timeout came after only %.3f s"):format(out.elapsed))
          -- Waiting for a turn, or given one with less than a whole exchange left.
          local named_pool = out.message:find("thread_pool 'two_threads' (all 2 busy", 1,
            true)
          local late = out.message:find("timed out after", 1, true) -- libcurl: connect or whole
            or out.message:find("before the attempt could start", 1, true)
          assert.is_truthy(named_pool or late, out.message)
        end
      end
      assert.is_true((kinds.ok or 0) >= 6 and (kinds.ok or 0) <= 10, cjson.encode(kinds))
      assert.equal(100, (kinds.ok or 0) + (kinds.timeout or 0), cjson.encode(kinds))
      assert.is_nil(env.bed:error_log():find("no available Lua vm", 1, true))
    end)

    it("syncs past nginx's Lua VMs for worker threads wait for a VM, never failing as network", function()
      -- thread_pool_size 100 (more than the test nginx's 64 VMs): 100 syncs of 0.2 s at once
      -- through 32 threads; the 36 that find no VM wait for one.
      local requests = {}
      for i = 1, 100 do
        requests[i] = { "/shared", { path = "slow/200", timeout = 5, size = 100 } }
      end
      local results = env.bed:get_parallel(requests)
      for _, r in ipairs(results) do
        assert(r.body.ok, cjson.encode(r.body))
      end
    end)

    it("gets back the turns of syncs whose requests nginx abandoned mid-exchange", function()
      -- The pool's 2 turns taken by 2 requests that end while their exchanges run.
      local args = { path = "slow/300", timeout = 2, pool = "two_threads", size = 2 }
      local results = env.bed:get_parallel({ { "/abandon", args }, { "/abandon", args } })
      for _, r in ipairs(results) do assert.equal(200, r.status) end
      require("socket").sleep(0.4) -- the exchanges end; nobody resumes their coroutines
      assert.is_true(sync("/collect").ok)
      -- Two syncs at once through the same pool: each needs a turn back.
      results = env.bed:get_parallel({ { "/shared", args }, { "/shared", args } })
      for _, r in ipairs(results) do
        assert(r.body.ok, cjson.encode(r.body))
        assert.is_true(r.body.elapsed < 0.6, ("a sync waited %.2f s for a turn"):format(r.body.elapsed))
      end
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
