-- worker.lua — what nginx's worker threads run for leadconduit.nginx: one blocking exchange.
--
-- lua-nginx-module keeps a pool of worker-thread Lua VMs and reuses them, one task at a time,
-- so the libcurl transports cached here keep their connections alive across syncs. Only plain
-- strings and numbers go back: nginx copies them into the request's VM, which decodes the body.

require "leadconduit" -- loads the C module, which publishes leadconduit.core
local core = require "leadconduit.core"

local worker = {}

-- Transports per VM, least recently used first; every client with the same settings shares one.
local MAX_TRANSPORTS = 8
local cache, order = {}, {}

local FIELDS = {
  "url", "api_key", "ca_file", "timeout", "connect_timeout", "user_agent", "max_response_bytes",
  "allow_http",
}

local function key_of(config)
  local parts = {}
  for i, name in ipairs(FIELDS) do
    local value = config[name]
    parts[i] = type(value) .. ":" .. tostring(value)
  end
  return table.concat(parts, "\0")
end

local function touch(key)
  for i, k in ipairs(order) do
    if k == key then
      table.remove(order, i)
      break
    end
  end
  order[#order + 1] = key
end

local function transport_for(config)
  local key = key_of(config)
  local t = cache[key]
  if not t then
    if #order >= MAX_TRANSPORTS then
      local oldest = table.remove(order, 1)
      cache[oldest]:close()
      cache[oldest] = nil
    end
    t = core.transport(config)
    cache[key] = t
  end
  touch(key)
  return t
end

-- worker.perform(config, query) -> outcome with the raw body (see csrc/client.c).
function worker.perform(config, query)
  return transport_for(config):perform(query, true)
end

-- How many transports this VM holds (for the specs).
function worker.cached()
  return #order
end

return worker
