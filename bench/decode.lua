-- bench/decode.lua — leadconduit.decode against lua-cjson's decode and against the floor, in
-- one process.
--
-- The floor is the cost of the tables alone: for each file, a compiled Lua chunk whose table
-- constructor yields the same value (the strings are its constants), called like a decoder.
-- Alternates the three (and which goes first) on each file of $LEADCONDUIT_SHARED/bench-data and
-- prints the median CPU time per call, cjson / leadconduit (above 1 = leadconduit faster) and
-- leadconduit / floor (1 = nothing left to parse).
-- Run: make bench-decode [ROUNDS=21]   (the Makefile sets the package paths and LEADCONDUIT_SHARED)
local leadconduit = require "leadconduit"
local cjson = require "cjson"

local shared = os.getenv("LEADCONDUIT_SHARED") or "../shared"
local data_dir = os.getenv("LEADCONDUIT_BENCH_DATA") or (shared .. "/bench-data")
local rounds = tonumber(arg and arg[1]) or 15
local files = { "account", "twitter", "citm_catalog", "canada" }

local read = require("support.sys").slurp
local median = require("stats").median
local floor_for = require("floor").floor_for

-- CPU seconds per call of decode(text), averaged over `calls` calls (~50 ms, and MIN_CALLS).
local function time_per_call(decode, text, calls)
  collectgarbage()
  local t0 = os.clock()
  for _ = 1, calls do
    decode(text)
  end
  return (os.clock() - t0) / calls
end

-- At least this many calls a round. A round starts from a full collection, and the first calls
-- after one run with no collector at all: on canada.json (2-3 calls of cjson in 50 ms) the floor
-- cost 3.6 ms a call over 1 call and 11 ms over 10-40, where the cost of collecting what it made
-- is in. Twenty calls hold whole collection cycles, which every decoder pays alike.
local MIN_CALLS = 20

local function calls_for(text)
  local t0, n = os.clock(), 0
  repeat
    cjson.decode(text)
    n = n + 1
  until os.clock() - t0 > 0.05 and n >= MIN_CALLS
  return n
end

print(string.format("%s, lua-cjson %s, %d rounds", type(jit) == "table" and jit.version or _VERSION,
  cjson._VERSION or "?", rounds))
print(string.format("%-14s %10s %10s %10s %10s %10s", "file", "floor ms", "cjson ms", "lc ms",
  "cjson/lc", "lc/floor"))
local worst, worst_floor = math.huge, 0
for _, name in ipairs(files) do
  local text = read(data_dir .. "/" .. name .. ".json")
  assert(leadconduit.decode(text), name .. " does not decode")
  local floor = floor_for(text)
  local calls = calls_for(text)
  local decoders = { lc = leadconduit.decode, cj = cjson.decode, floor = floor }
  local order = { "lc", "cj", "floor" }
  local times = { lc = {}, cj = {}, floor = {} }
  for r = 1, rounds do
    -- Rotate which one goes first, so that drift on a shared machine hits all alike.
    for i = 0, 2 do
      local who = order[(r + i - 1) % 3 + 1]
      times[who][r] = time_per_call(decoders[who], text, calls)
    end
  end
  local lc, cj, fl = median(times.lc), median(times.cj), median(times.floor)
  local ratio, over_floor = cj / lc, lc / fl
  if ratio < worst then worst = ratio end
  if over_floor > worst_floor then worst_floor = over_floor end
  print(string.format("%-14s %10.3f %10.3f %10.3f %9.2fx %9.2fx", name, fl * 1e3, cj * 1e3, lc * 1e3,
    ratio, over_floor))
end
print(string.format("slowest against cjson: %.2fx (the goal: 2x or more); furthest from the floor: %.2fx",
  worst, worst_floor))
