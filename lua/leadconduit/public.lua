-- public.lua — the table `require "leadconduit"` returns: every public name and the module
-- that answers it (API.md "Module fields", and the additions README.md lists).

local core = require "leadconduit.core"
local account_cache = require "leadconduit.account_cache"
local changes = require "leadconduit.changes"
local client = require "leadconduit.client"
local features = require "leadconduit.features"
local partners = require "leadconduit.partners"
local time = require "leadconduit.time"

return {
  _VERSION = core._VERSION,
  null = core.null,
  array_mt = core.array_mt,
  decode = core.decode,
  encode = core.encode,
  new = client.new,
  parse_time = time.parse_time,
  is_expired = partners.is_expired,
  active_pending = partners.active_pending,
  expired_pending = partners.expired_pending,
  expiring_pending = partners.expiring_pending,
  changes = changes.changes,
  has_feature = features.has_feature,
  enabled_features = features.enabled_features,
  subscription_active = features.subscription_active,
  account_cache = account_cache.account_cache,
}
