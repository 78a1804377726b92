-- handlers.lua — the OpenResty test bed's handlers (spec/nginx/nginx.conf), run inside nginx.
--
-- Each one syncs with leadconduit exactly as a user's handler would, from the phase it runs
-- in, and reports the result or the error's fields as JSON for spec/nginx_spec.lua to check.

-- Handlers set response headers: fields of the read-only global ngx, by design.
-- luacheck: ignore 122
local cjson = require "cjson"
local leadconduit = require "leadconduit"
local config = require "test_config" -- written by spec/support/openresty.lua: the mock's details

local handlers = {}

-- Client options from the query string: base (a whole base_url) or path (a mock scenario),
-- key, timeout, retries, retry_delay, max_bytes. Without arguments: the mock's reference
-- answer.
local function options(args)
  args = args or {}
  local base = args.base or config.base_url
  if args.path then base = base .. "/" .. args.path end
  return {
    api_key = args.key or config.api_key,
    base_url = base,
    ca_file = config.ca_file,
    timeout = tonumber(args.timeout),
    max_retries = tonumber(args.retries) or 0,
    retry_delay = tonumber(args.retry_delay),
    max_response_bytes = tonumber(args.max_bytes),
  }
end

-- The result of one sync as plain data.
local function report(res, err)
  if res then
    local pending = res.account.pending_sellers
    return {
      ok = true,
      success = res.success,
      id = res.account.id,
      -- Decoded by the C decoder in this VM: its null and array_mt are the module's own.
      pending_is_array = getmetatable(pending) == leadconduit.array_mt or pending == leadconduit.null,
    }
  end
  return {
    ok = false,
    kind = err.kind,
    message = err.message,
    status = err.status,
    retryable = err.retryable,
    attempts = err.attempts,
    text = tostring(err),
  }
end

-- Sync `count` times (default 1) with one client; reports the last result plus timing.
local function sync_with(args)
  local client = leadconduit.new(options(args))
  ngx.update_time()
  local started = ngx.now()
  local res, err
  for _ = 1, tonumber(args.count) or 1 do
    res, err = client:sync_account()
  end
  client:close()
  ngx.update_time()
  local out = report(res, err)
  out.phase = ngx.get_phase()
  out.elapsed = ngx.now() - started
  return out
end

local function reply(out)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
  return ngx.exit(ngx.HTTP_OK)
end

-- content, rewrite and access phases; what raises is reported as kind "raised".
function handlers.sync()
  local ok, out = pcall(sync_with, ngx.req.get_uri_args())
  if not ok then out = { ok = false, kind = "raised", message = tostring(out) } end
  return reply(out)
end

-- Starts a timer that syncs, and waits (yielding) for what it reports through the shared dict.
function handlers.timer()
  local args = ngx.req.get_uri_args()
  local results = ngx.shared.results
  local key = "timer:" .. ngx.var.connection .. ":" .. ngx.var.connection_requests
  results:delete(key)
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local fine, out = pcall(sync_with, args)
    if not fine then out = { ok = false, kind = "raised", message = tostring(out) } end
    results:set(key, cjson.encode(out))
  end)
  if not ok then
    return reply({ ok = false, kind = "no-timer", message = err })
  end
  for _ = 1, 3000 do
    local encoded = results:get(key)
    if encoded then
      ngx.header["Content-Type"] = "application/json"
      ngx.say(encoded)
      return ngx.exit(ngx.HTTP_OK)
    end
    ngx.sleep(0.01)
  end
  return reply({ ok = false, kind = "no-result", message = "the timer did not report in 30 s" })
end

-- The control experiment: libcurl called straight from the handler blocks the whole worker.
function handlers.blocking()
  local core = require "leadconduit.core"
  local settings = assert(require("leadconduit.options").check(options(ngx.req.get_uri_args())))
  local transport = core.transport(settings.transport)
  ngx.update_time()
  local started = ngx.now()
  local outcome = transport:perform(nil, core.monotime() + settings.timeout)
  transport:close()
  ngx.update_time()
  return reply({ status = outcome.status, curl_code = outcome.curl_code, elapsed = ngx.now() - started })
end

-- GET /shared?<options>: one sync with the client that every request with the same arguments
-- shares in this worker, made at first use and never closed, the way the README says to.
local shared = {}
function handlers.shared()
  local args = ngx.req.get_uri_args()
  local key = ngx.var.args or ""
  shared[key] = shared[key] or leadconduit.new(options(args))
  ngx.update_time()
  local started = ngx.now()
  local ok, res, err = pcall(shared[key].sync_account, shared[key])
  ngx.update_time()
  local out = ok and report(res, err) or { ok = false, kind = "raised", message = tostring(res) }
  out.phase = ngx.get_phase()
  out.elapsed = ngx.now() - started
  return reply(out)
end

-- GET /abandon?<options as for /shared>: a light thread starts a sync with the shared client,
-- and the request ends while the driver runs its exchange: nginx never resumes that coroutine,
-- whose transport the collector then closes.
function handlers.abandon()
  local args = ngx.req.get_uri_args()
  local key = ngx.var.args or ""
  shared[key] = shared[key] or leadconduit.new(options(args))
  ngx.thread.spawn(function() return shared[key]:sync_account() end)
  ngx.say("{}")
  return ngx.exit(ngx.HTTP_OK)
end

-- GET /collect: a full collection in this worker's VM.
function handlers.collect()
  collectgarbage()
  collectgarbage()
  return reply({ ok = true })
end

-- /hold syncs with a client that stays open in this worker; /release closes it.
local held
function handlers.hold()
  held = leadconduit.new(options(ngx.req.get_uri_args()))
  local res, err = held:sync_account()
  return reply(report(res, err))
end

function handlers.release()
  if held then held:close() end
  held = nil
  return reply({ ok = true })
end

-- Phases where sync_account has to refuse: the error's fields, as JSON.
local function refused_sync()
  local client = leadconduit.new(options())
  local ok, res, err = pcall(client.sync_account, client)
  client:close()
  if not ok then
    return { ok = false, kind = "raised", message = tostring(res), phase = ngx.get_phase() }
  end
  local out = report(res, err)
  out.phase = ngx.get_phase()
  return out
end

function handlers.set_phase()
  return cjson.encode(refused_sync())
end

function handlers.header_filter()
  ngx.header["X-Sync-Result"] = ngx.encode_base64(cjson.encode(refused_sync()))
end

function handlers.log_phase()
  ngx.shared.results:set("log", cjson.encode(refused_sync()))
end

function handlers.init_worker()
  ngx.shared.results:set("init_worker", cjson.encode(refused_sync()))
end

-- GET /result?name=log|init_worker: what that phase reported.
function handlers.result()
  local encoded = ngx.shared.results:get(ngx.var.arg_name or "")
  if not encoded then
    return ngx.exit(ngx.HTTP_NOT_FOUND)
  end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(encoded)
end

return handlers
