-- leadconduit.features — feature flags and subscriptions of a decoded account.
-- A misspelt feature or subscription name raises instead of reading as "disabled" or "inactive".

local core = require "leadconduit.core"

local null, array_mt = core.null, core.array_mt

-- The feature names the API documents (its reference page for /account_sso_sync), sorted.
local NAMES = {
  "buyer_access", "conversion_feedback", "firehose", "lead_transactions",
  "leadconduit_trustedform_decisions", "real_time_bidding", "seller_access",
  "third_party_add_on_services",
}
local DOCUMENTED = {}
for _, name in ipairs(NAMES) do DOCUMENTED[name] = true end

-- The subscription names the API documents (API.md "Additions in 0.3", Helpers), sorted.
local SUBSCRIPTION_NAMES = { "base", "partner", "pro" }
local DOCUMENTED_SUBSCRIPTION = {}
for _, name in ipairs(SUBSCRIPTION_NAMES) do DOCUMENTED_SUBSCRIPTION[name] = true end

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

--- is_known(account, name) -> whether name is a documented feature or a key of account.features
local function is_known(account, name)
  local features = object_field(account, "features")
  return DOCUMENTED[name] == true or (features ~= nil and features[name] ~= nil)
end

--- has_feature(account, name) -> true only when account.features[name] == true
local function has_feature(account, name)
  check_account("has_feature", account)
  if type(name) ~= "string" then
    error("leadconduit.has_feature: bad argument #2 'name' (string expected, got " .. type(name) .. ")", 2)
  end
  if not is_known(account, name) then
    error(("leadconduit.has_feature: unknown feature %q"):format(name), 2)
  end
  local features = object_field(account, "features")
  return features ~= nil and features[name] == true
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
  if sub == nil and not DOCUMENTED_SUBSCRIPTION[name] then
    error(("leadconduit.subscription_active: unknown subscription %q"):format(name), 2)
  end
  return type(sub) == "table" and sub.state == "active"
end

--- names(account) -> sorted array of every feature name worth listing: the documented ones and
-- whatever else account.features carries
local function names(account)
  local out, seen = {}, {}
  for i, name in ipairs(NAMES) do
    out[i], seen[name] = name, true
  end
  for name in pairs(object_field(account, "features") or {}) do
    if type(name) == "string" and not seen[name] then out[#out + 1] = name end
  end
  table.sort(out)
  return setmetatable(out, array_mt)
end

return {
  DOCUMENTED = NAMES,
  DOCUMENTED_SUBSCRIPTIONS = SUBSCRIPTION_NAMES,
  is_known = is_known,
  names = names,
  has_feature = has_feature,
  enabled_features = enabled_features,
  subscription_active = subscription_active,
}
