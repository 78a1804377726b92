-- Specs for lua/leadconduit/cli_output.lua: what the command-line tool prints, in-process.
-- (spec/cli_spec.lua runs the installed tool end to end.)
local leadconduit = require "leadconduit"
local output = require "leadconduit.cli_output"

describe("cli_output", function()
  it("shows C0, DEL and C1 control characters from the server as ?", function()
    local csi = "\194\155" -- U+009B, a CSI on its own in terminals that honour C1 controls
    local entry = {
      id = "a\27[31mb", name = "x" .. csi .. "2Jy\127", invitation_expires_at = "2099\194\133",
    }
    local rows = output.pending_rows(setmetatable({ entry }, leadconduit.array_mt))
    assert.are.same({ "a?[31mb  x?2Jy?  2099?" }, output.columns(rows))
    assert.are.same({ "a?[31mb\tx?2Jy?\t2099?" }, output.tsv(rows))
  end)

  it("keeps other UTF-8 text as it is", function()
    local rows = output.pending_rows({ { id = "1", name = "Caf\195\169 \226\130\172 \240\159\152\128" } })
    assert.are.equal("Caf\195\169 \226\130\172 \240\159\152\128", rows[1][2])
  end)
end)
