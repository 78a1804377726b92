-- bench/decode.lua — leadconduit.decode against lua-cjson's decode, in one process.
--
-- Alternates the two decoders on each file of $LEADCONDUIT_SHARED/bench-data and prints the
-- median CPU time per decode and the ratio cjson / leadconduit (above 1 = leadconduit faster).
-- Run: make bench-decode [ROUNDS=21]   (the Makefile sets the package paths and LEADCONDUIT_SHARED)
local leadconduit = require "leadconduit"
local cjson = require "cjson"

local shared = os.getenv("LEADCONDUIT_SHARED") or "../shared"
local data_dir = os.getenv("LEADCONDUIT_BENCH_DATA") or (shared .. "/bench-data")
local rounds = tonumber(arg and arg[1]) or 15
local files = { "account", "twitter", "citm_catalog", "canada" }

local read = require("support.sys").slurp
local median = require("stats").median

-- CPU seconds per call of decode(text), averaged over enough calls to take ~50 ms.
local function time_per_call(decode, text, calls)
  collectgarbage()
  local t0 = os.clock()
  for _ = 1, calls do
    decode(text)
  end
  return (os.clock() - t0) / calls
end

local function calls_for(text)
  local t0, n = os.clock(), 0
  repeat
    cjson.decode(text)
    n = n + 1
  until os.clock() - t0 > 0.05
  return n
end

print(string.format("%s, lua-cjson %s, %d rounds", _VERSION, cjson._VERSION or "?", rounds))
print(string.format("%-14s %12s %12s %8s", "file", "cjson ms", "lc ms", "ratio"))
local worst = math.huge
for _, name in ipairs(files) do
  local text = read(data_dir .. "/" .. name .. ".json")
  assert(leadconduit.decode(text), name .. " does not decode")
  local calls = calls_for(text)
  local lc_times, cj_times = {}, {}
  for r = 1, rounds do
    -- alternate which one goes first so drift on a shared machine hits both alike
    if r % 2 == 1 then
      lc_times[r] = time_per_call(leadconduit.decode, text, calls)
      cj_times[r] = time_per_call(cjson.decode, text, calls)
    else
      cj_times[r] = time_per_call(cjson.decode, text, calls)
      lc_times[r] = time_per_call(leadconduit.decode, text, calls)
    end
  end
  local lc, cj = median(lc_times), median(cj_times)
  local ratio = cj / lc
  if ratio < worst then worst = ratio end
  print(string.format("%-14s %12.3f %12.3f %7.2fx", name, cj * 1e3, lc * 1e3, ratio))
end
print(string.format("slowest ratio: %.2fx", worst))
