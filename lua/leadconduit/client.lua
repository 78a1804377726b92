-- client.lua — leadconduit.new and the client's methods: the one policy for every transport.
--
-- A transport (csrc/transport.c, or inside OpenResty the driver-thread one of nginx.lua) performs
-- single exchanges and reports their facts; this module decodes each body once, has errors.lua
-- say what the outcome means, retries what is worth retrying within the deadlines, and returns
-- the contract's results.

local core = require "leadconduit.core"
local errors = require "leadconduit.errors"
local nginx = require "leadconduit.nginx"
local options = require "leadconduit.options"
local retry = require "leadconduit.retry"

local monotime, decode = core.monotime, core.decode

-- Private state per client, out of reach of pairs() and serializers: the key lives here.
local private = setmetatable({}, { __mode = "k" })

local Client = {}

local client_mt = {
  __index = Client,
  __name = "leadconduit.client",
  __tostring = function(self)
    local p = private[self]
    return "leadconduit.client (" .. (p and p.settings.base_url or "closed") .. ")"
  end,
}

local function release(p)
  if p.transport then p.transport:close() end
  p.transport = nil
end

-- close() twice is harmless. During a sync outside nginx (a finalizer may call close() while
-- the answer is decoded) the client closes when that sync ends. Inside nginx, where requests
-- share a client, the idle connections close now and the syncs in progress close theirs as
-- they end (nginx.lua).
function Client:close()
  local p = private[self]
  if not p then return end
  private[self] = nil
  if p.syncs == 0 then
    release(p)
  elseif p.runtime == "request" then
    p.transport:close()
  end
end

-- To-be-closed on Lua 5.4 (local c <close> = leadconduit.new{...}) and collected like one.
client_mt.__close = Client.close
client_mt.__gc = Client.close

local function open(self, method)
  local p = private[self]
  if not p then
    if getmetatable(self) ~= client_mt then
      -- client.sync_account() (a dot for the colon) must not read as "closed".
      error("leadconduit." .. method .. ": must be called as client:" .. method .. "(...), got "
        .. type(self) .. " as the client", 3)
    end
    error("leadconduit." .. method .. ": the client is closed", 3)
  end
  return p
end

-- Deadlines are core.monotime() seconds from here down to csrc/transport.c, which alone turns
-- what is left of one into libcurl's milliseconds.

--- attempt_deadline(settings, call_deadline) -> when an attempt starting now must end: its
-- timeout from now, or the whole call's deadline (max_time) when that comes first.
local function attempt_deadline(settings, call_deadline)
  local deadline = monotime() + settings.timeout
  if call_deadline and call_deadline < deadline then return call_deadline end
  return deadline
end

-- The attempts of one sync_account call; returns the decoded answer or nil, err.
local function attempts(p, query, sleep)
  local settings = p.settings
  local call_deadline = settings.max_time and monotime() + settings.max_time
  local n = 0
  while true do
    n = n + 1
    local outcome = p.transport:perform(query, attempt_deadline(settings, call_deadline))
    if outcome.body then
      outcome.value, outcome.decode_error = decode(outcome.body)
    end
    local kind, message, fields = errors.classify(outcome, settings.secrets)
    if not kind then
      return outcome.value
    end
    fields.attempts = n
    -- What the server asked for, in seconds: the account cache waits at least that long.
    fields.retry_after = retry.parse_retry_after(outcome.retry_after)
    if not fields.retryable or n > settings.max_retries then
      return nil, errors.new(kind, message, fields, settings.secrets)
    end
    local wait = retry.delay(n, settings.retry_delay, outcome.retry_after)
    if call_deadline and monotime() + wait >= call_deadline then
      -- A wait that would end past the deadline is not started.
      return nil, errors.timeout(("max_time (%g s) ran out after %d attempt%s; the last: %s: %s")
        :format(settings.max_time, n, n == 1 and "" or "s", kind, message), fields, settings.secrets)
    end
    sleep(wait)
  end
end

local function sync(p, query, in_nginx)
  if not p.transport then
    if in_nginx then
      p.transport = nginx.transports(p.settings.transport)
    else
      p.transport = core.transport(p.settings.transport)
    end
  end
  return attempts(p, query, in_nginx and nginx.sleep or core.sleep)
end

-- client:sync_account([opts]) -> decoded answer | nil, err
function Client:sync_account(sync_opts)
  local p = open(self, "sync_account")
  -- Inside nginx's event loop the exchange runs on the driver thread and waits yield, so the
  -- requests of a worker share a client: each exchange gets a transport of its own.
  local in_nginx = p.runtime == "request"
  if p.syncs > 0 and not in_nginx then
    -- Nothing in a sync yields outside nginx (its exchange and its waits are C calls), so this
    -- is Lua code that ran inside it: a finalizer (__gc) that the collector ran, or a debug
    -- hook; or a client shared by OS threads.
    error("leadconduit.sync_account: called again on a client that is syncing, from a finalizer"
      .. " (__gc) or a debug hook that ran during that sync, or from another OS thread: outside"
      .. " nginx a client runs one sync at a time", 2)
  end
  local query = options.query(sync_opts)
  if in_nginx then
    local ok, why = nginx.check_phase()
    if not ok then
      return nil, errors.unsupported_phase(why)
    end
  end

  -- Counted from here to the end, also when something raises (out of memory): the pcall makes
  -- sure the client is usable again afterwards.
  p.syncs = p.syncs + 1
  local ok, res, err = pcall(sync, p, query, in_nginx)
  p.syncs = p.syncs - 1
  -- The last sync of a client closed meanwhile closes it.
  if p.syncs == 0 and not private[self] then release(p) end
  if not ok then error(res, 0) end
  return res, err
end

--- from_settings(settings) -> a client for settings that options.check() returned.
local function from_settings(settings)
  local self = setmetatable({}, client_mt)
  private[self] = { settings = settings, runtime = nginx.runtime(), syncs = 0 }
  return self
end

--- new(opts) -> a client. Raises on bad options.
local function new(opts)
  local settings, problem = options.check(opts)
  if not settings then
    error("leadconduit.new: " .. problem.message, 2)
  end
  return from_settings(settings)
end

--- longest_sync(settings) -> the most seconds one sync_account call can take: max_time, or else
-- every attempt's timeout and the longest wait before each retry.
local function longest_sync(settings)
  if settings.max_time then return settings.max_time end
  return (settings.max_retries + 1) * settings.timeout + settings.max_retries * retry.MAX_WAIT
end

return { new = new, from_settings = from_settings, longest_sync = longest_sync }
