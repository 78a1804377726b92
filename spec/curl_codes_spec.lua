-- curl_codes_spec.lua — libcurl's codes as names: csrc/transport.c makes them from one list
-- (CURL_CODES, exported as core.curl_codes), and errors.lua turns them back into kinds. A name
-- errors.lua relies on that the list does not hold would never match: this spec keeps the two
-- in step.
local core = require "leadconduit.core"
local errors = require "leadconduit.errors"
local sys = require "support.sys"

local KINDS = { timeout = true, too_large = true, decode = true, tls = true, network = true }

-- The names a source file mentions: "CURLE_X" in Lua, X(NAME) inside the C list.
local function lua_names(text)
  local names = {}
  for name in text:gmatch("CURLE_[%u%d_]+") do names[name] = true end
  return names
end

local function c_list_names(text)
  local names = {}
  local list = assert(text:match("#define CURL_CODES%(X%)(.-)\n/%* clang%-format on %*/"), "no CURL_CODES")
  for name in list:gmatch("X%(([%u%d_]+)%)") do names["CURLE_" .. name] = true end
  return names
end

describe("libcurl's codes by name", function()
  local transport_c = sys.slurp(sys.PROJECT_DIR .. "/csrc/transport.c")
  local errors_lua = sys.slurp(sys.PROJECT_DIR .. "/lua/leadconduit/errors.lua")

  it("core.curl_codes lists distinct names, every one from the C list", function()
    local listed = c_list_names(transport_c)
    local seen = {}
    assert.is_true(#core.curl_codes >= 50, #core.curl_codes .. " names")
    for _, name in ipairs(core.curl_codes) do
      assert.matches("^CURLE_[%u%d_]+$", name)
      assert.is_nil(seen[name], name .. " twice")
      assert.is_true(listed[name], name)
      seen[name] = true
    end
    for _, name in ipairs({ "CURLE_OUT_OF_MEMORY", "CURLE_OPERATION_TIMEDOUT", "CURLE_SSL_CONNECT_ERROR" }) do
      assert.is_true(seen[name], name)
    end
  end)

  it("holds every name errors.lua classifies by (TLS_CODES included)", function()
    local listed = c_list_names(transport_c)
    local used = lua_names(errors_lua)
    local n = 0
    for name in pairs(used) do
      n = n + 1
      assert.is_true(listed[name], name .. " is in errors.lua but not in transport.c's CURL_CODES")
    end
    assert.is_true(n >= 15, n .. " names in errors.lua")
    -- TLS_CODES itself, read where it is written
    local tls = assert(errors_lua:match("local TLS_CODES = (%b{})"), "no TLS_CODES table")
    for name in tls:gmatch("CURLE_[%u%d_]+") do assert.is_true(listed[name], name) end
  end)

  it("every name is classified to a kind, with a one-line message, never a raise", function()
    for _, name in ipairs(core.curl_codes) do
      local kind, message, fields = errors.classify({ curl_code = name, curl_message = "libcurl said so" })
      assert.is_true(KINDS[kind], name .. " -> " .. tostring(kind))
      assert.is_string(message)
      assert.is_boolean(fields.retryable)
    end
    assert.equal("too_large", (errors.classify({ curl_code = "CURLE_OUT_OF_MEMORY", curl_message = "x" })))
  end)
end)
