-- account.lua — this nginx's LeadConduit account, cached for all its workers.
--
-- A module, so that every request of a worker shares one cache (and its decoded account):
-- nginx.conf loads it in init_by_lua (the master process, which may read a key file that only
-- root can), starts it in init_worker_by_lua; gate.lua, status.lua and the metrics read it.
local leadconduit = require "leadconduit"

-- The key: a file only its owner may read (systemd's LoadCredential= puts one in
-- /run/credentials/nginx.service/), or else the variable.
local key_file = os.getenv("LEADCONDUIT_API_KEY_FILE")

return leadconduit.account_cache{
  shared_dict = "leadconduit", -- nginx.conf's lua_shared_dict
  client = {
    api_key_file = key_file,
    api_key = not key_file and os.getenv("LEADCONDUIT_API_KEY") or nil,
    base_url = os.getenv("LEADCONDUIT_BASE_URL"), -- unset: https://app.leadconduit.com
    ca_file = os.getenv("LEADCONDUIT_CA_FILE"),   -- unset: the system's trust store
  },
  refresh = 300,  -- a sync every 5 minutes across all workers; after a failure, again within seconds
  stale = 86400,  -- while syncs fail, the last good account serves for a day
}
