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

-- And back to each interpreter's defaults.
function collector.normally()
  if _VERSION == "Lua 5.4" then
    tune(200, 100, 13)
  else
    tune(200, 200)
  end
end

-- Leave garbage behind whose finalizer runs fn: tables have no __gc on Lua 5.1 and LuaJIT.
function collector.garbage_with_finalizer(fn)
  if newproxy then -- luacheck: ignore (Lua 5.1 / LuaJIT only)
    local proxy = newproxy(true) -- luacheck: ignore
    getmetatable(proxy).__gc = fn
  else
    setmetatable({}, { __gc = fn })
  end
end

return collector
