-- mock_server.lua — starts and stops the mock LeadConduit API for the specs (and the demo).
--
-- Real nginx with its Lua module (Debian nginx + libnginx-mod-http-lua) in a private temp
-- prefix, on free loopback ports, over HTTPS with certificates made at start by openssl.
-- The requests are answered by mock/handler.lua; raw TCP misbehaviour by mock/tcp_server.lua.
--
--   local mock = require "support.mock_server"
--   local srv = mock.start()          -- raises with nginx's error log when it cannot start
--   srv.base_url, srv.ca_file, srv.api_key
--   leadconduit.new{ api_key = srv.api_key, base_url = srv:url("status/503"), ca_file = srv.ca_file }
--   local url, token = srv:counted("fail/503/1")   -- the same, with requests counted per token
--   srv:count(token)  --> { requests =, authorized =, connections =, bytes_sent = }
--   srv:stop()        -- also done at garbage collection and, failing that, by a watchdog
--
-- Every scenario checks path, POST and Basic auth first, like the real API; the client then
-- posts to <base_url>/account_sso_sync, so the scenario is the base_url's path prefix:
--
--   ""  (srv.base_url)           200, the reference fixture (the API page's example)
--   fixture/<name>               200, spec/fixtures/<name>.json ("@API_KEY@" → the test key)
--   status/<code>                that status with a JSON {"error": ...} body; 401 is exactly the
--                                API's {"error":"authentication failed"}
--   html/<code>                  that status with a text/html error page (default 502)
--   fail/<code>/<n>[/retry-after/<s> | /retry-after-date/<s>]
--                                (counted only) the first n requests get <code> (n may be
--                                "forever"), later ones the reference fixture; Retry-After as
--                                seconds or as the HTTP date s seconds ahead
--   echo                         200 {"success":true,"account":{...},"request":{method, path, query,
--                                args, headers (authorization shown as "Basic <API:test key>" when
--                                exactly right, else "<other>"), connection, connection_requests}}
--   leak/<code>[/<suffix>]       an error body quoting the API key and its Basic credential; with a
--                                suffix the error text is the key followed by the suffix
--   expiring                     200, pending invitations lapsing relative to now: 30 minutes,
--                                2 hours, 3 days, 10 days ahead, a day ago, never, flagged, unreadable
--   error-text/<code>/<name>     that status with an error text holding U+2028/U+2029 (lsep),
--                                bidirectional overrides and isolates (bidi) or a BOM (bom)
--   bad-gzip/<code>              that status, Content-Encoding: gzip, a body that is not gzip
--   invalid-json, truncated-json, empty-body, html-200     200 with a body that is not JSON
--   success-false, no-account, account-not-table, account-array, account-null, not-object
--                                200 JSON that is not a usable answer
--   key-as-key                   200, an account holding the API key as object keys
--   bad-shape                    200, an account whose pending_sellers is a string
--   short-body                   Content-Length larger than what is sent, then the connection closes
--   slow/<ms>[/<fixture>]        answers after ms milliseconds
--   hang                         never answers
--   switch                       (counted only) what srv:switch(token, state) last set: "ok" (the
--                                default) the reference fixture, a status code, or "hang" (a minute)
--   stall[/<ms>]                 headers and 100 body bytes, then silence for ms (default 1 h)
--   gzip                         the reference fixture gzip-encoded (only when the client asked)
--   huge-gzip                    gzip body of a few KiB that inflates to srv.huge_gzip_bytes
--   huge-chunked[/<bytes>]       a chunked body of that size (default 16 MiB), streamed
--   huge-length[/<bytes>]        the same with Content-Length announced up front
--   redirect[/<code>]            302 (or code) to the same path on srv.redirect_target_url, another
--                                origin that counts requests and Authorization headers per token
--   close                        closes the connection without a response
--   reset                        resets the connection (TCP RST) after the request arrived
-- Other origins, all on loopback:
--   srv.http_url                 the same API over plain http://
--   srv.untrusted_url            HTTPS with a self-signed certificate that is not in ca_file
--   srv.wrong_host_url           HTTPS with a certificate in ca_file but for another host name
--   srv.reset_url                TCP that resets every connection when the client's first bytes
--                                (its TLS ClientHello) arrive, before any TLS answer
--   srv.silent_url               TCP that accepts and never answers (the handshake hangs)
--   srv.headers_cut_url          plain HTTP that sends a status line and one header, then closes
--   srv.early_hints_url          plain HTTP that sends a whole 103 Early Hints block, then nothing
--   srv:raw(name, bytes)         -> a base_url whose requests get exactly `bytes` as the response
--                                (status line, headers, body) over plain HTTP, then a close
--   srv.raw_url .. "/long-header"  plain HTTP, a 200 whose one header line is 16 MiB long
--   srv.refused_url              a port nobody listens on (connection refused)

local socket = require "socket"
local sys = require "support.sys"
local cjson = require "cjson"

local mock = {}

local NGINX = os.getenv("LEADCONDUIT_NGINX") or "/usr/sbin/nginx"
local HUGE_GZIP_BYTES = 24 * 1024 * 1024

local SUPPORT_DIR = sys.SUPPORT_DIR
local MOCK_DIR = SUPPORT_DIR .. "/mock"
local FIXTURES_DIR = sys.SPEC_DIR .. "/fixtures"

local shell_quote, run, capture = sys.quote, sys.run, sys.capture
local read_file, write_file = sys.read_file, sys.write_file
local process_alive, own_pid = sys.process_alive, sys.own_pid
local free_ports, listening = sys.free_ports, sys.listening

-- Any installed interpreter with LuaSocket runs tcp_server.lua (it need not be ours).
local tcp_interpreter
local function find_tcp_interpreter()
  if tcp_interpreter then return tcp_interpreter end
  for _, lua in ipairs({ "lua5.4", "lua5.3", "lua5.1", "luajit", "lua" }) do
    if run(lua .. " -e 'require \"socket\"' >/dev/null 2>&1") then
      tcp_interpreter = lua
      return lua
    end
  end
  error("mock_server: no Lua interpreter with LuaSocket (Debian lua-socket) for tcp_server.lua")
end

-- The three certificates, made in parallel: { name, CN, subjectAltName }.
local CERTS = {
  { "server", "localhost", "IP:127.0.0.1,DNS:localhost" },
  { "untrusted", "localhost", "IP:127.0.0.1,DNS:localhost" },
  { "wronghost", "wrong.example", "DNS:wrong.example" },
}

local function make_certs(prefix)
  local commands = {}
  for i, cert in ipairs(CERTS) do
    commands[i] = ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes" ..
      " -days 2 -keyout %s -out %s -subj %s -addext %s >%s 2>&1 &"):format(
      shell_quote(prefix .. "/" .. cert[1] .. ".key"), shell_quote(prefix .. "/" .. cert[1] .. ".crt"),
      shell_quote("/CN=" .. cert[2]), shell_quote("subjectAltName=" .. cert[3]),
      shell_quote(prefix .. "/openssl-" .. cert[1] .. ".log"))
  end
  run(table.concat(commands, " ") .. " wait")
  for _, cert in ipairs(CERTS) do
    if not read_file(prefix .. "/" .. cert[1] .. ".crt") then
      error("mock_server: openssl could not make a certificate:\n" ..
        (read_file(prefix .. "/openssl-" .. cert[1] .. ".log") or ""))
    end
  end
end

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n) or tostring(os.time()) .. tostring(os.clock())
  if f then f:close() end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, 2 * n)
end

local Server = {}
Server.__index = Server

-- The base_url of a scenario: srv:url("status/503") → https://127.0.0.1:PORT/status/503
function Server:url(scenario)
  if scenario == nil or scenario == "" then return self.base_url end
  return self.base_url .. "/" .. scenario:gsub("^/+", "")
end

-- A token no other test uses, for counting requests.
function Server:token()
  self.tokens = self.tokens + 1
  return ("k%s%d"):format(self.run_id, self.tokens)
end

-- The base_url of a scenario whose requests are counted: returns url, token.
function Server:counted(scenario, base)
  local token = self:token()
  local url = (base or self.base_url) .. "/t/" .. token
  if scenario and scenario ~= "" then url = url .. "/" .. scenario:gsub("^/+", "") end
  return url, token
end

-- GET path on the mock's plain-http control port -> the body.
local function control(self, path)
  local c = socket.tcp()
  c:settimeout(5)
  assert(c:connect("127.0.0.1", self.ports.http))
  assert(c:send(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"):format(path)))
  local response = c:receive("*a")
  c:close()
  return assert(response and response:match("\r\n\r\n(.*)$"), "mock_server: no answer to " .. path)
end

-- A base_url whose requests are answered with exactly `bytes` (tcp_server.lua's raw listener).
function Server:raw(name, bytes)
  assert(name:match("^[%w_-]+$"), "mock_server: raw names are letters, digits, - and _")
  write_file(self.prefix .. "/raw/" .. name, bytes)
  return self.raw_url .. "/" .. name
end

-- Sets what the "switch" scenario of a token answers: "ok", a status code, or "hang".
function Server:switch(token, state)
  control(self, ("/_set/%s/%s"):format(token, state))
end

-- What the server saw for a token: { requests, authorized, connections, bytes_sent }.
function Server:count(token)
  local body = control(self, "/_count/" .. token)
  local counts = cjson.decode(body)
  for name, n in pairs(counts) do counts[name] = math.floor(n) end -- integers on 5.3+
  return counts
end

function Server:error_log_tail(lines)
  local text = read_file(self.prefix .. "/error.log") or ""
  local all = {}
  for line in text:gmatch("[^\n]+") do all[#all + 1] = line end
  local from = math.max(1, #all - (lines or 20) + 1)
  return table.concat(all, "\n", from)
end

local function kill_and_wait(pid)
  if not process_alive(pid) then return end
  run("kill -TERM " .. pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not process_alive(pid) then return end
    socket.sleep(0.02)
  end
  run("kill -KILL " .. pid .. " 2>/dev/null")
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  kill_and_wait(self.nginx_pid)
  kill_and_wait(self.tcp_pid)
  if self.prefix and self.prefix:match("^/tmp/leadconduit%-mock%.") then
    run("rm -rf " .. shell_quote(self.prefix))
  end
  -- The watchdog sees the prefix gone and exits within a second.
end

-- Stops the server when the Lua state closes or the server object is collected; the shell
-- watchdog covers processes that die without closing their state (os.exit on Lua 5.1).
local function guard(srv)
  local function collect() srv:stop() end
  if _VERSION == "Lua 5.1" and newproxy then
    local proxy = newproxy(true) -- luacheck: ignore (Lua 5.1 / LuaJIT only)
    getmetatable(proxy).__gc = collect
    srv._guard = proxy
  else
    srv._guard = setmetatable({}, { __gc = collect })
  end
end

local function start_watchdog(srv)
  local pid = own_pid()
  if not pid then return end
  local p = shell_quote(srv.prefix)
  -- It ignores the signals that end a terminal's foreground job: it outlives them to clean up.
  local script = ("trap '' INT TERM HUP; while kill -0 %s 2>/dev/null && [ -d %s ]; do sleep 1; done; " ..
    "for f in %s/nginx.pid %s/tcp.pid; do [ -f \"$f\" ] && kill \"$(cat \"$f\")\"; done; rm -rf %s")
    :format(pid, p, p, p, p)
  run("(sh -c " .. shell_quote(script) .. " </dev/null >/dev/null 2>&1 &)")
end

local function start_tcp_server(srv)
  local portfile = srv.prefix .. "/tcp.ports"
  local cmd = ("%s %s %s %s </dev/null >%s 2>&1 & echo $! >%s"):format(
    find_tcp_interpreter(), shell_quote(MOCK_DIR .. "/tcp_server.lua"), shell_quote(portfile),
    shell_quote(srv.prefix), shell_quote(srv.prefix .. "/tcp.log"), shell_quote(srv.prefix .. "/tcp.pid"))
  assert(run(cmd), "mock_server: could not start tcp_server.lua")
  srv.tcp_pid = (read_file(srv.prefix .. "/tcp.pid") or ""):match("%d+")
  for _ = 1, 250 do
    local ports = read_file(portfile)
    if ports then
      for _, name in ipairs({ "reset", "silent", "cut", "hints", "raw" }) do
        srv.ports[name] = tonumber(ports:match(name .. "=(%d+)"))
      end
      return
    end
    socket.sleep(0.02)
  end
  error("mock_server: tcp_server.lua did not start:\n" .. (read_file(srv.prefix .. "/tcp.log") or ""))
end

local function fill(template, values)
  return sys.fill(template, values, "mock_server")
end

local function start_nginx(srv)
  local template = assert(read_file(MOCK_DIR .. "/nginx.conf"))
  local last_log
  for _ = 1, 5 do
    local p = free_ports(5)
    srv.ports.main, srv.ports.http, srv.ports.redirect = p[1], p[2], p[3]
    srv.ports.untrusted, srv.ports.wrong_host = p[4], p[5]
    write_file(srv.prefix .. "/mock_config.lua", ("return %s\n"):format(
      ("{ api_key = %q, prefix = %q, fixtures_dir = %q, huge_gzip_bytes = %d, ports = " ..
       "{ main = %d, http = %d, redirect = %d } }"):format(
        srv.api_key, srv.prefix, FIXTURES_DIR, HUGE_GZIP_BYTES, p[1], p[2], p[3])))
    write_file(srv.prefix .. "/nginx.conf", fill(template, {
      PREFIX = srv.prefix, MOCKDIR = MOCK_DIR, PORT_MAIN = p[1], PORT_HTTP = p[2],
      PORT_REDIRECT = p[3], PORT_UNTRUSTED = p[4], PORT_WRONG_HOST = p[5],
    }))
    -- daemon on: nginx returns once its sockets are bound (or with an error when they are not).
    local cmd = ("%s -p %s -c %s -e %s </dev/null >>%s 2>&1"):format(srv.nginx_bin,
      shell_quote(srv.prefix .. "/"), shell_quote(srv.prefix .. "/nginx.conf"),
      shell_quote(srv.prefix .. "/error.log"), shell_quote(srv.prefix .. "/error.log"))
    if run(cmd) then
      for _ = 1, 250 do
        srv.nginx_pid = (read_file(srv.prefix .. "/nginx.pid") or ""):match("%d+")
        if srv.nginx_pid and listening(p[1]) and listening(p[2]) then return end
        socket.sleep(0.02)
      end
    end
    last_log = srv:error_log_tail(30)
    if srv.nginx_pid then kill_and_wait(srv.nginx_pid) end
    srv.nginx_pid = nil
    if not last_log:find("Address already in use", 1, true) then break end
  end
  error("mock_server: nginx did not start; tail of " .. srv.prefix .. "/error.log:\n" .. (last_log or ""))
end

-- mock.start([opts]) -> server. opts.api_key: the key the server accepts (default: random);
-- opts.nginx: the nginx binary (default $LEADCONDUIT_NGINX or /usr/sbin/nginx).
function mock.start(opts)
  opts = opts or {}
  local prefix = capture("mktemp -d /tmp/leadconduit-mock.XXXXXXXX"):match("^%s*(.-)%s*$")
  assert(prefix ~= "", "mock_server: mktemp failed")
  local srv = setmetatable({
    prefix = prefix,
    api_key = opts.api_key or random_hex(20),
    run_id = random_hex(4),
    tokens = 0,
    ports = {},
    huge_gzip_bytes = HUGE_GZIP_BYTES,
    nginx_bin = opts.nginx or NGINX,
  }, Server)
  guard(srv)
  run("mkdir -p " .. shell_quote(prefix .. "/tmp") .. " " .. shell_quote(prefix .. "/raw"))
  start_watchdog(srv)

  local ok, err = pcall(function()
    make_certs(prefix)
    -- ca_file trusts the server and the wrong-host certificate, never the untrusted one.
    write_file(prefix .. "/ca.pem",
      read_file(prefix .. "/server.crt") .. read_file(prefix .. "/wronghost.crt"))

    assert(run(("gzip -9 -n -c %s >%s"):format(shell_quote(FIXTURES_DIR .. "/reference.json"),
      shell_quote(prefix .. "/reference.json.gz"))), "mock_server: gzip failed")
    local head, tail = '{"success":true,"account":{"id":"5fd4371e940df5a34a3888b2","name":"', '"}}'
    -- Made in the background (a third of a second); the handler waits for it when asked.
    local huge = shell_quote(prefix .. "/huge.json.gz")
    assert(run(("({ printf '%%s' %s; head -c %d /dev/zero | tr '\\0' a; printf '%%s' %s; }" ..
      " | gzip -9 -n >%s.tmp && mv %s.tmp %s) </dev/null >/dev/null 2>&1 &"):format(
        shell_quote(head), HUGE_GZIP_BYTES - #head - #tail, shell_quote(tail), huge, huge, huge)),
      "mock_server: gzip failed")

    start_nginx(srv)
    start_tcp_server(srv)
    local refused = free_ports(1)
    srv.ports.refused = refused[1]
  end)
  if not ok then
    srv:stop()
    error(err, 2)
  end

  srv.port = srv.ports.main
  srv.ca_file = prefix .. "/ca.pem"
  srv.base_url = ("https://127.0.0.1:%d"):format(srv.ports.main)
  srv.http_url = ("http://127.0.0.1:%d"):format(srv.ports.http)
  srv.redirect_target_url = ("https://localhost:%d"):format(srv.ports.redirect)
  srv.untrusted_url = ("https://127.0.0.1:%d"):format(srv.ports.untrusted)
  srv.wrong_host_url = ("https://127.0.0.1:%d"):format(srv.ports.wrong_host)
  srv.reset_url = ("https://127.0.0.1:%d"):format(srv.ports.reset)
  srv.silent_url = ("https://127.0.0.1:%d"):format(srv.ports.silent)
  srv.headers_cut_url = ("http://127.0.0.1:%d"):format(srv.ports.cut)
  srv.early_hints_url = ("http://127.0.0.1:%d"):format(srv.ports.hints)
  srv.raw_url = ("http://127.0.0.1:%d"):format(srv.ports.raw)
  srv.refused_url = ("https://127.0.0.1:%d"):format(srv.ports.refused)
  return srv
end

mock.FIXTURES_DIR = FIXTURES_DIR

function mock.fixture_path(name)
  return FIXTURES_DIR .. "/" .. name .. ".json"
end

-- The text of spec/fixtures/<name>.json.
function mock.read_fixture(name)
  local text = read_file(mock.fixture_path(name))
  return (assert(text, "no fixture " .. name))
end

-- The names of every fixture, sorted.
function mock.fixtures()
  local names = {}
  for line in capture("ls " .. shell_quote(FIXTURES_DIR)):gmatch("[^\n]+") do
    local name = line:match("^([%w_-]+)%.json$")
    if name then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

return mock
