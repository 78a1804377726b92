-- status.lua — a content handler for monitoring: the cache's status() as JSON, with 200 while
-- a fresh account is cached and 503 otherwise, and why. The error's text never holds the key.
local leadconduit = require "leadconduit"
local account = require "account"

local function fields(err)
  return err and { kind = err.kind, message = err.message, status = err.status }
end

return function()
  local status = account:status()
  local cached, err = account:get()
  ngx.status = cached and ngx.HTTP_OK or ngx.HTTP_SERVICE_UNAVAILABLE
  ngx.header["Content-Type"] = "application/json"
  ngx.say(leadconduit.encode({
    fresh = cached ~= nil,
    why = err and err.message,
    synced_at = status.synced_at,
    age = status.age,
    syncs = status.syncs,
    failures = status.failures,
    -- A setup that cannot work (no key, no directory for the driver's socket) is a cause before
    -- any sync has failed.
    last_error = fields(status.last_error or (err and err.cause)),
  }))
end
