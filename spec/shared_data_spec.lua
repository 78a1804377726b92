-- shared_data_spec.lua — says, once per run, which extra checks did not run because their data
-- (../shared, see spec/support/shared.lua) is not beside this checkout. The specs that use the
-- data define those checks only where it is there, and fail if it is there but empty.
local shared = require "support.shared"

describe("the extra checks on ../shared data", function()
  local missing = shared.missing()
  if #missing == 0 then
    it("all run: the data is in " .. shared.DIR, function()
      assert.same({}, shared.missing())
    end)
  else
    it("run only where the data is there", function()
      pending(("skipped, as %s is not there: %s"):format(shared.DIR, table.concat(missing, "; ")))
    end)
  end
end)
