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

-- Whole responses through the real transport: generated status lines, headers, bodies and
-- encodings (spec/fuzz/whole_response.lua) sent by the mock server's raw listener to a client.
-- Whatever arrives, sync_account returns the answer or an error table of a known kind, never
-- raises, and no message shows the key, which the responses quote in bodies and headers.
describe("whole responses through the transport (seeded, counted)", function()
  local mock = require "support.mock_server"
  local leadconduit = require "leadconduit"
  local redact = require "leadconduit.redact"
  local whole_response = require "fuzz.whole_response"

  local CASES = tonumber(os.getenv("LEADCONDUIT_FUZZ_RESPONSES")) or 1500
  local KEY = "fuzz]KEY-0123456789abcdef"
  local SECRETS = redact.secrets(KEY)
  local KINDS = {
    auth = true, rate_limited = true, http = true, timeout = true, network = true, tls = true,
    too_large = true, decode = true, api = true,
  }
  local srv

  setup(function() srv = mock.start() end)
  teardown(function() if srv then srv:stop() end end)

  -- gzip streams of a few bodies, made once by gzip(1); a cut one too.
  local function gzipped()
    local out = {}
    local texts = {
      answer = '{"success":true,"account":{"id":"g","name":"Gzipped"}}',
      error = '{"error":"gzipped ' .. KEY .. '"}',
    }
    for name, text in pairs(texts) do
      local path = srv.prefix .. "/gz-" .. name
      sys.write_file(path, text)
      assert(sys.run("gzip -n -f " .. sys.quote(path)))
      out[name] = sys.slurp(path .. ".gz")
    end
    out.cut = out.answer:sub(1, #out.answer - 6)
    return out
  end

  local function check_message(text, what)
    assert(type(text) == "string" and text ~= "", what .. " is empty")
    assert(not text:find("[\r\n]"), what .. " spans lines: " .. text)
    for _, secret in ipairs(SECRETS) do
      assert(not text:find(secret, 1, true), what .. " shows the key: " .. text)
    end
  end

  it(("keeps the contract for %d generated responses"):format(CASES), function()
    local rand = park_miller.new(20261207)
    local make = whole_response.generator(rand, KEY, gzipped())
    local c = leadconduit.new{ api_key = KEY, base_url = srv.raw_url .. "/fuzz", max_retries = 0,
      timeout = 5, connect_timeout = 2 }
    local seen = {}
    for i = 1, CASES do
      local bytes = make()
      srv:raw("fuzz", bytes)
      local ok, res, err = pcall(c.sync_account, c)
      local where = ("case %d %q"):format(i, bytes:sub(1, 300))
      assert(ok, where .. ": raised " .. tostring(res))
      if res ~= nil then
        assert(type(res) == "table" and type(res.account) == "table",
          where .. ": an answer without an account")
        assert.is_nil(err)
        seen.answer = (seen.answer or 0) + 1
      else
        assert(type(err) == "table" and KINDS[err.kind], where .. ": " .. tostring(err and err.kind))
        check_message(err.message, where .. ": the message")
        check_message(tostring(err), where .. ": tostring(err)")
        assert.equal(1, err.attempts, where)
        assert.is_boolean(err.retryable, where)
        if err.status ~= nil then
          assert(math.type == nil or math.type(err.status) == "integer", where .. ": a float status")
          assert(err.status >= 200 and err.status <= 999, where .. ": status " .. err.status)
        end
        seen[err.kind] = (seen[err.kind] or 0) + 1
      end
    end
    c:close()
    -- The generator reaches the answer and the kinds a server alone can cause.
    for _, outcome in ipairs({ "answer", "http", "auth", "rate_limited", "network", "decode", "api",
                               "too_large" }) do
      assert(seen[outcome], outcome .. " never seen in " .. CASES .. " cases")
    end
  end)
end)
