-- account_cache.lua — leadconduit.account_cache: the account shared by all of nginx's workers
-- through a lua_shared_dict, kept fresh by one sync at a time, for feature gates on every request.
--
-- The shared dict (one of its own: nginx evicts the oldest keys of a full dict) holds what the
-- workers need and nothing more: the last good account as JSON (its keys hidden, as in the CLI's
-- --json output), its version and when it was synced, the counters and the last failure that
-- status() reports, and two keys with an expiry: the lock (a sync is in flight; it expires after
-- the longest a sync can take, so a worker that dies cannot keep it) and the interval (a sync
-- started less than `refresh` seconds ago). Each worker keeps its own decoded copy of the
-- account: get() reads one number from the dict (at most once a millisecond) and decodes only
-- when that version changed. The API key stays in the client's settings, out of reach of the
-- object account_cache() returns.

local core = require "leadconduit.core"
local client = require "leadconduit.client"
local errors = require "leadconduit.errors"
local nginx = require "leadconduit.nginx"
local options = require "leadconduit.options"
local redact = require "leadconduit.redact"

local decode, encode, monotime = core.decode, core.encode, core.monotime

-- The shared dict's keys. The account alternates between two keys, by its version's parity, so
-- that a new account too large for the dict fails to store without losing the one in use.
local ACCOUNT = { [0] = "leadconduit:account:0", [1] = "leadconduit:account:1" }
local VERSION = "leadconduit:version"
local SYNCED_AT = "leadconduit:synced_at"
local SYNCS = "leadconduit:syncs"
local FAILURES = "leadconduit:failures"
local LAST_ERROR = "leadconduit:last_error"
local LOCK = "leadconduit:lock"
local INTERVAL = "leadconduit:interval"

-- Seconds a lock outlives the longest sync: the time to store the answer, with room to spare.
local LOCK_MARGIN = 1
-- How often refresh() looks again while another worker's sync holds the lock.
local WAIT_STEP = 0.05

local Cache = {}
Cache.__index = Cache

-- The settings of each cache (the client's hold the key), out of reach of pairs() and serializers.
local private = setmetatable({}, { __mode = "k" })

-- The error fields kept in the dict, so that every worker reports the same last failure.
local function error_fields(err)
  return { kind = err.kind, message = err.message, status = err.status, retryable = err.retryable,
    attempts = err.attempts }
end

-- The last failure as an error table, decoded again only when it changed.
local function last_error(self)
  local text = self.dict:get(LAST_ERROR)
  if text ~= self.last_error_text then
    local fields = text and decode(text)
    self.last_error_text = text
    self.last_error = type(fields) == "table"
      and errors.new(fields.kind, fields.message, fields) or nil
  end
  return self.last_error
end

local function unavailable(self)
  local why
  if self.synced_at then
    why = ("the account was last synced %.1f s ago, longer than refresh + stale (%g s)")
      :format(ngx.now() - self.synced_at, self.fresh_for)
  else
    why = "no sync has succeeded yet"
  end
  local cause = last_error(self)
  if cause then why = why .. "; the last sync failed: " .. cause.kind .. ": " .. cause.message end
  return errors.new("unavailable", why, { cause = cause })
end

-- A new version of the account, in the dict: the JSON first (under the key the new version's
-- parity names) and the version last, so that a worker that sees the new version finds the new
-- account. Nothing is stored when the lock is no longer this sync's (it expired while the sync
-- waited, and another worker may have stored a newer account since).
local function store(self, account, token)
  local settings, dict = private[self], self.dict
  if dict:get(LOCK) ~= token then
    return nil, "the sync outlasted its lock (" .. self.lock_ttl .. " s); its answer was dropped"
  end
  local ok, text = pcall(encode, redact.fields(account, settings.client.secrets))
  if not ok or not text then
    return nil, "the account cannot be stored: " .. tostring(text)
  end
  local version = (dict:get(VERSION) or 0) + 1
  local stored, why = dict:safe_set(ACCOUNT[version % 2], text)
  if not stored then
    return nil, ("the account (%d bytes) does not fit in lua_shared_dict '%s' (%s): make it larger")
      :format(#text, settings.shared_dict, tostring(why))
  end
  ngx.update_time()
  dict:safe_set(SYNCED_AT, ngx.now())
  dict:delete(LAST_ERROR)
  dict:incr(SYNCS, 1, 0)
  dict:incr(VERSION, 1, 0)
  return true
end

local function record_failure(self, err)
  local dict = self.dict
  dict:incr(FAILURES, 1, 0)
  dict:safe_set(LAST_ERROR, encode(error_fields(err)))
  ngx.log(ngx.WARN, "leadconduit.account_cache: sync failed: ", tostring(err))
end

-- One sync under the lock `token`, stored on success, counted and logged on failure. A sync that
-- raises (nginx without the thread pool, say) is a failure too, so that status() shows it. Each
-- sync has a client of its own: a request that nginx abandons in the middle of refresh() leaves
-- its client busy forever, and with it only that one sync.
local function sync_and_store(self, token)
  local settings = private[self].client
  local ok, res, err = pcall(function()
    local c = client.from_settings(settings)
    local answer, failure = c:sync_account()
    c:close()
    return answer, failure
  end)
  if not ok then
    err = errors.new("unavailable", "sync_account raised: " .. tostring(res), nil, settings.secrets)
  elseif res then
    local stored, why = store(self, res.account, token)
    if stored then
      self.checked_at = nil -- this worker's next get() sees the new account at once
      return true
    end
    err = errors.new("unavailable", why, nil, settings.secrets)
  end
  record_failure(self, err)
  return nil, err
end

-- The lock: a token only this call knows, so that a lock that expired and was taken by another
-- worker is not released by the one that lost it.
local function take_lock(self)
  self.locks = self.locks + 1
  local token = ("%d:%d:%.6f"):format(ngx.worker.pid(), self.locks, monotime())
  local ok, why = self.dict:safe_add(LOCK, token, self.lock_ttl)
  if ok then return token end
  if why == "no memory" and not self.said_full then
    -- Not a failed sync: none could start. Said once per worker, not once per tick.
    self.said_full = true
    ngx.log(ngx.ERR, "leadconduit.account_cache: lua_shared_dict '", private[self].shared_dict,
      "' is full: no sync can start; give the cache a dict of its own")
  end
end

local function release_lock(self, token)
  if self.dict:get(LOCK) == token then self.dict:delete(LOCK) end
end

-- Every worker's timer: starts a sync when none is in flight and none started in this interval.
local function tick(premature, self)
  if premature then return end -- nginx is exiting or reloading
  local dict, refresh = self.dict, self.refresh_every
  local interval = dict:get(INTERVAL)
  if interval == refresh then return end
  if interval then
    -- Set under another refresh, before a reload changed it: the new one counts from now.
    dict:delete(INTERVAL)
  end
  local token = take_lock(self)
  if not token then return end
  if dict:safe_add(INTERVAL, refresh, refresh) then
    sync_and_store(self, token)
  end
  release_lock(self, token)
end

--- cache:start(): in init_worker_by_lua*, in every worker.
function Cache:start()
  if self.started then return end
  if ngx.get_phase() == "init" then
    error("leadconduit.account_cache: start() belongs in init_worker_by_lua*: in init_by_lua* the"
      .. " workers, and their timers, do not exist yet", 2)
  end
  -- Ticks much shorter than refresh, so that the next interval's sync starts soon after the
  -- interval ends, whichever worker is free; a tick that finds nothing to do is two dict reads.
  local every = math.max(0.1, math.min(1, self.refresh_every / 10))
  local ok, err = ngx.timer.at(0, tick, self)
  if ok then ok, err = ngx.timer.every(every, tick, self) end
  if not ok then
    error("leadconduit.account_cache: start() could not create its timers: " .. tostring(err), 2)
  end
  self.started = true
end

--- cache:get() -> account | nil, err (kind "unavailable"). No I/O, no waiting: any phase.
function Cache:get()
  -- The version is read at most once per millisecond of nginx's clock (ngx.now() moves once per
  -- turn of the event loop): under load most requests then cost no shared dict access at all
  -- (measured by bench/gate.lua), and a new account is seen at most a millisecond late.
  local now = ngx.now()
  if now ~= self.checked_at then
    self.checked_at = now
    local version = self.dict:get(VERSION)
    if version ~= self.version then
      local text = version and self.dict:get(ACCOUNT[version % 2])
      local account = text and decode(text)
      self.version = version
      if type(account) == "table" then
        self.account, self.synced_at = account, self.dict:get(SYNCED_AT)
      end
    end
  end
  if self.synced_at and now - self.synced_at <= self.fresh_for then
    return self.account
  end
  return nil, unavailable(self)
end

--- cache:refresh() -> true | nil, err: a sync now, or the end of the one another worker runs.
function Cache:refresh()
  local ok, why = nginx.check_phase()
  if not ok then
    return nil, errors.new("unsupported_phase", why, { attempts = 0 })
  end
  local dict = self.dict
  local seen = dict:get(VERSION)
  local give_up = monotime() + self.lock_ttl
  while true do
    local token = take_lock(self)
    if token then
      -- The timers' next sync is an interval from this one.
      dict:safe_set(INTERVAL, self.refresh_every, self.refresh_every)
      local res, err = sync_and_store(self, token)
      release_lock(self, token)
      return res, err
    end
    nginx.sleep(WAIT_STEP)
    if dict:get(VERSION) ~= seen then return true end -- the sync in flight succeeded
    if monotime() > give_up then
      return nil, errors.new("timeout", "another worker's sync held the lock longer than a sync can take",
        { retryable = true })
    end
  end
end

--- cache:status() -> { synced_at, age, syncs, failures, last_error }, across all workers.
function Cache:status()
  local dict = self.dict
  local synced_at = dict:get(SYNCED_AT)
  return {
    synced_at = synced_at,
    age = synced_at and math.max(0, ngx.now() - synced_at),
    syncs = dict:get(SYNCS) or 0,
    failures = dict:get(FAILURES) or 0,
    last_error = last_error(self),
  }
end

--- account_cache(opts) -> a cache. Raises outside nginx and on bad options; no client, no I/O.
local function account_cache(opts)
  if nginx.runtime() ~= "request" then
    error("leadconduit.account_cache: only inside nginx (OpenResty)", 2)
  end
  local settings, problem = options.cache(opts)
  if not settings then
    error("leadconduit.account_cache: " .. problem.message, 2)
  end
  local self = setmetatable({
    dict = settings.dict,
    refresh_every = settings.refresh,
    fresh_for = settings.refresh + settings.stale,
    lock_ttl = client.longest_sync(settings.client) + LOCK_MARGIN,
    locks = 0,
  }, Cache)
  private[self] = settings
  return self
end

return { account_cache = account_cache }
