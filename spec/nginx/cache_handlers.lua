-- cache_handlers.lua — the handlers of the account cache's test bed (spec/nginx/cache.conf), run
-- inside nginx: a gate, status() and get() as JSON, and get() from the log and header filter phases.

-- Handlers set response headers: fields of the read-only global ngx, by design.
-- luacheck: ignore 122
local cjson = require "cjson"
local leadconduit = require "leadconduit"
local config = require "test_config" -- written by spec/support/openresty.lua: the mock's details

local handlers = {}

-- One cache per worker, as a user's module would hold it. timeout 2 and no retries: a sync
-- takes at most 2 s, so the lock expires 3 s after it was taken.
handlers.cache = leadconduit.account_cache{
  shared_dict = "leadconduit",
  client = { api_key = config.api_key, base_url = config.base_url, ca_file = config.ca_file,
    timeout = 2, max_retries = 0 },
  refresh = 1,
  stale = 2,
}

local function error_fields(err)
  return err and { kind = err.kind, message = err.message, status = err.status,
    cause = err.cause and err.cause.kind } or nil
end

function handlers.gate()
  local account = handlers.cache:get()
  if not account then return ngx.exit(503) end
  if not leadconduit.has_feature(account, "firehose") then return ngx.exit(403) end
end

-- status() with what get() answers now, and who holds the lock.
function handlers.status()
  local status = handlers.cache:status()
  local account, err = handlers.cache:get()
  ngx.say(cjson.encode({
    synced_at = status.synced_at, age = status.age, syncs = status.syncs, failures = status.failures,
    last_error = error_fields(status.last_error),
    id = account and account.id, err = error_fields(err),
    lock = ngx.shared.leadconduit:get("leadconduit:lock"),
    worker = ngx.worker.pid(),
  }))
end

function handlers.refresh()
  local ok, err = handlers.cache:refresh()
  ngx.say(cjson.encode({ ok = ok, err = error_fields(err) }))
end

local function seen()
  local account, err = handlers.cache:get()
  return account and account.id or err.kind
end

function handlers.header_filter()
  ngx.header["X-Account"] = seen()
end

function handlers.log_phase()
  ngx.shared.results:set("log", seen())
end

return handlers
