-- response_fuzz_spec.lua — spec/fuzz/response_case.lua over the regression corpus of its fuzz
-- target (spec/fuzz/regressions/response-*) and over a seeded stream of generated cases: the
-- response handling keeps the contract whatever a server or a broken nginx sends.
local park_miller = require "support.park_miller"
local sys = require "support.sys"
local run_case = require "fuzz.response_case"

describe("the response handling (status, headers, body, encoding -> kind)", function()
  it("keeps the contract for every case of the regression corpus", function()
    local dir = sys.SPEC_DIR .. "/fuzz/regressions"
    local n = 0
    for _, name in ipairs(sys.list_files(dir)) do
      if name:match("^response%-") then
        run_case(sys.slurp(dir .. "/" .. name))
        n = n + 1
      end
    end
    assert.is_true(n >= 5, "only " .. n .. " response cases in " .. dir)
  end)

  it("keeps the contract for 20000 generated cases", function()
    local rand = park_miller.new(20261202)
    local bodies = { "", "{", '{"success":true,"account":{}}', '{"error":"nope"}', '[]', "null",
      '{"success":true,"account":[]}', '{"error":null,"message":"slow \226\128\174down"}', "<html>" }
    for i = 1, 20000 do
      local head = {}
      for k = 1, 9 do head[k] = string.char(rand(256)) end
      local case = table.concat(head) .. bodies[rand(#bodies) + 1]
      local ok, err = pcall(run_case, case)
      assert(ok, ("case %d %q: %s"):format(i, case, tostring(err)))
    end
  end)
end)
