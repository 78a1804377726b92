-- gate.lua — access_by_lua gates on the cached account: 403 when the account lacks what the
-- location needs, 503 while no account fresh enough is cached. No request waits for the API.
local leadconduit = require "leadconduit"
local account = require "account"

local gate = {}

-- The cached account, or the end of the request with 503.
local function cached()
  local acct, err = account:get()
  if not acct then
    -- err says why (never with the key); the cache logs each failed sync once already.
    ngx.log(ngx.INFO, tostring(err))
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
  return acct
end

--- gate.feature(name): lets the request through only when the feature is on.
function gate.feature(name)
  if not leadconduit.has_feature(cached(), name) then
    return ngx.exit(ngx.HTTP_FORBIDDEN)
  end
end

--- gate.subscription(name): lets the request through only while the subscription is active.
function gate.subscription(name)
  if not leadconduit.subscription_active(cached(), name) then
    return ngx.exit(ngx.HTTP_FORBIDDEN)
  end
end

return gate
