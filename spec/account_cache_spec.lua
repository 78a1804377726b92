-- account_cache: leadconduit.account_cache with a stand-in ngx (spec/support/fake_ngx.lua), under
-- every interpreter: what the shared dict holds, when a worker syncs, what get(), refresh() and
-- status() answer. Real nginx with several workers: spec/account_cache_nginx_spec.lua.

local leadconduit = require "leadconduit"
local fake_ngx = require "support.fake_ngx"

local answer = fake_ngx.answer
local unpack = table.unpack or unpack

local KEY = "s3cr3t-k3y"
local ACCOUNT = ('{"success":true,"account":{"id":"a1","api_key":"%s","sub_api_key":"%s",'
  .. '"note":"key %s here","features":{"firehose":true},"pending_sellers":[]}}'):format(KEY, KEY, KEY)

describe("leadconduit.account_cache", function()
  local saved, fake, dict

  before_each(function()
    saved = rawget(_G, "ngx")
    fake = fake_ngx.new("init")
    dict = fake.add_shared_dict("leadconduit")
    rawset(_G, "ngx", fake)
  end)

  after_each(function()
    rawset(_G, "ngx", saved)
    fake_ngx.restore()
  end)

  local function new_cache(extra)
    local opts = {
      shared_dict = "leadconduit",
      client = { api_key = KEY, base_url = "https://127.0.0.1:1", max_retries = 0, timeout = 2 },
      refresh = 10,
      stale = 20,
    }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return leadconduit.account_cache(opts)
  end

  -- A cache started as init_worker_by_lua would start it.
  local function started_cache(extra)
    fake.phase = "init_worker"
    local cache = new_cache(extra)
    cache:start()
    return cache
  end

  -- Runs every timer start() created, once, as nginx would when they fire.
  local function fire_timers()
    fake.phase = "timer"
    for _, t in ipairs(fake.timers) do t.fn(false, unpack(t.args)) end
  end

  local function syncs_started()
    local n = 0
    for _, call in ipairs(fake.calls) do
      if call[1] == "exchange" then n = n + 1 end
    end
    return n
  end

  it("raises outside nginx, with the contract's message", function()
    rawset(_G, "ngx", nil)
    local ok, err = pcall(leadconduit.account_cache, { shared_dict = "leadconduit", client = {} })
    assert.is_false(ok)
    assert.equal("leadconduit.account_cache: only inside nginx (OpenResty)", err)
  end)

  it("raises on bad options, naming them, and never quoting the key", function()
    local cases = {
      { { shared_dict = "nope" }, "no lua_shared_dict named 'nope': add `lua_shared_dict nope 1m;`" },
      { { shared_dict = 1 }, "shared_dict must be the name of a lua_shared_dict" },
      { { refresh = 0.5 }, "refresh must be a number of seconds from 1 to 86400" },
      { { stale = -1 }, "stale must be a number of seconds from 0" },
      { { client = "k" }, "client must be a table of leadconduit.new's options" },
      { { client = { api_key = KEY, timeout = 0 } }, "client: timeout must be" },
      { { client = { api_key = 42 } }, "client: api_key must be" },
      { { client = { api_key = KEY, api_key_file = "/k" } },
        "client: give api_key or api_key_file, not both" },
      { { refreshh = 1 }, "unknown option 'refreshh'" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(new_cache, case[1])
      assert.is_false(ok)
      assert.matches("^leadconduit.account_cache: ", err)
      assert.matches(case[2], err, 1, true)
      assert.is_nil(err:find(KEY, 1, true))
    end
  end)

  it("creates no client and does no I/O until start(), which refuses init_by_lua", function()
    local cache = new_cache()
    assert.same({}, fake.calls)
    assert.same({}, dict:keys())
    local ok, err = pcall(cache.start, cache)
    assert.is_false(ok)
    assert.matches("start() belongs in init_worker_by_lua", err, 1, true)
    assert.same({}, fake.timers)
  end)

  it("start() syncs at once and then ticks well within refresh, once per worker", function()
    local cache = started_cache()
    cache:start()
    assert.equal(2, #fake.timers)
    assert.equal(0, fake.timers[1].delay)
    assert.equal(1, fake.timers[2].every) -- min(1, refresh / 10)
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.equal(1, syncs_started()) -- the second timer found the interval taken
  end)

  it("get() is unavailable before any sync, without a cause", function()
    local cache = new_cache()
    local account, err = cache:get()
    assert.is_nil(account)
    assert.same({ "unavailable", false }, { err.kind, err.retryable })
    assert.is_nil(err.cause)
    assert.matches("no sync has succeeded yet", err.message, 1, true)
  end)

  it("stores the account once, keys hidden, and each worker decodes it once per version", function()
    fake.phase = "init_worker"
    local worker1, worker2 = new_cache(), new_cache()
    worker1:start()
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    fake.phase = "access"
    local a1 = assert(worker1:get())
    assert.equal("a1", a1.id)
    assert.is_true(leadconduit.has_feature(a1, "firehose"))
    assert.equal(leadconduit.array_mt, getmetatable(a1.pending_sellers))
    assert.equal("(redacted)", a1.api_key)
    assert.equal("(redacted)", a1.sub_api_key)
    assert.is_nil(a1.note:find(KEY, 1, true))
    -- The same table on every request, in each worker.
    assert.equal(a1, worker1:get())
    local a2 = assert(worker2:get())
    assert.equal(a2, worker2:get())
    assert.are_not.equal(a1, a2)
    -- Nothing in the dict holds the key; nothing but what the workers need is there.
    for _, key in ipairs(dict:keys()) do
      assert.is_nil(tostring(dict:get(key)):find(KEY, 1, true), key)
    end
    assert.same({ "leadconduit:account:1", "leadconduit:duration", "leadconduit:interval",
      "leadconduit:synced_at", "leadconduit:syncs", "leadconduit:version" }, dict:keys())
    -- A new version: decoded again, once.
    fake.clock = fake.clock + 10
    fake.answer = { true, answer(200, (ACCOUNT:gsub('"a1"', '"a2"'))) }
    fire_timers()
    fake.phase = "log"
    local b1 = worker1:get()
    assert.equal("a2", b1.id)
    assert.equal(b1, worker1:get())
  end)

  it("serves the last good account for stale seconds while syncs fail, then is unavailable", function()
    local cache = started_cache()
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    local synced_at = fake.clock
    fake.answer = { true, answer(503, ('{"error":"down, key %s"}'):format(KEY)) }
    for _ = 1, 2 do
      fake.clock = fake.clock + 10
      fire_timers()
    end
    fake.phase = "header_filter"
    assert.equal("a1", assert(cache:get()).id)
    local status = cache:status()
    assert.same({ synced_at, 20, 1, 2, "http", 503 }, { status.synced_at, status.age, status.syncs,
      status.failures, status.last_error.kind, status.last_error.status })
    assert.is_nil(status.last_error.message:find(KEY, 1, true))
    -- The same failure twice in a minute: logged once, at WARN, without the key.
    local warnings = {}
    for _, entry in ipairs(fake.logs) do
      if entry[1] == fake.WARN then warnings[#warnings + 1] = entry[2] end
      assert.is_nil(entry[2]:find(KEY, 1, true))
    end
    assert.equal(1, #warnings)
    assert.matches("leadconduit.account_cache: sync failed: leadconduit: http: ", warnings[1], 1, true)
    -- refresh + stale = 30 s after the last success: unavailable, the last failure as the cause.
    fake.clock = synced_at + 30
    assert.truthy(cache:get())
    fake.clock = synced_at + 30.5
    local account, err = cache:get()
    assert.is_nil(account)
    assert.equal("unavailable", err.kind)
    assert.same({ "http", 503 }, { err.cause.kind, err.cause.status })
    assert.matches("last synced 30.5 s ago", err.message, 1, true)
    assert.is_nil(tostring(err):find(KEY, 1, true))
    -- Back: the next interval's sync recovers, and the last error is cleared.
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.truthy(cache:get())
    assert.is_nil(cache:status().last_error)
  end)

  it("starts no sync while another worker holds the lock, and one once it expires", function()
    started_cache()
    dict:add("leadconduit:lock", "another worker", 3 + 1) -- the lock of a worker that died
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.equal(0, syncs_started())
    fake.clock = fake.clock + 4
    fire_timers()
    assert.equal(1, syncs_started())
    assert.is_nil(dict:get("leadconduit:lock")) -- released after the sync
  end)

  it("holds the lock for at most the longest a sync can take, plus a second", function()
    local cache = new_cache({ client = { api_key = KEY, timeout = 2, max_retries = 1 } })
    -- 2 attempts of 2 s and a wait of at most 30 s between them.
    assert.equal(2 * 2 + 30 + 1, cache.lock_ttl)
    cache = new_cache({ client = { api_key = KEY, max_time = 5 } })
    assert.equal(6, cache.lock_ttl)
  end)

  it("keeps the key out of reach of the object it returns", function()
    local cache = new_cache()
    local seen = {}
    local function holds_key(value)
      if type(value) == "string" then return value:find(KEY, 1, true) ~= nil end
      if type(value) ~= "table" or seen[value] then return false end
      seen[value] = true
      for k, v in pairs(value) do
        if holds_key(k) or holds_key(v) then return true end
      end
      return holds_key(getmetatable(value))
    end
    assert.is_false(holds_key(cache))
  end)

  it("drops the answer of a sync that outlasted its lock, keeping the newer account", function()
    local cache = started_cache()
    fake.answer = function()
      -- While this sync waits, its lock expires and another worker takes it and stores v1.
      dict:set("leadconduit:lock", "another worker", 3)
      dict:set("leadconduit:account:1", '{"id":"newer"}')
      dict:set("leadconduit:synced_at", fake.clock)
      dict:incr("leadconduit:version", 1, 0)
      return true, answer(200, ACCOUNT)
    end
    fire_timers()
    fake.answer = { true, answer(200, ACCOUNT) }
    assert.equal("newer", cache:get().id)
    local status = cache:status()
    assert.equal(1, status.failures)
    assert.matches("outlasted its lock", status.last_error.message, 1, true)
    assert.equal("another worker", dict:get("leadconduit:lock")) -- not released by the loser
  end)

  it("keeps the account in use when a new one does not fit in the dict", function()
    local cache = started_cache()
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    fake.clock = fake.clock + 10
    local set = dict.safe_set
    dict.safe_set = function(d, key, value, ...)
      if key:match("^leadconduit:account:") then return nil, "no memory" end
      return set(d, key, value, ...)
    end
    fire_timers()
    assert.equal("a1", cache:get().id)
    local status = cache:status()
    assert.same({ 1, 1 }, { status.syncs, status.failures })
    assert.matches("does not fit in lua_shared_dict 'leadconduit'", status.last_error.message, 1, true)
  end)

  it("says once that the dict is full when no lock can be taken", function()
    started_cache()
    dict.safe_add = function() return nil, "no memory" end
    fire_timers()
    fire_timers()
    local errors = {}
    for _, entry in ipairs(fake.logs) do
      if entry[1] == fake.ERR then errors[#errors + 1] = entry[2] end
    end
    assert.same({ "leadconduit.account_cache: lua_shared_dict 'leadconduit' is full: no sync can"
      .. " start; give the cache a dict of its own, or make it larger" }, errors)
  end)

  it("starts a new interval at once when a reload changed refresh", function()
    dict:add("leadconduit:interval", 300, 300) -- set by the workers before the reload
    started_cache() -- refresh = 10
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.equal(1, syncs_started())
    assert.equal(10, dict:get("leadconduit:interval"))
  end)

  it("counts a sync that raises as a failure that status() shows", function()
    local cache = started_cache()
    fake.answer = function() error("leadconduit: out of memory", 0) end
    fire_timers()
    local status = cache:status()
    assert.equal(1, status.failures)
    assert.equal("unavailable", status.last_error.kind)
    assert.matches("sync_account raised: leadconduit: out of memory", status.last_error.message, 1, true)
  end)

  it("refresh() syncs now, restarting the interval; in the log phase it refuses", function()
    local cache = new_cache()
    fake.phase = "log"
    local ok, err = cache:refresh()
    assert.is_nil(ok)
    assert.equal("unsupported_phase", err.kind)
    fake.phase = "content"
    fake.answer = { true, answer(200, ACCOUNT) }
    assert.is_true(cache:refresh())
    assert.equal("a1", cache:get().id)
    assert.truthy(dict:get("leadconduit:interval"))
    fake.answer = { true, answer(401, '{"error":"authentication failed"}') }
    ok, err = cache:refresh()
    assert.is_nil(ok)
    assert.equal("auth", err.kind)
    assert.equal(1, cache:status().failures)
  end)

  it("refresh() waits for the sync another worker runs and reports its success", function()
    local cache = new_cache()
    fake.phase = "content"
    dict:add("leadconduit:lock", "another worker", 3)
    local real_sleep = fake.sleep
    fake.sleep = function(seconds)
      real_sleep(seconds)
      -- The other worker stores a new version and lets go.
      dict:incr("leadconduit:version", 1, 0)
      dict:delete("leadconduit:lock")
    end
    assert.is_true(cache:refresh())
    assert.equal(0, syncs_started())
  end)

  -- The seconds between the syncs that the timers start while every sync fails, for `n` syncs.
  local function gaps_while_failing(cache_opts, outcome, n)
    started_cache(cache_opts)
    fake.answer = { true, outcome }
    local starts = {}
    for _ = 1, 100000 do
      local before = syncs_started()
      fire_timers()
      if syncs_started() > before then starts[#starts + 1] = fake.clock end
      if #starts > n then break end
      fake.clock = fake.clock + 0.25
    end
    local gaps = {}
    for i = 2, #starts do gaps[i - 1] = starts[i] - starts[i - 1] end
    return gaps
  end

  it("after a failure with no account, syncs again after 1 s, doubling up to refresh", function()
    local gaps = gaps_while_failing({ refresh = 20 }, answer(503, "{}"), 7)
    assert.same({ 1, 2, 4, 8, 16, 20, 20 }, gaps)
  end)

  it("waits as long as a Retry-After asks when that is longer than the backoff, up to an hour", function()
    local gaps = gaps_while_failing({ refresh = 300 }, answer(429, "{}", { retry_after = "7" }), 5)
    assert.same({ 7, 7, 7, 8, 16 }, gaps)
    fake.timers, fake.calls = {}, {}
    dict = fake.add_shared_dict("leadconduit")
    gaps = gaps_while_failing({ refresh = 300 }, answer(503, "{}", { retry_after = "99999" }), 1)
    assert.same({ 3600 }, gaps)
  end)

  it("once an account is fresh again, syncs once per refresh, and a failure waits for its turn", function()
    local cache = started_cache({ refresh = 20 })
    fake.answer = { true, answer(503, "{}") }
    fire_timers()
    fake.clock = fake.clock + 1
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.equal(2, syncs_started())
    assert.truthy(cache:get())
    -- Fresh: nothing until refresh has passed.
    fake.clock = fake.clock + 19.5
    fire_timers()
    assert.equal(2, syncs_started())
    fake.clock = fake.clock + 0.5
    fire_timers()
    assert.equal(3, syncs_started())
    -- A refresh() that fails while the account is fresh does not bring the next sync forward.
    fake.phase = "content"
    fake.answer = { true, answer(503, "{}") }
    assert.is_nil(cache:refresh())
    fake.clock = fake.clock + 5
    fire_timers()
    assert.equal(4, syncs_started())
  end)

  local function cache_failures()
    return dict:get("leadconduit:failures") or 0
  end

  -- The text of every log entry at `level`.
  local function logged(level)
    local lines = {}
    for _, entry in ipairs(fake.logs) do
      if entry[1] == level then lines[#lines + 1] = entry[2] end
    end
    return lines
  end

  it("logs at ERR what needs a person, at WARN what passes, each at most once a minute", function()
    started_cache({ refresh = 300 })
    for _, case in ipairs({
      { answer(401, '{"error":"authentication failed"}'), fake.ERR, "auth: HTTP 401" },
      { answer(200, '{"success":false}'), fake.ERR, "api: " },
      { { curl_code = "CURLE_PEER_FAILED_VERIFICATION", curl_message = "SSL peer certificate" },
        fake.ERR, "tls: " },
      { answer(503, "{}"), fake.WARN, "http: HTTP 503" },
      { { curl_code = "CURLE_COULDNT_CONNECT", curl_message = "refused", os_errno = 111 },
        fake.WARN, "network: " },
      { { curl_code = "CURLE_OPERATION_TIMEDOUT", curl_message = "timed out" }, fake.WARN, "timeout: " },
      { answer(429, "{}"), fake.WARN, "rate_limited: HTTP 429" },
    }) do
      fake.logs = {}
      fake.answer = { true, case[1] }
      fake.clock = fake.clock + 400
      dict:delete("leadconduit:streak") -- the next sync 1 s later
      fire_timers()
      fake.clock = fake.clock + 1
      fire_timers() -- the same failure again: not logged again
      assert.equal(2, tonumber(dict:get("leadconduit:streak")))
      local lines = logged(case[2])
      assert.equal(1, #lines, case[3])
      assert.matches("leadconduit.account_cache: sync failed: leadconduit: " .. case[3], lines[1], 1, true)
      assert.equal(1, #fake.logs, case[3])
    end
    -- A minute later, the same failure is logged again.
    fake.logs = {}
    fake.clock = fake.clock + 60
    dict:delete("leadconduit:streak")
    fire_timers()
    assert.equal(1, #logged(fake.WARN))
  end)

  it("logs the same failure once a minute even when only its numbers differ (libcurl's timings)", function()
    started_cache({ refresh = 300 })
    for i, ms in ipairs({ 2001, 2003, 1999 }) do
      fake.answer = { true, { curl_code = "CURLE_OPERATION_TIMEDOUT",
        curl_message = ("Operation timed out after %d milliseconds with 0 bytes received"):format(ms) } }
      fake.clock = fake.clock + 2 ^ i
      fire_timers()
    end
    assert.equal(3, cache_failures())
    assert.equal(1, #logged(fake.WARN))
    assert.matches("timed out after 2001 milliseconds", logged(fake.WARN)[1], 1, true)
  end)

  it("refresh() on a dict too full for the lock answers config at once, without waiting", function()
    local cache = new_cache()
    fake.phase = "content"
    dict.safe_add = function() return nil, "no memory" end
    local ok, err = cache:refresh()
    assert.is_nil(ok)
    assert.equal("config", err.kind)
    assert.matches("lua_shared_dict 'leadconduit' is full: no sync can start", err.message, 1, true)
    assert.same({}, fake.calls) -- no sleep, no sync
  end)

  it("still logs a failure when the dict has no room to remember that it did", function()
    started_cache()
    local add = dict.safe_add
    dict.safe_add = function(d, key, ...)
      if key:match("^leadconduit:said:") then return nil, "no memory" end
      return add(d, key, ...)
    end
    fake.answer = { true, answer(401, '{"error":"authentication failed"}') }
    fire_timers()
    assert.matches("sync failed: leadconduit: auth: HTTP 401", logged(fake.ERR)[1], 1, true)
  end)

  it("logs the first success after failures at NOTICE, with how many and for how long", function()
    started_cache({ refresh = 300 })
    fake.answer = { true, answer(503, "{}") }
    for _ = 1, 3 do
      fire_timers()
      fake.clock = fake.clock + 10
    end
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.same({ "leadconduit.account_cache: synced again after 3 failed syncs over 30.0 s" },
      logged(fake.NOTICE))
    -- The next success says nothing.
    fake.clock = fake.clock + 300
    fire_timers()
    assert.equal(1, #logged(fake.NOTICE))
  end)

  it("raises for a mistake in the code even where the key is missing too", function()
    local ok, err = pcall(new_cache, { client = { timeout = 0 } })
    assert.is_false(ok)
    assert.matches("client: timeout must be", err, 1, true)
    ok, err = pcall(new_cache, { client = { base_url = "ftp://x", ca_file = "/nonexistent" } })
    assert.is_false(ok)
    assert.matches("client: base_url must start with https://", err, 1, true)
  end)

  it("does not raise when the client cannot work on this machine: get() says why, kind config", function()
    for _, case in ipairs({
      { { base_url = "https://127.0.0.1:1" },
        "api_key is missing: inside nginx, os.getenv returns nil unless" },
      { { api_key = KEY .. " x" }, "api_key must be a non-empty string of printable ASCII" },
      { { api_key = KEY, ca_file = "/nonexistent/ca.pem" }, "ca_file is not a readable, non-empty file" },
      { { api_key_file = "/nonexistent/key" }, "cannot read the API key file" },
    }) do
      fake = fake_ngx.new("init_worker")
      dict = fake.add_shared_dict("leadconduit")
      rawset(_G, "ngx", fake)
      local cache = new_cache({ client = case[1] })
      cache:start()
      local account, err = cache:get()
      assert.is_nil(account)
      assert.same({ "unavailable", "config" }, { err.kind, err.cause.kind })
      assert.matches(case[2], err.cause.message, 1, true)
      fake.answer = { true, answer(200, ACCOUNT) }
      fire_timers()
      assert.equal(0, syncs_started())
      local status = cache:status()
      assert.same({ 0, 1, "config" }, { status.syncs, status.failures, status.last_error.kind })
      assert.matches(case[2], logged(fake.ERR)[1], 1, true)
      fake.phase = "content"
      local ok, refresh_err = cache:refresh()
      assert.is_nil(ok)
      assert.equal("config", refresh_err.kind)
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end
  end)

  it("takes over at once the lock of a worker that is gone, and syncs", function()
    local sh = assert(io.popen("sh -c 'echo $$'"))
    local dead = sh:read("*l")
    sh:close() -- reaped: no process has that id any more
    started_cache({ refresh = 300 })
    dict:add("leadconduit:lock", dead .. ":1:5.000000", 300)
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.equal(1, syncs_started())
    assert.is_nil(dict:get("leadconduit:lock"))
    assert.matches("the worker that was syncing %(pid " .. dead .. "%) is gone", logged(fake.WARN)[1])
    -- A live holder (this very process) keeps its lock.
    local stat = assert(io.open("/proc/self/stat"))
    local alive = stat:read("*l"):match("^%d+")
    stat:close()
    fake.clock = fake.clock + 300
    dict:add("leadconduit:lock", alive .. ":1:5.000000", 300)
    fire_timers()
    assert.equal(1, syncs_started())
  end)

  it("stores an account holding numbers past a double's range, and serves them as math.huge", function()
    local cache = started_cache()
    fake.answer = { true, answer(200, '{"success":true,"account":{"id":"a1","big":1e400,"small":-1e400}}') }
    fire_timers()
    local account = assert(cache:get())
    assert.same({ math.huge, -math.huge }, { account.big, account.small })
    assert.equal(0, cache:status().failures)
  end)

  it("keeps a failure the dict has no room for in the worker, and says the dict is full", function()
    local cache = started_cache()
    local set = dict.safe_set
    dict.safe_set = function(d, key, value, ...)
      if key == "leadconduit:last_error" then return nil, "no memory" end
      return set(d, key, value, ...)
    end
    fake.answer = { true, answer(401, '{"error":"authentication failed"}') }
    fire_timers()
    local status = cache:status()
    assert.same({ 1, "auth" }, { status.failures, status.last_error and status.last_error.kind })
    local errs = logged(fake.ERR)
    assert.matches("lua_shared_dict 'leadconduit' is full: the last failure cannot be stored",
      errs[1], 1, true)
    -- Gone once an account newer than it is stored.
    fake.clock = fake.clock + 1
    fake.answer = { true, answer(200, ACCOUNT) }
    fire_timers()
    assert.is_nil(cache:status().last_error)
  end)
end)
