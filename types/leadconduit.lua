---@meta leadconduit
-- LuaCATS annotations of `require "leadconduit"`, for lua-language-server: add the directory that
-- holds this file (installed as share/lua/<ver>/leadconduit/types.lua) to `workspace.library`.
-- spec/docs_spec.lua checks that every field of the module is annotated here and that every
-- annotated field exists, and reads the classes below against the code: every option new() and
-- account_cache() accept, every metamethod of a client, every method of a cache.

---@class leadconduit
local leadconduit = {}

---"leadconduit X.Y.Z"
---@type string
leadconduit._VERSION = "leadconduit 0.2.0"

---The JSON null sentinel: lightuserdata(NULL), the same value as cjson.null and ngx.null.
---@type lightuserdata
leadconduit.null = nil

---The metatable every decoded JSON array carries, so that [] and {} can be told apart.
---@type table
leadconduit.array_mt = {}

-- ---------------------------------------------------------------------------------------------
-- JSON

---@class leadconduit.DecodeOptions
---@field max_depth? integer deepest nesting of arrays and objects (default 1000)

---@class leadconduit.EncodeOptions
---@field indent? integer spaces per nesting level, 0 to 16 (default 0: compact)
---@field max_depth? integer deepest nesting (default 1000)
---@field infinity? boolean write infinities as 1e999 and -1e999 instead of failing (default false)

---Strict RFC 8259 JSON text to a Lua value. Errors are returned, not raised:
---`nil, "leadconduit.decode: <what> at byte <n> (line <l>, column <c>)"`.
---@param text string
---@param opts? leadconduit.DecodeOptions
---@return any value
---@return string? errmsg
function leadconduit.decode(text, opts) end

---A Lua value to JSON text: object keys sorted, `leadconduit.null` as null, tables with
---`array_mt` (or keys 1..n) as arrays. `nil, errmsg` for what JSON cannot hold.
---@param value any
---@param opts? leadconduit.EncodeOptions
---@return string? json
---@return string? errmsg
function leadconduit.encode(value, opts) end

-- ---------------------------------------------------------------------------------------------
-- The account (the answer of POST /account_sso_sync)

---@class leadconduit.Partner
---@field id string
---@field name string
---@field sso_id? string

---A pending partner as the API sends it; every field optional, so that an entry made by hand
---(`is_expired({ invitation_expires_at = "..." })`) type-checks too.
---@class leadconduit.PendingPartner
---@field id? string
---@field name? string
---@field expired? boolean
---@field invitation_expires_at? string|lightuserdata RFC 3339 time, or null

---@class leadconduit.Subscription
---@field id string
---@field state "active"|"inactive"
---@field product_offering_id? string
---@field product_offering_component? string
---@field created_at? string
---@field updated_at? string
---@field active_at? string|lightuserdata
---@field inactive_at? string|lightuserdata

---@class leadconduit.Features
---@field seller_access? boolean
---@field buyer_access? boolean
---@field lead_transactions? boolean
---@field conversion_feedback? boolean
---@field firehose? boolean
---@field third_party_add_on_services? boolean
---@field real_time_bidding? boolean
---@field leadconduit_trustedform_decisions? boolean

---@class leadconduit.Account
---@field id string
---@field sso_id? string
---@field api_key? string the caller's key: never print it
---@field name? string
---@field time_zone? string
---@field type? string
---@field data_retention_in_days? number
---@field data_truncated_at? string|lightuserdata
---@field keen_project_id? string
---@field keen_read_api_key? string a secret
---@field keen_write_api_key? string a secret
---@field pricing_components? table[]
---@field billing_type? string
---@field financial_state? string
---@field financial_state_updated_at? string
---@field lead_ping_enabled? boolean
---@field product_id? string
---@field state? string
---@field connected_buyers? leadconduit.Partner[]
---@field connected_sellers? leadconduit.Partner[]
---@field pending_sellers? leadconduit.PendingPartner[]|lightuserdata
---@field pending_buyers? leadconduit.PendingPartner[]|lightuserdata
---@field subscriptions? table<string, leadconduit.Subscription>|lightuserdata
---@field features? leadconduit.Features|table<string, any>|lightuserdata

---@class leadconduit.Answer
---@field success true
---@field account leadconduit.Account

-- ---------------------------------------------------------------------------------------------
-- The client

---@alias leadconduit.ErrorKind
---| "auth"              # 401 or 403
---| "rate_limited"      # 429 after the retries
---| "http"              # any other non-2xx status
---| "timeout"           # connect, attempt or max_time ran out
---| "network"           # DNS, refused, reset, other transport failure
---| "tls"               # certificate or handshake failure
---| "too_large"         # body over max_response_bytes, or a header line longer than libcurl takes
---| "decode"            # 2xx body that is not JSON
---| "api"               # 2xx JSON without success = true and an account object
---| "unsupported_phase" # inside nginx, a phase that cannot do network I/O
---| "config"            # the setup needs a person: unreadable api_key_file, no dir for the driver's socket
---| "unavailable"       # account_cache: no account fresh enough

---The error table of a failed sync; tostring(err) is "leadconduit: <kind>: <message>".
---@class leadconduit.Error
---@field kind leadconduit.ErrorKind
---@field message string never holds the API key
---@field status? integer the HTTP status of the final response, where one arrived
---@field retryable boolean
---@field attempts integer
---@field cause? leadconduit.Error account_cache: the last sync's error
---@field retry_after? number seconds a Retry-After header of the last response asked for

---@class leadconduit.Options
---@field api_key? string printable ASCII without spaces; exactly one of api_key and api_key_file
---@field api_key_file? string a file holding the key (first line), not readable by group or others
---@field base_url? string default "https://app.leadconduit.com"; http:// only for loopback
---@field timeout? number seconds for one attempt (default 30)
---@field connect_timeout? number seconds (default 10)
---@field max_time? number seconds for the whole call, retries and waits included (default none)
---@field max_retries? integer extra attempts for retryable failures, 0 to 10 (default 2)
---@field retry_delay? number seconds, the first backoff ceiling (default 0.5)
---@field ca_file? string PEM bundle; default the system trust store
---@field user_agent? string
---@field max_response_bytes? integer default 8388608

---@class leadconduit.SyncOptions
---@field sso_account_id? string 24 hexadecimal digits

---A client: a to-be-closed value on Lua 5.4 (`local c <close> = leadconduit.new{...}`);
---tostring(client) names its base_url, never the key.
---@class leadconduit.Client
---@field __close fun(self: leadconduit.Client) the same as close()
---@field __tostring fun(self: leadconduit.Client): string "leadconduit.client (<base_url>)"
local Client = {}

---POST /account_sso_sync: the decoded answer, or nil and an error table.
---@param opts? leadconduit.SyncOptions
---@return leadconduit.Answer? answer
---@return leadconduit.Error? err
function Client:sync_account(opts) end

---Frees the connection; closing twice is harmless, any other call on a closed client raises.
function Client:close() end

---A client. Raises on bad options.
---@param opts leadconduit.Options
---@return leadconduit.Client
function leadconduit.new(opts) end

-- ---------------------------------------------------------------------------------------------
-- Helpers

---RFC 3339 date-time to seconds since the epoch (UTC).
---@param s string
---@return number? seconds
---@return string? errmsg
function leadconduit.parse_time(s) end

---Is a pending partner's invitation expired at `now` (default: the current time)?
---@param entry leadconduit.PendingPartner
---@param now? number
---@return boolean
function leadconduit.is_expired(entry, now) end

---The entries of `list` that are not expired, in order, as a new array.
---@param list leadconduit.PendingPartner[]|lightuserdata|nil
---@param now? number
---@return leadconduit.PendingPartner[]
function leadconduit.active_pending(list, now) end

---The entries of `list` that are expired, in order, as a new array.
---@param list leadconduit.PendingPartner[]|lightuserdata|nil
---@param now? number
---@return leadconduit.PendingPartner[]
function leadconduit.expired_pending(list, now) end

---The entries that are not expired at `now` but lapse at or before `now + within` seconds.
---@param list leadconduit.PendingPartner[]|lightuserdata|nil
---@param within number seconds, not negative
---@param now? number
---@return leadconduit.PendingPartner[]
function leadconduit.expiring_pending(list, within, now) end

---@class leadconduit.Change
---@field op "added"|"removed"|"changed"
---@field path string e.g. "features.firehose", "pending_sellers[<id>].invitation_expires_at"
---@field old any absent for "added"; "(redacted)" for api_key and *_api_key
---@field new any absent for "removed"; "(redacted)" for api_key and *_api_key

---What changed between two accounts: change records sorted by path.
---@param old_account leadconduit.Account
---@param new_account leadconduit.Account
---@return leadconduit.Change[]
function leadconduit.changes(old_account, new_account) end

---True only when account.features[name] is true; raises for a name that is neither documented
---nor in account.features.
---@param account leadconduit.Account
---@param name string
---@return boolean
function leadconduit.has_feature(account, name) end

---The sorted names of the features that are true.
---@param account leadconduit.Account
---@return string[]
function leadconduit.enabled_features(account) end

---True when account.subscriptions[name].state is "active"; raises for a name that is neither
---documented (base, pro, partner) nor in account.subscriptions.
---@param account leadconduit.Account
---@param name string
---@return boolean
function leadconduit.subscription_active(account, name) end

-- ---------------------------------------------------------------------------------------------
-- OpenResty

---@class leadconduit.AccountCacheOptions
---@field shared_dict string the name of a lua_shared_dict (1m is plenty)
---@field client leadconduit.Options options for leadconduit.new
---@field refresh? number seconds between syncs (default 300, at least 1)
---@field stale? number how long the last good account is served while syncs fail (default 86400)

---@class leadconduit.AccountCacheStatus
---@field synced_at? number epoch seconds of the last successful sync
---@field age? number seconds since then
---@field syncs integer successful syncs, all workers together
---@field failures integer failed syncs, all workers together
---@field last_error? leadconduit.Error

---@class leadconduit.AccountCache
local AccountCache = {}

---In init_worker_by_lua*, in every worker: syncs at once, then every `refresh` seconds, one
---sync at a time across all workers; after a failure, again after 1 s, doubling up to `refresh`.
function AccountCache:start() end

---The cached account (shared by the worker's requests: read-only), without I/O or waiting; or
---nil and an error of kind "unavailable".
---@return leadconduit.Account? account
---@return leadconduit.Error? err
function AccountCache:get() end

---A sync right now, stored on success.
---@return true? ok
---@return leadconduit.Error? err
function AccountCache:refresh() end

---@return leadconduit.AccountCacheStatus
function AccountCache:status() end

---The cache's counters in the Prometheus text format (0.0.4), across all workers:
---leadconduit_account_syncs_total, _sync_failures_total{kind}, _last_success_timestamp_seconds,
---_age_seconds, _fresh, _sync_duration_seconds.
---@return string
function AccountCache:metrics() end

---A shared, self-refreshing account cache for feature gates inside nginx. Raises on bad options,
---and outside nginx; a client that cannot work on the machine (no key, an unreadable key or CA
---file) does not raise: get() then answers "unavailable" with a cause of kind "config".
---@param opts leadconduit.AccountCacheOptions
---@return leadconduit.AccountCache
function leadconduit.account_cache(opts) end

return leadconduit
