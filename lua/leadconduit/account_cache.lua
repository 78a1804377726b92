-- account_cache.lua — leadconduit.account_cache: the account shared by all of nginx's workers
-- through a lua_shared_dict, kept fresh by one sync at a time, for feature gates on every request.
--
-- The shared dict (one of its own: nginx evicts the oldest keys of a full dict) holds what the
-- workers need and nothing more: the last good account as JSON (its keys hidden, as in the CLI's
-- --json output), its version and when it was synced, the counters that status() and metrics()
-- report, the last failure, and two keys with an expiry: the lock (a sync is in flight; it
-- expires after the longest a sync can take, and a worker that finds its holder's process gone
-- takes it over) and the wait (no sync starts before it expires: `refresh` seconds after a
-- success, a backoff from about a second up to `refresh` after a failure). Each worker keeps its
-- own decoded copy of the account: get() reads one number from the dict (at most once a
-- millisecond) and decodes only when that version changed. The API key stays in the client's
-- settings, out of reach of the object account_cache() returns.
--
-- Policy that is the cache's own lives here: when to sync again, what to log at which level.
-- What an error means stays in errors.lua.

local core = require "leadconduit.core"
local client = require "leadconduit.client"
local errors = require "leadconduit.errors"
local metrics = require "leadconduit.cache_metrics"
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
local FAILURES_OF = "leadconduit:failures:" -- .. kind
local STREAK = "leadconduit:streak" -- failed syncs since the last success
local FAILING_SINCE = "leadconduit:failing_since"
local DURATION = "leadconduit:duration" -- seconds the last sync took
local LAST_ERROR = "leadconduit:last_error"
local LOCK = "leadconduit:lock"
local TAKEOVER = "leadconduit:takeover:" -- .. the token of a lock whose holder is gone
local INTERVAL = "leadconduit:interval" -- holds `refresh`, expires when the next sync may start
local SAID = "leadconduit:said:" -- .. kind:crc32 of a failure logged in the last minute

-- Seconds a lock outlives the longest sync: the time to store the answer, with room to spare.
local LOCK_MARGIN = 1
-- How often refresh() looks again while another worker's sync holds the lock.
local WAIT_STEP = 0.05
-- The first wait after a failed sync; it doubles with each failure in a row, up to `refresh`.
local FIRST_BACKOFF = 1
-- A Retry-After longer than the backoff is honoured, up to this: a server cannot stop the
-- syncs for longer than an hour.
local MAX_RETRY_AFTER = 3600
-- The same failure is logged again after this many seconds, not on every retry.
local LOG_REPEAT = 60

local Cache = {}
Cache.__index = Cache

-- The settings of each cache (the client's hold the key), out of reach of pairs() and serializers.
local private = setmetatable({}, { __mode = "k" })

-- The error fields kept in the dict, so that every worker reports the same last failure.
local function error_fields(err)
  return { kind = err.kind, message = err.message, status = err.status, retryable = err.retryable,
    attempts = err.attempts }
end

-- The last failure as an error table, decoded again only when it changed. A failure the dict had
-- no room for is this worker's own, shown until an account newer than it is stored.
local function last_error(self)
  local text = self.dict:get(LAST_ERROR)
  if text ~= self.last_error_text then
    self.last_error_text = text
    self.last_error = text and errors.restore(decode(text)) or nil
  end
  if self.last_error then return self.last_error end
  local unstored = self.unstored_error
  if unstored and unstored.at > (self.dict:get(SYNCED_AT) or 0) then return unstored.err end
  return nil
end

local function unavailable(self)
  local why
  if self.synced_at then
    why = ("the account was last synced %.1f s ago, longer than refresh + stale (%g s)")
      :format(ngx.now() - self.synced_at, self.fresh_for)
  else
    why = "no sync has succeeded yet"
  end
  local cause = last_error(self) or self.broken
  if cause then why = why .. "; the last sync failed: " .. cause.kind .. ": " .. cause.message end
  return errors.unavailable(why, cause)
end

-- Logs a failure at the level of who must act, each distinct failure at most once a minute
-- across all workers. Failures are the same when only their numbers differ: libcurl's texts
-- carry timings ("Operation timed out after 2001 milliseconds"). next_in: seconds until the next
-- sync.
local function log_failure(self, err, next_in)
  local said = SAID .. err.kind .. ":" .. ngx.crc32_short((err.message:gsub("%d+", "#")))
  local fresh, why = self.dict:safe_add(said, true, LOG_REPEAT)
  -- Said in the last minute: not again. A dict too full to remember it logs every time rather
  -- than never.
  if not fresh and why == "exists" then return end
  ngx.log(errors.needs_person(err) and ngx.ERR or ngx.WARN, "leadconduit.account_cache: sync failed: ",
    tostring(err), ("; next sync in %g s"):format(next_in))
end

local function say_dict_full(self, what)
  -- Once per worker: a full dict stays full until a person makes it larger.
  if self.said_full then return end
  self.said_full = true
  ngx.log(ngx.ERR, "leadconduit.account_cache: lua_shared_dict '", self.dict_name, "' is full: ", what,
    "; give the cache a dict of its own, or make it larger")
end

-- The seconds until the next sync may start, after a failure: FIRST_BACKOFF doubled for each
-- failure in a row, up to refresh; longer when the server asked; never before the cached
-- account's own refresh is due.
local function backoff(self, streak, err)
  local wait = math.min(FIRST_BACKOFF * 2 ^ (streak - 1), self.refresh_every)
  if err.retry_after then wait = math.max(wait, math.min(err.retry_after, MAX_RETRY_AFTER)) end
  local synced_at = self.dict:get(SYNCED_AT)
  if synced_at then
    wait = math.max(wait, synced_at + self.refresh_every - ngx.now())
  end
  return wait
end

-- No sync starts for `seconds`. The worker remembers it too, in case the dict has no room.
local function wait_for_next(self, seconds)
  self.not_before = ngx.now() + seconds
  local ok = self.dict:safe_set(INTERVAL, self.refresh_every, seconds)
  if not ok then say_dict_full(self, "the time of the next sync cannot be stored") end
end

-- A new version of the account, in the dict: the JSON first (under the key the new version's
-- parity names) and the version last, so that a worker that sees the new version finds the new
-- account. Nothing is stored when the lock is no longer this sync's (it expired while the sync
-- waited, and another worker may have stored a newer account since). Returns true, or nil and an
-- error table.
local function store(self, account, token)
  local settings, dict = private[self], self.dict
  if dict:get(LOCK) ~= token then
    return nil, errors.timeout("the sync outlasted its lock (" .. self.lock_ttl .. " s); its answer"
      .. " was dropped")
  end
  -- Infinities are what the decoder makes of numbers past a double's range: kept as 1e999.
  local text, unencodable = encode(redact.fields(account, settings.client.secrets), { infinity = true })
  if not text then
    return nil, errors.unavailable("the account cannot be stored: " .. tostring(unencodable))
  end
  local version = (dict:get(VERSION) or 0) + 1
  local stored, why = dict:safe_set(ACCOUNT[version % 2], text)
  if not stored then
    return nil, errors.config(("the account (%d bytes) does not fit in lua_shared_dict '%s' (%s):"
      .. " make it larger"):format(#text, settings.shared_dict, tostring(why)))
  end
  ngx.update_time()
  dict:safe_set(SYNCED_AT, ngx.now())
  dict:incr(SYNCS, 1, 0)
  dict:incr(VERSION, 1, 0)
  return true
end

local function record_success(self)
  local dict = self.dict
  local streak = dict:get(STREAK)
  if streak and streak > 0 then
    ngx.log(ngx.NOTICE, ("leadconduit.account_cache: synced again after %d failed sync%s over %.1f s"):format(
      streak, streak == 1 and "" or "s", ngx.now() - (dict:get(FAILING_SINCE) or ngx.now())))
  end
  dict:delete(STREAK)
  dict:delete(FAILING_SINCE)
  dict:delete(LAST_ERROR)
  self.unstored_error = nil
  wait_for_next(self, self.refresh_every)
end

local function record_failure(self, err)
  local dict = self.dict
  dict:incr(FAILURES, 1, 0)
  dict:incr(FAILURES_OF .. err.kind, 1, 0)
  local streak = dict:incr(STREAK, 1, 0) or 1
  if streak == 1 then dict:safe_set(FAILING_SINCE, ngx.now()) end
  -- Kept by this worker when the dict cannot hold it: too full, or text no JSON can hold.
  local text = encode(error_fields(err))
  local stored = text and dict:safe_set(LAST_ERROR, text)
  if not stored then
    self.unstored_error = { err = err, at = ngx.now() }
    if text then say_dict_full(self, "the last failure cannot be stored") end
  end
  local wait = backoff(self, streak, err)
  wait_for_next(self, wait)
  log_failure(self, err, wait)
end

-- The sync itself, in a client of its own: a request that nginx abandons in the middle of
-- refresh() leaves its client busy forever, and with it only that one sync. A raise (out of
-- memory, a broken install) is a failure too, so that status() shows it.
local function sync(self)
  local settings = private[self]
  if self.broken then return nil, self.broken end
  local ok, res, err = pcall(function()
    local c = client.from_settings(settings.client)
    local answer, failure = c:sync_account()
    c:close()
    return answer, failure
  end)
  if not ok then
    return nil, errors.unavailable("sync_account raised: " .. tostring(res), nil, settings.client.secrets)
  end
  return res, err
end

-- One sync under the lock `token`: stored on success, counted and logged either way, and the
-- time of the next one set before the lock is released.
local function sync_and_store(self, token)
  local started = monotime()
  local res, err = sync(self)
  if res then
    local stored
    stored, err = store(self, res.account, token)
    if stored then self.checked_at = nil end -- this worker's next get() sees the new account at once
  end
  self.dict:safe_set(DURATION, monotime() - started)
  if err then
    record_failure(self, err)
    return nil, err
  end
  record_success(self)
  return true
end

-- Whether the worker that took the lock `token` is gone (nginx reloaded or it crashed): its
-- sync will never end, nor release the lock.
local function holder_gone(token)
  local pid = tonumber(token:match("^(%d+):"))
  return pid ~= nil and pid ~= ngx.worker.pid() and not core.process_alive(pid)
end

-- The lock: a token only this call knows, so that a lock that expired and was taken by another
-- worker is not released by the one that lost it. A lock whose holder is gone is taken over by
-- one worker (the one that adds its TAKEOVER key first). nil, "no memory" when the dict is full.
local function take_lock(self)
  self.locks = self.locks + 1
  local token = ("%d:%d:%.6f"):format(ngx.worker.pid(), self.locks, monotime())
  local dict = self.dict
  local ok, why = dict:safe_add(LOCK, token, self.lock_ttl)
  if ok then return token end
  if why == "no memory" then
    say_dict_full(self, "no sync can start")
    return nil, why
  end
  local held = dict:get(LOCK)
  if held and holder_gone(held) and dict:safe_add(TAKEOVER .. held, true, self.lock_ttl)
      and dict:get(LOCK) == held then
    dict:delete(LOCK)
    ngx.log(ngx.WARN, "leadconduit.account_cache: the worker that was syncing (pid ", held:match("^%d+"),
      ") is gone; syncing again")
    if dict:safe_add(LOCK, token, self.lock_ttl) then return token end
  end
  return nil
end

local function release_lock(self, token)
  if self.dict:get(LOCK) == token then self.dict:delete(LOCK) end
end

-- Whether a sync is due: the wait has expired (in the dict, and in this worker's memory).
local function due(self)
  local dict, refresh = self.dict, self.refresh_every
  local waiting = dict:get(INTERVAL)
  if waiting == refresh then return false end
  if waiting then
    -- Set under another refresh, before a reload changed it: the new one counts from now.
    dict:delete(INTERVAL)
  end
  return not (self.not_before and ngx.now() < self.not_before)
end

-- Every worker's timer: starts a sync when one is due and none is in flight.
local function tick(premature, self)
  if premature then return end -- nginx is exiting or reloading
  if not due(self) then return end
  local token = take_lock(self)
  if not token then return end
  -- Another worker may have ended a sync between due() and the lock.
  if due(self) then sync_and_store(self, token) end
  release_lock(self, token)
end

--- cache:start(): in init_worker_by_lua*, in every worker.
function Cache:start()
  if self.started then return end
  if ngx.get_phase() == "init" then
    error("leadconduit.account_cache: start() belongs in init_worker_by_lua*: in init_by_lua* the"
      .. " workers, and their timers, do not exist yet", 2)
  end
  -- Ticks much shorter than refresh, so that the next sync starts soon after it is due, whichever
  -- worker is free; a tick that finds nothing to do is two dict reads.
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
    return nil, errors.unsupported_phase(why)
  end
  local dict = self.dict
  local seen = dict:get(VERSION)
  local give_up = monotime() + self.lock_ttl
  while true do
    local token, no_lock = take_lock(self)
    if token then
      local res, err = sync_and_store(self, token)
      release_lock(self, token)
      return res, err
    end
    if no_lock == "no memory" then
      return nil, errors.config(("lua_shared_dict '%s' is full: no sync can start; give the cache a"
        .. " dict of its own, or make it larger"):format(self.dict_name))
    end
    nginx.sleep(WAIT_STEP)
    if dict:get(VERSION) ~= seen then return true end -- the sync in flight succeeded
    if monotime() > give_up then
      return nil, errors.timeout("another worker's sync held the lock longer than a sync can take")
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

--- cache:metrics() -> the Prometheus text exposition (0.0.4) of the counters, across all workers.
function Cache:metrics()
  local dict = self.dict
  local failures = {}
  for _, kind in ipairs(errors.KINDS) do failures[kind] = dict:get(FAILURES_OF .. kind) or 0 end
  local synced_at = dict:get(SYNCED_AT)
  local now = ngx.now()
  return metrics.render({
    syncs = dict:get(SYNCS) or 0,
    failures = failures,
    kinds = errors.KINDS,
    last_success = synced_at,
    age = synced_at and math.max(0, now - synced_at),
    fresh = synced_at ~= nil and now - synced_at <= self.fresh_for,
    duration = dict:get(DURATION),
  })
end

--- account_cache(opts) -> a cache. Raises outside nginx and on bad options; no client, no I/O.
-- A client that cannot work on this machine (no key, an unreadable key or CA file) does not
-- raise: the cache answers get() with kind unavailable, its cause kind config, and logs why.
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
    dict_name = settings.shared_dict,
    refresh_every = settings.refresh,
    fresh_for = settings.refresh + settings.stale,
    lock_ttl = (settings.client and client.longest_sync(settings.client) or 0) + LOCK_MARGIN,
    locks = 0,
    broken = settings.broken and errors.config(settings.broken),
  }, Cache)
  private[self] = settings
  return self
end

return { account_cache = account_cache }
