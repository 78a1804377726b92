-- openresty.lua — the OpenResty test bed for spec/nginx_spec.lua: installs the LuaJIT build
-- into a temp prefix and runs a real nginx (Debian nginx + libnginx-mod-http-lua) that loads it.
--
--   local openresty = require "support.openresty"
--   local ok, why = openresty.available()        -- nginx, its Lua module, LuaJIT headers, curl
--   local install = openresty.install()          -- make install LUA_VERSION=jit PREFIX=<tmp>
--   local bed = openresty.start{ install = install, base_url =, ca_file =, api_key = }
--   bed:get("/sync", { path = "slow/500" })      --> status, decoded JSON body (or raw text)
--   bed:get_parallel({ {"/sync", args}, ... })   --> { {status, body, headers, seconds}, ... }, wall s
--   bed:workers()                                 --> pids of the worker processes
--   bed:wait_for(check, seconds, what)            --> check()'s first true value, seconds taken
--   bed:stop()
--   local env = openresty.with_mock(options)      --> env.srv, env.bed; openresty.stop(env)
--   local env = openresty.for_specs(lazy_setup, lazy_teardown, options)   -- the same, in busted

local socket = require "socket"
local sys = require "support.sys"
local cjson = require "cjson"

local openresty = {}

local NGINX = os.getenv("LEADCONDUIT_NGINX") or "/usr/sbin/nginx"
local LUA_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

local SPEC_DIR = sys.SPEC_DIR
local NGINX_DIR = SPEC_DIR .. "/nginx"
local PROJECT_DIR = sys.PROJECT_DIR

local quote, run, tempdir = sys.quote, sys.run, sys.tempdir
local read_file, write_file = sys.read_file, sys.write_file

-- true, or nil and what is missing (the spec then stays pending).
function openresty.available()
  if not run("test -x " .. quote(NGINX)) then return nil, "no nginx at " .. NGINX end
  if not run("test -f " .. LUA_MODULE) then
    return nil, "no " .. LUA_MODULE .. " (libnginx-mod-http-lua)"
  end
  if not run("pkg-config --exists luajit") then return nil, "no LuaJIT headers (libluajit2-5.1-dev)" end
  if not run("command -v curl >/dev/null") then return nil, "no curl command line tool" end
  return true
end

-- make install LUA_VERSION=jit PREFIX=<new temp dir>; returns the prefix. The environment of
-- an enclosing make (make test) is dropped so that its LUA_VERSION does not leak in.
function openresty.install()
  local prefix = tempdir("jit")
  assert(run("chmod 755 " .. quote(prefix))) -- nginx's workers may run as another user
  local log = prefix .. "/make.log"
  local cmd = ("cd %s && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make install LUA_VERSION=jit"
    .. " PREFIX=%s >%s 2>&1"):format(quote(PROJECT_DIR), quote(prefix), quote(log))
  if not run(cmd) then
    error("openresty: make install LUA_VERSION=jit failed:\n" .. (read_file(log) or ""))
  end
  return prefix
end

-- Removes what openresty.install made.
function openresty.uninstall(prefix)
  if prefix and prefix:match("^/tmp/leadconduit%-jit%.") then run("rm -rf " .. quote(prefix)) end
end

local function free_port()
  return sys.free_ports(1)[1]
end

local listening, alive = sys.listening, sys.process_alive

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local Bed = {}
Bed.__index = Bed

function Bed:url(path, args)
  local query = {}
  for name, value in pairs(args or {}) do
    query[#query + 1] = urlencode(name) .. "=" .. urlencode(value)
  end
  table.sort(query)
  local url = ("http://127.0.0.1:%d%s"):format(self.port, path)
  if #query > 0 then url = url .. "?" .. table.concat(query, "&") end
  return url
end

local function decode_body(text)
  local ok, value = pcall(cjson.decode, text)
  if ok then return value end
  return text
end

-- Fetches every {path, args} at once (curl --parallel); returns the { status, body, headers,
-- seconds } of each, in order, and the wall-clock seconds the whole batch took. headers are
-- only there for a batch of one.
function Bed:get_parallel(requests)
  self.batches = self.batches + 1
  local dir = ("%s/batch%d"):format(self.prefix, self.batches)
  assert(run("mkdir -p " .. quote(dir)))
  -- -w: "<index from 0> <seconds from start to the end of the response> <status>" for each
  -- request (-D is one option for the whole command line, not one per URL: the headers of a
  -- batch of more than one are not all kept).
  local parts = { "curl -sS --max-time 60 --parallel --parallel-immediate --parallel-max 100"
    .. " -w '%{urlnum} %{time_total} %{http_code}\\n'" }
  for i, r in ipairs(requests) do
    parts[#parts + 1] = ("-o %s -D %s %s"):format(quote(dir .. "/" .. i .. ".body"),
      quote(dir .. "/" .. i .. ".head"), quote(self:url(r[1], r[2])))
  end
  local started = socket.gettime()
  local ok = run(table.concat(parts, " ") .. " >" .. quote(dir .. "/times")
    .. " 2>" .. quote(dir .. "/curl.err"))
  local seconds = socket.gettime() - started
  assert(ok, "openresty: curl failed: " .. (read_file(dir .. "/curl.err") or ""))
  local times, statuses = {}, {}
  for n, t, status in (read_file(dir .. "/times") or ""):gmatch("(%d+) ([%d.]+) (%d+)") do
    times[tonumber(n) + 1] = tonumber(t)
    statuses[tonumber(n) + 1] = tonumber(status)
  end
  local results = {}
  for i = 1, #requests do
    local head = read_file(dir .. "/" .. i .. ".head") or ""
    local headers = {}
    for name, value in head:gmatch("\n([%w-]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
    results[i] = {
      status = statuses[i],
      body = decode_body(read_file(dir .. "/" .. i .. ".body") or ""),
      headers = headers,
      seconds = times[i], -- as curl measured it, queueing in nginx included
    }
  end
  return results, seconds
end

-- One request: status, body (decoded when JSON), headers.
function Bed:get(path, args)
  local results = self:get_parallel({ { path, args } })
  return results[1].status, results[1].body, results[1].headers
end

function Bed:error_log_tail(lines)
  local all = {}
  for line in (read_file(self.prefix .. "/error.log") or ""):gmatch("[^\n]+") do all[#all + 1] = line end
  return table.concat(all, "\n", math.max(1, #all - (lines or 30) + 1))
end

-- The pids of the master's worker processes, sorted.
-- (From /proc, not pgrep: procps is not on every fresh machine.)
function Bed:workers()
  local pids = {}
  for pid in (sys.capture("ls /proc") or ""):gmatch("%d+") do
    local stat = read_file("/proc/" .. pid .. "/stat") or "" -- pid (comm) state ppid ...
    local state, ppid = stat:match("^%d+ %b() (%a) (%d+)")
    if ppid == tostring(self.pid) and state ~= "Z" then pids[#pids + 1] = tonumber(pid) end
  end
  table.sort(pids)
  return pids
end

-- Polls check() every 50 ms until it returns a true value: that value and the seconds it took;
-- raises with what was awaited and the error log's tail after `seconds`.
function Bed:wait_for(check, seconds, what)
  local started = socket.gettime()
  repeat
    local value = check()
    if value then return value, socket.gettime() - started end
    socket.sleep(0.05)
  until socket.gettime() - started > seconds
  error("not within " .. seconds .. " s: " .. what .. "\n" .. self:error_log_tail())
end

-- The whole error log.
function Bed:error_log()
  return read_file(self.prefix .. "/error.log") or ""
end

function Bed:stop()
  if self.stopped then return end
  self.stopped = true
  if alive(self.pid) then
    run("kill -QUIT " .. self.pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not alive(self.pid) then break end
      socket.sleep(0.05)
    end
    if alive(self.pid) then run("kill -KILL " .. self.pid .. " 2>/dev/null") end
  end
  if self.prefix:match("^/tmp/leadconduit%-openresty%.") then run("rm -rf " .. quote(self.prefix)) end
end

-- A shell loop that stops nginx when the Lua process that started it is gone.
local function watchdog(bed)
  local me = sys.own_pid()
  if not me then return end
  local script = ("while kill -0 %s 2>/dev/null && [ -d %s ]; do sleep 1; done; kill -QUIT %s 2>/dev/null")
    :format(me, quote(bed.prefix), bed.pid)
  run("(sh -c " .. quote(script) .. " </dev/null >/dev/null 2>&1 &)")
end

-- How many worker processes a filled nginx.conf makes: none with master_process off (the one
-- process does the work), else worker_processes (nginx's default is 1).
local function worker_count(conf)
  if conf:match("\nmaster_process%s+off%s*;") then return 0 end
  return tonumber(conf:match("\nworker_processes%s+(%d+)%s*;")) or 1
end

local function fill(template, values)
  return sys.fill(template, values, "openresty")
end

-- openresty.start{ install = prefix, base_url =, ca_file =, api_key = [, conf =] [, files =]
-- [, env =] } -> bed. conf: the nginx.conf template's text (default spec/nginx/nginx.conf), with
-- @PREFIX@, @INSTALL@, @SPECDIR@ and @PORT@ filled in; files: { [path in the prefix] = text };
-- env: { NAME = value } for nginx's environment. Raises with the tail of nginx's error log when
-- it does not start.
function openresty.start(opts)
  local prefix = tempdir("openresty")
  local bed = setmetatable({ prefix = prefix, batches = 0 }, Bed)
  bed._guard = setmetatable({}, { __gc = function() bed:stop() end })
  -- Run as root, nginx's workers switch to another user, who must read what is here.
  assert(run("mkdir -p " .. quote(prefix .. "/tmp") .. " && chmod 755 " .. quote(prefix)))
  write_file(prefix .. "/test_config.lua", ("return { base_url = %q, ca_file = %q, api_key = %q }\n")
    :format(opts.base_url, opts.ca_file, opts.api_key))
  for path, text in pairs(opts.files or {}) do
    assert(run("mkdir -p " .. quote((prefix .. "/" .. path):match("^(.*)/"))))
    write_file(prefix .. "/" .. path, text)
  end
  local env = { "env" }
  for name, value in pairs(opts.env or {}) do env[#env + 1] = quote(name .. "=" .. value) end
  local template = opts.conf or assert(read_file(NGINX_DIR .. "/nginx.conf"))
  for _ = 1, 5 do
    bed.port = free_port()
    local conf = fill(template, {
      PREFIX = prefix, INSTALL = opts.install, SPECDIR = NGINX_DIR, PORT = bed.port,
    })
    write_file(prefix .. "/nginx.conf", conf)
    local workers = worker_count(conf)
    local cmd = ("%s %s -p %s -c %s -e %s </dev/null >>%s 2>&1"):format(table.concat(env, " "), NGINX,
      quote(prefix .. "/"), quote(prefix .. "/nginx.conf"), quote(prefix .. "/error.log"),
      quote(prefix .. "/error.log"))
    if run(cmd) then
      for _ = 1, 250 do
        bed.pid = (read_file(prefix .. "/nginx.pid") or ""):match("%d+")
        -- The master listens before it forks its workers: started is when all of them are.
        if bed.pid and listening(bed.port) and #bed:workers() >= workers then
          watchdog(bed)
          return bed
        end
        socket.sleep(0.02)
      end
    end
    if alive(bed.pid) then run("kill -KILL " .. bed.pid) end
    if not bed:error_log_tail():find("Address already in use", 1, true) then break end
  end
  local log = bed:error_log_tail()
  bed:stop()
  error("openresty: nginx did not start:\n" .. log)
end

-- openresty.with_mock(options [, env]) -> env: a mock server and a test nginx against it, from a
-- fresh `make install LUA_VERSION=jit`. options(srv) -> what openresty.start takes besides the
-- install and the mock's details (base_url may be given). env.srv, env.bed, filled in as they
-- start (so that openresty.stop(env) ends what did, when a later step raises).
function openresty.with_mock(options, env)
  env = env or {}
  env.srv = require("support.mock_server").start()
  env.install = openresty.install()
  local opts = options and options(env.srv) or {}
  opts.install = env.install
  opts.base_url = opts.base_url or env.srv.base_url
  opts.ca_file, opts.api_key = env.srv.ca_file, env.srv.api_key
  env.bed = openresty.start(opts)
  return env
end

-- Stops what with_mock started, whatever part of it did start.
function openresty.stop(env)
  if env.bed then env.bed:stop() end
  if env.srv then env.srv:stop() end
  openresty.uninstall(env.install)
end

-- In a describe block: with_mock for its specs, started by busted's lazy_setup before the first
-- and stopped by lazy_teardown after the last. Returns a table whose srv and bed are set while
-- the specs run.
function openresty.for_specs(lazy_setup, lazy_teardown, options)
  local env = {}
  lazy_setup(function() openresty.with_mock(options, env) end)
  lazy_teardown(function() openresty.stop(env) end)
  return env
end

return openresty
