-- nginx.lua — what the client does differently inside OpenResty, so that a sync never blocks
-- nginx's event loop.
--
-- The exchange runs in one of nginx's worker threads (ngx.run_worker_thread) while the request's
-- coroutine yields: the thread runs core.perform_shared, the libcurl exchange of
-- csrc/transport.c, on a transport this VM owns, and hands the raw outcome back. The requests
-- of a worker may share a client: each exchange in flight has a transport of its own, and
-- exchanges take turns for the pool's threads (below). Waits use ngx.sleep. What outcomes mean
-- and when to retry stays in errors.lua and client.lua.

local core = require "leadconduit.core"

local monotime = core.monotime

local nginx = {}

--- runtime() -> "request" inside nginx's event loop (a request, a timer, init...),
-- "worker_thread" in a VM of nginx's thread pool, nil outside nginx.
function nginx.runtime()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  -- A worker thread's VM has a reduced ngx table: get_phase() says "init", and neither
  -- ngx.sleep nor ngx.run_worker_thread exists. Blocking is what a worker thread is for.
  if ngx.sleep == nil and ngx.run_worker_thread == nil then return "worker_thread" end
  return "request"
end

-- Phases whose coroutines may yield to ngx.run_worker_thread and ngx.sleep (measured in
-- lua-nginx-module 0.10.23: timers included; log, set, filters and init_worker refuse them).
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

-- ---- the thread pool's turns ------------------------------------------------------------
--
-- lua-nginx-module gives each ngx.run_worker_thread task a Lua VM of its own from a per-worker
-- pool (lua_worker_thread_vm_pool_size, default 100, shared by every thread_pool), taken when
-- the task is posted and kept while it waits in the thread pool's queue; past the limit the
-- call fails at once with "no available Lua vm". So syncs take turns here first: a semaphore
-- per pool name and worker, with as many turns as the pool has threads (the client's
-- thread_pool_size), waited for within the attempt's deadline. No task waits in nginx's queue,
-- where nothing could count its wait, and no VM beyond the threads is ever asked for.

-- A pool's size until a client says it (thread_pool_size), and the threads= that README, the
-- example and the message for a missing pool (errors.thread_pool_advice) give: one figure.
nginx.DEFAULT_POOL_SIZE = 16

-- pools[ngx][name] -> { name =, size =, turns = semaphore, owed = turns to take back }: per
-- VM's ngx table, i.e. per worker (each stand-in ngx of the specs gets its own).
local pools = setmetatable({}, { __mode = "k" })

local function pool_named(name, size)
  local mine = pools[ngx]
  if not mine then
    mine = {}
    pools[ngx] = mine
  end
  local pool = mine[name]
  if not pool then
    local turns, err = require("ngx.semaphore").new(size or nginx.DEFAULT_POOL_SIZE)
    if not turns then error("leadconduit.sync_account: ngx.semaphore.new: " .. tostring(err), 0) end
    pool = { name = name, size = size or nginx.DEFAULT_POOL_SIZE, turns = turns, owed = 0 }
    mine[name] = pool
  elseif size and size ~= pool.size then
    -- The size the last client said: more turns at once, fewer as turns come back.
    local more = size - pool.size - pool.owed
    if more > 0 then pool.turns:post(more) end
    pool.owed = more < 0 and -more or 0
    pool.size = size
  end
  return pool
end

-- An object whose finalizer calls fn: a userdata on LuaJIT and 5.1 (whose tables have no
-- __gc), a table elsewhere (the specs' stand-in ngx).
local function finalized_by(fn)
  if newproxy then
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = fn
    return proxy
  end
  return setmetatable({}, { __gc = fn })
end

-- A turn that goes back to the pool exactly once: by give_back(turn), or, when nginx abandons
-- the request's coroutine while a worker thread runs its task (the client went away, another
-- light thread called ngx.exit), by the collector, so that an abandoned turn is not lost.
local function take_turn(pool)
  local held = true
  local function give_back()
    if held then
      held = false
      if pool.owed > 0 then
        pool.owed = pool.owed - 1
      else
        pool.turns:post(1)
      end
    end
  end
  return finalized_by(give_back), give_back
end

-- When another thread_pool user holds every Lua VM, waits this long at first, doubling up to
-- VM_RETRY_MAX, rather than failing: the VMs come back as those tasks end.
local VM_RETRY_FIRST, VM_RETRY_MAX = 0.001, 0.05

local Transports = {}
Transports.__index = Transports

-- One exchange in a worker thread on transport t, within the turn held; the outcome, or
-- { thread_error = text } when nginx could not run it.
local function run_in_thread(self, t, query, deadline)
  local wait = VM_RETRY_FIRST
  while true do
    local ok, outcome = ngx.run_worker_thread(self.pool.name, "leadconduit.core", "perform_shared",
      t.id, query, deadline)
    if ok then return outcome end
    outcome = tostring(outcome)
    if outcome ~= "no available Lua vm" then return { thread_error = outcome } end
    local left = deadline - monotime()
    if left <= wait then return nil end
    ngx.sleep(wait)
    wait = math.min(wait * 2, VM_RETRY_MAX)
  end
end

-- The deadline passed while the attempt waited for a turn (or for a Lua VM).
local function pool_timeout(pool, started)
  return { pool_timeout = { pool = pool.name, size = pool.size, waited = monotime() - started } }
end

--- ts:perform(query, deadline) -> the outcome of csrc/transport.c (deadline: core.monotime()
-- seconds, passed on as it is); { thread_error = text } when nginx could not run the exchange;
-- { pool_timeout = { pool, size, waited } } when the deadline passed before a thread of the
-- pool was free.
function Transports:perform(query, deadline)
  local pool, started = self.pool, monotime()
  local left = deadline - started
  -- wait(0) takes a free turn without waiting: never ask for a negative wait.
  local ok, err = pool.turns:wait(left > 0 and left or 0)
  if not ok then
    if err == "timeout" then return pool_timeout(pool, started) end
    error("leadconduit.sync_account: ngx.semaphore wait: " .. tostring(err), 0)
  end
  local turn, give_back = take_turn(pool)
  local idle = self.idle
  local t = idle[#idle]
  idle[#idle] = nil
  local fine, outcome = pcall(function()
    t = t or { transport = core.transport(self.config) }
    t.id = t.id or t.transport:id()
    return run_in_thread(self, t, query, deadline)
  end)
  give_back(turn) -- turn is passed so that it stays reachable until here
  if t then
    -- Kept for the next attempt with its connection alive; at most one per turn of the pool.
    if self.closed or #idle >= pool.size or not fine then
      t.transport:close()
    else
      idle[#idle + 1] = t
    end
  end
  if not fine then error(outcome, 0) end
  return outcome or pool_timeout(pool, started)
end

--- ts:close(): frees the idle transports now, and those of the exchanges in progress when they
-- end (csrc/transport.c frees one a worker thread is using once its exchange ends).
function Transports:close()
  self.closed = true
  for i = #self.idle, 1, -1 do
    self.idle[i].transport:close()
    self.idle[i] = nil
  end
end

--- transports(config, pool_name, pool_size) -> an object with the C transport's perform() and
-- close(), shared by every sync of one client: each exchange runs in the thread pool named
-- pool_name (nginx.conf's thread_pool directive) on a transport of its own, an idle one (its
-- connection kept alive) or a new one.
function nginx.transports(config, pool_name, pool_size)
  if type(ngx.run_worker_thread) ~= "function" then
    return nil, "this nginx has no ngx.run_worker_thread: lua-nginx-module 0.10.21 or newer, and"
      .. " nginx built --with-threads, are needed"
  end
  return setmetatable({ config = config, pool = pool_named(pool_name, pool_size), idle = {} },
    Transports)
end

return nginx
