-- options.lua — leadconduit.new's options, checked once, turned into what the client and the
-- transport need.
--
-- check() returns settings, or nil and a problem { option = <name>, message = <text> }: new()
-- raises the message (bad options are programming errors), the CLI maps the option to its flag.
-- No message ever quotes the API key.

local core = require "leadconduit.core"
local key_file = require "leadconduit.key_file"
local nginx = require "leadconduit.nginx"
local redact = require "leadconduit.redact"

local options = {}

options.DEFAULTS = {
  base_url = "https://app.leadconduit.com",
  timeout = 30,
  connect_timeout = 10,
  max_retries = 2,
  retry_delay = 0.5,
  max_response_bytes = 8388608,
}

local KNOWN = {
  api_key = true, api_key_file = true, base_url = true, timeout = true, connect_timeout = true,
  max_time = true, max_retries = true, retry_delay = true, ca_file = true, user_agent = true,
  max_response_bytes = true,
}

-- Options of earlier versions, and why they went.
local GONE = {
  thread_pool = "syncs inside nginx run on leadconduit's own thread and need no thread pool:"
    .. " remove the option, and nginx.conf's thread_pool directive if nothing else uses it",
}
GONE.thread_pool_size = GONE.thread_pool

-- Longer strings than these are mistakes, and libcurl refuses anything over 8 MB with a
-- misleading "out of memory".
local MAX_LENGTH = { base_url = 2048, user_agent = 512, ca_file = 4096, api_key_file = 4096 }

-- check() stops at the first problem: raised as a table, caught by check() itself.
local Problem = {}

local function fail(option, message)
  error(setmetatable({ option = option, message = message }, Problem), 0)
end

-- A problem of the machine the code runs on, not of the code: the key or a file it names is
-- missing or unreadable. The account cache reports these (kind config) instead of raising, so
-- that nginx keeps answering; new() raises them like any other.
local function fail_setup(option, message)
  error(setmetatable({ option = option, message = message, setup = true }, Problem), 0)
end

local function is_integer(n)
  return type(n) == "number" and n == math.floor(n)
end

-- libcurl counts timeouts in whole milliseconds and reads 0 as "no limit at all": anything
-- that rounds to 0 ms would turn a tiny timeout into none.
local MIN_SECONDS = 0.001

-- A duration in seconds, more than 0 (or exactly 0 where allow_zero) and at most a day; a time
-- limit also at least 1 ms.
local function check_seconds(name, value, allow_zero)
  if allow_zero and value == 0 then return 0 end
  if type(value) ~= "number" or not (value > 0 and value <= 86400) then
    fail(name, name .. " must be a number of seconds, more than 0 and at most 86400")
  end
  if not allow_zero and value < MIN_SECONDS then
    fail(name, name .. " must be at least " .. MIN_SECONDS .. " seconds (1 ms)")
  end
  return value
end

local function check_string(name, value, what)
  if type(value) ~= "string" or value == "" then
    fail(name, name .. " must be " .. what)
  end
  if #value > MAX_LENGTH[name] then
    fail(name, ("%s must be at most %d bytes long"):format(name, MAX_LENGTH[name]))
  end
  if value:find("%c") then
    fail(name, name .. " must not contain control characters")
  end
  return value
end

-- nginx hands its workers only the variables that nginx.conf names with `env`, and only when
-- nginx itself was started with them: under systemd, not the login shell's.
local NGINX_KEY_HINT = "inside nginx, os.getenv returns nil unless nginx.conf names the variable"
  .. " (env LEADCONDUIT_API_KEY;) and nginx itself was started with it set (under systemd: an"
  .. " EnvironmentFile= drop-in, or LoadCredential= with api_key_file; see README)"

local function check_api_key(key)
  if key == nil then
    if nginx.runtime() then
      fail_setup("api_key", "api_key is missing: " .. NGINX_KEY_HINT)
    end
    fail("api_key", "api_key (or api_key_file) is required")
  end
  -- Printable ASCII without spaces (0x21-0x7E): nothing that could split a header.
  if type(key) ~= "string" or key == "" or key:find("[^\33-\126]") then
    local fail_as = type(key) == "string" and fail_setup or fail
    fail_as("api_key", "api_key must be a non-empty string of printable ASCII characters without spaces")
  end
  if #key > 1024 then
    fail_setup("api_key", "api_key must be at most 1024 characters long")
  end
  return key
end

-- Workers of nginx run as an unprivileged user, the master as root: a key file that only root
-- may read is read when the user's module is loaded by the master, in init_by_lua*.
local function read_api_key_file(path)
  check_string("api_key_file", path, "a file path")
  local key, problem = key_file.read(path)
  if not key then
    if nginx.runtime() and ngx.get_phase() ~= "init" then
      problem = problem .. " (nginx's workers read it as their user: require the module that"
        .. " creates the client in init_by_lua*, where the master process reads it)"
    end
    fail_setup("api_key_file", problem)
  end
  return key
end

local function api_key_of(opts)
  if opts.api_key ~= nil and opts.api_key_file ~= nil then
    fail("api_key_file", "give api_key or api_key_file, not both")
  end
  if opts.api_key_file ~= nil then
    return check_api_key(read_api_key_file(opts.api_key_file))
  end
  return check_api_key(opts.api_key)
end

local function is_loopback(host)
  host = host:lower()
  if host == "localhost" or host == "[::1]" then return true end
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a ~= "127" then return false end
  for _, octet in ipairs({ a, b, c, d }) do
    -- No leading zeros: "127.0.0.08" is not an address to the resolver (08 is no octal
    -- number) but a host name that DNS may send anywhere, in clear text over http://.
    if #octet > 3 or tonumber(octet) > 255 or (#octet > 1 and octet:sub(1, 1) == "0") then
      return false
    end
  end
  return true
end

-- base_url -> the endpoint's url, allow_http. Rules in API.md "Details that are easy to get wrong".
local function parse_base_url(base_url)
  if type(base_url) ~= "string" or base_url:find("[%c%s]") then
    fail("base_url", "base_url must be a URL string without spaces or control characters")
  end
  check_string("base_url", base_url, "a URL")
  local scheme, rest = base_url:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and scheme:lower()
  if scheme ~= "https" and scheme ~= "http" then
    fail("base_url", "base_url must start with https://")
  end
  if rest:find("[?#]") then
    fail("base_url", "base_url must not carry a query or fragment")
  end
  local authority, path = rest:match("^([^/]*)(.*)$")
  if authority:find("@", 1, true) then
    fail("base_url", "base_url must not carry credentials (user:pass@); pass api_key instead")
  end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then
    host, port = authority:match("^([%w.-]+)(.*)$")
  end
  if not host or not (port == "" or port:match("^:%d+$")) then
    fail("base_url", "base_url has an invalid host or port")
  end
  local port_number = tonumber(port:sub(2))
  if port_number and (port_number < 1 or port_number > 65535) then
    fail("base_url", "base_url has an invalid port")
  end
  if scheme == "http" and not is_loopback(host) then
    fail("base_url",
      "base_url must use https:// (http:// is allowed only for 127.0.0.1, localhost and [::1])")
  end
  path = path:gsub("/+$", "")
  return scheme .. "://" .. authority .. path .. "/account_sso_sync", scheme == "http"
end

local function check_ca_file(path)
  check_string("ca_file", path, "a file path")
  local f = io.open(path, "rb")
  -- io.open succeeds on a directory; only reading tells, and an empty bundle trusts nothing.
  local first = f and f:read(1)
  if f then f:close() end
  if not first then
    fail_setup("ca_file", "ca_file is not a readable, non-empty file: " .. path)
  end
  return path
end

local function default_user_agent()
  return "leadconduit-lua/" .. core._VERSION:match("[%d.]+$") .. " " .. core.curl_version()
end

-- opts must be a table whose every key is one of known.
local function check_names(opts, known)
  if type(opts) ~= "table" then
    fail(nil, "expected a table of options")
  end
  for key in pairs(opts) do
    if not known[key] then
      fail(key, known == KNOWN and GONE[key] and (key .. ": " .. GONE[key])
        or "unknown option '" .. tostring(key) .. "'")
    end
  end
end

local function settings_of(opts)
  check_names(opts, KNOWN)
  local function get(key)
    local value = opts[key]
    if value == nil then return options.DEFAULTS[key] end
    return value
  end

  local base_url = get("base_url")
  local url, allow_http = parse_base_url(base_url)
  local max_retries = get("max_retries")
  if not is_integer(max_retries) or max_retries < 0 or max_retries > 10 then
    fail("max_retries", "max_retries must be an integer from 0 to 10")
  end
  local max_bytes = get("max_response_bytes")
  if not is_integer(max_bytes) or max_bytes < 1 or max_bytes > 1073741824 then
    fail("max_response_bytes", "max_response_bytes must be an integer from 1 to 1073741824")
  end
  local user_agent = opts.user_agent
  if user_agent == nil then
    user_agent = default_user_agent()
  else
    check_string("user_agent", user_agent, "a non-empty string")
  end
  local connect_timeout = check_seconds("connect_timeout", get("connect_timeout"))
  local timeout = check_seconds("timeout", get("timeout"))
  local max_time = opts.max_time ~= nil and check_seconds("max_time", opts.max_time) or nil
  local retry_delay = check_seconds("retry_delay", get("retry_delay"), true)
  -- What the machine provides last: a mistake in the code raises even where the key or a file
  -- is missing too (the account cache reports those instead of raising).
  local api_key = api_key_of(opts)
  local ca_file = opts.ca_file ~= nil and check_ca_file(opts.ca_file) or nil

  return {
    base_url = base_url:gsub("/+$", ""),
    timeout = timeout,
    max_time = max_time,
    max_retries = max_retries,
    retry_delay = retry_delay,
    secrets = redact.secrets(api_key),
    -- What csrc/transport.c takes, ready to use.
    transport = {
      url = url,
      authorization = redact.credential(api_key),
      user_agent = user_agent,
      ca_file = ca_file,
      connect_timeout_ms = math.floor(connect_timeout * 1000 + 0.5),
      max_response_bytes = max_bytes,
      allow_http = allow_http,
    },
  }
end

-- Runs a settings builder: its result, or nil and the problem it failed with.
local function checked(build, opts)
  local ok, result = pcall(build, opts)
  if ok then return result end
  if getmetatable(result) == Problem then return nil, result end
  error(result, 0)
end

--- check(opts) -> settings | nil, { option = <name or nil>, message = <text> }
function options.check(opts)
  return checked(settings_of, opts)
end

-- account_cache's own options (API.md "OpenResty: feature gates from a shared account cache").
local CACHE_KNOWN = { shared_dict = true, client = true, refresh = true, stale = true }
local CACHE_DEFAULTS = { refresh = 300, stale = 86400 }

local function cache_settings_of(opts)
  check_names(opts, CACHE_KNOWN)
  local name = opts.shared_dict
  if type(name) ~= "string" or name == "" then
    fail("shared_dict", "shared_dict must be the name of a lua_shared_dict")
  end
  if not (ngx.shared and ngx.shared[name]) then
    fail("shared_dict", ("there is no lua_shared_dict named '%s': add `lua_shared_dict %s 1m;` to"
      .. " nginx.conf's http block"):format(name, name))
  end
  if type(opts.client) ~= "table" then
    fail("client", "client must be a table of leadconduit.new's options")
  end
  local client, problem = options.check(opts.client)
  local broken
  if not client then
    if not problem.setup then fail("client", "client: " .. problem.message) end
    broken = "client: " .. problem.message
  end
  local refresh = opts.refresh == nil and CACHE_DEFAULTS.refresh or opts.refresh
  if type(refresh) ~= "number" or not (refresh >= 1 and refresh <= 86400) then
    fail("refresh", "refresh must be a number of seconds from 1 to 86400")
  end
  local stale = opts.stale == nil and CACHE_DEFAULTS.stale or opts.stale
  if type(stale) ~= "number" or not (stale >= 0 and stale <= 31536000) then
    fail("stale", "stale must be a number of seconds from 0 to 31536000 (a year)")
  end
  return { dict = ngx.shared[name], shared_dict = name, client = client, broken = broken, refresh = refresh,
    stale = stale }
end

--- cache(opts) -> account_cache's settings | nil, problem. client: what check() returns, or nil
-- when the client's options fail on the machine (no key, an unreadable file): broken then says why.
function options.cache(opts)
  return checked(cache_settings_of, opts)
end

--- query(sync_opts) -> the query string of sync_account's options, or nil.
-- sso_account_id must be 24 hex digits; anything else raises before a request is sent.
function options.query(sync_opts)
  if sync_opts == nil then return nil end
  if type(sync_opts) ~= "table" then
    error("leadconduit.sync_account: expected a table of options or nothing", 3)
  end
  for key in pairs(sync_opts) do
    if key ~= "sso_account_id" then
      error("leadconduit.sync_account: unknown option '" .. tostring(key) .. "'", 3)
    end
  end
  local id = sync_opts.sso_account_id
  if id == nil then return nil end
  if type(id) ~= "string" or #id ~= 24 or id:find("%X") then
    error("leadconduit.sync_account: sso_account_id must be 24 hexadecimal digits", 3)
  end
  return "sso_account_id=" .. id
end

return options
