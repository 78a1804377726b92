-- account_cache_production: leadconduit.account_cache on a bad day, in a real nginx with two
-- workers (spec/nginx/production.conf, cache_handlers.lua) against the real mock server:
-- an outage at start-up and the recovery from it with refresh = 300, the log levels, the
-- metrics as promtool reads them, a reload in the middle of a sync, and setups that cannot work
-- (no key, no thread pool, an unreadable CA or key file), which must still answer. Like
-- spec/nginx_spec.lua, this runs in the Lua 5.4 suite; it takes about a minute.

local openresty = require "support.openresty"
local sys = require "support.sys"
local socket = require "socket"

describe("leadconduit.account_cache in production", function()
  if _VERSION ~= "Lua 5.4" then return end
  local available, why = openresty.available()
  if not available then
    it("recovers, logs and reports", function() pending(why) end)
    return
  end

  local mock = require "support.mock_server"
  local redact = require "leadconduit.redact"
  local srv, install, bed, token, switch_url
  local TEMPLATE = assert(sys.read_file(sys.SPEC_DIR .. "/nginx/production.conf"))

  lazy_setup(function()
    srv = mock.start()
    install = openresty.install()
    switch_url, token = srv:counted("switch")
  end)

  lazy_teardown(function()
    if bed then bed:stop() end
    if srv then srv:stop() end
    openresty.uninstall(install)
  end)

  -- A bed whose cache has these client options (refresh 300, no retries), with conf changed by
  -- edit. Stops the bed before it.
  local function start(client, edit)
    if bed then bed:stop() end
    local fields = {}
    for name, value in pairs(client) do fields[#fields + 1] = ("%s = %q"):format(name, value) end
    local options = ("return { shared_dict = 'leadconduit', refresh = 300, stale = 86400,"
      .. " client = { max_retries = 0, %s } }\n"):format(table.concat(fields, ", "))
    bed = openresty.start({ install = install, base_url = srv.base_url, ca_file = srv.ca_file,
      api_key = srv.api_key, conf = edit and edit(TEMPLATE) or TEMPLATE,
      files = { ["cache_options.lua"] = options } })
    return bed
  end

  local function status()
    local code, body = bed:get("/status")
    assert(code == 200 and type(body) == "table",
      "/status: " .. tostring(code) .. "\n" .. bed:error_log_tail())
    return body
  end

  local function wait_for(check, seconds, what)
    return bed:wait_for(check, seconds, what)
  end

  -- The error log's lines that hold `text`, each with its level: { { level, line } }.
  local function log_lines(text)
    local found = {}
    for line in bed:error_log():gmatch("[^\n]+") do
      if line:find(text, 1, true) then found[#found + 1] = { line:match("%[(%a+)%]"), line } end
    end
    return found
  end

  -- promtool's verdict on the metrics served now: true, or false and what it said.
  local function promtool_accepts()
    local _, text = bed:get("/metrics")
    local path = bed.prefix .. "/metrics.txt"
    sys.write_file(path, text)
    local out = sys.capture("promtool check metrics < " .. sys.quote(path) .. " 2>&1; echo rc=$?")
    return out == "rc=0\n", out .. "\n" .. text, text
  end

  local function no_key_anywhere()
    local secrets = redact.secrets(srv.api_key)
    local _, metrics = bed:get("/metrics")
    local _, dict = bed:get("/dict")
    for what, text in pairs({ ["error.log"] = bed:error_log(), metrics = metrics, dict = dict }) do
      for _, secret in ipairs(secrets) do
        assert.is_nil(text:find(secret, 1, true), what .. " holds the key")
      end
    end
  end

  describe("an outage at start-up with refresh = 300", function()
    local outage_started

    it("answers 503 from the gate and backs off: 1, 2, 4 s between syncs, not a storm", function()
      srv:switch(token, "503")
      start({ api_key = srv.api_key, base_url = switch_url, ca_file = srv.ca_file, timeout = 5 })
      outage_started = socket.gettime()
      socket.sleep(6.5)
      local s = status()
      -- Syncs at about 0, 1, 3 and 7 s: three by 6.5 s (the ticks come every second).
      assert(s.failures >= 2 and s.failures <= 4, s.failures .. " failures in 6.5 s")
      assert.equal(s.failures, srv:count(token).requests)
      assert.same({ "unavailable", "http" }, { s.err.kind, s.err.cause })
      assert.equal(503, (bed:get("/gate")))
    end)

    it("serves metrics that promtool accepts before the first success, without its timestamp", function()
      local ok, said, text = promtool_accepts()
      assert(ok, said)
      assert.matches('leadconduit_account_sync_failures_total{kind="http"} [1-9]', text)
      assert.matches("\nleadconduit_account_syncs_total 0\n", text, 1, true)
      assert.matches("\nleadconduit_account_fresh 0\n", text, 1, true)
      assert.is_nil(text:find("leadconduit_account_last_success_timestamp_seconds", 1, true))
      assert.is_nil(text:find("leadconduit_account_age_seconds", 1, true))
    end)

    it("opens the gate within a few seconds of the API's return", function()
      srv:switch(token, "ok")
      local _, seconds = wait_for(function() return bed:get("/gate") == 200 end, 10, "the gate to open")
      assert(seconds < 6, seconds .. " s to open after the API came back")
      -- Then one sync per refresh: no more in the next 3 s.
      local syncs = srv:count(token).requests
      socket.sleep(3)
      assert.equal(syncs, srv:count(token).requests)
    end)

    it("logged the outage once at warn, and the recovery at notice with how many and how long", function()
      local failures = log_lines("sync failed")
      assert.equal(1, #failures, "the same failure repeated within a minute is logged once")
      assert.equal("warn", failures[1][1])
      assert.matches("leadconduit.account_cache: sync failed: leadconduit: http: HTTP 503",
        failures[1][2], 1, true)
      local recovered = log_lines("synced again after")
      assert.equal(1, #recovered)
      assert.equal("notice", recovered[1][1])
      local n, seconds = recovered[1][2]:match("synced again after (%d+) failed syncs? over ([%d.]+) s")
      assert.equal(status().failures, tonumber(n))
      local outage = socket.gettime() - outage_started
      assert(tonumber(seconds) > 2 and tonumber(seconds) < outage, seconds .. " s of " .. outage)
    end)

    it("logs a failure that needs a person at error, and reports a fresh account to promtool", function()
      srv:switch(token, "401")
      local _, body = bed:get("/refresh")
      assert.equal("auth", body.err.kind)
      local auth = log_lines("sync failed: leadconduit: auth")
      assert.same({ "error" }, { auth[1] and auth[1][1] })
      local ok, said, text = promtool_accepts()
      assert(ok, said)
      assert.matches('leadconduit_account_sync_failures_total{kind="auth"} 1\n', text, 1, true)
      assert.matches("\nleadconduit_account_fresh 1\n", text, 1, true)
      assert.matches("\nleadconduit_account_syncs_total 1\n", text, 1, true)
      assert.matches("\nleadconduit_account_last_success_timestamp_seconds 1%d+%.%d+\n", text)
      assert.matches("\nleadconduit_account_sync_duration_seconds 0%.%d+\n", text)
      srv:switch(token, "ok")
    end)

    it("never writes the key into the error log, the shared dict or the metrics", function()
      no_key_anywhere()
    end)
  end)

  it("a reload in the middle of the first sync: the new workers sync within seconds", function()
    srv:switch(token, "hang")
    -- timeout 8: the lock lives 9 s; before, the new workers waited for it and then refresh (300 s).
    start({ api_key = srv.api_key, base_url = switch_url, ca_file = srv.ca_file, timeout = 8 })
    wait_for(function() return status().lock end, 5, "the first sync to hold the lock")
    local old = table.concat(bed:workers(), " ")
    assert(sys.run("kill -HUP " .. bed.pid))
    wait_for(function()
      local now = bed:workers()
      return #now == 2 and table.concat(now, " ") ~= old
    end, 10, "new workers")
    srv:switch(token, "ok")
    local _, seconds = wait_for(function() return bed:get("/gate") == 200 end, 20, "the gate to open")
    assert(seconds < 12, seconds .. " s")
  end)

  it("a dict too small for the account and the failure: status() still says why, logged at error", function()
    srv:switch(token, "ok")
    local client = { api_key = srv.api_key, base_url = switch_url, ca_file = srv.ca_file, timeout = 5 }
    start(client, function(conf)
      return (conf:gsub("lua_shared_dict leadconduit 1m;", "lua_shared_dict leadconduit 12k;"))
    end)
    local synced = wait_for(function()
      local s = status()
      return (s.syncs > 0 or s.failures > 0) and s
    end, 5, "the first sync")
    srv:switch(token, "503")
    local _, body = bed:get("/refresh")
    assert.equal("http", body.err.kind)
    local s = status()
    assert.equal(synced.failures + 1, s.failures)
    assert.equal("http", s.last_error and s.last_error.kind)
    local full = log_lines("lua_shared_dict 'leadconduit' is full")
    assert.equal("error", full[1] and full[1][1], bed:error_log_tail())
    srv:switch(token, "ok")
  end)

  describe("a setup that cannot work still answers: 503 from the gate, kind config, at error", function()
    local function broken(client, edit, expected)
      start(client, edit)
      local s = wait_for(function()
        local now = status()
        return now.last_error and now
      end, 5, "the first failed sync")
      assert.equal("config", s.last_error.kind)
      assert.matches(expected, s.last_error.message, 1, true)
      assert.same({ "unavailable", "config" }, { s.err.kind, s.err.cause })
      assert.equal(503, (bed:get("/gate")))
      local logged = log_lines("sync failed: leadconduit: config")
      assert.equal("error", logged[1] and logged[1][1], bed:error_log_tail())
      no_key_anywhere()
    end

    it("no key", function()
      broken({ base_url = srv.base_url, ca_file = srv.ca_file }, nil, "api_key is missing")
    end)

    it("no directory for the driver's socket", function()
      broken({ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file }, function(conf)
        return (conf:gsub("\nenv TMPDIR=[^\n]+", "\nenv TMPDIR=/nonexistent/leadconduit;"))
      end, "leadconduit's driver thread: cannot make a directory for its socket: No such file or"
        .. " directory (the driver's socket goes under $TMPDIR")
    end)

    it("an unreadable CA file", function()
      broken({ api_key = srv.api_key, base_url = srv.base_url, ca_file = "/nonexistent/ca.pem" }, nil,
        "ca_file is not a readable, non-empty file: /nonexistent/ca.pem")
    end)

    local function key_file(mode)
      local dir = sys.tempdir("keyfile")
      local path = dir .. "/leadconduit"
      sys.write_file(path, srv.api_key .. "\n")
      assert(sys.run("chmod " .. mode .. " " .. sys.quote(path)))
      return path
    end

    it("a key file that group members may read", function()
      local path = key_file("640")
      broken({ api_key_file = path, base_url = srv.base_url, ca_file = srv.ca_file }, nil,
        "readable by other users (rw-r-----); run: chmod 600 " .. path)
    end)

    it("a missing key file", function()
      broken({ api_key_file = "/nonexistent/key", base_url = srv.base_url, ca_file = srv.ca_file }, nil,
        "cannot read the API key file /nonexistent/key: No such file or directory")
    end)

    it("and with a key file only its owner may read, it syncs; the dict holds no key", function()
      -- fixture/secrets holds the caller's key in its api_key field: the dict must not.
      start({ api_key_file = key_file("600"), base_url = srv:url("fixture/secrets"), ca_file = srv.ca_file })
      wait_for(function() return status().syncs > 0 end, 5, "a sync")
      assert.equal(403, (bed:get("/gate"))) -- its firehose is off: the account is served
      local _, dict = bed:get("/dict")
      assert.truthy(dict:find('"api_key":"(redacted)"', 1, true), dict)
      no_key_anywhere()
    end)
  end)
end)
