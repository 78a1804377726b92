-- nginx.lua — what the client does differently inside OpenResty, so that a sync never blocks
-- nginx's event loop.
--
-- The exchange runs on leadconduit's driver thread (csrc/driver.c: one libcurl multi handle per
-- worker process) while the request's coroutine waits on an ngx.semaphore of its own. A light
-- thread (a timer) reads the driver's reports, the ids of the exchanges that ended, from a unix
-- socket and wakes the requests waiting for them. The requests of a worker may share a client:
-- each exchange in flight has a transport of its own. Waits between attempts use ngx.sleep.
-- What outcomes mean and when to retry stays in errors.lua and client.lua.

local core = require "leadconduit.core"

local monotime = core.monotime

local nginx = {}

--- runtime() -> "request" inside nginx's event loop (a request, a timer, init...),
-- "worker_thread" in a VM of nginx's thread pool (a task of the user's own
-- ngx.run_worker_thread, where the blocking transport is right), nil outside nginx.
function nginx.runtime()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  -- A worker thread's VM has a reduced ngx table: get_phase() says "init", and neither
  -- ngx.sleep nor ngx.run_worker_thread exists. Blocking is what a worker thread is for.
  if ngx.sleep == nil and ngx.run_worker_thread == nil then return "worker_thread" end
  return "request"
end

-- Phases whose coroutines may wait on a semaphore and sleep (lua-nginx-module 0.10.23: timers
-- included; log, set, filters and init_worker refuse them).
local NETWORK_PHASES = { rewrite = true, access = true, content = true, timer = true }

--- check_phase() -> true | nil, message naming the phase and what to do instead.
function nginx.check_phase()
  local phase = ngx.get_phase()
  if NETWORK_PHASES[phase] then return true end
  local instead
  if phase == "init" then
    -- Timers cannot be created in init_by_lua: the workers do not exist yet.
    instead = "create clients here, and sync from a timer started in init_worker_by_lua"
      .. " (ngx.timer.at) or from a request"
  else
    instead = "run it from a timer: ngx.timer.at(0, function() ... end)"
  end
  return nil, "sync_account cannot do network I/O in nginx's " .. phase .. " phase (only in"
    .. " rewrite, access, content and timer); " .. instead
end

--- sleep(seconds): yields to the event loop instead of stopping the worker.
function nginx.sleep(seconds)
  return ngx.sleep(seconds)
end

-- ---- the driver's reports ---------------------------------------------------------------
--
-- A reader per Lua VM of the worker (one, unless lua_code_cache is off) gets every report and
-- wakes the requests of its VM. A request also checks on its own every POLL seconds, so that a
-- report lost on the way (no reader connected yet, one gone) costs latency, never the sync.

-- The driver writes a line "0" every second when it has nothing else to say: a reader that
-- hears nothing for SILENCE seconds has lost it.
local SILENCE = 5

-- How often a waiting request checks for its outcome without a report.
local POLL = 0.25

-- A reader with no request waiting for this long ends (and the next sync starts one), so that
-- a VM that lua_code_cache off made for one request does not live on for its reader.
local IDLE = 60

-- After a reader failed, the next one starts no sooner than this: the requests poll meanwhile.
local RETRY = 1

-- A request waits for its exchange this long past the exchange's own deadline (which libcurl
-- enforces) before it gives up on the driver.
local GRACE = 1

-- drivers[ngx] -> { path =, waiting = { [transport id] = the transport's table (its waiter, a
-- semaphore, and expires, when its request stops waiting) }, reading = true while the reader
-- runs, retry_at = when the next reader may start }: per Lua VM's ngx table (one per worker
-- unless lua_code_cache is off). Times are core.monotime() seconds.
local drivers = setmetatable({}, { __mode = "k" })

-- The reader: a light thread that lives while requests wait, and IDLE seconds after.
local function read_reports(premature, d)
  if premature then
    d.reading = nil
    return
  end
  local sock = ngx.socket.tcp()
  sock:settimeout(SILENCE * 1000)
  local ok, err = sock:connect("unix:" .. d.path)
  local rest, busy_at, swept_at = "", monotime(), monotime()
  while ok do
    local data
    data, err = sock:receiveany(65536)
    if not data then break end
    data = rest .. data
    for id in data:gmatch("(%d+)\n") do
      id = tonumber(id)
      local t = d.waiting[id]
      if t then
        d.waiting[id] = nil
        t.waiter:post(1)
      end
    end
    rest = data:match("[^\n]*$")
    -- Once a second, forget the requests that stopped waiting without saying so: nginx abandoned
    -- their coroutines mid-wait, and nobody would ever wake them.
    local now = monotime()
    if now - swept_at >= 1 then
      swept_at = now
      for id, t in pairs(d.waiting) do
        if t.expires < now then d.waiting[id] = nil end
      end
    end
    if next(d.waiting) ~= nil then
      busy_at = now
    elseif ngx.worker.exiting() or now - busy_at >= IDLE then
      err = nil
      break
    end
  end
  sock:close()
  d.reading = nil
  if err then
    d.retry_at = monotime() + RETRY
    ngx.log(ngx.WARN, "leadconduit: no reports from the driver thread (", err, "): the syncs of"
      .. " this worker check for their outcomes every ", POLL, " s until a reader starts again")
  end
end

-- This worker's driver, with a reader running or about to; nil, message when the driver
-- cannot start.
local function driver()
  local d = drivers[ngx]
  if not d then
    local path, problem = core.driver_socket()
    if not path then return nil, problem end
    d = { path = path, waiting = {} }
    drivers[ngx] = d
  end
  if not d.reading and not (d.retry_at and monotime() < d.retry_at) then
    local ok, err = ngx.timer.at(0, read_reports, d)
    if ok then
      d.reading = true
    else
      d.retry_at = monotime() + RETRY
      ngx.log(ngx.WARN, "leadconduit: cannot start the reader of the driver's reports"
        .. " (ngx.timer.at: ", err, "): the syncs check for their outcomes every ", POLL, " s")
    end
  end
  return d
end

-- The outcome of the exchange submitted on t, once it ended; nil when it did not end by the
-- deadline plus GRACE.
local function wait_for(d, t, deadline)
  -- One semaphore per transport, reused: a report posts it once, a wait takes that post.
  t.waiter = t.waiter or require("ngx.semaphore").new(0)
  t.expires = deadline + GRACE
  while true do
    driver() -- a reader running, or started again
    d.waiting[t.id] = t
    local left = t.expires - monotime()
    local ok, err = t.waiter:wait(math.max(0, math.min(left, POLL)))
    d.waiting[t.id] = nil
    local outcome = t.transport:collect()
    if outcome then return outcome end
    if not ok and err ~= "timeout" then
      error("leadconduit.sync_account: ngx.semaphore wait: " .. tostring(err), 0)
    end
    if left <= POLL then return nil end
  end
end

-- Idle transports a client keeps for its next syncs: their connections stay in the driver's
-- cache either way, but a new transport costs a libcurl handle and its headers.
local IDLE_MAX = 64

local Transports = {}
Transports.__index = Transports

--- ts:perform(query, deadline) -> the outcome of csrc/transport.c (deadline: core.monotime()
-- seconds, passed on as it is); { driver_error = text } when the driver could not run it;
-- { driver_timeout = seconds waited } when it did not report it by the deadline.
function Transports:perform(query, deadline)
  local started = monotime()
  local d, problem = driver()
  if not d then return { driver_error = problem } end
  local idle = self.idle
  local t = idle[#idle]
  idle[#idle] = nil
  t = t or { transport = core.transport(self.config) }
  t.id = t.id or t.transport:id()
  local submitted
  submitted, problem = t.transport:submit(query, deadline)
  local outcome
  if submitted == nil then
    outcome = { driver_error = problem }
  elseif submitted then
    outcome = wait_for(d, t, deadline)
    if not outcome then
      -- Still the driver's: closed now, freed when its exchange ends.
      t.transport:close()
      return { driver_timeout = monotime() - started }
    end
  else
    outcome = t.transport:collect()
  end
  if self.closed or #idle >= IDLE_MAX then
    t.transport:close()
  else
    idle[#idle + 1] = t
  end
  return outcome
end

--- ts:close(): frees the idle transports now, and those of the exchanges in progress when they
-- end (the driver frees one it is using once its exchange ends).
function Transports:close()
  self.closed = true
  for i = #self.idle, 1, -1 do
    self.idle[i].transport:close()
    self.idle[i] = nil
  end
end

--- transports(config) -> an object with perform() and close(), shared by every sync of one
-- client: each exchange runs on the driver thread on a transport of its own, an idle one or a
-- new one.
function nginx.transports(config)
  return setmetatable({ config = config, idle = {} }, Transports)
end

return nginx
