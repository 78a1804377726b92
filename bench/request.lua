-- bench/request.lua — client:sync_account() over HTTPS keep-alive against the mock server,
-- measured against the practical limit: bench/curl_loop.c doing the same request with one
-- reused libcurl handle, in the same run. Also shows what Lua users do today: LuaSec's
-- ssl.https with cjson.decode, and the curl command in a shell loop.
--
--   make bench-request        (or: lua5.4 bench/request.lua build/bench/curl_loop [rounds] [n])
--
-- Prints the median over the rounds of each ratio; per-request times are medians too.

local leadconduit = require "leadconduit"
local core = require "leadconduit.core"
local mock = require "support.mock_server"

local curl_loop = arg[1] or "build/bench/curl_loop" -- built by `make bench-request`
local ROUNDS = tonumber(arg[2]) or 11
local N = tonumber(arg[3]) or 200
local SLOW_N = math.max(5, math.floor(N / 10)) -- one handshake (and process) per request

local function median(list)
  local sorted = {}
  for i, v in ipairs(list) do sorted[i] = v end
  table.sort(sorted)
  local mid = math.floor(#sorted / 2)
  if #sorted % 2 == 1 then return sorted[mid + 1] end
  return (sorted[mid] + sorted[mid + 1]) / 2
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local srv = mock.start()
local env = "LEADCONDUIT_API_KEY=" .. quote(srv.api_key)
local url = srv.base_url .. "/account_sso_sync"

local function time_c_loop()
  local p = assert(io.popen(("%s %s %s %s %d"):format(env, quote(curl_loop), quote(url),
    quote(srv.ca_file), N)))
  local out = p:read("*a")
  p:close()
  return assert(tonumber(out), "curl_loop failed")
end

local function time_leadconduit()
  local client = leadconduit.new({ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file })
  assert(client:sync_account()) -- warm-up: handshake, connection kept alive
  local t0 = core.monotime()
  for _ = 1, N do
    local res = client:sync_account()
    assert(res and res.account, "sync failed")
  end
  local elapsed = core.monotime() - t0
  client:close()
  return elapsed
end

local function time_luasec()
  local https = require "ssl.https"
  local ltn12 = require "ltn12"
  local cjson = require "cjson"
  local mime = require "mime"
  local auth = "Basic " .. mime.b64("API:" .. srv.api_key)
  local t0 = core.monotime()
  for _ = 1, SLOW_N do
    local chunks = {}
    local _, code = https.request({
      url = url, method = "POST", cafile = srv.ca_file, verify = "peer",
      headers = { authorization = auth, accept = "application/json", ["content-length"] = "0" },
      sink = ltn12.sink.table(chunks),
    })
    assert(code == 200, "LuaSec request failed: " .. tostring(code))
    assert(cjson.decode(table.concat(chunks)).account)
  end
  return (core.monotime() - t0) / SLOW_N
end

-- The credential goes to curl in a header file, as a careful script would do it (not in argv).
local header_file = os.tmpname()
do
  local f = assert(io.open(header_file, "w"))
  f:write("Authorization: Basic ", require("mime").b64("API:" .. srv.api_key), "\n")
  f:close()
end

local function time_curl_cli()
  local command = ("curl -sS -o /dev/null --fail -X POST --cacert %s -H @%s "
    .. "-H 'Accept: application/json' %s"):format(quote(srv.ca_file), quote(header_file), quote(url))
  local t0 = core.monotime()
  for _ = 1, SLOW_N do
    local ok = os.execute(command)
    assert(ok == true or ok == 0, "curl failed")
  end
  return (core.monotime() - t0) / SLOW_N
end

local ratios, lua_times, c_times, luasec_times, cli_times = {}, {}, {}, {}, {}
for round = 1, ROUNDS do
  local c, lua
  if round % 2 == 1 then
    c = time_c_loop(); lua = time_leadconduit()
  else
    lua = time_leadconduit(); c = time_c_loop()
  end
  ratios[#ratios + 1] = lua / c
  lua_times[#lua_times + 1] = lua / N
  c_times[#c_times + 1] = c / N
  luasec_times[#luasec_times + 1] = time_luasec()
  cli_times[#cli_times + 1] = time_curl_cli()
end
srv:stop()
os.remove(header_file)

local c_median = median(c_times)
local function row(name, per_request)
  print(("%-44s %9.1f us/request  %6.2fx the C loop"):format(name, per_request * 1e6, per_request / c_median))
end
print(("%d rounds of %d keep-alive requests (LuaSec and curl CLI: %d each), reference account (%s)")
  :format(ROUNDS, N, SLOW_N, _VERSION))
row("C libcurl loop, one handle (the limit)", c_median)
row("leadconduit sync_account (decode included)", median(lua_times))
row("LuaSec ssl.https + cjson.decode", median(luasec_times))
row("curl command in a shell loop", median(cli_times))
print(("median per-round ratio leadconduit / C loop: %.3fx"):format(median(ratios)))
