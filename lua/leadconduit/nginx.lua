-- nginx.lua — what the client does differently inside OpenResty, so that a sync never blocks
-- nginx's event loop.
--
-- The exchange runs in one of nginx's worker threads (ngx.run_worker_thread) while the request's
-- coroutine yields: the thread runs core.perform_shared, the libcurl exchange of
-- csrc/transport.c, on the transport this VM owns, and hands the raw outcome back. Waits use
-- ngx.sleep. What outcomes mean and when to retry stays in errors.lua and client.lua.

local core = require "leadconduit.core"

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

local Transport = {}
Transport.__index = Transport

--- t:perform(query, deadline) -> the outcome of csrc/transport.c, or { thread_error = text }
-- when nginx could not run the exchange in its thread pool.
function Transport:perform(query, deadline)
  local ok, outcome = ngx.run_worker_thread(self.pool, "leadconduit.core", "perform_shared", self.id,
    query, deadline)
  if not ok then
    return { thread_error = tostring(outcome) }
  end
  return outcome
end

--- t:close(): frees the handle, its connection and the key's header (once the exchange in a
-- worker thread, if one is running, ends).
function Transport:close()
  self.transport:close()
end

--- transport(config, pool) -> an object with the C transport's perform() and close(), whose
-- exchanges run in the thread pool named `pool` (nginx.conf's thread_pool directive); or nil and
-- what to change when this nginx cannot run them.
function nginx.transport(config, pool)
  if type(ngx.run_worker_thread) ~= "function" then
    return nil, "this nginx has no ngx.run_worker_thread: lua-nginx-module 0.10.21 or newer, and"
      .. " nginx built --with-threads, are needed"
  end
  local transport = core.transport(config)
  return setmetatable({ transport = transport, id = transport:id(), pool = pool }, Transport)
end

return nginx
