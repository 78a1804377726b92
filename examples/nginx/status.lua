-- status.lua — a content handler for monitoring: the cache's status() as JSON, with 200 while
-- a fresh account is cached and 503 otherwise. The error's text never holds the key.
local leadconduit = require "leadconduit"
local account = require "account"

return function()
  local status = account:status()
  local cached, err = account:get()
  local last = status.last_error
  ngx.status = cached and ngx.HTTP_OK or ngx.HTTP_SERVICE_UNAVAILABLE
  ngx.header["Content-Type"] = "application/json"
  ngx.say(leadconduit.encode({
    fresh = cached ~= nil,
    why = err and err.message,
    synced_at = status.synced_at,
    age = status.age,
    syncs = status.syncs,
    failures = status.failures,
    last_error = last and { kind = last.kind, message = last.message, status = last.status },
  }))
end
