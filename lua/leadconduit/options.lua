-- options.lua — checks leadconduit.new's options and turns them into a transport config.
--
-- Bad options are programming errors, so they raise; no message ever quotes the API key.

local core = require "leadconduit.core"

local options = {}

options.DEFAULTS = {
  base_url = "https://app.leadconduit.com",
  timeout = 30,
  connect_timeout = 10,
  max_retries = 2,
  retry_delay = 0.5,
  max_response_bytes = 8388608,
  thread_pool = "leadconduit",
}

local KNOWN = {
  api_key = true, base_url = true, timeout = true, connect_timeout = true, max_retries = true,
  retry_delay = true, ca_file = true, user_agent = true, max_response_bytes = true,
  thread_pool = true,
}

-- Raised without a position: client.lua re-raises it at the caller of leadconduit.new.
local function fail(message)
  error("leadconduit.new: " .. message, 0)
end

local function is_integer(n)
  return type(n) == "number" and n == math.floor(n)
end

-- A duration in seconds: more than 0 (or exactly 0 where allow_zero) and at most a day.
local function check_seconds(name, value, allow_zero)
  local ok = type(value) == "number" and value <= 86400 and (value > 0 or (allow_zero and value == 0))
  if not ok then
    fail(name .. " must be a number of seconds, more than 0 and at most 86400")
  end
  return value
end

-- libcurl counts timeouts in whole milliseconds and reads 0 as "no limit at all":
-- anything that rounds to 0 ms would turn a tiny timeout into none.
local MIN_TIMEOUT = 0.001

local function check_timeout(name, value)
  check_seconds(name, value)
  if value < MIN_TIMEOUT then
    fail(name .. " must be at least " .. MIN_TIMEOUT .. " seconds (1 ms)")
  end
  return value
end

local function check_api_key(key)
  -- Printable ASCII without spaces (0x21-0x7E): nothing that could split a header.
  if type(key) ~= "string" or key == "" or key:find("[^\33-\126]") then
    fail("api_key must be a non-empty string of printable ASCII characters without spaces")
  end
  return key
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

-- base_url -> url of the endpoint, allow_http. Rules in API.md "Details that are easy to get wrong".
local function parse_base_url(base_url)
  if type(base_url) ~= "string" or base_url:find("[%c%s]") then
    fail("base_url must be a URL string without spaces or control characters")
  end
  local scheme, rest = base_url:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and scheme:lower()
  if scheme ~= "https" and scheme ~= "http" then
    fail("base_url must start with https://")
  end
  if rest:find("[?#]") then
    fail("base_url must not carry a query or fragment")
  end
  local authority, path = rest:match("^([^/]*)(.*)$")
  if authority:find("@", 1, true) then
    fail("base_url must not carry credentials (user:pass@); pass api_key instead")
  end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then
    host, port = authority:match("^([%w.-]+)(.*)$")
  end
  if not host or not (port == "" or port:match("^:%d+$")) then
    fail("base_url has an invalid host or port")
  end
  local port_number = tonumber(port:sub(2))
  if port_number and (port_number < 1 or port_number > 65535) then
    fail("base_url has an invalid port")
  end
  local loopback = is_loopback(host)
  if scheme == "http" and not loopback then
    fail("base_url must use https:// (http:// is allowed only for 127.0.0.1, localhost and [::1])")
  end
  path = path:gsub("/+$", "")
  return scheme .. "://" .. authority .. path .. "/account_sso_sync", scheme == "http"
end

local function check_file(name, path)
  if type(path) ~= "string" or path == "" then
    fail(name .. " must be a file path")
  end
  local f = io.open(path, "rb")
  -- io.open succeeds on a directory; only reading tells, and an empty bundle trusts nothing.
  local first = f and f:read(1)
  if f then f:close() end
  if not first then
    fail(name .. " is not a readable, non-empty file: " .. path)
  end
  return path
end

-- options.check(opts) -> settings, used by client.lua. Raises on any bad option.
function options.check(opts)
  if type(opts) ~= "table" then
    fail("expected a table of options")
  end
  for key in pairs(opts) do
    if not KNOWN[key] then
      fail("unknown option '" .. tostring(key) .. "'")
    end
  end
  local function get(key)
    local value = opts[key]
    if value == nil then return options.DEFAULTS[key] end
    return value
  end

  local api_key = check_api_key(opts.api_key)
  local base_url = get("base_url")
  local url, allow_http = parse_base_url(base_url)

  local max_retries = get("max_retries")
  if not is_integer(max_retries) or max_retries < 0 or max_retries > 10 then
    fail("max_retries must be an integer from 0 to 10")
  end
  local max_bytes = get("max_response_bytes")
  if not is_integer(max_bytes) or max_bytes < 1 or max_bytes > 1073741824 then
    fail("max_response_bytes must be an integer from 1 to 1073741824")
  end
  local user_agent = opts.user_agent
  if user_agent == nil then
    user_agent = "leadconduit-lua/" .. core._VERSION:match("[%d.]+$") .. " " .. core.curl_version()
  elseif type(user_agent) ~= "string" or user_agent:find("%c") then
    fail("user_agent must be a string without control characters")
  end
  local thread_pool = get("thread_pool")
  if type(thread_pool) ~= "string" or thread_pool == "" then
    fail("thread_pool must be a non-empty string")
  end

  return {
    base_url = base_url:gsub("/+$", ""),
    max_retries = max_retries,
    retry_delay = check_seconds("retry_delay", get("retry_delay"), true),
    -- What a transport needs: the C transport reads all but thread_pool, which names the
    -- nginx thread pool the OpenResty transport runs it in.
    transport = {
      url = url,
      api_key = api_key,
      ca_file = opts.ca_file ~= nil and check_file("ca_file", opts.ca_file) or nil,
      timeout = check_timeout("timeout", get("timeout")),
      connect_timeout = check_timeout("connect_timeout", get("connect_timeout")),
      user_agent = user_agent,
      max_response_bytes = max_bytes,
      allow_http = allow_http,
      thread_pool = thread_pool,
    },
  }
end

-- sso_account_id must be 24 hex digits; anything else raises before a request is sent.
function options.query(sync_opts)
  if sync_opts == nil then return nil end
  if type(sync_opts) ~= "table" then
    error("leadconduit: sync_account expects a table of options or nothing", 3)
  end
  for key in pairs(sync_opts) do
    if key ~= "sso_account_id" then
      error("leadconduit: sync_account: unknown option '" .. tostring(key) .. "'", 3)
    end
  end
  local id = sync_opts.sso_account_id
  if id == nil then return nil end
  if type(id) ~= "string" or #id ~= 24 or id:find("%X") then
    error("leadconduit: sync_account: sso_account_id must be 24 hexadecimal digits", 3)
  end
  return "sso_account_id=" .. id
end

return options
