-- bench/request_breakdown.lua — where sync_account's time goes beyond libcurl's, in one process:
-- the C transport's exchange alone (the raw body), the exchange plus core.decode of the body, the
-- whole client:sync_account(), and bench/curl_loop.c for reference. Medians per request.
--
--   make bench-request-breakdown   (or: lua5.4 bench/request_breakdown.lua build/bench/curl_loop)

local leadconduit = require "leadconduit"
local core = require "leadconduit.core"
local mock = require "support.mock_server"

local curl_loop = arg[1] or "build/bench/curl_loop"
local ROUNDS, N = tonumber(arg[2]) or 9, tonumber(arg[3]) or 500

local median = require("stats").median

local srv = mock.start()
local url = srv.base_url .. "/account_sso_sync"
local transport = core.transport({
  url = url, authorization = require("leadconduit.redact").credential(srv.api_key), ca_file = srv.ca_file,
  connect_timeout_ms = 10000, user_agent = "leadconduit-bench", max_response_bytes = 8388608,
})
local function exchange()
  return transport:perform(nil, core.monotime() + 30)
end
local client = leadconduit.new({ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file })
exchange() -- both connections open before the clock starts
assert(client:sync_account())

local function per_request(fn)
  local t0 = core.monotime()
  for _ = 1, N do fn() end
  return (core.monotime() - t0) / N * 1e6
end

local raw, decoded, synced, c_loop = {}, {}, {}, {}
for round = 1, ROUNDS do
  raw[round] = per_request(exchange)
  decoded[round] = per_request(function() core.decode(exchange().body) end)
  synced[round] = per_request(function() client:sync_account() end)
  local p = assert(io.popen(("LEADCONDUIT_API_KEY='%s' %s '%s' '%s' %d"):format(
    srv.api_key, curl_loop, url, srv.ca_file, N)))
  c_loop[round] = assert(tonumber(p:read("*a")), "curl_loop failed") / N * 1e6
  p:close()
end
transport:close()
client:close()
srv:stop()

print(("%d rounds of %d requests, medians per request (%s)"):format(ROUNDS, N, _VERSION))
print(("transport, raw body   %8.1f us"):format(median(raw)))
print(("transport + decode    %8.1f us"):format(median(decoded)))
print(("client:sync_account() %8.1f us"):format(median(synced)))
print(("C libcurl loop        %8.1f us"):format(median(c_loop)))
