-- bench/nginx.lua — one sync per request inside nginx: leadconduit (a client per worker, shared
-- by the requests) against lua-resty-http + cjson, the anchor an OpenResty user would write
-- instead, in one nginx worker, HTTPS keep-alive to the loopback mock answering the 2.9 KB
-- reference account. The two locations alternate (and which goes first) in each round, one wrk
-- run each; printed: the medians of requests/s, p50 latency and nginx's CPU per sync (its utime
-- + stime over the run / the requests, all its threads and the event loop's alone), and their
-- ratios from the same rounds. Then a slow API (the mock answers after 100 ms) at -c64 and
-- -c128.
--
--   make bench-nginx [ROUNDS=3]
--   lua5.4 bench/nginx.lua [rounds] [seconds per run]
--
-- lua-resty-http and resty.string are loaded in place from ../shared/anchors (or
-- $LEADCONDUIT_SHARED/anchors); without them the bench says so and stops.

local openresty = require "support.openresty"
local shared = require "support.shared"
local sys = require "support.sys"
local median = require("stats").median

local ROUNDS = tonumber(arg[1]) or 3
local SECONDS = tonumber(arg[2]) or 5
local ANCHORS = shared.DIR .. "/anchors"

if not sys.read_file(ANCHORS .. "/lua-resty-http/resty/http.lua")
    or not sys.read_file(ANCHORS .. "/lua-resty-string/resty/string.lua") then
  print("bench/nginx.lua: skipped: lua-resty-http and lua-resty-string are not in " .. ANCHORS
    .. " (see its README)")
  return
end
local ok, why = openresty.available()
if not ok then error("bench/nginx.lua: " .. why) end
assert(sys.run("command -v wrk >/dev/null"), "bench/nginx.lua needs wrk (apt-get install wrk)")

-- nginx's one worker on CPU 0 and wrk on CPU 1 where there are two.
local PIN = sys.run("command -v taskset >/dev/null") and tonumber(sys.capture("nproc")) >= 2
local TICKS = tonumber(sys.capture("getconf CLK_TCK")) or 100

local env = openresty.with_mock(function(srv)
  local conf = assert(sys.read_file(sys.PROJECT_DIR .. "/bench/nginx.conf"))
  conf = conf:gsub("@ANCHORS@", ANCHORS):gsub("@CAFILE@", srv.ca_file)
  return {
    conf = conf,
    files = {
      ["nginx_handlers.lua"] = assert(sys.read_file(sys.PROJECT_DIR .. "/bench/nginx_handlers.lua")),
    },
  }
end)
local bed = env.bed
if PIN then assert(sys.run("taskset -cp 0 " .. bed.pid .. " >/dev/null")) end

-- CPU seconds so far (user + system) of nginx's worker, all its threads, or of its event loop's
-- thread alone (the worker's own thread id), from /proc.
local function cpu_seconds(loop_only)
  local stat = assert(sys.read_file("/proc/" .. bed.pid .. (loop_only and "/task/" .. bed.pid or "")
    .. "/stat"))
  local fields = {}
  for field in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = field end
  return (tonumber(fields[12]) + tonumber(fields[13])) / TICKS
end

local UNITS = { us = 1e-6, ms = 1e-3, s = 1 }

-- One wrk run: requests/s, p50 (s), CPU per request (s), failed requests.
local function run(path, connections, seconds)
  local before, loop_before = cpu_seconds(), cpu_seconds(true)
  local out = sys.capture(("%swrk -t1 -c%d -d%ds --latency %s"):format(PIN and "taskset -c 1 " or "",
    connections, seconds, sys.quote(bed:url(path))))
  local cpu, loop = cpu_seconds() - before, cpu_seconds(true) - loop_before
  local rps = tonumber(out:match("Requests/sec:%s+([%d.]+)"))
  local requests = tonumber(out:match("(%d+) requests in"))
  local p50, unit = out:match("50%%%s+([%d.]+)(%a+)")
  assert(rps and requests and p50, "wrk failed:\n" .. out)
  local failed = tonumber(out:match("Non%-2xx or 3xx responses: (%d+)")) or 0
  failed = failed + (tonumber(out:match("Socket errors: .-timeout (%d+)")) or 0)
  return { rps = rps, p50 = tonumber(p50) * UNITS[unit], cpu = cpu / math.max(requests, 1),
    loop = loop / math.max(requests, 1),
    failed = failed, requests = requests }
end

-- What is compared with the anchor (resty).
local WHO = { { "leadconduit", "/leadconduit" }, { "resty", "/resty" } }
local KEYS = { "rps", "p50", "cpu", "loop" }

-- A first run of each, not counted: connections open, LuaJIT compiles the handlers' traces.
for _, who in ipairs(WHO) do run(who[2], 32, 2) end

print(("%d rounds of %d s per location, one nginx worker, wrk -t1%s"):format(ROUNDS, SECONDS,
  PIN and ", nginx on CPU 0 and wrk on CPU 1" or ""))
for _, connections in ipairs({ 1, 32 }) do
  local seen, ratio = {}, {}
  for _, who in ipairs(WHO) do
    seen[who[1]], ratio[who[1]] = {}, {}
    for _, key in ipairs(KEYS) do seen[who[1]][key], ratio[who[1]][key] = {}, {} end
  end
  for round = 1, ROUNDS do
    local r, line = {}, {}
    -- Each round starts with the next one, so that none always runs first.
    for i = 0, #WHO - 1 do
      local who = WHO[(round + i - 1) % #WHO + 1]
      r[who[1]] = run(who[2], connections, SECONDS)
      assert(r[who[1]].failed == 0, who[1] .. " failed requests at -c" .. connections .. ":\n"
        .. bed:error_log_tail())
    end
    for _, who in ipairs(WHO) do
      local mine = r[who[1]]
      for _, key in ipairs(KEYS) do
        seen[who[1]][key][round] = mine[key]
        ratio[who[1]][key][round] = mine[key] / r.resty[key]
      end
      line[#line + 1] = ("%s %.0f req/s, p50 %.3f ms, %.1f µs CPU (%.1f loop)"):format(who[1], mine.rps,
        mine.p50 * 1e3, mine.cpu * 1e6, mine.loop * 1e6)
    end
    print(("-c%d round %d: %s"):format(connections, round, table.concat(line, "; ")))
  end
  print(("medians at -c%d; in brackets the median of the rounds' ratios to the anchor"):format(connections))
  local head, rule = { "|" }, { "| ---" }
  for _, who in ipairs(WHO) do
    head[#head + 1] = who[1] == "resty" and "lua-resty-http + cjson" or who[1]
    rule[#rule + 1] = "---:"
  end
  print(table.concat(head, " | ") .. " |")
  print(table.concat(rule, " | ") .. " |")
  for _, row in ipairs({ { "requests/s", "rps", 1, "%.0f" }, { "p50 latency", "p50", 1e3, "%.3f ms" },
      { "nginx CPU per sync, all threads", "cpu", 1e6, "%.1f µs" },
      { "nginx CPU per sync, event loop", "loop", 1e6, "%.1f µs" } }) do
    local cells = { "| -c" .. connections .. " " .. row[1] }
    for _, who in ipairs(WHO) do
      local cell = row[4]:format(median(seen[who[1]][row[2]]) * row[3])
      if who[1] ~= "resty" then cell = cell .. (" (%.2f)"):format(median(ratio[who[1]][row[2]])) end
      cells[#cells + 1] = cell
    end
    print(table.concat(cells, " | ") .. " |")
  end
end

-- A slow API: the mock answers after 100 ms. One run each; failed = non-2xx answers.
print(("slow API (100 ms), %d s per run"):format(SECONDS))
print("| | -c64 req/s | -c64 failed | -c128 req/s | -c128 failed |")
local SLOW = {
  { "leadconduit", "/leadconduit?path=slow/100" },
  { "lua-resty-http + cjson", "/resty?path=slow/100" },
}
for _, case in ipairs(SLOW) do
  run(case[2], 64, 1)
  local r64, r128 = run(case[2], 64, SECONDS), run(case[2], 128, SECONDS)
  print(("| %s | %.0f | %d | %.0f | %d |"):format(case[1], r64.rps, r64.failed, r128.rps, r128.failed))
end

openresty.stop(env)
