-- bench/decode_instructions.lua — instructions per decode of each benchmark corpus, counted by
-- callgrind (stable where wall time on a shared machine is not), for the floor (bench/floor.lua),
-- lua-cjson and leadconduit: the difference between 3k decodes and k in one process, over 2k,
-- with k large enough (about 600 KB of text) that the collector's cycles even out. Each figure is
-- the median of RUNS such measurements (3 unless the environment says): Lua 5.4 seeds its string
-- hashes from the time, and the tables' collisions, so the counts, move with the seed (the floor's
-- by up to 5%, leadconduit's by about 1.5% on the account payload).
--
--   lua5.4 bench/decode_instructions.lua [interpreter] [module dir]
--
-- e.g. `lua5.4 bench/decode_instructions.lua lua5.1 build/5.1`; the Makefile's bench-decode sets
-- the paths. Run with the argument "child" it is the process that callgrind measures.

local shared = os.getenv("LEADCONDUIT_SHARED") or "../shared"
local data_dir = os.getenv("LEADCONDUIT_BENCH_DATA") or (shared .. "/bench-data")
local files = { "account", "twitter", "citm_catalog", "canada" }

if arg[1] == "child" then
  local who, file, n = arg[2], arg[3], tonumber(arg[4])
  local text = require("support.sys").slurp(data_dir .. "/" .. file .. ".json")
  local decode = who == "floor" and require("floor").floor_for(text)
    or who == "cjson" and require("cjson").decode or require("leadconduit").decode
  for _ = 1, n do decode(text) end
  return
end

local interpreter, module_dir = arg[1] or "lua5.4", arg[2] or "build/5.4"
local sys = require "support.sys"

local function instructions(who, file, n)
  local cmd = ("LUA_CPATH=%s LUA_PATH=%s valgrind --tool=callgrind --callgrind-out-file=/dev/null %s"
    .. " bench/decode_instructions.lua child %s %s %d 2>&1"):format(sys.quote(module_dir .. "/?.so;;"),
    sys.quote("lua/?.lua;spec/?.lua;bench/?.lua;;"), interpreter, who, file, n)
  local out = sys.capture(cmd)
  local refs = out:match("I%s+refs:%s+([%d,]+)")
  assert(refs, "callgrind failed:\n" .. out)
  return tonumber((refs:gsub(",", "")))
end

local runs = tonumber(os.getenv("RUNS") or "3")
print(("%s, module %s: instructions per decode (callgrind, median of %d runs)"):format(interpreter,
  module_dir, runs))
print(("%-14s %12s %12s %12s %9s %9s"):format("file", "floor", "cjson", "leadconduit", "cjson/lc",
  "lc/floor"))
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end

for _, file in ipairs(files) do
  local per = {}
  local size = #sys.slurp(data_dir .. "/" .. file .. ".json")
  local k = math.max(1, math.floor(600000 / size))
  for _, who in ipairs({ "floor", "cjson", "leadconduit" }) do
    local each = {}
    for r = 1, runs do
      each[r] = (instructions(who, file, 3 * k) - instructions(who, file, k)) / (2 * k)
    end
    per[who] = median(each)
  end
  print(("%-14s %12.0f %12.0f %12.0f %8.2fx %8.2fx"):format(file, per.floor, per.cjson,
    per.leadconduit, per.cjson / per.leadconduit, per.leadconduit / per.floor))
end
