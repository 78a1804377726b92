-- account.lua — this nginx's LeadConduit account, cached for all its workers.
--
-- A module, so that every request of a worker shares one cache (and its decoded account):
-- nginx.conf starts it in init_worker_by_lua, gate.lua and status.lua read it.
local leadconduit = require "leadconduit"

return leadconduit.account_cache{
  shared_dict = "leadconduit", -- nginx.conf's lua_shared_dict
  client = {
    api_key = os.getenv("LEADCONDUIT_API_KEY"),
    base_url = os.getenv("LEADCONDUIT_BASE_URL"), -- unset: https://app.leadconduit.com
    ca_file = os.getenv("LEADCONDUIT_CA_FILE"),   -- unset: the system's trust store
  },
  refresh = 300,  -- a sync every 5 minutes, across all workers together
  stale = 86400,  -- while syncs fail, the last good account serves for a day
}
