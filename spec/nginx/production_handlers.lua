-- production_handlers.lua — the handlers of spec/account_cache_production_spec.lua's test beds
-- (spec/nginx/production.conf), run inside nginx: a gate, status() and get() as JSON, refresh(),
-- and the shared dict's every key and value, for the spec to search for the key.
local cjson = require "cjson"
local leadconduit = require "leadconduit"

local handlers = {}

-- One cache, made in the master (init_by_lua) and shared by the workers it forks.
handlers.cache = leadconduit.account_cache(require("cache_options"))

local function error_fields(err)
  return err and { kind = err.kind, message = err.message, status = err.status,
    cause = err.cause and { kind = err.cause.kind, message = err.cause.message } } or nil
end

function handlers.gate()
  local account = handlers.cache:get()
  if not account then return ngx.exit(503) end
  if not leadconduit.has_feature(account, "firehose") then return ngx.exit(403) end
end

function handlers.status()
  local status = handlers.cache:status()
  local account, err = handlers.cache:get()
  ngx.say(cjson.encode({
    synced_at = status.synced_at, syncs = status.syncs, failures = status.failures,
    last_error = error_fields(status.last_error), id = account and account.id, err = error_fields(err),
    lock = ngx.shared.leadconduit:get("leadconduit:lock"),
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

return handlers
