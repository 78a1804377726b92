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
