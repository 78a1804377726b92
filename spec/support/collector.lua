-- collector.lua — the collector set to run all the time (and back), and garbage whose finalizer
-- runs a function: how the specs make Lua code run in the middle of the module's C code.

local collector = {}

-- Lua 5.4 takes the settings at once, with a step size; the others take two of them by name.
local function tune(pause, stepmul, stepsize)
  if _VERSION == "Lua 5.4" then
    collectgarbage("incremental", pause, stepmul, stepsize)
  else
    collectgarbage("setpause", pause)
    collectgarbage("setstepmul", stepmul)
  end
  collectgarbage("collect")
end

-- The collector in small, frequent steps, so that finalizers run in the middle of a call. (On 5.4
-- the step size has to be set too: after a big allocation the default steps would not finish a
-- cycle within a call.)
function collector.all_the_time()
  tune(1, 1000, 0)
end

-- A whole cycle at each step, and a step at each allocation: the finalizers of garbage left
-- before a call then run in the middle of it, at its allocations, however big the heap (a cycle
-- in small steps can take more than thousands of calls). Costly: each cycle walks the heap.
-- Lua 5.2 is the exception: a finalizer leaves the collector about 2.4 KB of credit there (a
-- step it asks for is refused), so its next step comes that much allocation later; and a call
-- of a C function is a step of its own.
function collector.whole_cycles()
  if _VERSION == "Lua 5.4" then
    collectgarbage("incremental", 1, 1000, 63) -- a step of 2^63 bytes: no end but the cycle's
  elseif _VERSION == "Lua 5.1" then -- and LuaJIT: a step multiplier of 0 has no limit
    collectgarbage("setpause", 1)
    collectgarbage("setstepmul", 0)
  else
    collectgarbage("setpause", 1)
    collectgarbage("setstepmul", 0x40000000)
  end
  collectgarbage("collect") -- the settings take effect at the end of a cycle
end

-- And back to each interpreter's defaults.
function collector.normally()
  if _VERSION == "Lua 5.4" then
    tune(200, 100, 13)
  else
    tune(200, 200)
  end
end

-- An object whose finalizer runs fn: tables have no __gc on Lua 5.1 and LuaJIT.
local function with_finalizer(fn)
  if newproxy then -- luacheck: ignore (Lua 5.1 / LuaJIT only)
    local proxy = newproxy(true) -- luacheck: ignore
    getmetatable(proxy).__gc = fn
    return proxy
  end
  return setmetatable({}, { __gc = fn })
end

-- Leave garbage behind whose finalizer runs fn.
function collector.garbage_with_finalizer(fn)
  with_finalizer(fn)
end

-- n objects whose finalizers run fn one at a time, one a cycle: each lets the next go, and
-- allocates nothing itself (on Lua 5.2 and 5.4 a finalizer that allocates gives the collector
-- credit, which moves its next steps). Returns the function that lets the first one go, which
-- keeps the rest alive until then.
function collector.finalizer_queue(n, fn)
  -- only ever written: it holds the objects up
  local queue = {} -- luacheck: ignore 241
  for i = 1, n do
    queue[i] = with_finalizer(function()
      queue[i + 1] = nil
      fn()
    end)
  end
  return function() queue[1] = nil end
end

return collector
