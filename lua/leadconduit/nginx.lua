-- nginx.lua — the runtime client.lua uses inside OpenResty, so a sync never blocks the event loop.
--
-- Each exchange runs the libcurl transport of csrc/client.c in one of nginx's worker threads
-- (ngx.run_worker_thread with leadconduit.worker) while the calling coroutine yields; the body
-- comes back raw and is decoded here by the same C decoder. Retries and errors stay in client.lua.

local core = require "leadconduit.core"

local nginx = {}

-- Phases whose coroutines may yield to ngx.run_worker_thread and ngx.sleep (measured in
-- lua-nginx-module 0.10.23: timers included; log, set, filters and init_worker refuse them).
local NETWORK_PHASES = { rewrite = true, access = true, content = true, timer = true }

-- The module the worker threads run; its name is resolved through lua_package_path.
local WORKER_MODULE = "leadconduit.worker"

-- A worker thread's own VM has a reduced ngx table: get_phase() says "init", and neither
-- ngx.sleep nor ngx.run_worker_thread exists. Blocking is what a worker thread is for.
local function in_worker_thread()
  return ngx.sleep == nil and ngx.run_worker_thread == nil
end

-- nginx.check_phase() -> true | nil, message naming the phase and what to do instead.
function nginx.check_phase()
  if in_worker_thread() then return true end
  local phase = ngx.get_phase()
  if NETWORK_PHASES[phase] then return true end
  return nil, "sync_account cannot do network I/O in nginx's " .. phase .. " phase (only in"
    .. " rewrite, access, content and timer); run it from a timer: ngx.timer.at(0, function() ... end)"
end

-- nginx.sleep(seconds): yields to the event loop instead of stopping the worker.
function nginx.sleep(seconds)
  if in_worker_thread() then return core.sleep(seconds) end
  return ngx.sleep(seconds)
end

-- Why ngx.run_worker_thread failed before the exchange started: the pool is saturated
-- or out of memory. These attempts are network-like failures that a retry may cure.
local TRANSIENT = {
  ["no available Lua vm"] = true,
  ["ngx_thread_task_post failed"] = true,
  ["no memory"] = true,
}

local Transport = {}
Transport.__index = Transport

-- t:perform(query [, raw]) -> the outcome table of csrc/client.c's transport.
function Transport:perform(query, raw)
  if self.closed then
    error("leadconduit: the client is closed", 2)
  end
  local ok, outcome = ngx.run_worker_thread(self.pool, WORKER_MODULE, "perform", self.config, query)
  if not ok then
    outcome = tostring(outcome)
    if TRANSIENT[outcome] then
      return { failure = "network", message = "nginx worker thread: " .. outcome }
    end
    if outcome:find("^thread pool .* not found") then
      error("leadconduit: nginx has no thread pool '" .. self.pool .. "': add `thread_pool "
        .. self.pool .. " threads=16;` to the main context of nginx.conf", 2)
    end
    -- A raise inside the worker (out of memory, a broken install): raise it here too.
    error("leadconduit: in an nginx worker thread: " .. outcome, 2)
  end
  if outcome.body ~= nil and not raw then
    local value, decode_error = core.decode(outcome.body)
    outcome.value, outcome.decode_error, outcome.body = value, decode_error, nil
  end
  return outcome
end

-- The connections live in the worker threads' caches (leadconduit.worker), shared by every
-- client with the same settings; closing a client only makes this transport unusable.
function Transport:close()
  self.closed = true
end

-- nginx.transport(config) -> an object with the C transport's perform() and close().
-- config is client.lua's transport config plus thread_pool (the name in nginx.conf).
function nginx.transport(config)
  if in_worker_thread() then
    return core.transport(config)
  end
  if type(ngx.run_worker_thread) ~= "function" then
    error("leadconduit: this nginx has no ngx.run_worker_thread (lua-nginx-module 0.10.21 or"
      .. " newer, and nginx built --with-threads, are needed)", 2)
  end
  local pool = config.thread_pool or "leadconduit"
  local copy = {}
  for k, v in pairs(config) do copy[k] = v end
  copy.thread_pool = nil
  return setmetatable({ pool = pool, config = copy, closed = false }, Transport)
end

return nginx
