-- gate_handlers.lua — the access handlers bench/gate.lua compares, run inside nginx.
local leadconduit = require "leadconduit"
local config = require "test_config" -- written by spec/support/openresty.lua: the mock's details

local handlers = {}

handlers.cache = leadconduit.account_cache{
  shared_dict = "leadconduit",
  client = { api_key = config.api_key, base_url = config.base_url, ca_file = config.ca_file },
}

-- What a gate does with account_cache: at most one number a millisecond from the shared dict, and
-- a table this worker decoded once.
function handlers.gate()
  local account = handlers.cache:get()
  if not account then return ngx.exit(503) end
  if not leadconduit.has_feature(account, "firehose") then return ngx.exit(403) end
end

-- The anchor, what 0.1's README sketched: the account's JSON, in a key of its own, decoded on
-- every request.
local dict = ngx.shared.leadconduit
function handlers.decode_per_request()
  local text = dict:get("sketch:account")
  if not text then return ngx.exit(503) end
  if not leadconduit.has_feature(leadconduit.decode(text), "firehose") then return ngx.exit(403) end
end

-- "yes" once the cache has the account, which it then also stores as the sketch did.
function handlers.ready()
  local account = handlers.cache:get()
  if not account then return "no" end
  dict:set("sketch:account", leadconduit.encode(account))
  return "yes"
end

return handlers
