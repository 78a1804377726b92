-- Specs for leadconduit.decode against Nicolas Seriot's JSONTestSuite, used in place from
-- ../shared/conformance where it is there (spec/support/shared.lua): y_ accepted, n_ rejected,
-- i_ answered as pinned below, and the test_transform files decoded to the values we chose
-- (documented in README.md). Our own corpus, which always runs, is spec/rfc8259_spec.lua.
local leadconduit = require "leadconduit"
local shared = require "support.shared"
local sys = require "support.sys"
local decode = leadconduit.decode

local suite_dir = shared.DIR .. "/conformance/JSONTestSuite"
local transform_dir = shared.DIR .. "/conformance/JSONTestSuite-transform"
local has_integers = math.type ~= nil

local read = sys.slurp

local function list(dir)
  return sys.list_files(dir, ".json")
end

-- What we answer for each implementation-defined i_ file: true = accepted.
-- Numbers are always accepted (huge -> +-math.huge, tiny -> 0, big integers -> floats);
-- anything that is not valid UTF-8 or has a lone surrogate, and a BOM, is rejected.
local implementation_defined = {
  i_number_double_huge_neg_exp = true,
  i_number_huge_exp = true,
  i_number_neg_int_huge_exp = true,
  i_number_pos_double_huge_exp = true,
  i_number_real_neg_overflow = true,
  i_number_real_pos_overflow = true,
  i_number_real_underflow = true,
  i_number_too_big_neg_int = true,
  i_number_too_big_pos_int = true,
  i_number_very_big_negative_int = true,
  i_object_key_lone_2nd_surrogate = false,
  i_string_1st_surrogate_but_2nd_missing = false,
  i_string_1st_valid_surrogate_2nd_invalid = false,
  ["i_string_UTF-16LE_with_BOM"] = false,
  ["i_string_UTF-8_invalid_sequence"] = false,
  ["i_string_UTF8_surrogate_U+D800"] = false,
  i_string_incomplete_surrogate_and_escape_valid = false,
  i_string_incomplete_surrogate_pair = false,
  i_string_incomplete_surrogates_escape_valid = false,
  i_string_invalid_lonely_surrogate = false,
  i_string_invalid_surrogate = false,
  ["i_string_invalid_utf-8"] = false,
  ["i_string_inverted_surrogates_U+1D11E"] = false,
  i_string_iso_latin_1 = false,
  i_string_lone_second_surrogate = false,
  i_string_lone_utf8_continuation_byte = false,
  i_string_not_in_unicode_range = false,
  i_string_overlong_sequence_2_bytes = false,
  i_string_overlong_sequence_6_bytes = false,
  i_string_overlong_sequence_6_bytes_null = false,
  ["i_string_truncated-utf-8"] = false,
  i_string_utf16BE_no_BOM = false,
  i_string_utf16LE_no_BOM = false,
  i_structure_500_nested_arrays = true,
  ["i_structure_UTF-8_BOM_empty_object"] = false,
}

local function is_negative_zero(x)
  return x == 0 and 1 / x < 0
end

local function kind(x)
  return has_integers and math.type(x) or "float"
end

-- Defined only where the files are there; spec/shared_data_spec.lua says when they are not.
describe("JSONTestSuite", function()
  if not shared.files("conformance/JSONTestSuite", ".json") then return end
  it("accepts every y_ file", function()
    local n = 0
    for _, name in ipairs(list(suite_dir)) do
      if name:sub(1, 2) == "y_" then
        n = n + 1
        local value, err = decode(read(suite_dir .. "/" .. name))
        assert(value ~= nil, name .. ": " .. tostring(err))
      end
    end
    assert.is_true(n >= 95)
  end)

  it("rejects every n_ file with a positioned message", function()
    local n = 0
    for _, name in ipairs(list(suite_dir)) do
      if name:sub(1, 2) == "n_" then
        n = n + 1
        local ok, value, err = pcall(decode, read(suite_dir .. "/" .. name))
        assert(ok, name .. " raised: " .. tostring(value))
        assert(value == nil, name .. " was accepted")
        local shape = "^leadconduit%.decode: .+ at byte %d+ %(line %d+, column %d+%)$"
        assert(err:match(shape), name .. ": " .. err)
      end
    end
    assert.is_true(n >= 180)
  end)

  it("answers every i_ file as pinned, without raising", function()
    local seen = 0
    for _, name in ipairs(list(suite_dir)) do
      if name:sub(1, 2) == "i_" then
        local key = name:gsub("%.json$", "")
        local expected = implementation_defined[key]
        assert(expected ~= nil, "no decision pinned for " .. name)
        local ok, value = pcall(decode, read(suite_dir .. "/" .. name))
        assert(ok, name .. " raised: " .. tostring(value))
        assert(expected == (value ~= nil), name .. (expected and " was rejected" or " was accepted"))
        seen = seen + 1
      end
    end
    assert.are.equal(35, seen)
  end)

  it("decodes the huge and tiny i_number files to infinities, floats and zeros", function()
    local function first(name)
      return decode(read(suite_dir .. "/" .. name .. ".json"))[1]
    end
    assert.are.equal(math.huge, first("i_number_huge_exp"))
    assert.are.equal(math.huge, first("i_number_pos_double_huge_exp"))
    assert.are.equal(-math.huge, first("i_number_neg_int_huge_exp"))
    assert.are.equal(-math.huge, first("i_number_real_neg_overflow"))
    assert.are.equal(math.huge, first("i_number_real_pos_overflow"))
    assert.are.equal(0, first("i_number_real_underflow"))
    assert.are.equal(0, first("i_number_double_huge_neg_exp"))
    assert.are.equal(tonumber("-123123123123123123123123123123"), first("i_number_too_big_neg_int"))
    assert.are.equal(1e20, first("i_number_too_big_pos_int"))
    assert.are.equal("float", kind(first("i_number_very_big_negative_int")))
  end)
end)

describe("JSONTestSuite transform cases", function()
  if not shared.files("conformance/JSONTestSuite-transform", ".json") then return end
  local function value_of(name)
    return decode(read(transform_dir .. "/" .. name .. ".json"))
  end

  it("pins the integer boundary: integers inside lua_Integer, floats outside", function()
    local max, min = value_of("number_9223372036854775807")[1], value_of("number_-9223372036854775808")[1]
    if has_integers then
      assert.are.equal(math.maxinteger, max)
      assert.are.equal(math.mininteger, min)
      assert.are.equal("integer", math.type(max))
    else
      assert.are.equal(2 ^ 63, max)
      assert.are.equal(-2 ^ 63, min)
    end
    assert.are.equal(2 ^ 63, value_of("number_9223372036854775808")[1])
    assert.are.equal("float", kind(value_of("number_9223372036854775808")[1]))
    assert.are.equal(-2 ^ 63, value_of("number_-9223372036854775809")[1])
    assert.are.equal("float", kind(value_of("number_-9223372036854775809")[1]))
    assert.are.equal(1e19, value_of("number_10000000000000000999")[1])
    assert.are.equal(1e15, value_of("number_1000000000000000")[1])
    assert.are.equal(has_integers and "integer" or "float", kind(value_of("number_1000000000000000")[1]))
  end)

  it("pins fractions and exponents as floats, correctly rounded", function()
    assert.are.equal("float", kind(value_of("number_1.0")[1]))
    assert.are.equal(1.0, value_of("number_1.0")[1])
    assert.are.equal(1.0, value_of("number_1.000000000000000005")[1])
    assert.are.equal(1e6, value_of("number_1e6")[1])
    assert.are.equal("float", kind(value_of("number_1e6")[1]))
    local tiny = value_of("number_1e-999")[1]
    assert.are.equal(0, tiny)
    assert.is_false(is_negative_zero(tiny))
  end)

  it("keeps the last value of a duplicated key, -0 included", function()
    assert.are.same({ a = 2 }, value_of("object_same_key_different_values"))
    assert.are.same({ a = 1 }, value_of("object_same_key_same_value"))
    assert.is_true(is_negative_zero(value_of("object_same_key_unclear_values").a))
  end)

  it("keeps NFC and NFD keys apart, byte for byte", function()
    for _, name in ipairs { "object_key_nfc_nfd", "object_key_nfd_nfc" } do
      local v = value_of(name)
      assert.are.equal("NFC", v["\195\169"])
      assert.are.equal("NFD", v["e\204\129"])
    end
  end)

  it("keeps an escaped NUL and rejects invalid code points", function()
    assert.are.equal("A\0B", value_of("string_with_escaped_NULL")[1])
    for _, name in ipairs { "string_1_escaped_invalid_codepoint", "string_2_escaped_invalid_codepoints",
      "string_3_escaped_invalid_codepoints" } do
      local v, err = value_of(name)
      assert.is_nil(v, name)
      assert.matches("lone surrogate in \\u escape at byte 3 ", err)
    end
    for _, name in ipairs { "string_1_invalid_codepoint", "string_2_invalid_codepoints",
      "string_3_invalid_codepoints" } do
      local v, err = value_of(name)
      assert.is_nil(v, name)
      assert.matches("invalid UTF%-8 in string at byte 3 ", err)
    end
  end)
end)
