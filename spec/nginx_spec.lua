-- nginx: leadconduit inside a real nginx with OpenResty's Lua module (lua/leadconduit/nginx.lua).
--
-- A test nginx (spec/nginx/) loads the LuaJIT build from a `make install LUA_VERSION=jit`
-- prefix and syncs against the mock server from its handlers; the results are compared with
-- what the same client reports in plain Lua. nginx runs LuaJIT whichever interpreter runs the
-- suite, so this file runs once, in the Lua 5.4 suite.

local openresty = require "support.openresty"

local function skip_reason()
  if _VERSION ~= "Lua 5.4" then
    return "the nginx integration specs run once, in the Lua 5.4 suite (nginx itself runs LuaJIT)"
  end
  local ok, why = openresty.available()
  if not ok then return why end
end

describe("leadconduit inside nginx", function()
  local reason = skip_reason()
  if reason then
    it("syncs from OpenResty handlers", function() pending(reason) end)
    return
  end

  local cjson = require "cjson"
  local mock = require "support.mock_server"
  local leadconduit = require "leadconduit"
  local srv, install, bed

  lazy_setup(function()
    srv = mock.start()
    install = openresty.install()
    bed = openresty.start{
      install = install, base_url = srv.base_url, ca_file = srv.ca_file, api_key = srv.api_key,
    }
  end)

  lazy_teardown(function()
    if bed then bed:stop() end
    if srv then srv:stop() end
    openresty.uninstall(install)
  end)

  local function reference_id()
    return cjson.decode((mock.read_fixture("reference"))).account.id
  end

  -- GET path with args from the test nginx; the handler's report, with the log on failure.
  local function sync(path, args)
    local status, body = bed:get(path, args)
    assert(status == 200 and type(body) == "table",
      ("%s answered %s: %s\n%s"):format(path, tostring(status), tostring(body), bed:error_log_tail()))
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

    it("a timer started with ngx.timer.at syncs", function()
      assert_synced(sync("/timer"), "timer")
    end)

    it("keeps one connection alive across syncs and across clients with the same settings", function()
      local url, token = srv:counted("")
      assert_synced(sync("/sync", { base = url, count = 3 }), "content")
      assert_synced(sync("/sync", { base = url }), "content")
      local seen = srv:count(token)
      assert.equal(4, seen.requests)
      assert.equal(1, seen.connections)
    end)

    it("says which thread_pool directive is missing when the pool does not exist", function()
      local out = sync("/sync", { pool = "no_such_pool" })
      assert.equal("raised", out.kind)
      assert.matches("thread_pool no_such_pool", out.message, 1, true)
    end)
  end)

  describe("without blocking the worker", function()
    it("20 concurrent syncs against a mock answering after 0.5 s end within 2 s on one worker", function()
      local requests = {}
      for i = 1, 20 do requests[i] = { "/sync", { path = "slow/500" } } end
      local results, seconds = bed:get_parallel(requests)
      for _, r in ipairs(results) do
        assert_synced(r.body, "content")
        assert.is_true(r.body.elapsed >= 0.45, "the mock answered early: " .. r.body.elapsed)
      end
      assert.is_true(seconds < 2, ("20 concurrent syncs took %.2f s"):format(seconds))
    end)

    it("while libcurl called straight from a handler makes the same requests queue up (control)", function()
      local requests = {}
      for i = 1, 4 do requests[i] = { "/blocking", { path = "slow/500" } } end
      local results, seconds = bed:get_parallel(requests)
      for _, r in ipairs(results) do assert.equal(200, r.body.status) end
      assert.is_true(seconds >= 1.9, ("4 blocking syncs took only %.2f s"):format(seconds))
    end)

    it("waits between retries with ngx.sleep, serving other requests meanwhile", function()
      local url, token = srv:counted("fail/503/1/retry-after/1")
      local results = bed:get_parallel({
        { "/sync", { base = url, retries = 1 } },
        { "/sync", { path = "slow/300" } },
      })
      local retried, other = results[1].body, results[2].body
      assert_synced(retried, "content")
      assert.equal(2, srv:count(token).requests)
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
        function() return { base_url = srv:url("status/403") } end, true },
      { "auth, with the API key scrubbed from the server's text",
        function() return { path = "leak/403" } end,
        function() return { base_url = srv:url("leak/403") } end, true },
      { "tls (certificate not trusted)", function() return { base = srv.untrusted_url } end,
        function() return { base_url = srv.untrusted_url } end, true },
      { "tls (certificate for another host)", function() return { base = srv.wrong_host_url } end,
        function() return { base_url = srv.wrong_host_url } end, true },
      { "timeout", function() return { path = "hang", timeout = 0.5 } end,
        function() return { base_url = srv:url("hang"), timeout = 0.5 } end, false },
      { "network (connection refused)", function() return { base = srv.refused_url } end,
        function() return { base_url = srv.refused_url } end, false },
      { "http 503, retried",
        function() return { path = "status/503", retries = 1, retry_delay = 0.05 } end,
        function() return { base_url = srv:url("status/503"), max_retries = 1, retry_delay = 0.05 } end,
        true },
      { "too_large", function() return { path = "huge-chunked/1000000", max_bytes = 65536 } end,
        function() return { base_url = srv:url("huge-chunked/1000000"), max_response_bytes = 65536 } end,
        true },
      { "decode", function() return { path = "invalid-json" } end,
        function() return { base_url = srv:url("invalid-json") } end, true },
      { "api", function() return { path = "success-false" } end,
        function() return { base_url = srv:url("success-false") } end, true },
    }

    for _, case in ipairs(cases) do
      local name, nginx_args, plain_opts, same_message = case[1], case[2], case[3], case[4]
      it(name, function()
        local opts = plain_opts()
        opts.api_key = opts.api_key or srv.api_key
        opts.base_url = opts.base_url or srv.base_url
        opts.ca_file = srv.ca_file
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
        assert.is_nil(out.text:find(srv.api_key, 1, true))
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
      local status = bed:get("/log")
      assert.equal(200, status)
      -- The log phase may end just after the response reached curl.
      local result
      for _ = 1, 50 do
        status, result = bed:get("/result", { name = "log" })
        if status == 200 then break end
        require("socket").sleep(0.02)
      end
      assert.equal(200, status)
      assert_refused(result, "log")
    end)

    it("header_filter_by_lua and init_worker_by_lua get it too", function()
      local status, _, headers = bed:get("/header-filter")
      assert.equal(200, status)
      local mime = require "mime"
      assert_refused(cjson.decode((mime.unb64(headers["x-sync-result"]))), "header_filter")
      assert_refused(sync("/result", { name = "init_worker" }), "init_worker")
    end)
  end)
end)
