-- nginx_handlers.lua — the two ways bench/nginx.lua compares to sync once per request, run
-- inside nginx: leadconduit with one client per worker, and lua-resty-http + cjson, as an
-- OpenResty user would write it. Each answers 200 "ok" when the account came, else 500.
local cjson = require "cjson.safe"
local leadconduit = require "leadconduit"
local config = require "test_config" -- written by spec/support/openresty.lua: the mock's details

local handlers = {}

local clients = {}
local function client(path)
  if not clients[path] then
    clients[path] = leadconduit.new{
      api_key = config.api_key, base_url = config.base_url .. path, ca_file = config.ca_file,
      max_retries = 0,
    }
  end
  return clients[path]
end

local function path_arg()
  local path = ngx.var.arg_path
  return path and path ~= "" and "/" .. path or ""
end

function handlers.leadconduit()
  local res, err = client(path_arg()):sync_account()
  if not (res and res.account) then
    ngx.log(ngx.WARN, "leadconduit: ", tostring(err))
    return ngx.exit(500)
  end
  ngx.say("ok")
end

local authorization = "Basic " .. ngx.encode_base64("API:" .. config.api_key)
local host, port = config.base_url:match("^https://([^:/]+):(%d+)")
local http = require "resty.http"

function handlers.resty()
  local httpc = http.new()
  httpc:set_timeout(30000)
  local ok, err = httpc:connect{ scheme = "https", host = host, port = tonumber(port),
    ssl_verify = true, ssl_server_name = "localhost", pool_size = 128 }
  if not ok then
    ngx.log(ngx.WARN, "resty connect: ", err)
    return ngx.exit(500)
  end
  local res
  res, err = httpc:request{ method = "POST", path = path_arg() .. "/account_sso_sync", body = "",
    headers = { ["Authorization"] = authorization, ["Accept"] = "application/json",
      ["Host"] = "localhost:" .. port } }
  local body = res and res:read_body()
  if not body then
    ngx.log(ngx.WARN, "resty request: ", err)
    return ngx.exit(500)
  end
  httpc:set_keepalive(60000, 128)
  local value = cjson.decode(body)
  if not (res.status == 200 and type(value) == "table" and value.success == true
      and type(value.account) == "table") then
    return ngx.exit(500)
  end
  ngx.say("ok")
end

return handlers
