-- client.lua — leadconduit.new and the client's methods: the one retry policy for every transport.
--
-- A transport (the libcurl one in csrc/client.c, or inside OpenResty the one in
-- leadconduit/nginx.lua) performs single exchanges; this module decides what they
-- mean, retries what is worth retrying and returns the contract's results.

local core = require "leadconduit.core"
local errors = require "leadconduit.errors"
local options = require "leadconduit.options"
local retry = require "leadconduit.retry"

-- Private fields per client, out of reach of pairs() and serializers: the key lives here.
local private = setmetatable({}, { __mode = "k" })

local Client = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out, floor = {}, math.floor
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local sextets = { floor(n / 262144), floor(n / 4096) % 64, floor(n / 64) % 64, n % 64 }
    for k = 1, 4 do
      out[#out + 1] = B64:sub(sextets[k] + 1, sextets[k] + 1)
    end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

-- Inside OpenResty, network I/O has to go through nginx; elsewhere libcurl blocks the caller.
local function nginx_runtime()
  if type(ngx) == "table" and type(ngx.get_phase) == "function" then
    return require "leadconduit.nginx"
  end
end

local client_mt = {
  __index = Client,
  __name = "leadconduit.client",
  __tostring = function(self)
    local p = private[self]
    return "leadconduit.client (" .. (p and p.base_url or "closed") .. ")"
  end,
}

function Client:close()
  local p = private[self]
  if p then
    private[self] = nil
    if p.transport then p.transport:close() end
  end
end

-- To-be-closed on Lua 5.4 (local c <close> = leadconduit.new{...}) and collected like one.
client_mt.__close = Client.close
client_mt.__gc = Client.close

local function open(self, method)
  local p = private[self]
  if not p then
    if getmetatable(self) ~= client_mt then
      -- client.sync_account() (a dot for the colon) must not read as "closed".
      error("leadconduit: " .. method .. " must be called as client:" .. method .. "(...), got "
        .. type(self) .. " as the client", 3)
    end
    error("leadconduit: the client is closed", 3)
  end
  return p
end

-- client:sync_account([opts]) -> decoded answer | nil, err
function Client:sync_account(sync_opts)
  local p = open(self, "sync_account")
  local query = options.query(sync_opts)
  local sleep = core.sleep
  if p.runtime then
    local ok, why = p.runtime.check_phase()
    if not ok then
      return nil, errors.new("unsupported_phase", why, { attempts = 0 }, p.secrets)
    end
    sleep = p.runtime.sleep
  end
  if not p.transport then
    p.transport = (p.runtime or core).transport(p.transport_config)
  end

  local attempts = 0
  while true do
    attempts = attempts + 1
    local outcome = p.transport:perform(query)
    local kind, message, fields = errors.classify(outcome, p.secrets)
    if not kind then
      return outcome.value
    end
    if not fields.retryable or attempts > p.max_retries then
      fields.attempts = attempts
      return nil, errors.new(kind, message, fields, p.secrets)
    end
    sleep(retry.delay(attempts, p.retry_delay, outcome.retry_after))
  end
end

-- leadconduit.new(opts) -> client. Raises on bad options.
local function new(opts)
  local ok, settings = pcall(options.check, opts)
  if not ok then
    error(settings, 2)
  end
  local config = settings.transport
  local self = setmetatable({}, client_mt)
  private[self] = {
    base_url = settings.base_url,
    max_retries = settings.max_retries,
    retry_delay = settings.retry_delay,
    transport_config = config,
    runtime = nginx_runtime(),
    secrets = { config.api_key, base64("API:" .. config.api_key) },
  }
  return self
end

return { new = new }
