-- bench/gate.lua — requests per second of a location gated on a feature flag by
-- leadconduit.account_cache (get() + has_feature), over the same location without a gate, on one
-- nginx worker, measured with wrk. The anchor is 0.1's README sketch: the account decoded from the
-- shared dict on every request. Locations alternate (and which goes first), one wrk run each per
-- round; the medians of the per-round ratios are printed.
--
--   make bench-gate [ROUNDS=7]      (or: lua5.4 bench/gate.lua [rounds] [seconds per run])

local openresty = require "support.openresty"
local sys = require "support.sys"
local socket = require "socket"
local median = require("stats").median

local ROUNDS = tonumber(arg[1]) or 7
local SECONDS = tonumber(arg[2]) or 3
-- On a machine with two CPUs or more, nginx's one worker and wrk each get a CPU of their own, so
-- that they do not take turns on one.
local PIN = sys.run("command -v taskset >/dev/null") and tonumber(sys.capture("nproc")) >= 2
local WRK = (PIN and "taskset -c 1 " or "") .. "wrk -t1 -c32 -d%ds --latency %s"

local function requests_per_second(bed, path)
  local out = sys.capture(WRK:format(SECONDS, sys.quote(bed:url(path))))
  local rps = tonumber(out:match("Requests/sec:%s+([%d.]+)"))
  assert(rps, "wrk failed:\n" .. out)
  assert(not out:find("Non%-2xx"), path .. " answered other than 2xx:\n" .. out)
  return rps
end

local ok, why = openresty.available()
if not ok then error("bench/gate.lua: " .. why) end
assert(sys.run("command -v wrk >/dev/null"), "bench/gate.lua needs wrk (apt-get install wrk)")

local env = openresty.with_mock(function()
  return {
    conf = assert(sys.read_file(sys.PROJECT_DIR .. "/bench/gate.conf")),
    files = { ["gate_handlers.lua"] = assert(sys.read_file(sys.PROJECT_DIR .. "/bench/gate_handlers.lua")) },
  }
end)
local bed = env.bed
if PIN then assert(sys.run("taskset -cp 0 " .. bed.pid .. " >/dev/null")) end
for _ = 1, 100 do
  local _, body = bed:get("/ready")
  if body == "yes\n" then break end
  socket.sleep(0.1)
end

local paths = { "/plain", "/gated", "/decode-per-request" }
-- A first run of each, not counted: LuaJIT compiles the handlers' traces.
for _, path in ipairs(paths) do requests_per_second(bed, path) end
local gated, anchor, plain_rps = {}, {}, {}
print(("%d rounds of %d s per location, one worker, wrk -t1 -c32%s"):format(ROUNDS, SECONDS,
  PIN and ", nginx on CPU 0 and wrk on CPU 1" or ""))
for round = 1, ROUNDS do
  local rps = {}
  -- Rotate the order, so that none always runs first (or just after the same one).
  for i = 0, #paths - 1 do
    local path = paths[(round + i - 1) % #paths + 1]
    rps[path] = requests_per_second(bed, path)
  end
  gated[round] = rps["/gated"] / rps["/plain"]
  anchor[round] = rps["/decode-per-request"] / rps["/plain"]
  plain_rps[round] = rps["/plain"]
  print(("round %d: plain %.0f req/s, gated %.3fx, decode per request %.3fx"):format(round,
    rps["/plain"], gated[round], anchor[round]))
end
print(("median: plain %.0f req/s; gated / plain %.3f; decode per request / plain %.3f;"
  .. " gated / decode per request %.2f"):format(median(plain_rps), median(gated), median(anchor),
  median(gated) / median(anchor)))

openresty.stop(env)
