-- bench/decode_ab.lua — two builds of the module against each other, by decode time, in one process
-- and then in another with the load order swapped.
--
-- Which of two copies of one library is loaded first moves its time by up to 5% (where its code
-- lands), more than most changes: so the old and the new build are loaded side by side with
-- package.loadlib, alternate call for call on each corpus with a live heap of every corpus decoded,
-- and the run is made twice, once each way round. Prints, per corpus, the median over the rounds of
-- new / old for each order and their geometric mean (below 1: the new build is faster).
--
--   lua5.4 bench/decode_ab.lua OLD.so NEW.so [rounds]     (e.g. build/5.4/leadconduit.so)
--
-- With "child" first, it is one of the two processes: it prints one line per corpus, "name ratio".

local shared = os.getenv("LEADCONDUIT_SHARED") or "../shared"
local data_dir = os.getenv("LEADCONDUIT_BENCH_DATA") or (shared .. "/bench-data")
local files = { "account", "twitter", "citm_catalog", "canada" }
local sys = require "support.sys"
local median = require("stats").median

local function load_decode(path)
  local open = assert(package.loadlib(path, "luaopen_leadconduit_core"))
  return open().decode
end

-- A function that gives the CPU seconds per call of decode(text) over `calls` calls. Each decoder
-- has its own copy, compiled from the source anew: LuaJIT would otherwise record one trace for the
-- loop, with the first decoder it saw in it, and leave the other to exit it at every call.
local function timer_for(decode)
  local source = [[
    local decode = ...
    return function(text, calls)
      local t0 = os.clock()
      for _ = 1, calls do decode(text) end
      return (os.clock() - t0) / calls
    end]]
  return assert((loadstring or load)(source))(decode)
end

-- One build alone in a process (--apart): prints "name seconds" per corpus, the median of rounds.
if arg[1] == "alone" then
  local decode, rounds = load_decode(arg[2]), tonumber(arg[3])
  local time, texts, live = timer_for(decode), {}, {}
  for _, name in ipairs(files) do
    texts[name] = sys.slurp(data_dir .. "/" .. name .. ".json")
    live[#live + 1] = assert(decode(texts[name]))
  end
  for _, name in ipairs(files) do
    local calls, t0 = 0, os.clock()
    repeat
      decode(texts[name])
      calls = calls + 1
    until os.clock() - t0 > 0.02 and calls >= 10
    local times = {}
    for r = 1, rounds do times[r] = time(texts[name], calls) end
    print(name, median(times))
  end
  return
end

if arg[1] == "child" then
  -- arg[2] is loaded first; arg[4] says which of the two is the new build
  local first, second, new_is_first = arg[2], arg[3], arg[4] == "first"
  local rounds = tonumber(arg[5])
  local d1, d2 = load_decode(first), load_decode(second)
  local old, new = d2, d1
  if not new_is_first then old, new = d1, d2 end
  local time_old, time_new = timer_for(old), timer_for(new)
  local texts, live = {}, {}
  for _, name in ipairs(files) do
    texts[name] = sys.slurp(data_dir .. "/" .. name .. ".json")
    live[#live + 1] = assert(old(texts[name]))
    live[#live + 1] = assert(new(texts[name]))
  end
  for _, name in ipairs(files) do
    local text = texts[name]
    local calls, t0 = 0, os.clock()
    repeat -- about 20 ms a measurement, and at least 10 calls
      old(text)
      calls = calls + 1
    until os.clock() - t0 > 0.02 and calls >= 10
    -- Each round is old, new, new, old (or the other way round), with no collection forced in
    -- between: the collector's debt, and any drift, fall on both alike.
    local ratios = {}
    for r = 1, rounds do
      local x, y = time_old, time_new
      if r % 2 == 0 then x, y = time_new, time_old end
      local tx = x(text, calls)
      local ty = y(text, calls) + y(text, calls)
      tx = tx + x(text, calls)
      ratios[r] = x == time_new and tx / ty or ty / tx
    end
    print(name, median(ratios))
  end
  return
end

local apart = arg[1] == "--apart"
if apart then table.remove(arg, 1) end
local old, new, rounds = arg[1], arg[2], tonumber(arg[3]) or 31
assert(old and new, "usage: bench/decode_ab.lua [--apart] OLD.so NEW.so [rounds]")
local interpreter = arg[-1] or "lua5.4"

-- --apart: each build in processes of its own, old, new, new, old, ... (9 pairs), for an interpreter
-- whose times in one process depend on which decoder was made first (LuaJIT's, here: two decoders
-- of one build, made one after the other, differed by up to 40% on twitter.json). Prints the
-- median over the processes of new / old.
if apart then
  local per = { old = {}, new = {} }
  local function alone(which, path)
    local out = sys.capture(("%s bench/decode_ab.lua alone %s %d"):format(interpreter, sys.quote(path),
      rounds))
    for name, t in out:gmatch("(%S+)%s+(%S+)\n") do
      per[which][name] = per[which][name] or {}
      table.insert(per[which][name], tonumber(t))
    end
  end
  for pair = 1, 9 do
    if pair % 2 == 1 then alone("old", old); alone("new", new) else alone("new", new); alone("old", old) end
  end
  print(("%s, 9 processes each, %d rounds a process: new / old by CPU time, medians"):format(
    type(jit) == "table" and jit.version or _VERSION, rounds))
  for _, name in ipairs(files) do
    print(("%-14s %10.3f"):format(name, median(per.new[name]) / median(per.old[name])))
  end
  return
end
local function run(first, second, which)
  local out = sys.capture(("%s bench/decode_ab.lua child %s %s %s %d"):format(interpreter,
    sys.quote(first), sys.quote(second), which, rounds))
  local got = {}
  for name, ratio in out:gmatch("(%S+)%s+(%S+)\n") do got[name] = tonumber(ratio) end
  return got
end
local old_first = run(old, new, "second")
local new_first = run(new, old, "first")
print(("%s, %d rounds: new / old by CPU time, medians"):format(type(jit) == "table" and jit.version
  or _VERSION, rounds))
print(("%-14s %10s %10s %10s"):format("file", "old first", "new first", "both"))
for _, name in ipairs(files) do
  local a, b = old_first[name], new_first[name]
  assert(a and b, "a child failed on " .. name)
  print(("%-14s %10.3f %10.3f %10.3f"):format(name, a, b, math.sqrt(a * b)))
end
