-- leadconduit.features — feature flags and subscriptions of a decoded account.
-- A misspelt feature name raises instead of reading as "disabled".

local core = require "leadconduit.core"

local null, array_mt = core.null, core.array_mt

-- The feature names the API documents (seed/account_sso_sync.txt).
local DOCUMENTED = {
  seller_access = true,
  buyer_access = true,
  lead_transactions = true,
  conversion_feedback = true,
  firehose = true,
  third_party_add_on_services = true,
  real_time_bidding = true,
  leadconduit_trustedform_decisions = true,
}

local function check_account(fname, account)
  if type(account) ~= "table" then
    error(("leadconduit.%s: bad argument #1 'account' (table expected, got %s)"):format(fname,
      account == null and "null" or type(account)), 3)
  end
end

-- account[field] when it is a table (an object), else nil: missing and null read as empty.
local function object_field(account, field)
  local v = account[field]
  if type(v) == "table" then return v end
  return nil
end

--- has_feature(account, name) -> true only when account.features[name] == true
local function has_feature(account, name)
  check_account("has_feature", account)
  if type(name) ~= "string" then
    error("leadconduit.has_feature: bad argument #2 'name' (string expected, got " .. type(name) .. ")", 2)
  end
  local features = object_field(account, "features")
  local value = features and features[name]
  if value == nil and not DOCUMENTED[name] then
    error(("leadconduit.has_feature: unknown feature %q"):format(name), 2)
  end
  return value == true
end

--- enabled_features(account) -> sorted array of the feature names that are true
local function enabled_features(account)
  check_account("enabled_features", account)
  local out = setmetatable({}, array_mt)
  local features = object_field(account, "features")
  if features then
    for name, value in pairs(features) do
      if value == true and type(name) == "string" then out[#out + 1] = name end
    end
    table.sort(out)
  end
  return out
end

--- subscription_active(account, name) -> true when account.subscriptions[name].state == "active"
local function subscription_active(account, name)
  check_account("subscription_active", account)
  if type(name) ~= "string" then
    error("leadconduit.subscription_active: bad argument #2 'name' (string expected, got "
      .. type(name) .. ")", 2)
  end
  local subscriptions = object_field(account, "subscriptions")
  local sub = subscriptions and subscriptions[name]
  return type(sub) == "table" and sub.state == "active"
end

return {
  has_feature = has_feature,
  enabled_features = enabled_features,
  subscription_active = subscription_active,
}
