-- mock_server_spec.lua — the mock LeadConduit API checked with the curl command-line tool.
--
-- The client specs trust the mock to behave like the real API and to misbehave exactly as
-- asked; this file proves both without the code under test in the loop.

local cjson = require "cjson"
local socket = require "socket"
local mock = require "support.mock_server"
local sys = require "support.sys"

local read_file, q = sys.read_file, sys.quote

local scratch = os.tmpname()

-- curl(args...) -> { rc, status, headers (lower-cased names), body, took }
local function curl(srv, url, extra)
  local body_file, header_file = scratch .. ".body", scratch .. ".headers"
  os.remove(body_file)
  os.remove(header_file)
  local cmd = ("curl -sS --max-time 5 --cacert %s -o %s -D %s -w ' HTTP=%%{http_code}' %s %s 2>&1;" ..
    " echo \" rc=$?\""):format(q(srv.ca_file), q(body_file), q(header_file), extra or "", q(url))
  local t0 = socket.gettime()
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  local headers = {}
  for name, value in (read_file(header_file) or ""):gmatch("([%w-]+):%s*([^\r\n]*)") do
    headers[name:lower()] = value
  end
  return {
    rc = tonumber(out:match("rc=(%d+)")),
    status = tonumber(out:match("HTTP=(%d%d%d)")),
    output = out,
    headers = headers,
    body = read_file(body_file),
    took = socket.gettime() - t0,
  }
end

describe("the mock LeadConduit API", function()
  -- The specs' own fixture, not the product, run by curl: checked once, in the Lua 5.4 suite.
  if _VERSION ~= "Lua 5.4" then return end
  local srv, auth

  setup(function()
    srv = mock.start()
    auth = "-X POST -u " .. q("API:" .. srv.api_key)
  end)

  teardown(function()
    if srv then srv:stop() end
    os.remove(scratch)
    os.remove(scratch .. ".body")
    os.remove(scratch .. ".headers")
  end)

  local function post(scenario, extra, base)
    local url = (base or srv:url(scenario)) .. "/account_sso_sync"
    return curl(srv, url, auth .. " " .. (extra or ""))
  end

  describe("checks requests like the real API", function()
    it("serves the reference account over HTTPS that ca_file verifies", function()
      local r = post("")
      assert.equal(0, r.rc, r.output)
      assert.equal(200, r.status)
      assert.equal("application/json", r.headers["content-type"])
      assert.same(cjson.decode(mock.read_fixture("reference")), cjson.decode(r.body))
    end)

    it("answers 401 with the API's JSON error body without credentials", function()
      local r = curl(srv, srv.base_url .. "/account_sso_sync", "-X POST")
      assert.equal(401, r.status)
      assert.equal("application/json", r.headers["content-type"])
      assert.equal('{"error":"authentication failed"}', r.body)
    end)

    it("answers 401 to a wrong key, a wrong user name and a non-Basic scheme", function()
      local wrong = {
        "-u " .. q("API:" .. srv.api_key .. "x"),
        "-u " .. q("api:" .. srv.api_key),
        "-u " .. q(srv.api_key .. ":"),
        "-H " .. q("Authorization: Bearer " .. srv.api_key),
      }
      for _, credentials in ipairs(wrong) do
        local r = curl(srv, srv.base_url .. "/account_sso_sync", "-X POST " .. credentials)
        assert.equal(401, r.status, credentials)
        assert.equal('{"error":"authentication failed"}', r.body)
      end
    end)

    it("answers 405 with Allow: POST to other methods", function()
      for _, method in ipairs({ "GET", "PUT", "DELETE" }) do
        local r = curl(srv, srv.base_url .. "/account_sso_sync",
          "-X " .. method .. " -u " .. q("API:" .. srv.api_key))
        assert.equal(405, r.status, method)
        assert.equal("POST", r.headers.allow)
      end
    end)

    it("answers 404 to other paths", function()
      local r = curl(srv, srv.base_url .. "/account_sync", auth)
      assert.equal(404, r.status)
      r = curl(srv, srv.base_url .. "/account_sso_sync/extra", auth)
      assert.equal(404, r.status)
    end)

    it("takes an optional 24-hex-digit sso_account_id query and refuses a malformed one", function()
      local query = "?sso_account_id=5fd4371e940df5a34a3888b2"
      local r = curl(srv, srv:url("echo") .. "/account_sso_sync" .. query, auth)
      assert.equal(200, r.status)
      local echo = cjson.decode(r.body).request
      assert.equal("sso_account_id=5fd4371e940df5a34a3888b2", echo.query)
      assert.equal("5fd4371e940df5a34a3888b2", echo.args.sso_account_id)
      r = curl(srv, srv.base_url .. "/account_sso_sync?sso_account_id=xyz", auth)
      assert.equal(400, r.status)
    end)

    it("serves the same API over plain http on loopback", function()
      local r = post(nil, nil, srv.http_url)
      assert.equal(200, r.status)
      assert.equal(true, cjson.decode(r.body).success)
    end)
  end)

  describe("fixtures", function()
    it("are all valid JSON answers with an account", function()
      local names = mock.fixtures()
      assert.is_true(#names >= 7)
      for _, name in ipairs(names) do
        local ok, value = pcall(cjson.decode, mock.read_fixture(name))
        assert.is_true(ok, name .. ": " .. tostring(value))
        assert.equal(true, value.success, name)
        assert.equal("table", type(value.account), name)
      end
    end)

    it("are served as stored, with @API_KEY@ replaced by the test key", function()
      for _, name in ipairs(mock.fixtures()) do
        local r = post("fixture/" .. name)
        assert.equal(200, r.status, name)
        local stored = mock.read_fixture(name):gsub("@API_KEY@", srv.api_key)
        assert.equal(stored, r.body, name)
      end
      local secrets = cjson.decode(post("fixture/secrets").body)
      assert.equal(srv.api_key, secrets.account.api_key)
    end)

    -- Defined only where ../shared holds the page (spec/shared_data_spec.lua says when not).
    local page_path = require("support.shared").file("seed/account_sso_sync.txt")
    if page_path then it("reference.json is the example of the API's reference page", function()
      local page = read_file(page_path)
      local example = assert(page:match("\n(%{\n.-\n%})\n"), "no JSON example on the page")
      assert.same(cjson.decode(example), cjson.decode(mock.read_fixture("reference")))
    end) end

    it("answers 400 for a fixture that does not exist", function()
      assert.equal(400, post("fixture/nope").status)
      assert.equal(400, post("fixture/..%2Fsecrets").status)
    end)
  end)

  describe("misbehaves on demand", function()
    it("answers any status with a JSON error body", function()
      for _, status in ipairs({ 403, 404, 429, 500, 502, 503, 504 }) do
        local r = post("status/" .. status)
        assert.equal(status, r.status)
        assert.equal("application/json", r.headers["content-type"])
        assert.equal("string", type(cjson.decode(r.body).error))
      end
      assert.equal('{"error":"authentication failed"}', post("status/401").body)
    end)

    it("serves an HTML error page", function()
      local r = post("html/502")
      assert.equal(502, r.status)
      assert.equal("text/html", r.headers["content-type"])
      assert.truthy(r.body:find("<html>", 1, true))
    end)

    it("fails the first n requests of a token, then succeeds, and counts them", function()
      local url, token = srv:counted("fail/503/2")
      assert.equal(503, curl(srv, url .. "/account_sso_sync", auth).status)
      assert.equal(503, curl(srv, url .. "/account_sso_sync", auth).status)
      assert.equal(200, curl(srv, url .. "/account_sso_sync", auth).status)
      local count = srv:count(token)
      assert.equal(3, count.requests)
      assert.equal(3, count.authorized)
      -- Another token starts from zero.
      local other = srv:counted("fail/503/1")
      assert.equal(503, curl(srv, other .. "/account_sso_sync", auth).status)
    end)

    it("fails forever when asked", function()
      local url, token = srv:counted("fail/503/forever")
      for _ = 1, 4 do
        assert.equal(503, curl(srv, url .. "/account_sso_sync", auth).status)
      end
      assert.equal(4, srv:count(token).requests)
    end)

    it("sends Retry-After as seconds or as an HTTP date", function()
      local url = srv:counted("fail/429/1/retry-after/7")
      local r = curl(srv, url .. "/account_sso_sync", auth)
      assert.equal(429, r.status)
      assert.equal("7", r.headers["retry-after"])
      url = srv:counted("fail/429/1/retry-after-date/3")
      r = curl(srv, url .. "/account_sso_sync", auth)
      assert.equal(429, r.status)
      assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$", r.headers["retry-after"])
    end)

    it("echoes the request without the credential", function()
      local r = post("echo", "-H 'X-Probe: 1' -A probe/1.0")
      local req = cjson.decode(r.body).request
      assert.equal("POST", req.method)
      assert.equal("/echo/account_sso_sync", req.path)
      assert.equal("probe/1.0", req.headers["user-agent"])
      assert.equal("1", req.headers["x-probe"])
      assert.equal("Basic <API:test key>", req.headers.authorization)
      assert.falsy(r.body:find(srv.api_key, 1, true))
    end)

    -- Two URLs in one curl command share its connection; the bodies go to stdout.
    local function twice(url)
      local p = assert(io.popen(("curl -sS --max-time 5 --cacert %s %s %s %s"):format(
        q(srv.ca_file), auth, q(url), q(url))))
      local out = p:read("*a")
      p:close()
      return out
    end

    it("shows whether requests shared a connection", function()
      local out = twice(srv:url("echo") .. "/account_sso_sync")
      local first, second = out:match("^(%b{})(%b{})$")
      local a, b = cjson.decode(first).request, cjson.decode(second).request
      assert.equal(a.connection, b.connection)
      assert.equal(1, a.connection_requests)
      assert.equal(2, b.connection_requests)
    end)

    it("counts distinct connections per token", function()
      local url, token = srv:counted("echo")
      url = url .. "/account_sso_sync"
      twice(url)
      curl(srv, url, auth)
      local count = srv:count(token)
      assert.equal(3, count.requests)
      assert.equal(2, count.connections)
    end)

    it("puts the API key into an error body on request", function()
      local r = post("leak/403")
      assert.equal(403, r.status)
      assert.truthy(r.body:find(srv.api_key, 1, true))
    end)

    it("sends bodies that are not usable JSON answers", function()
      local bodies = {
        ["invalid-json"] = false, ["truncated-json"] = false, ["empty-body"] = false, ["html-200"] = false,
        ["success-false"] = true, ["no-account"] = true, ["account-not-table"] = true,
        ["account-array"] = true, ["account-null"] = true, ["not-object"] = true,
      }
      for scenario, is_json in pairs(bodies) do
        local r = post(scenario)
        assert.equal(200, r.status, scenario)
        local ok, value = pcall(cjson.decode, r.body)
        assert.equal(is_json, ok, scenario)
        if ok then
          local usable = type(value) == "table" and value.success == true and type(value.account) == "table"
            and next(value.account) ~= nil
          assert.is_false(usable, scenario)
        end
      end
    end)

    it("answers slowly, never, or stops in the middle of the body", function()
      local r = post("slow/300")
      assert.equal(200, r.status)
      assert.is_true(r.took >= 0.3, tostring(r.took))
      r = post("hang", "--max-time 0.5")
      assert.equal(28, r.rc, r.output)
      r = post("stall", "--max-time 0.5")
      assert.equal(28, r.rc, r.output)
      assert.equal(200, r.status)
      r = post("stall/200")
      assert.equal(0, r.rc)
      assert.same(cjson.decode(mock.read_fixture("reference")), cjson.decode(r.body))
    end)

    it("sends gzip only to a client that asks for it", function()
      local r = post("gzip", "--compressed")
      assert.equal("gzip", r.headers["content-encoding"])
      assert.same(cjson.decode(mock.read_fixture("reference")), cjson.decode(r.body))
      r = post("gzip")
      assert.is_nil(r.headers["content-encoding"])
      assert.equal(false, cjson.decode(r.body).success)
    end)

    it("sends a small gzip body that inflates past any cap", function()
      local r = post("huge-gzip", "--compressed -w ' %{size_download}'")
      assert.equal(0, r.rc, r.output)
      assert.equal(srv.huge_gzip_bytes, #r.body)
      local on_wire = tonumber(r.output:match(" (%d+) rc="))
      assert.is_true(on_wire < 100000, tostring(on_wire))
    end)

    it("streams huge bodies, chunked or with Content-Length", function()
      local r = post("huge-chunked/3000000")
      assert.equal("chunked", r.headers["transfer-encoding"])
      assert.equal(3000000, #r.body)
      assert.equal(true, cjson.decode(r.body).success)
      r = post("huge-length/2000000")
      assert.equal("2000000", r.headers["content-length"])
      assert.equal(2000000, #r.body)
    end)

    it("stops streaming when the client goes away", function()
      local url, token = srv:counted("huge-chunked/100000000")
      local r = curl(srv, url .. "/account_sso_sync", auth .. " --limit-rate 200k --max-time 0.5")
      assert.equal(28, r.rc, r.output)
      socket.sleep(0.3)
      local sent = srv:count(token).bytes_sent
      socket.sleep(0.3)
      assert.equal(sent, srv:count(token).bytes_sent) -- the handler has stopped
      assert.is_true(sent < 20000000, tostring(sent))
    end)

    it("redirects to another origin that counts Authorization headers", function()
      local url, token = srv:counted("redirect")
      local r = curl(srv, url .. "/account_sso_sync", auth)
      assert.equal(302, r.status)
      assert.equal(srv.redirect_target_url .. "/t/" .. token .. "/redirect/account_sso_sync",
        r.headers.location)
      assert.same({ requests = 1, authorized = 1, connections = 1, bytes_sent = 0 }, srv:count(token))
      -- curl -L follows and, as it should, drops the credential on the other origin.
      r = curl(srv, url .. "/account_sso_sync", auth .. " -L")
      assert.equal(200, r.status)
      local count = srv:count(token)
      assert.equal(3, count.requests)
      assert.equal(2, count.authorized)
      -- ... and the target does see one that arrives.
      curl(srv, url .. "/account_sso_sync", auth .. " -L --location-trusted")
      assert.equal(4, srv:count(token).authorized)
    end)

    it("closes the connection without a response", function()
      local r = post("close")
      assert.equal(52, r.rc, r.output) -- Empty reply from server
    end)

    it("resets the connection after the request", function()
      local r = post("reset")
      assert.equal(56, r.rc, r.output)
      assert.truthy(r.output:find("reset", 1, true), r.output)
    end)

    it("announces more body than it sends", function()
      local r = post("short-body")
      assert.equal(18, r.rc, r.output) -- transfer closed with bytes remaining
    end)
  end)

  describe("other origins", function()
    it("resets connections on accept, before TLS", function()
      local r = post(nil, nil, srv.reset_url)
      assert.equal(35, r.rc, r.output) -- SSL connect error, errno ECONNRESET
      assert.truthy(r.output:lower():find("reset", 1, true), r.output)
    end)

    it("accepts and never answers", function()
      local r = post(nil, "--max-time 0.5", srv.silent_url)
      assert.equal(28, r.rc, r.output)
    end)

    it("has a port nobody listens on", function()
      local r = post(nil, nil, srv.refused_url)
      assert.equal(7, r.rc, r.output)
    end)

    it("has a certificate that ca_file does not trust", function()
      local r = post(nil, nil, srv.untrusted_url)
      assert.equal(60, r.rc, r.output)
    end)

    it("has a trusted certificate for another host name", function()
      local r = post(nil, nil, srv.wrong_host_url)
      assert.equal(60, r.rc, r.output)
      assert.truthy(r.output:find("name", 1, true), r.output)
    end)
  end)
end)

describe("the mock server's lifecycle", function()
  if _VERSION ~= "Lua 5.4" then return end
  local alive = sys.process_alive
  local function answers(port)
    return sys.listening(port, 0.5)
  end

  it("runs servers side by side, and stop() ends nginx and removes its files", function()
    local a, b = mock.start(), mock.start()
    assert.are_not.equal(a.port, b.port)
    assert.are_not.equal(a.api_key, b.api_key)
    local pid, port, prefix = a.nginx_pid, a.port, a.prefix
    assert.is_true(alive(pid))
    a:stop()
    a:stop() -- twice is harmless
    assert.is_false(alive(pid))
    assert.is_false(answers(port))
    assert.is_nil(io.open(prefix .. "/nginx.conf"))
    assert.is_true(answers(b.port))
    b:stop()
  end)

  it("leaves no nginx behind when its Lua process exits without stop()", function()
    local lua = arg and arg[-1] or "lua5.4"
    local script = "package.path = 'spec/?.lua;' .. package.path; " ..
      "local srv = require('support.mock_server').start(); print(srv.nginx_pid, srv.tcp_pid); os.exit(0)"
    local p = assert(io.popen(q(lua) .. " -e " .. q(script)))
    local out = p:read("*a")
    p:close()
    local nginx_pid, tcp_pid = out:match("(%d+)%s+(%d+)")
    assert.truthy(nginx_pid, out)
    local gone = false
    for _ = 1, 40 do
      if not alive(nginx_pid) and not alive(tcp_pid) then gone = true; break end
      socket.sleep(0.1)
    end
    assert.is_true(gone)
  end)

  it("shows nginx's error log when nginx cannot start", function()
    local ok, err = pcall(mock.start, { nginx = "/bin/false" })
    assert.is_false(ok)
    assert.matches("nginx did not start; tail of /tmp/leadconduit%-mock%.[%w]+/error.log", tostring(err))
  end)
end)
