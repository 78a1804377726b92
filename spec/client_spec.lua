-- client_spec.lua — leadconduit.new / client:sync_account / client:close against the mock API.
--
-- Every scenario a production network or a misbehaving server can produce, checked through the
-- public contract of API.md: the result, or the error's kind, status, attempts, retryable flag
-- and message (never the key), and the elapsed time where waiting is the behaviour.

local socket = require "socket"
local mime = require "mime"
local cjson = require "cjson"
local mock = require "support.mock_server"
local collector = require "support.collector"
local leadconduit = require "leadconduit"

local now = socket.gettime

-- Deep equality that ignores metatables (array_mt) and compares nulls by identity.
local function same_value(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  for k, v in pairs(a) do
    local ok, why = same_value(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. " missing" end
  end
  return true
end

-- Files a process has open (to see that clients release their sockets).
local function open_descriptors()
  local p = io.popen("ls /proc/" .. (io.open("/proc/self/stat"):read("*l"):match("^%d+")) .. "/fd")
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

describe("leadconduit client", function()
  local srv, secrets
  local clients = {}

  setup(function()
    srv = mock.start()
    secrets = { srv.api_key, (mime.b64("API:" .. srv.api_key)) }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  after_each(function()
    for _, c in ipairs(clients) do c:close() end
    clients = {}
  end)

  local function assert_no_secret(text, where)
    for _, secret in ipairs(secrets) do
      assert.is_nil(tostring(text):find(secret, 1, true), (where or "text") .. " contains the API key")
    end
  end

  -- A client for a base_url (default: the mock's), small timeouts, no retries unless asked.
  local function client(base_url, opts)
    local o = {
      api_key = srv.api_key,
      base_url = base_url or srv.base_url,
      ca_file = srv.ca_file,
      timeout = 5,
      connect_timeout = 2,
      max_retries = 0,
      retry_delay = 0.01,
    }
    for k, v in pairs(opts or {}) do o[k] = v end
    if o.ca_file == false then o.ca_file = nil end
    local c = leadconduit.new(o)
    clients[#clients + 1] = c
    return c
  end

  -- sync(base_url, opts) -> res, err, seconds
  local function sync(base_url, opts, sync_opts)
    local c = client(base_url, opts)
    local t0 = now()
    local res, err = c:sync_account(sync_opts)
    return res, err, now() - t0
  end

  local function check_error(res, err, want)
    assert.is_nil(res)
    assert.is_table(err, "expected an error table")
    assert.equal(want.kind, err.kind, tostring(err))
    assert.equal(want.status, err.status, tostring(err))
    assert.equal(want.retryable, err.retryable, tostring(err))
    assert.equal(want.attempts, err.attempts, tostring(err))
    assert.is_string(err.message)
    assert.is_true(#err.message > 0)
    assert.is_nil(err.message:find("\n", 1, true), "the message spans lines: " .. err.message)
    assert.equal("leadconduit: " .. err.kind .. ": " .. err.message, tostring(err))
    assert_no_secret(err.message, "err.message")
    if want.message then
      assert.truthy(err.message:find(want.message, 1, true),
        ("message %q lacks %q"):format(err.message, want.message))
    end
    return err
  end

  local function echo(c, sync_opts)
    local res, err = c:sync_account(sync_opts)
    assert.is_nil(err)
    return res.request
  end

  describe("sync_account", function()
    it("returns the decoded answer of the API", function()
      local res, err = sync()
      assert.is_nil(err)
      assert.equal(true, res.success)
      assert.equal("Acme, Inc.", res.account.name)
      assert.equal("5fd4371e940df5a34a3888b2", res.account.pending_sellers[1].id)
      assert.equal(true, res.account.features.firehose)
      assert.equal("active", res.account.subscriptions.pro.state)
      assert.is_true(same_value(cjson.decode(mock.read_fixture("reference")), res))
    end)

    it("decodes every fixture account like lua-cjson does", function()
      for _, name in ipairs(mock.fixtures()) do
        local c = client(srv:url("fixture/" .. name))
        local res, err = c:sync_account()
        assert.is_nil(err, name .. ": " .. tostring(err))
        local expected = cjson.decode((mock.read_fixture(name):gsub("@API_KEY@", srv.api_key)))
        assert(same_value(expected, res, name))
      end
    end)

    it("gives JSON arrays array_mt, null leadconduit.null, and integers as integers", function()
      local res = assert(sync(srv:url("fixture/edge")))
      local account = res.account
      assert.equal(leadconduit.array_mt, getmetatable(account.pending_sellers))
      assert.equal(leadconduit.array_mt, getmetatable(account.connected_sellers))
      assert.equal(0, #account.connected_sellers)
      assert.is_nil(getmetatable(account.features))
      assert.equal(leadconduit.null, account.data_truncated_at)
      assert.equal(leadconduit.null, account.subscriptions.addon)
      assert.equal(0, account.data_retention_in_days)
      if math.type then
        assert.equal("integer", math.type(account.data_retention_in_days))
      end
    end)

    it("decodes escaped and raw non-ASCII names to the same UTF-8", function()
      local res = assert(sync(srv:url("fixture/unicode")))
      local sellers = res.account.pending_sellers
      assert.equal("Emoji escaped \240\159\152\128 and raw \240\159\152\128", sellers[1].name)
      assert.equal("Astral \240\157\132\158 music and \240\157\132\158 escaped", sellers[2].name)
      assert.equal("Embedded NUL \0 inside", res.account.pending_buyers[1].name)
      assert.equal("Société Générale d’Équipement — 株式会社 🚀", res.account.name)
    end)

    it("keeps the base_url's path prefix and ignores its trailing slash", function()
      local c = client(srv:url("echo") .. "/")
      local request = echo(c)
      assert.equal("/echo/account_sso_sync", request.path)
      assert.equal("", request.query)
    end)

    it("sends POST, Basic API:<key>, Accept: application/json and its User-Agent", function()
      local request = echo(client(srv:url("echo")))
      assert.equal("POST", request.method)
      assert.equal("Basic <API:test key>", request.headers.authorization)
      assert.equal("application/json", request.headers.accept)
      -- An empty POST has nothing to announce: Expect: 100-continue would only add a round trip.
      assert.is_nil(request.headers.expect)
      local version = leadconduit._VERSION:match("^leadconduit (%d+%.%d+%.%d+)$")
      assert.truthy(version, leadconduit._VERSION)
      local pattern = "^leadconduit%-lua/" .. version:gsub("%.", "%%.") .. " libcurl/%d"
      assert.matches(pattern, request.headers["user-agent"])
    end)

    it("sends the user_agent option instead when given", function()
      local request = echo(client(srv:url("echo"), { user_agent = "acme-sync/2.0" }))
      assert.equal("acme-sync/2.0", request.headers["user-agent"])
    end)

    it("asks for gzip and decodes a gzip-encoded answer", function()
      local request = echo(client(srv:url("echo")))
      assert.matches("gzip", request.headers["accept-encoding"] or "")
      local res, err = sync(srv:url("gzip"))
      assert.is_nil(err)
      assert.is_true(same_value(cjson.decode(mock.read_fixture("reference")), res))
    end)

    it("sends sso_account_id as a query parameter, in either case of hex digits", function()
      local c = client(srv:url("echo"))
      assert.equal("sso_account_id=5fd4371e940df5a34a3888b2",
        echo(c, { sso_account_id = "5fd4371e940df5a34a3888b2" }).query)
      assert.equal("sso_account_id=5FD4371E940DF5A34A3888B2",
        echo(c, { sso_account_id = "5FD4371E940DF5A34A3888B2" }).query)
      assert.equal("", echo(c).query)
      assert.equal("", echo(c, {}).query)
    end)

    it("reuses one connection across calls of a client (keep-alive)", function()
      local url, token = srv:counted("echo")
      local c = client(url)
      local first, second, third = echo(c), echo(c), echo(c)
      assert.equal(first.connection, second.connection)
      assert.equal(first.connection, third.connection)
      assert.equal(3, third.connection_requests)
      assert.same({ requests = 3, connections = 1 },
        { requests = srv:count(token).requests, connections = srv:count(token).connections })
    end)

    it("keeps the connection after an HTTP error answer", function()
      local url, token = srv:counted("")
      local c = client(srv:url("status/503"))
      c:sync_account()
      local d = client(url)
      d:sync_account()
      d:sync_account()
      assert.equal(1, srv:count(token).connections)
    end)

    it("talks plain http to a loopback base_url", function()
      local res, err = sync(srv.http_url)
      assert.is_nil(err)
      assert.equal("Acme, Inc.", res.account.name)
      local request = echo(client(srv.http_url .. "/echo"))
      assert.equal("http", request.scheme)
    end)

    it("never hands a plain-http request, key included, to a proxy from the environment", function()
      -- http:// is allowed for loopback only so that the key never crosses a network in clear
      -- text; libcurl would otherwise send the whole request to $http_proxy / $ALL_PROXY.
      -- A child process gets those variables pointing at a socket of ours.
      local sys = require "support.sys"
      local proxy = assert(socket.bind("127.0.0.1", 0))
      local _, proxy_port = proxy:getsockname()
      local proxy_url = "http://127.0.0.1:" .. proxy_port
      local interpreter = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
      local script = ([[
        package.path, package.cpath = %q, %q
        local c = require("leadconduit").new{ api_key = os.getenv("LC_SPEC_KEY"), base_url = %q,
          timeout = 2, connect_timeout = 1, max_retries = 0 }
        local res, err = c:sync_account()
        io.write(res and res.account and res.account.name or tostring(err))
      ]]):format(package.path, package.cpath, srv.http_url)
      local out = sys.capture(("env -u no_proxy -u NO_PROXY LC_SPEC_KEY=%s http_proxy=%s " ..
        "ALL_PROXY=%s all_proxy=%s %s -e %s 2>&1"):format(sys.quote(srv.api_key), proxy_url,
        proxy_url, proxy_url, interpreter, sys.quote(script)))
      proxy:settimeout(0)
      local conn = proxy:accept()
      local seen = conn and conn:receive("*l")
      if conn then conn:close() end
      proxy:close()
      assert.is_nil(conn, "the proxy got a connection: " .. tostring(seen))
      assert.equal("Acme, Inc.", out)
    end)

    it("waits for a slow answer within the timeout", function()
      local res, err, took = sync(srv:url("slow/300"), { timeout = 3 })
      assert.is_nil(err)
      assert.equal(true, res.success)
      assert.is_true(took >= 0.3, tostring(took))
    end)
  end)

  describe("returns the contract's errors", function()
    it("auth for the API's 401, with its error text", function()
      local res, err = sync(nil, { api_key = srv.api_key .. "-wrong", max_retries = 2 })
      check_error(res, err, { kind = "auth", status = 401, retryable = false, attempts = 1,
        message = "authentication failed" })
    end)

    it("auth for 403, with the body's error text, not retried", function()
      local url, token = srv:counted("status/403")
      local res, err = sync(url, { max_retries = 2 })
      check_error(res, err, { kind = "auth", status = 403, retryable = false, attempts = 1,
        message = "forbidden: account is disabled" })
      assert.equal(1, srv:count(token).requests)
    end)

    it("http for 404 and other 4xx, not retried", function()
      for _, status in ipairs({ 400, 404, 405, 409, 422 }) do
        local url, token = srv:counted("status/" .. status)
        local res, err = sync(url, { max_retries = 2 })
        check_error(res, err, { kind = "http", status = status, retryable = false, attempts = 1 })
        assert.matches(tostring(status), err.message)
        assert.equal(1, srv:count(token).requests)
      end
    end)

    it("http for 500, 502, 503 and 504 after max_retries more attempts", function()
      for _, status in ipairs({ 500, 502, 503, 504 }) do
        local url, token = srv:counted("status/" .. status)
        local res, err = sync(url, { max_retries = 2 })
        check_error(res, err, { kind = "http", status = status, retryable = true, attempts = 3 })
        assert.equal(3, srv:count(token).requests)
      end
    end)

    it("http for an HTML error page, on one line", function()
      local res, err = sync(srv:url("html/502"), { max_retries = 1 })
      check_error(res, err, { kind = "http", status = 502, retryable = true, attempts = 2 })
      assert.matches("502", err.message)
    end)

    it("the answer after a 503 that a retry got past", function()
      local url, token = srv:counted("fail/503/1")
      local res, err = sync(url, { max_retries = 2 })
      assert.is_nil(err)
      assert.equal("Acme, Inc.", res.account.name)
      assert.equal(2, srv:count(token).requests)
    end)

    it("http when 503 goes on past every retry", function()
      local url, token = srv:counted("fail/503/forever")
      local res, err = sync(url, { max_retries = 3 })
      check_error(res, err, { kind = "http", status = 503, retryable = true, attempts = 4 })
      assert.equal(4, srv:count(token).requests)
    end)

    it("the answer after a 429 whose Retry-After seconds it waited", function()
      local url, token = srv:counted("fail/429/1/retry-after/1")
      local res, err, took = sync(url, { max_retries = 1 })
      assert.is_nil(err)
      assert.equal(true, res.success)
      assert.equal(2, srv:count(token).requests)
      assert.is_true(took >= 0.95 and took < 3, tostring(took))
    end)

    it("the answer after a 429 whose Retry-After HTTP date it waited for", function()
      local url, token = srv:counted("fail/429/1/retry-after-date/2")
      local res, err, took = sync(url, { max_retries = 1 })
      assert.is_nil(err)
      assert.equal(true, res.success)
      assert.equal(2, srv:count(token).requests)
      -- The date has whole seconds: 2 s ahead at the server is 1 to 2 s of waiting.
      assert.is_true(took >= 0.9 and took < 4, tostring(took))
    end)

    it("rate_limited, retryable, when 429 outlasts the retries", function()
      local url, token = srv:counted("fail/429/forever/retry-after/1")
      local res, err, took = sync(url, { max_retries = 1 })
      check_error(res, err, { kind = "rate_limited", status = 429, retryable = true, attempts = 2 })
      assert.equal(2, srv:count(token).requests)
      assert.is_true(took >= 0.95 and took < 3, tostring(took))
    end)

    it("rate_limited at once with max_retries = 0", function()
      local url, token = srv:counted("fail/429/forever/retry-after/30")
      local res, err, took = sync(url, { max_retries = 0 })
      check_error(res, err, { kind = "rate_limited", status = 429, retryable = true, attempts = 1 })
      assert.equal(1, srv:count(token).requests)
      assert.is_true(took < 1, tostring(took))
    end)

    it("caps a Retry-After wait at retry.MAX_WAIT, which is 30 seconds", function()
      -- Waiting out the real cap would take 30 s: lower the constant the client reads.
      local retry = require "leadconduit.retry"
      assert.equal(30, retry.MAX_WAIT)
      retry.MAX_WAIT = 0.5
      -- Retry-After 5 (not more: a client without the cap should fail here, not hang).
      local url, token = srv:counted("fail/429/1/retry-after/5")
      local ok, res, err, took = pcall(sync, url, { max_retries = 1 })
      retry.MAX_WAIT = 30
      assert.is_true(ok, tostring(res))
      assert.is_nil(err)
      assert.equal(true, res.success)
      assert.equal(2, srv:count(token).requests)
      assert.is_true(took >= 0.45 and took < 2, tostring(took))
    end)

    it("backs off exponentially between retries", function()
      -- retry_delay 0.2: waits of at least 0.1, 0.2 and 0.4 s (jitter spreads the upper half).
      local url = srv:counted("fail/503/forever")
      local res, err, took = sync(url, { max_retries = 3, retry_delay = 0.2 })
      check_error(res, err, { kind = "http", status = 503, retryable = true, attempts = 4 })
      assert.is_true(took >= 0.7 and took < 3, tostring(took))
    end)

    it("backs off by default too", function()
      local c = leadconduit.new{ api_key = srv.api_key, base_url = srv:counted("fail/503/forever"),
        ca_file = srv.ca_file }
      clients[#clients + 1] = c
      local t0 = now()
      local res, err = c:sync_account()
      local took = now() - t0
      check_error(res, err, { kind = "http", status = 503, retryable = true, attempts = 3 })
      assert.is_true(took >= 0.3 and took < 10, tostring(took))
    end)

    it("timeout near max_time against a hanging server with many retries, not after them all", function()
      local res, err, took = sync(srv:url("hang"), { timeout = 1, max_retries = 10, max_time = 2.5 })
      assert.is_nil(res)
      assert.equal("timeout", err.kind, tostring(err))
      assert.is_true(err.retryable)
      assert.is_true(err.attempts >= 2 and err.attempts <= 4, tostring(err.attempts))
      assert.is_true(took >= 2.4 and took < 3.5, ("took %.2f s"):format(took))
    end)

    it("max_time caps the attempt itself: one hanging attempt ends at max_time, not timeout", function()
      local res, err, took = sync(srv:url("hang"), { timeout = 30, max_retries = 3, max_time = 1 })
      check_error(res, err, { kind = "timeout", retryable = true, attempts = 1 })
      assert.is_true(took >= 0.9 and took < 2, ("took %.2f s"):format(took))
    end)

    it("does not start a Retry-After wait that would end past max_time", function()
      local url, token = srv:counted("fail/503/forever/retry-after/10")
      local res, err, took = sync(url, { max_retries = 3, max_time = 2 })
      check_error(res, err, { kind = "timeout", status = 503, retryable = true, attempts = 1,
        message = "max_time (2 s) ran out after 1 attempt; the last: http: HTTP 503" })
      assert.is_true(took < 1.5, ("took %.2f s"):format(took))
      assert.equal(1, srv:count(token).requests)
    end)

    it("retries within max_time while it lasts, and answers as usual when it is enough", function()
      local url, token = srv:counted("fail/503/2/retry-after/1")
      local res, err, took = sync(url, { max_retries = 5, max_time = 10 })
      assert.is_nil(err)
      assert.is_true(res.success)
      assert.equal(3, srv:count(token).requests)
      assert.is_true(took >= 1.9, ("took %.2f s"):format(took))
    end)

    it("timeout when no answer comes within timeout", function()
      local res, err, took = sync(srv:url("hang"), { timeout = 0.5 })
      check_error(res, err, { kind = "timeout", retryable = true, attempts = 1 })
      assert.is_true(took >= 0.45 and took < 1.5, tostring(took))
    end)

    it("timeout when the body stops halfway, retried, with the status that arrived", function()
      local url, token = srv:counted("stall")
      local res, err, took = sync(url, { timeout = 0.4, max_retries = 1 })
      check_error(res, err, { kind = "timeout", status = 200, retryable = true, attempts = 2 })
      assert.equal(2, srv:count(token).requests)
      assert.is_true(took >= 0.8 and took < 2.5, tostring(took))
    end)

    it("timeout when the TLS handshake never completes (connect_timeout)", function()
      local res, err, took = sync(srv.silent_url, { connect_timeout = 0.4, timeout = 5 })
      check_error(res, err, { kind = "timeout", retryable = true, attempts = 1 })
      assert.is_true(took >= 0.35 and took < 1.5, tostring(took))
    end)

    it("network, retried, when the connection is refused", function()
      local res, err = sync(srv.refused_url, { max_retries = 2 })
      check_error(res, err, { kind = "network", retryable = true, attempts = 3 })
    end)

    it("network, not tls, when the connection is reset before TLS answers", function()
      local res, err = sync(srv.reset_url, { max_retries = 1 })
      check_error(res, err, { kind = "network", retryable = true, attempts = 2 })
    end)

    it("network when the connection is reset after the request", function()
      local url, token = srv:counted("reset")
      local res, err = sync(url, { max_retries = 1 })
      check_error(res, err, { kind = "network", retryable = true, attempts = 2 })
      assert.equal(2, srv:count(token).requests)
    end)

    it("network when the server closes without answering", function()
      local res, err = sync(srv:url("close"))
      check_error(res, err, { kind = "network", retryable = true, attempts = 1 })
    end)

    it("network when the body ends before its Content-Length", function()
      local res, err = sync(srv:url("short-body"))
      assert.is_nil(res)
      assert.equal("network", err.kind, tostring(err))
      assert.equal(true, err.retryable)
    end)

    it("network, retried, when the connection closes inside the response's headers", function()
      -- libcurl itself calls this a complete, empty 200.
      local res, err = sync(srv.headers_cut_url, { max_retries = 1 })
      check_error(res, err, { kind = "network", retryable = true, attempts = 2, message = "headers" })
    end)

    it("too_large, not a raise, for a header line of 16 MiB (libcurl's out-of-memory code)", function()
      local c = client(srv.raw_url .. "/long-header", { max_retries = 2 })
      local ok, res, err = pcall(c.sync_account, c)
      assert(ok, "sync_account raised: " .. tostring(res))
      check_error(res, err, { kind = "too_large", retryable = false, attempts = 1, message = "header" })
      -- and the client is still usable
      res, err = sync(srv:raw("after-long-header", "HTTP/1.1 200 OK\r\nContent-Length: "
        .. #'{"success":true,"account":{}}' .. '\r\n\r\n{"success":true,"account":{}}'))
      assert.is_table(res, tostring(err))
    end)

    it("no status after only a 1xx response and a timeout: a status is a final response's", function()
      local res, err = sync(srv.early_hints_url, { timeout = 0.5 })
      check_error(res, err, { kind = "timeout", retryable = true, attempts = 1 })
    end)

    it("the status decides when a 401, 503 or 200 comes with a corrupt gzip body", function()
      local res, err = sync(srv:url("bad-gzip/401"))
      check_error(res, err, { kind = "auth", status = 401, retryable = false, attempts = 1 })
      res, err = sync(srv:url("bad-gzip/503"), { max_retries = 1 })
      check_error(res, err, { kind = "http", status = 503, retryable = true, attempts = 2 })
      res, err = sync(srv:url("bad-gzip/200"))
      check_error(res, err, { kind = "decode", status = 200, retryable = false, attempts = 1 })
    end)

    it("shows line separators, bidirectional controls and a BOM in server text as ?", function()
      for _, case in ipairs({ { "lsep", "line one?line two?paragraph" },
                              { "bidi", "invoice ?fdp.exe? and ?isolate?" },
                              { "bom", "?starts with a byte-order mark" } }) do
        local res, err = sync(srv:url("error-text/500/" .. case[1]))
        check_error(res, err, { kind = "http", status = 500, retryable = true, attempts = 1 })
        assert.equal("HTTP 500: " .. case[2], err.message)
      end
    end)

    it("tls, never retried, for a certificate ca_file does not trust", function()
      local res, err = sync(srv.untrusted_url, { max_retries = 2 })
      check_error(res, err, { kind = "tls", retryable = false, attempts = 1 })
    end)

    it("tls for a trusted certificate of another host name", function()
      local res, err = sync(srv.wrong_host_url, { max_retries = 2 })
      check_error(res, err, { kind = "tls", retryable = false, attempts = 1 })
    end)

    it("tls for the mock's self-signed certificate without ca_file (system store)", function()
      local res, err = sync(srv.base_url, { ca_file = false })
      check_error(res, err, { kind = "tls", retryable = false, attempts = 1 })
    end)

    for _, scenario in ipairs({ "invalid-json", "truncated-json", "empty-body", "html-200" }) do
      it("decode for a 200 body that is not JSON: " .. scenario, function()
        local res, err = sync(srv:url(scenario), { max_retries = 2 })
        check_error(res, err, { kind = "decode", status = 200, retryable = false, attempts = 1 })
        if scenario ~= "empty-body" then
          assert.matches("at byte %d+", err.message)
        end
      end)
    end

    it("api for success:false, with the answer's error text", function()
      local res, err = sync(srv:url("success-false"), { max_retries = 2 })
      check_error(res, err, { kind = "api", status = 200, retryable = false, attempts = 1,
        message = "account is suspended" })
    end)

    local unusable = { "no-account", "account-not-table", "account-array", "account-null", "not-object" }
    for _, scenario in ipairs(unusable) do
      it("api for a 200 JSON answer without an account object: " .. scenario, function()
        local res, err = sync(srv:url(scenario), { max_retries = 2 })
        check_error(res, err, { kind = "api", status = 200, retryable = false, attempts = 1 })
      end)
    end

    it("http, not followed, for a redirect: the key never reaches the other origin", function()
      for _, status in ipairs({ 301, 302, 303, 307, 308 }) do
        local url, token = srv:counted("redirect/" .. status)
        local res, err = sync(url, { max_retries = 2 })
        check_error(res, err, { kind = "http", status = status, retryable = false, attempts = 1 })
        local count = srv:count(token)
        assert.equal(1, count.requests) -- the redirecting server only
        assert.equal(1, count.authorized)
      end
    end)
  end)

  describe("caps the response size", function()
    it("too_large for a chunked body over max_response_bytes, stopping the transfer", function()
      local url, token = srv:counted("huge-chunked/268435456")
      local res, err, took = sync(url, { max_response_bytes = 1048576, max_retries = 2 })
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
      assert.is_true(took < 3, tostring(took))
      socket.sleep(0.2)
      local sent = srv:count(token).bytes_sent
      assert.is_true(sent < 64 * 1048576, "the server sent " .. sent .. " bytes")
    end)

    it("too_large for a Content-Length over max_response_bytes", function()
      local res, err, took = sync(srv:url("huge-length/268435456"), { max_response_bytes = 1048576 })
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
      assert.is_true(took < 3, tostring(took))
    end)

    it("too_large for a small gzip body that inflates past the cap", function()
      local res, err = sync(srv:url("huge-gzip"), { max_response_bytes = 1048576 })
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
    end)

    it("accepts a body of exactly max_response_bytes, refuses one byte more", function()
      local cap = 200000
      local res, err = sync(srv:url("huge-length/" .. cap), { max_response_bytes = cap })
      assert.is_nil(err)
      assert.equal(true, res.success)
      res, err = sync(srv:url("huge-chunked/" .. cap), { max_response_bytes = cap })
      assert.is_nil(err)
      assert.equal(true, res.success)
      res, err = sync(srv:url("huge-length/" .. (cap + 1)), { max_response_bytes = cap })
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
      res, err = sync(srv:url("huge-chunked/" .. (cap + 1)), { max_response_bytes = cap })
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
    end)

    it("applies 8 MiB by default, counted after decompression", function()
      local res, err = sync(srv:url("huge-chunked/" .. (8388608 + 1)))
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
      res, err = sync(srv:url("huge-gzip")) -- 24 MiB inflated
      check_error(res, err, { kind = "too_large", status = 200, retryable = false, attempts = 1 })
      res, err = sync(srv:url("huge-chunked/8388608"))
      assert.is_nil(err)
      assert.equal(true, res.success)
    end)

    it("decodes a big gzip body when the cap allows it", function()
      local res, err = sync(srv:url("huge-gzip"), { max_response_bytes = 32 * 1048576 })
      assert.is_nil(err)
      assert.equal(srv.huge_gzip_bytes, #cjson.encode(res))
    end)
  end)

  describe("keeps the API key secret", function()
    it("redacts the key from error texts that quote it", function()
      for _, status in ipairs({ 401, 403, 500, 200 }) do
        local res, err = sync(srv:url("leak/" .. status))
        assert.is_nil(res)
        assert_no_secret(err.message, "err.message for leak/" .. status)
        assert_no_secret(tostring(err), "tostring(err) for leak/" .. status)
      end
    end)

    it("keeps a key made of [REDACTED]'s characters out of the message it scrubbed", function()
      -- "[REDACTED]" + the text after the key would spell the key again.
      local key = "]a1b2c3d4e5f6"
      local other = mock.start{ api_key = key }
      local ok, res, err = pcall(function()
        local c = leadconduit.new{ api_key = key, base_url = other:url("leak/403/a1b2c3d4e5f6a1b2c3d4e5f6"),
          ca_file = other.ca_file, max_retries = 0 }
        return c:sync_account()
      end)
      other:stop()
      assert.is_true(ok, tostring(res))
      check_error(res, err, { kind = "auth", status = 403, retryable = false, attempts = 1 })
      assert.is_nil(err.message:find(key, 1, true), err.message)
      assert.is_nil(tostring(err):find(key, 1, true))
    end)

    it("never shows it in tostring(client), open or closed", function()
      local c = client()
      assert_no_secret(tostring(c), "tostring(client)")
      assert.matches("leadconduit", tostring(c))
      c:close()
      assert_no_secret(tostring(c), "tostring(closed client)")
    end)

    it("does not expose it to pairs() on the client", function()
      local c = client()
      c:sync_account()
      local function walk(t, seen)
        seen = seen or {}
        if seen[t] then return end
        seen[t] = true
        for k, v in pairs(t) do
          assert_no_secret(tostring(k), "a client field name")
          if type(v) == "string" then assert_no_secret(v, "client field " .. tostring(k)) end
          if type(v) == "table" then walk(v, seen) end
        end
      end
      if type(c) == "table" then walk(c) end
    end)

    it("leaves no head of the key in a long server text cut short", function()
      -- A server that quotes the key near the end of a long error text: the message is
      -- shortened, and the cut must not keep the part of the key before it.
      local core = require "leadconduit.core"
      local real = core.transport
      core.transport = function()
        return {
          perform = function()
            return { status = 401, headers_complete = true,
              body = cjson.encode({ error = ("x"):rep(180) .. srv.api_key .. " rejected" }) }
          end,
          close = function() end,
        }
      end
      local ok, res, err = pcall(function()
        local c = leadconduit.new{ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file }
        return c:sync_account()
      end)
      core.transport = real
      assert.is_true(ok, tostring(res))
      assert.is_nil(res)
      assert.are.equal("auth", err.kind)
      assert.is_nil(err.message:find(srv.api_key:sub(1, 8), 1, true), err.message)
    end)

    it("does not quote a bad key in the option error", function()
      local bad = "s3cr3t-key with space"
      local ok, msg = pcall(leadconduit.new, { api_key = bad, base_url = srv.base_url })
      assert.is_false(ok)
      assert.is_nil(tostring(msg):find("s3cr3t", 1, true), tostring(msg))
    end)
  end)

  describe("new() checks its options", function()
    local function raises(opts)
      local ok, msg = pcall(leadconduit.new, opts)
      assert.is_false(ok, "accepted " .. tostring(opts and opts.base_url or opts and opts.api_key))
      return msg
    end

    local function accepts(opts)
      local ok, c = pcall(leadconduit.new, opts)
      assert.is_true(ok, tostring(c))
      c:close()
    end

    it("raises without options or without an api_key", function()
      raises(nil)
      raises("key")
      raises({})
      raises({ api_key = "" })
      raises({ api_key = 12345 })
    end)

    it("raises for an api_key outside printable ASCII or with spaces", function()
      for _, key in ipairs({ "abc def", "abc\ndef", "abc\rdef", "abc\tdef", "abc\0def", "abc\127def",
        "clé", "abc\31" }) do
        raises({ api_key = key })
      end
      accepts({ api_key = "!~" .. srv.api_key })
    end)

    it("raises for http:// to a host that is not loopback", function()
      for _, url in ipairs({ "http://example.com", "http://10.0.0.1", "http://192.168.1.1:8080",
        "http://127.0.0.1.example.com", "http://localhost.example.com", "http://[::2]",
        "http://0.0.0.0" }) do
        raises({ api_key = srv.api_key, base_url = url })
      end
    end)

    it("accepts http:// to 127.x.y.z, localhost and [::1]", function()
      for _, url in ipairs({ "http://127.0.0.1:8080", "http://127.1.2.3", "http://localhost:1/prefix/",
        "http://[::1]:8080" }) do
        accepts({ api_key = srv.api_key, base_url = url })
      end
    end)

    it("raises for other schemes, a missing scheme and user:pass@ in base_url", function()
      for _, url in ipairs({ "ftp://127.0.0.1", "127.0.0.1:443", "app.leadconduit.com",
        "https://user:pass@127.0.0.1", "https://user@app.leadconduit.com",
        "https://API:" .. srv.api_key .. "@127.0.0.1" }) do
        local msg = raises({ api_key = srv.api_key, base_url = url })
        assert_no_secret(msg, "the base_url error")
      end
    end)

    it("accepts https:// anywhere, with or without a path prefix", function()
      accepts({ api_key = srv.api_key })
      accepts({ api_key = srv.api_key, base_url = "https://app.leadconduit.com/" })
      accepts({ api_key = srv.api_key, base_url = "https://proxy.example.com:8443/leadconduit/v1" })
    end)

    it("raises for timeouts, retries and caps that are not numbers in range", function()
      local function with(k, v)
        local o = { api_key = srv.api_key }
        o[k] = v
        return o
      end
      raises(with("timeout", "5"))
      raises(with("timeout", -1))
      raises(with("connect_timeout", 0))
      raises(with("max_retries", -1))
      raises(with("max_retries", 1.5))
      raises(with("max_response_bytes", 0))
      raises(with("max_response_bytes", "big"))
    end)

    it("raises for a malformed sso_account_id and sends no request", function()
      local url, token = srv:counted("echo")
      local c = client(url)
      local malformed = { "5fd4371e940df5a34a3888b", "5fd4371e940df5a34a3888b2a", "5fd4371e940df5a34a3888bg",
        "5fd4371e940df5a34a3888b2&x=1", " 5fd4371e940df5a34a3888b", "", 123456789012345678 }
      for _, id in ipairs(malformed) do
        local ok = pcall(c.sync_account, c, { sso_account_id = id })
        assert.is_false(ok, "accepted " .. tostring(id))
      end
      assert.equal(0, srv:count(token).requests)
      assert.equal("sso_account_id=5fd4371e940df5a34a3888b2",
        echo(c, { sso_account_id = "5fd4371e940df5a34a3888b2" }).query)
    end)
  end)

  describe("lifecycle", function()
    it("raises when a closed client is used; closing twice is harmless", function()
      local url, token = srv:counted("")
      local c = client(url)
      assert.truthy(c:sync_account())
      c:close()
      c:close()
      local ok, msg = pcall(c.sync_account, c)
      assert.is_false(ok)
      assert.matches("closed", tostring(msg))
      assert.equal(1, srv:count(token).requests)
    end)

    it("says how to call sync_account when it is called with a dot instead of a colon", function()
      local c = client()
      for _, call in ipairs({ function() return c.sync_account() end,
                              function() return c.sync_account{ sso_account_id = ("a"):rep(24) } end }) do
        local ok, msg = pcall(call)
        assert.is_false(ok)
        assert.matches("client:sync_account", tostring(msg), 1, true)
        assert.is_nil(tostring(msg):find("closed", 1, true), tostring(msg))
      end
    end)

    -- Only Lua 5.4 has to-be-closed variables; load() keeps this file parseable elsewhere.
    local it_on_5_4 = _VERSION == "Lua 5.4" and it or function() end
    it_on_5_4("is a to-be-closed value on Lua 5.4", function()
      local chunk = assert((loadstring or load)([[
        local leadconduit, opts = ...
        local escaped
        do
          local c <close> = leadconduit.new(opts)
          assert(c:sync_account())
          escaped = c
        end
        return escaped
      ]]))
      local c = chunk(leadconduit, { api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file })
      local ok, msg = pcall(c.sync_account, c)
      assert.is_false(ok)
      assert.matches("closed", tostring(msg))
    end)

    it("releases its connection when closed or collected: no descriptor growth over 500 clients", function()
      local make = function()
        local c = leadconduit.new{ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file }
        assert(c:sync_account())
        return c
      end
      make():close() -- first use may open files that stay (trust store, libraries)
      collectgarbage("collect")
      local before = open_descriptors()
      for _ = 1, 250 do make():close() end
      for _ = 1, 250 do make() end -- dropped without close()
      collectgarbage("collect")
      collectgarbage("collect")
      local after = open_descriptors()
      assert.is_true(after <= before + 2, ("open descriptors went from %d to %d"):format(before, after))
    end)

    -- Syncs c up to 50 times while the collector runs all the time and a chain of finalizers
    -- (each one leaves the next behind) probes c: a sync with a bad option says "called again"
    -- only while c is syncing, and raises without any I/O otherwise. The first probe that finds
    -- c syncing calls during(c). Returns that sync's pcall results and the probe's message.
    local function sync_with_finalizers(c, during)
      local armed, nested = true, nil
      local function chain()
        collector.garbage_with_finalizer(function()
          if not armed then return end
          local _, msg = pcall(c.sync_account, c, { sso_account_id = "probe" })
          if not nested and tostring(msg):find("called again", 1, true) then
            nested = tostring(msg)
            during(c)
          end
          chain()
        end)
      end
      -- A whole cycle at each step: small steps need more than 50 syncs to finish a cycle once
      -- the heap is large (LuaJIT, after the specs before this one in the suite).
      collector.whole_cycles()
      for _ = 1, 4 do chain() end
      local ok, res, err
      for _ = 1, 50 do
        ok, res, err = pcall(c.sync_account, c)
        if nested then break end
      end
      armed = false
      collector.normally()
      assert(nested, "no finalizer ran during a sync in 50 syncs")
      return ok, res, err, nested
    end

    -- A megabyte an answer: enough allocation for the collector to finish cycles mid-sync.
    local BIG = 1000000
    local function big_client()
      return client(srv:url("huge-length/" .. BIG), { max_response_bytes = 2 * BIG })
    end

    local function assert_big_answer(res)
      assert.equal("5fd4371e940df5a34a3888b2", res.account.id)
      assert.equal(("a"):rep(BIG - 70), res.account.name)
    end

    it("refuses a sync from a finalizer during its own sync, with a clear error", function()
      local c = big_client()
      local ok, res, err, nested = sync_with_finalizers(c, function() end)
      assert.is_true(ok, tostring(res))
      assert.is_nil(err)
      assert_big_answer(res)
      assert.matches("leadconduit.sync_account: called again on a client that is syncing", nested, 1, true)
      assert.truthy(c:sync_account()) -- and it syncs again afterwards
    end)

    it("refuses a sync from a debug hook during its own sync, naming the causes", function()
      local c = client()
      local decode = require("leadconduit.core").decode
      local nested
      -- A call hook that syncs again when the sync calls the decoder, in the middle of it.
      debug.sethook(function()
        if nested == nil and debug.getinfo(2, "f").func == decode then
          nested = select(2, pcall(c.sync_account, c))
        end
      end, "c")
      local ok, res = pcall(c.sync_account, c)
      debug.sethook()
      assert.is_true(ok, tostring(res))
      assert.equal(true, res.success)
      assert.equal("leadconduit.sync_account: called again on a client that is syncing, from a finalizer"
        .. " (__gc) or a debug hook that ran during that sync, or from another OS thread: outside"
        .. " nginx a client runs one sync at a time", (tostring(nested):gsub("^.-: (leadconduit)", "%1")))
      assert.truthy(c:sync_account()) -- and it syncs again afterwards
    end)

    it("closes a client that a finalizer closes during its sync once that sync has ended", function()
      local c = big_client()
      local ok, res, err = sync_with_finalizers(c, function(victim) victim:close() end)
      assert.is_true(ok, tostring(res))
      assert.is_nil(err)
      assert_big_answer(res)
      assert.has_error(function() c:sync_account() end, "leadconduit.sync_account: the client is closed")
    end)

    it("works again after an error or a raised call", function()
      local c = client((srv:counted("fail/503/1")))
      local res, err = c:sync_account()
      assert.is_nil(res)
      assert.equal(503, err.status)
      assert.is_false(pcall(c.sync_account, c, { sso_account_id = "nope" }))
      res, err = c:sync_account()
      assert.is_nil(err)
      assert.equal(true, res.success)
    end)
  end)

  describe("the C transport (leadconduit.core.transport)", function()
    local core = require "leadconduit.core"
    local redact = require "leadconduit.redact"

    local function config(extra)
      local c = { url = srv:url("echo") .. "/account_sso_sync",
        authorization = redact.credential(srv.api_key),
        ca_file = srv.ca_file, connect_timeout_ms = 2000, max_response_bytes = 65536, user_agent = "spec" }
      for k, v in pairs(extra or {}) do c[k] = v end
      return c
    end

    it("reports the facts of an exchange: status, whole headers, the raw body", function()
      local t = core.transport(config())
      local outcome = t:perform(nil, core.monotime() + 5)
      t:close()
      assert.equal(200, outcome.status)
      assert.is_true(outcome.headers_complete)
      assert.is_string(outcome.body)
      assert.equal("Basic <API:test key>", cjson.decode(outcome.body).request.headers.authorization)
      assert.is_nil(outcome.curl_code)
    end)

    it("checks only that its numbers are positive integers a long holds (ranges: options.lua)", function()
      for _, field in ipairs({ "connect_timeout_ms", "max_response_bytes" }) do
        core.transport(config({ [field] = 2 ^ 40 })):close() -- past new()'s ranges, still safe for C
        for _, bad in ipairs({ 0, -1, 1.5, 2 ^ 63, 2 ^ 64, 0 / 0, 1 / 0, "5", false }) do
          assert.has_error(function() core.transport(config({ [field] = bad })) end,
            "leadconduit.transport: config." .. field .. " must be a positive integer")
        end
      end
    end)

    it("reports libcurl's code by name and the OS errno when the exchange fails", function()
      local t = core.transport(config({ url = srv.refused_url .. "/account_sso_sync" }))
      local outcome = t:perform(nil, core.monotime() + 5)
      t:close()
      assert.equal("CURLE_COULDNT_CONNECT", outcome.curl_code)
      assert.equal(111, outcome.os_errno) -- ECONNREFUSED
      assert.is_string(outcome.curl_message)
      assert.is_nil(outcome.status)
      assert.is_nil(outcome.body)
    end)

    it("keeps the config's strings when a proxy table hands out fresh ones", function()
      local values = config({ user_agent = ("spec-agent/"):rep(6) })
      local junk = {}
      local proxy = setmetatable({}, { __index = function(_, key)
        -- A collection here frees the string handed out for the previous key unless the
        -- transport still holds it; same-sized strings then move into that memory.
        collectgarbage("collect")
        for i = 1, 20 do junk[#junk + 1] = ("X"):rep(#values.url - 3) .. ("%03d"):format(i) end
        local v = values[key]
        if type(v) == "string" then return (v .. " "):sub(1, -2) end -- a new string object
        return v
      end })
      local t = core.transport(proxy)
      local outcome = t:perform(nil, core.monotime() + 5)
      t:close()
      assert.equal(200, outcome.status, tostring(outcome.curl_message))
      local request = cjson.decode(outcome.body).request
      assert.equal("Basic <API:test key>", request.headers.authorization)
      assert.equal(values.user_agent, request.headers["user-agent"])
    end)

    it("refuses control characters in its strings, which could split a header line", function()
      for _, case in ipairs({ { "user_agent", "spec\r\nX-Injected: 1" }, { "authorization", "Basic a\nX: y" },
                              { "url", config().url .. "\0" }, { "ca_file", srv.ca_file .. "\t" } }) do
        local ok, err = pcall(core.transport, config({ [case[1]] = case[2] }))
        assert.is_false(ok, case[1])
        assert.matches("config%." .. case[1] .. " must not contain control characters", err)
      end
    end)

    it("does not start an exchange with under 1 ms left, which libcurl would read as no limit", function()
      -- In a child process under timeout(1): without a limit, a server that never answers
      -- would hold the exchange forever.
      local sys = require "support.sys"
      local interpreter = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
      local script = ([[
        package.path, package.cpath = %q, %q
        local core = require "leadconduit.core"
        local t = core.transport{ url = %q, authorization = "Basic x", ca_file = %q,
          user_agent = "spec", connect_timeout_ms = 1, max_response_bytes = 1024 }
        io.write(tostring(t:perform(nil, core.monotime() + 0.0004).deadline_passed), " ")
        io.write(tostring(t:perform(nil, core.monotime() + 0.002).curl_code))
      ]]):format(package.path, package.cpath, srv:url("hang") .. "/account_sso_sync", srv.ca_file)
      local out = sys.capture(("timeout 10 %s -e %s 2>&1; echo \" exit $?\""):format(interpreter,
        sys.quote(script)))
      assert.equal("true CURLE_OPERATION_TIMEDOUT exit 0", (out:gsub("\n", "")))
    end)

    it("gives every transport an id of its own, never one a closed transport had", function()
      local all, ids = {}, {}
      for i = 1, 150 do
        all[i] = core.transport(config())
        local id = all[i]:id()
        assert.is_true(id > 0 and id == math.floor(id))
        assert.is_nil(ids[id])
        ids[id] = true
      end
      for i = 1, 150 do all[i]:close() end
      local t = core.transport(config())
      assert.is_nil(ids[t:id()])
      t:close()
    end)

    it("is closed once closed, twice harmlessly", function()
      local t = core.transport(config())
      assert.equal(200, t:perform(nil, core.monotime() + 5).status)
      t:close()
      t:close()
      assert.has_error(function() t:perform(nil, core.monotime() + 5) end,
        "leadconduit.sync_account: the client is closed")
      assert.has_error(function() t:id() end, "leadconduit.sync_account: the client is closed")
    end)

    it("survives a finalizer that closes or reuses it while the outcome is being built", function()
      for _, action in ipairs({ "close", "perform" }) do
        local t = core.transport(config())
        local seen
        collector.all_the_time()
        for _ = 1, 30 do
          collector.garbage_with_finalizer(function()
            if action == "close" then t:close() else
              seen = select(2, pcall(t.perform, t, nil, core.monotime() + 5)) end
          end)
        end
        local ok, outcome = pcall(t.perform, t, nil, core.monotime() + 5)
        collector.normally()
        if ok then
          assert.equal(200, outcome.status)
          assert.equal("echo", cjson.decode(outcome.body).account.name)
        else
          assert.matches("closed", outcome) -- the finalizer closed it before perform began
        end
        assert.is_truthy(seen == nil or type(seen) == "table" or tostring(seen):find("closed", 1, true))
        t:close()
      end
    end)
  end)
end)
