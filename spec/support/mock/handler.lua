-- handler.lua — the mock LeadConduit API, run inside nginx (content_by_lua) by mock/nginx.conf.
--
-- Checks what the real endpoint checks (path, POST, Basic auth "API:<key>"), then answers
-- with the scenario named by the URL's path prefix. The scenario list is in mock_server.lua.

local cjson = require "cjson.safe"
local config = require "mock_config"

-- The handler sets ngx.status and ngx.header fields, which luacheck's read-only ngx forbids.
-- luacheck: globals ngx

local M = {}

local counts -- ngx.shared.mock_counts: per-token counters, see count()

local AUTH_FAILED = '{"error":"authentication failed"}'

function M.init()
  -- Nothing to prepare yet; kept so the config has one place to grow.
  return true
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

-- Status and headers of a JSON answer whose body the caller writes (length nil: chunked).
local function start(status, length)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = length
end

local function send(status, body, content_type, headers)
  ngx.status = status
  ngx.header["Content-Type"] = content_type or "application/json"
  for name, value in pairs(headers or {}) do
    ngx.header[name] = value
  end
  if body and body ~= "" then
    ngx.header["Content-Length"] = #body
    ngx.print(body)
  else
    ngx.header["Content-Length"] = 0
  end
  return ngx.exit(status)
end

local function json_error(status, text, headers)
  return send(status, cjson.encode({ error = text }), "application/json", headers)
end

-- The fixture's text; "@API_KEY@" stands for the test key, which the real API returns in
-- account.api_key.
local function fixture(name)
  if not name:match("^[%w_-]+$") then return nil end
  local text = read_file(config.fixtures_dir .. "/" .. name .. ".json")
  if not text then return nil end
  return (text:gsub("@API_KEY@", function() return config.api_key end))
end

local function serve_fixture(name, status)
  local body = fixture(name or "reference")
  if not body then
    return json_error(400, "mock: no fixture named " .. tostring(name))
  end
  return send(status or 200, body)
end

local function incr(token, what, by)
  if token then
    counts:incr(token .. ":" .. what, by or 1, 0)
  end
end

-- Counters of a token: requests, authorized (carried an Authorization header), connections
-- (distinct TCP connections), bytes_sent (body bytes the streaming scenarios wrote).
local function count(token)
  local function get(what) return counts:get(token .. ":" .. what) or 0 end
  return {
    requests = get("requests"),
    authorized = get("authorized"),
    connections = get("connections"),
    bytes_sent = get("bytes_sent"),
  }
end

local function note_request(token)
  if not token then return end
  incr(token, "requests")
  if ngx.var.http_authorization then incr(token, "authorized") end
  if counts:add(token .. ":conn:" .. ngx.var.connection, true) then
    incr(token, "connections")
  end
end

local function authorized()
  local header = ngx.var.http_authorization
  if not header then return false end
  local encoded = header:match("^Basic ([A-Za-z0-9+/=]+)$")
  local decoded = encoded and ngx.decode_base64(encoded)
  return decoded == "API:" .. config.api_key
end

-- Streams `total` bytes of a JSON body whose middle is a long string, in 64 KiB writes, and
-- stops as soon as the client has gone (the client's cap must stop the transfer).
local function stream_json(total, token)
  local head, tail = '{"success":true,"account":{"id":"5fd4371e940df5a34a3888b2","name":"', '"}}'
  local chunk = string.rep("a", 65536)
  local filler = total - #head - #tail
  local ok = ngx.print(head)
  local sent = #head
  while ok and filler > 0 do
    local n = filler < #chunk and filler or #chunk
    ok = ngx.print(n == #chunk and chunk or chunk:sub(1, n))
    if ok then ok = ngx.flush(true) end
    if ok then
      filler = filler - n
      sent = sent + n
      incr(token, "bytes_sent", n)
    end
  end
  if ok then ngx.print(tail) end
  return ngx.exit(ok and ngx.OK or 444)
end

local function echo()
  local headers = {}
  for name, value in pairs(ngx.req.get_headers(100, true)) do
    headers[name:lower()] = value
  end
  local auth = headers.authorization
  if auth then
    -- Never echo the credential itself: say whether it is exactly what the API expects.
    headers.authorization = auth == "Basic " .. ngx.encode_base64("API:" .. config.api_key)
      and "Basic <API:test key>" or "<other>"
  end
  local args = ngx.req.get_uri_args(100)
  local body = {
    success = true,
    account = { id = "000000000000000000000000", name = "echo" },
    request = {
      method = ngx.req.get_method(),
      path = ngx.var.uri,
      query = ngx.var.args or "",
      args = args,
      headers = headers,
      http_version = ngx.req.http_version(),
      connection = tonumber(ngx.var.connection),
      connection_requests = tonumber(ngx.var.connection_requests),
      scheme = ngx.var.scheme,
    },
  }
  return send(200, cjson.encode(body))
end

local HTML_PAGE = [[<html>
<head><title>%d Gateway Error</title></head>
<body>
<center><h1>%d Gateway Error</h1></center>
<hr><center>upstream proxy</center>
</body>
</html>
]]

-- A path segment as a number, or a default.
local function num(segment, default)
  return tonumber(segment or "") or default
end

-- "fail" scenarios: the first `times` requests of the token get the failure, then the fixture.
local function fail(args, token)
  local status, times = num(args[1], 503), args[2] or "1"
  if not token then
    return json_error(400, "mock: fail/... needs a token (srv:counted)")
  end
  local seen = counts:get(token .. ":requests") or 0
  if times ~= "forever" and seen > num(times, 1) then
    return serve_fixture("reference")
  end
  local headers = {}
  if args[3] == "retry-after" then
    headers["Retry-After"] = args[4] or "1"
  elseif args[3] == "retry-after-date" then
    ngx.update_time() -- the cached clock may lag behind after an idle wait
    headers["Retry-After"] = ngx.http_time(ngx.time() + num(args[4], 1))
  end
  return json_error(status, "mock failure " .. status, headers)
end

local scenarios = {}

scenarios[""] = function() return serve_fixture("reference") end
scenarios.fixture = function(args) return serve_fixture(args[1]) end
scenarios.echo = echo
scenarios.fail = fail

scenarios.status = function(args)
  local status = num(args[1], 500)
  if status == 401 then return send(401, AUTH_FAILED) end
  if status == 403 then return json_error(403, "forbidden: account is disabled") end
  if status == 404 then return json_error(404, "not found") end
  return json_error(status, "mock status " .. status)
end

scenarios.html = function(args)
  local status = num(args[1], 502)
  return send(status, HTML_PAGE:format(status, status), "text/html")
end

-- The API key, in the clear and as the Basic credential, inside an error text; with a suffix,
-- the text is the key followed by the suffix (which a careless scrubber can join to the key).
scenarios.leak = function(args)
  local status = num(args[1], 403)
  local text = "key " .. config.api_key .. " rejected (Basic " ..
    ngx.encode_base64("API:" .. config.api_key) .. ")"
  if args[2] then text = config.api_key .. args[2] end
  if status >= 200 and status < 300 then
    return send(status, cjson.encode({ success = false, error = text }))
  end
  return json_error(status, text)
end

-- expiring: pending invitations whose expiry times are relative to now, for "what lapses soon".
-- The name of each says when its invitation lapses.
scenarios.expiring = function()
  ngx.update_time()
  local now = ngx.time()
  local function at(seconds)
    return os.date("!%Y-%m-%dT%H:%M:%SZ", now + seconds)
  end
  local function entry(n, name, expires_at, expired)
    return { id = ("65a0c0ffee0000000000f%03d"):format(n), name = name, expired = expired or false,
      invitation_expires_at = expires_at }
  end
  local null = cjson.null
  return send(200, cjson.encode({ success = true, account = {
    id = "65a0c0ffee0000000000f000", name = "Expiring invitations",
    pending_sellers = {
      entry(1, "in 30 minutes", at(1800)),
      entry(2, "in 2 hours", at(7200)),
      entry(3, "in 3 days", at(3 * 86400)),
      entry(4, "in 10 days", at(10 * 86400)),
      entry(5, "a day ago", at(-86400)),
      entry(6, "never", null),
      entry(7, "flagged expired, in 1 day", at(86400), true),
      entry(8, "unreadable", "soon"),
    },
    pending_buyers = { entry(9, "buyer in 5 days", at(5 * 86400)) },
  } }))
end

-- Error texts with characters that split or reorder a line where they are shown.
local SPOOFING_TEXTS = {
  lsep = "line one\226\128\168line two\226\128\169paragraph",
  bidi = "invoice \226\128\174fdp.exe\226\128\172 and \226\129\167isolate\226\129\169",
  bom = "\239\187\191starts with a byte-order mark",
}

-- error-text/<code>/<name>: that status with {"error": SPOOFING_TEXTS[name]}.
scenarios["error-text"] = function(args)
  return json_error(num(args[1], 500), SPOOFING_TEXTS[args[2]] or "mock: unknown text")
end

-- bad-gzip/<code>: that status, announced as gzip, with a body that is not gzip at all.
scenarios["bad-gzip"] = function(args)
  return send(num(args[1], 200), "this is not gzip data, whatever the header says", "application/json",
    { ["Content-Encoding"] = "gzip" })
end

scenarios["invalid-json"] = function()
  return send(200, '{"success": true, "account": {"id": nope}}')
end
scenarios["truncated-json"] = function()
  local body = fixture("reference")
  return send(200, body:sub(1, math.floor(#body / 2)))
end
scenarios["empty-body"] = function() return send(200, "") end
scenarios["html-200"] = function()
  return send(200, "<html><body>Welcome</body></html>\n", "text/html")
end
scenarios["success-false"] = function()
  return send(200, '{"success":false,"error":"account is suspended"}')
end
scenarios["no-account"] = function() return send(200, '{"success":true}') end
scenarios["account-not-table"] = function()
  return send(200, '{"success":true,"account":"Acme, Inc."}')
end
scenarios["account-array"] = function() return send(200, '{"success":true,"account":[]}') end
scenarios["account-null"] = function() return send(200, '{"success":true,"account":null}') end
scenarios["not-object"] = function() return send(200, '[{"success":true}]') end

-- The API key as an object key, where values are scrubbed and keys were not (issue 29).
scenarios["key-as-key"] = function()
  local body = ('{"success":true,"account":{"id":"5fd4371e940df5a34a3888b2","name":"Key Keeper",'
    .. '"integrations":{"@K@":{"enabled":true}},"@K@":"a key as a key","x@K@x":{"@K@":1}}}')
  return send(200, (body:gsub("@K@", function() return config.api_key end)))
end

-- A usable answer whose pending_sellers is no array: the CLI's commands meet a shape they refuse.
scenarios["bad-shape"] = function()
  return send(200, '{"success":true,"account":{"id":"5fd4371e940df5a34a3888b2","name":"Odd",'
    .. '"pending_sellers":"x","pending_buyers":[1],"features":{}}}')
end

-- Headers announce more than is sent, then the connection closes.
scenarios["short-body"] = function()
  local body = fixture("reference")
  start(200, #body)
  ngx.print(body:sub(1, 100))
  ngx.flush(true)
  return ngx.exit(ngx.ERROR)
end

-- slow/<ms>[/<fixture>]: answers after ms milliseconds.
scenarios.slow = function(args)
  ngx.sleep(num(args[1], 1000) / 1000)
  return serve_fixture(args[2] or "reference")
end

-- Never answers (the handler ends when the client gives up).
scenarios.hang = function()
  ngx.sleep(3600)
  return ngx.exit(444)
end

-- stall/<ms>: status, headers and part of the body, then nothing for ms milliseconds (default
-- an hour), then the rest.
scenarios.stall = function(args)
  local body = fixture("reference")
  start(200, #body)
  ngx.print(body:sub(1, 100))
  ngx.flush(true)
  ngx.sleep(num(args[1], 3600000) / 1000)
  ngx.print(body:sub(101))
  return ngx.exit(ngx.OK)
end

-- The reference fixture gzip-compressed, only to a client that asked for gzip (the client
-- that did not gets an api error naming the problem).
scenarios.gzip = function()
  local accept = ngx.var.http_accept_encoding or ""
  if not accept:lower():find("gzip", 1, true) then
    return send(200, '{"success":false,"error":"mock: the client did not send Accept-Encoding: gzip"}')
  end
  local body = read_file(config.prefix .. "/reference.json.gz")
  return send(200, body, "application/json", { ["Content-Encoding"] = "gzip", Vary = "Accept-Encoding" })
end

-- A few KiB on the wire, config.huge_gzip_bytes once decompressed; sent whatever was asked.
scenarios["huge-gzip"] = function()
  local body = read_file(config.prefix .. "/huge.json.gz")
  for _ = 1, 100 do -- mock_server.lua makes it in the background at start
    if body then break end
    ngx.sleep(0.05)
    body = read_file(config.prefix .. "/huge.json.gz")
  end
  return send(200, body, "application/json", { ["Content-Encoding"] = "gzip" })
end

-- huge-chunked/<bytes>: a chunked body of that size (default 16 MiB), streamed.
scenarios["huge-chunked"] = function(args, token)
  start(200, nil)
  return stream_json(num(args[1], 16777216), token)
end

-- huge-length/<bytes>: Content-Length announces the size up front, then the body streams.
scenarios["huge-length"] = function(args, token)
  local total = num(args[1], 16777216)
  start(200, total)
  return stream_json(total, token)
end

-- redirect[/<status>]: to the same path on another origin (other port, host localhost),
-- whose listener counts requests and Authorization headers under the same token.
scenarios.redirect = function(args)
  local status = num(args[1], 302)
  local location = ("https://localhost:%d%s"):format(config.ports.redirect, ngx.var.request_uri)
  return send(status, '{"error":"moved"}', "application/json", { Location = location })
end

-- Closes the connection without any response.
scenarios.close = function() return ngx.exit(444) end
-- Resets the connection after the request arrived (nginx.conf: reset_timedout_connection).
scenarios.reset = function() return ngx.exit(444) end

-- "switch" (counted only): answers as its token's state says, set with GET /_set/<token>/<state>:
-- "ok" (the default) the reference fixture, a status code that status with a JSON error, "hang"
-- no answer for a minute.
scenarios.switch = function(_, token)
  if not token then
    return json_error(400, "mock: switch needs a token (srv:counted)")
  end
  local state = counts:get(token .. ":state") or "ok"
  if state == "hang" then
    ngx.sleep(60)
    return ngx.exit(444)
  end
  local status = tonumber(state)
  if status then return json_error(status, "mock switch " .. status) end
  return serve_fixture("reference")
end

local function control(uri)
  local token = uri:match("^/_count/([%w_-]+)$")
  if token then
    return send(200, cjson.encode(count(token)))
  end
  local state
  token, state = uri:match("^/_set/([%w_-]+)/([%w]+)$")
  if token then
    counts:set(token .. ":state", state)
    return send(200, '{"ok":true}')
  end
  return json_error(404, "mock: unknown control path")
end

-- listener: "main" (the API) or "redirect_target" (the other origin of the redirect scenario).
function M.serve(listener)
  counts = counts or ngx.shared.mock_counts
  local uri = ngx.var.uri
  if uri:sub(1, 2) == "/_" then return control(uri) end

  local segments = {}
  for segment in uri:gmatch("[^/]+") do segments[#segments + 1] = segment end
  local token
  if segments[1] == "t" and segments[2] then
    token = segments[2]
    table.remove(segments, 1)
    table.remove(segments, 1)
  end
  note_request(token)

  if listener == "redirect_target" then
    -- Answer as the API would, so that a client that followed the redirect gets a success.
    return serve_fixture("reference")
  end

  if segments[#segments] ~= "account_sso_sync" then
    return json_error(404, "not found")
  end
  table.remove(segments)
  if ngx.req.get_method() ~= "POST" then
    return json_error(405, "method not allowed", { Allow = "POST" })
  end
  if not authorized() then
    return send(401, AUTH_FAILED)
  end
  local sso = ngx.var.arg_sso_account_id
  if sso and not sso:match("^" .. ("%x"):rep(24) .. "$") then
    return json_error(400, "invalid sso_account_id")
  end

  local name = table.remove(segments, 1) or ""
  local scenario = scenarios[name]
  if not scenario then
    return json_error(400, "mock: unknown scenario " .. name)
  end
  return scenario(segments, token)
end

return M
