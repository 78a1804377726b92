-- module_spec.lua — the C core assembled by csrc/module.c (leadconduit.core): its own small
-- functions, which the Lua helpers build on.
local leadconduit = require "leadconduit"
local core = require "leadconduit.core"

describe("leadconduit.core", function()
  it("is what require 'leadconduit' published", function()
    assert.equal(leadconduit.decode, core.decode)
    assert.equal(leadconduit.null, core.null)
  end)

  describe("sleep", function()
    it("waits about the given seconds, and not at all for 0 or less", function()
      local t0 = core.monotime()
      core.sleep(0.05)
      local took = core.monotime() - t0
      assert.is_true(took >= 0.05 and took < 1, "slept " .. took)
      t0 = core.monotime()
      core.sleep(0)
      core.sleep(-5)
      assert.is_true(core.monotime() - t0 < 0.5)
    end)

    it("raises for a wait beyond a day, infinity or NaN instead of overflowing time_t", function()
      for _, seconds in ipairs({ math.huge, 1e300, 2 ^ 63, 86400.5, 0 / 0 }) do
        local ok, msg = pcall(core.sleep, seconds)
        assert.is_false(ok, "core.sleep(" .. tostring(seconds) .. ") returned")
        assert.matches("seconds", tostring(msg))
      end
    end)
  end)
end)

describe("every module of lua/leadconduit/", function()
  local sys = require "support.sys"
  local interpreter = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

  it("loads on its own in a fresh interpreter", function()
    local names = { "core" }
    for _, file in ipairs(sys.list_files(sys.PROJECT_DIR .. "/lua/leadconduit", ".lua")) do
      names[#names + 1] = file:sub(1, -5)
    end
    assert.is_true(#names > 10)
    for _, name in ipairs(names) do
      local script = ("package.path, package.cpath = %q, %q; assert(require(%q)); io.write('ok')")
        :format(package.path, package.cpath, "leadconduit." .. name)
      local out = sys.capture(("%s -e %s 2>&1"):format(interpreter, sys.quote(script)))
      assert.equal("ok", out, "require 'leadconduit." .. name .. "'")
    end
  end)
end)
