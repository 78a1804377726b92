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

local median = require("stats").median

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

-- Per round: each method's time per request, and its ratio to that round's C loop.
local methods = {
  { name = "C libcurl loop, one handle (the limit)", times = {}, ratios = {} },
  { name = "leadconduit sync_account (decode included)", times = {}, ratios = {} },
  { name = "LuaSec ssl.https + cjson.decode", times = {}, ratios = {} },
  { name = "curl command in a shell loop", times = {}, ratios = {} },
}
for round = 1, ROUNDS do
  local c, lua
  if round % 2 == 1 then
    c = time_c_loop(); lua = time_leadconduit()
  else
    lua = time_leadconduit(); c = time_c_loop()
  end
  local per_request = { c / N, lua / N, time_luasec(), time_curl_cli() }
  for i, m in ipairs(methods) do
    m.times[round] = per_request[i]
    m.ratios[round] = per_request[i] / per_request[1]
  end
end
srv:stop()
os.remove(header_file)

print(("%d rounds of %d keep-alive requests (LuaSec and curl CLI: %d each), reference account (%s)")
  :format(ROUNDS, N, SLOW_N, _VERSION))
print(("%-44s %12s  %s"):format("median over the rounds", "per request", "ratio to the same round's C loop"))
for _, m in ipairs(methods) do
  print(("%-44s %9.1f us  %8.3fx"):format(m.name, median(m.times) * 1e6, median(m.ratios)))
end
