-- cache_handlers.lua — the handlers of the account cache's test beds (spec/nginx/cache.conf and
-- production.conf), run inside nginx: a gate, status() and get() as JSON, refresh(), get() from
-- the log and header filter phases, the shared dict's every key and value, for the specs to
-- search for the key, and syncs per request beside the cache. The cache's options are
-- cache_options.lua, which each spec writes.

-- Handlers set response headers: fields of the read-only global ngx, by design.
-- luacheck: ignore 122
local cjson = require "cjson"
local leadconduit = require "leadconduit"

local handlers = {}

-- One cache per worker, as a user's module would hold it.
handlers.cache = leadconduit.account_cache(require("cache_options"))

local function error_fields(err)
  return err and { kind = err.kind, message = err.message, status = err.status,
    cause = err.cause and err.cause.kind } or nil
end

function handlers.gate()
  local account = handlers.cache:get()
  if not account then return ngx.exit(503) end
  if not leadconduit.has_feature(account, "firehose") then return ngx.exit(403) end
end

-- A sync per request, beside the cache, with a client per worker and base_url (the cache's
-- client's other options).
local clients = {}
function handlers.sync()
  local base = ngx.req.get_uri_args().base
  if not clients[base] then
    local options = {}
    for k, v in pairs(require("cache_options").client) do options[k] = v end
    options.base_url = base
    clients[base] = leadconduit.new(options)
  end
  local res, err = clients[base]:sync_account()
  ngx.say(cjson.encode({ ok = res ~= nil, kind = err and err.kind, message = err and err.message }))
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

function handlers.dict()
  local dict = ngx.shared.leadconduit
  for _, key in ipairs(dict:get_keys(0)) do ngx.say(key, " ", tostring(dict:get(key))) end
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
