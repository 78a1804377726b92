-- nginx_handlers.lua — the two ways bench/nginx.lua compares to sync once per request, run
-- inside nginx: leadconduit with one client per worker and pool, and lua-resty-http + cjson, as
-- an OpenResty user would write it. Each answers 200 "ok" when the account came, else 500.
local cjson = require "cjson.safe"
local leadconduit = require "leadconduit"
local config = require "test_config" -- written by spec/support/openresty.lua: the mock's details

local handlers = {}

-- Pools of bench/nginx.conf and their threads=.
local POOL_SIZE = { leadconduit = 16, wide = 128 }

local clients = {}
local function client(path, pool)
  local key = path .. "|" .. pool
  if not clients[key] then
    clients[key] = leadconduit.new{
      api_key = config.api_key, base_url = config.base_url .. path, ca_file = config.ca_file,
      thread_pool = pool, thread_pool_size = POOL_SIZE[pool], max_retries = 0,
    }
  end
  return clients[key]
end

local function path_arg()
  local path = ngx.var.arg_path
  return path and path ~= "" and "/" .. path or ""
end

function handlers.leadconduit()
  local res, err = client(path_arg(), ngx.var.arg_pool or "leadconduit"):sync_account()
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

-- The prototype without a thread pool (bench/multi_proto.c): the transfer runs on the worker's
-- multi handle; the request waits on a semaphore of its own, posted by the one light thread per
-- worker that reads the ids of ended transfers from the driver's unix socket.
local socket_path = ngx.config.prefix() .. "/multi-" .. ngx.worker.pid() .. ".sock"
local semaphore = require "ngx.semaphore"
local waiting = {} -- id -> the semaphore of the request waiting for that transfer
local reader -- "starting", then "ready"
local ready = semaphore.new(0)

local function read_ids(premature)
  if premature then return end
  local sock = ngx.socket.tcp()
  sock:settimeout(1000)
  assert(sock:connect("unix:" .. socket_path))
  reader = "ready"
  ready:post(1000)
  while not ngx.worker.exiting() do
    local data, err = sock:receiveany(16384)
    if data then
      -- Whole ids only: a partial one waits for the rest.
      for i = 1, #data - 3, 4 do
        local b1, b2, b3, b4 = data:byte(i, i + 3)
        local id = b1 + b2 * 256 + b3 * 65536 + b4 * 16777216
        local waiter = waiting[id]
        if waiter then waiter:post(1) end
      end
      assert(#data % 4 == 0, "multi: partial id")
    elseif err ~= "timeout" then
      ngx.log(ngx.ERR, "multi reader: ", err)
      return
    end
  end
end

function handlers.multi()
  local proto = require "multi_proto"
  if not reader then
    reader = "starting"
    proto.start(socket_path)
    assert(ngx.timer.at(0, read_ids))
  end
  if reader ~= "ready" then ready:wait(5) end
  local id = proto.submit(config.base_url .. path_arg() .. "/account_sso_sync", authorization,
    config.ca_file, 30000)
  local mine = semaphore.new(0)
  waiting[id] = mine
  local ok, err = mine:wait(31)
  waiting[id] = nil
  if not ok then
    ngx.log(ngx.WARN, "multi: ", err)
    return ngx.exit(500)
  end
  local status, body = proto.result(id)
  local value = status == 200 and leadconduit.decode(body)
  if not (type(value) == "table" and value.success == true and type(value.account) == "table") then
    return ngx.exit(500)
  end
  ngx.say("ok")
end

return handlers
