-- Specs for leadconduit.decode (csrc/decode.c, csrc/string_cache.c, csrc/number.c): JSON text to Lua values.
local leadconduit = require "leadconduit"
local collector = require "support.collector"
local park_miller = require "support.park_miller"
local first_invalid_utf8 = require "support.utf8_oracle".first_invalid
local decode = leadconduit.decode

-- Lua 5.3+ has integers; 5.1 and LuaJIT only doubles.
local has_integers = math.type ~= nil

local function is_negative_zero(x)
  return x == 0 and 1 / x < 0
end

local function number_kind(x)
  return has_integers and math.type(x) or "float"
end

local function decode_error(text, opts)
  local value, err = decode(text, opts)
  assert.is_nil(value, "expected an error for " .. string.format("%q", text))
  assert.is_string(err)
  return err
end

describe("decode", function()
  describe("values", function()
    it("turns objects into tables and arrays into sequences carrying array_mt", function()
      local v = decode('{"a": [1, 2, 3], "b": {"c": "d"}, "e": []}')
      assert.are.same({ 1, 2, 3 }, v.a)
      assert.are.equal(leadconduit.array_mt, getmetatable(v.a))
      assert.are.equal(leadconduit.array_mt, getmetatable(v.e))
      assert.is_nil(getmetatable(v))
      assert.is_nil(getmetatable(v.b))
      assert.are.equal("d", v.b.c)
      assert.are.equal(0, #v.e)
    end)

    it("tells an empty array from an empty object", function()
      assert.are.equal(leadconduit.array_mt, getmetatable(decode("[]")))
      assert.is_nil(getmetatable(decode("{}")))
    end)

    it("decodes null as leadconduit.null and keeps it in arrays and objects", function()
      assert.are.equal(leadconduit.null, decode("null"))
      assert.are.equal("userdata", type(leadconduit.null))
      local v = decode('[null, 1, null]')
      assert.are.equal(3, #v)
      assert.are.equal(leadconduit.null, v[1])
      assert.are.equal(leadconduit.null, v[3])
      assert.are.equal(leadconduit.null, decode('{"k": null}').k)
    end)

    it("uses the same null as lua-cjson", function()
      local ok, cjson = pcall(require, "cjson")
      if not ok then
        pending("lua-cjson is not installed for this interpreter")
        return
      end
      assert.are.equal(cjson.null, decode("null"))
    end)

    it("decodes true and false as booleans", function()
      assert.are.same({ true, false }, decode("[true,false]"))
    end)

    it("accepts any scalar as the whole text, with surrounding whitespace", function()
      assert.are.equal("x", decode(' \t\r\n"x"\n '))
      assert.are.equal(12, decode(" 12 "))
      assert.are.equal(true, decode("true"))
    end)

    -- A newline and an indentation of spaces take a path of their own (scan.h); every other
    -- whitespace byte after the spaces, at any offset in a 16-byte block, must still be skipped.
    it("skips a newline's indentation of any length, and any whitespace after it", function()
      for spaces = 0, 40 do
        local indent = "\n" .. (" "):rep(spaces)
        for _, after in ipairs({ "", "\t", "\r\n", "\n", "\n  \t ", (" \t"):rep(9) }) do
          local gap = indent .. after
          local doc = decode("{" .. gap .. '"a"' .. gap .. ":" .. gap .. "[" .. gap .. "1" .. gap .. ","
            .. gap .. "2" .. gap .. "]" .. gap .. "}" .. gap)
          assert.are.same({ a = { 1, 2 } }, doc)
          local value, err = decode("[1," .. gap .. "\1]")
          assert.is_nil(value)
          assert.matches("unexpected byte 0x01 at byte " .. (4 + #gap) .. " ", err, 1, true)
        end
      end
    end)

    it("keeps the last value of a duplicated key", function()
      assert.are.equal(2, decode('{"a":1,"a":2}').a)
    end)

    it("keeps large arrays and objects complete and in order", function()
      local parts, pairs_ = {}, {}
      for i = 1, 200000 do
        parts[i] = tostring(i)
      end
      for i = 1, 70000 do
        pairs_[i] = string.format('"k%d":%d', i, i)
      end
      local arr = decode("[" .. table.concat(parts, ",") .. "]")
      assert.are.equal(200000, #arr)
      for i = 1, 200000 do
        if arr[i] ~= i then
          assert.are.equal(i, arr[i])
        end
      end
      local obj = decode("{" .. table.concat(pairs_, ",") .. "}")
      local n = 0
      for k, v in pairs(obj) do
        n = n + 1
        assert.are.equal("k" .. v, k)
      end
      assert.are.equal(70000, n)
    end)

    it("keeps every item of wide containers nested inside wide containers", function()
      local rows = {}
      for r = 1, 300 do
        local cells = {}
        for c = 1, 300 do
          cells[c] = string.format('{"r":%d,"c":%d}', r, c)
        end
        rows[r] = "[" .. table.concat(cells, ",") .. "]"
      end
      local v = decode("[" .. table.concat(rows, ",") .. "]")
      assert.are.equal(300, #v)
      for r = 1, 300 do
        assert.are.equal(300, #v[r])
        assert.are.same({ r = r, c = 300 }, v[r][300])
        assert.are.same({ r = r, c = 1 }, v[r][1])
      end
    end)
  end)

  describe("numbers", function()
    it("is correctly rounded however long the literal: the exponent never stops counting", function()
      local zeros = ("0"):rep(199999)
      assert.are.equal(0.0, decode("1" .. zeros .. "e-2000000"))
      assert.are.equal(math.huge, decode("0." .. zeros .. "1e2000000"))
      assert.are.equal(-math.huge, decode("-1" .. zeros .. "e-100000")) -- 10^99999
      assert.are.equal(1.0, decode("1" .. zeros .. "e-199999"))
      assert.are.equal(1.0, decode("0." .. zeros .. "1e200000"))
      assert.are.equal(12.5, decode("125" .. zeros .. "e-200000"))
      local neg_zero = decode("-0." .. zeros .. "1e-2000000")
      assert.are.equal(0, neg_zero)
      assert.are.equal(-math.huge, 1 / neg_zero)
      assert.are.equal(math.huge, decode("1e99999999999999999999999999"))
      assert.are.equal(0.0, decode("1e-99999999999999999999999999"))
    end)

    it("decodes integer literals as integers", function()
      assert.are.equal(42, decode("42"))
      assert.are.equal("integer", has_integers and math.type(decode("42")) or "integer")
      assert.are.equal(-7, decode("-7"))
      assert.are.equal(0, decode("0"))
    end)

    -- Integers of up to 9 digits are read inline (csrc/number.h), longer ones and every other
    -- literal by number.c: around the boundary, and with what may follow a number; with 8 bytes
    -- or more left from the number's start (read as one word) and with fewer (a digit at a time).
    it("reads integers of up to 9 digits and the literals that start like them alike", function()
      for _, case in ipairs({
        { "7", 7 }, { "0", 0 }, { "123456789", 123456789 }, { "999999999", 999999999 },
        { "1234567890", 1234567890 }, { "9999999999", 9999999999 }, { "12345678901", 12345678901 },
        { "12.5", 12.5 },
        { "12e3", 12e3 }, { "12E3", 12e3 }, { "0.5", 0.5 }, { "0e1", 0.0 }, { "-12", -12 },
        { "123456789.5", 123456789.5 }, { "999999999e0", 999999999.0 },
      }) do
        local text, want = case[1], case[2]
        for _, wrapped in ipairs({ "%s", "[%s]", "[%s,1]", '{"a":%s}', " %s ", "[%s\n]", "[%s,        1]",
          "%s         ", '{"a":%s,"b":"........"}' }) do
          local got = decode(wrapped:format(text))
          if type(got) == "table" then got = got[1] or got.a end
          assert.are.equal(want, got, wrapped:format(text))
          if has_integers then
            assert.are.equal(math.type(want), math.type(got), wrapped:format(text))
          end
        end
      end
      for _, bad in ipairs({ "01", "1.", "1e", "12x", "[01]", "[1 2]", "00", "1-", "00000001",
        "0123456789" }) do
        assert.is_nil((decode(bad)), bad)
        assert.is_nil((decode(bad .. "         ")), bad .. " and spaces")
      end
    end)

    it("keeps the integer range exact (Lua 5.3+), or rounds it to doubles (5.1, LuaJIT)", function()
      if not has_integers then
        assert.are.equal(2 ^ 63, decode("9223372036854775807"))
        assert.are.equal(-2 ^ 63, decode("-9223372036854775808"))
        assert.are.equal(2 ^ 53, decode("9007199254740993"))
        return
      end
      assert.are.equal(math.maxinteger, decode("9223372036854775807"))
      assert.are.equal(math.mininteger, decode("-9223372036854775808"))
      assert.are.equal("integer", math.type(decode("-9223372036854775808")))
      assert.are.equal(9007199254740993, decode("9007199254740993"))
    end)

    it("turns integers beyond lua_Integer into correctly rounded floats, never clamped", function()
      local v = decode("9223372036854775808")
      assert.are.equal("float", number_kind(v))
      assert.are.equal(2 ^ 63, v)
      assert.are.equal(-2 ^ 63 - 2048, decode("-9223372036854777856"))
      assert.are.equal(1e19, decode("10000000000000000999"))
      assert.are.equal(1e30, decode("1000000000000000000000000000000"))
    end)

    it("decodes fractions and exponents as floats", function()
      assert.are.equal("float", number_kind(decode("1.0")))
      assert.are.equal(1.0, decode("1.0"))
      assert.are.equal("float", number_kind(decode("1e6")))
      assert.are.equal(1e6, decode("1E6"))
      assert.are.equal(1500, decode("1.5e3"))
      assert.are.equal(0.015, decode("1.5E-2"))
      assert.are.equal(150, decode("1.5e+2"))
      assert.are.equal(-0.5, decode("-0.5"))
    end)

    it("keeps the sign of -0 as -0.0", function()
      assert.is_true(is_negative_zero(decode("-0")))
      assert.is_true(is_negative_zero(decode("-0.0")))
      assert.is_true(is_negative_zero(decode("-0e5")))
      assert.are.equal("float", number_kind(decode("-0")))
      assert.is_false(is_negative_zero(decode("0")))
    end)

    it("rounds decimal literals correctly (same double as the C library)", function()
      local cases = {
        "0.1", "0.3", "1e23", "8.98846567431158e307", "2.2250738585072011e-308",
        "4.9e-324", "2.4703282292062327e-324", "1.7976931348623157e308",
        "9007199254740993.0", "9007199254740995e0", "-65.613616999999977",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.000000000000000005", "123456789012345678901234567890e-20",
        "0.000000000000000000000000000001234567890123456789",
        -- leading zeros of a fraction are not significant digits: 1e307, not infinity
        "0.0000000000000000001e326", "0.0000000000000000012e-300", "-0.00000000000000000001e330",
      }
      for _, s in ipairs(cases) do
        assert.are.equal(tonumber(s), decode(s), s)
      end
    end)

    it("rounds random decimal literals exactly like tonumber", function()
      local rand, digits = park_miller.new(12345) -- the same cases on every interpreter
      for _ = 1, 20000 do
        local s = tostring(rand(9) + 1) .. digits(rand(18)) .. "." .. digits(rand(20) + 1)
        if rand(2) == 1 then
          s = s .. "e" .. tostring(rand(80) - 40)
        end
        if tonumber(s) ~= decode(s) then
          assert.are.equal(tonumber(s), decode(s), s)
        end
      end
    end)

    -- number.c reads a run of digits 8 bytes at a time while 8 bytes are left, and the rest one
    -- by one: every length of integer part and fraction, at the end of the text and before each
    -- byte that may end a run, the bytes from 0xFA up (whose carry the digit test must not see)
    -- included.
    it("reads runs of digits of every length, whatever ends them", function()
      local rand, digits = park_miller.new(777)
      for int_len = 0, 21 do -- 0: the integer part is "0", and the fraction may start with zeros
        for frac_len = 0, 21 do
          local s = int_len == 0 and "0" or tostring(rand(9) + 1) .. digits(int_len - 1)
          if frac_len > 0 then
            s = s .. "." .. (int_len == 0 and ("0"):rep(rand(3)) or "") .. digits(frac_len)
          end
          local want = tonumber(s)
          for _, wrapped in ipairs({ "%s", "[%s]", "[%s,1]", "[%s ]", "%se1", "-%s" }) do
            local text = wrapped:format(s)
            local got = decode(text)
            if type(got) == "table" then got = got[1] end
            local expected = wrapped == "%se1" and tonumber(s .. "e1") or wrapped == "-%s" and -want or want
            assert.are.equal(expected, got, text)
          end
          for _, stop in ipairs({ "\250", "\255", "/", ":", "x" }) do
            assert.is_nil((decode(s .. stop .. "        ")), s .. stop)
          end
        end
      end
    end)

    it("decodes a literal too large for a double as math.huge, and a tiny one as 0", function()
      assert.are.equal(math.huge, decode("1e400"))
      assert.are.equal(-math.huge, decode("-1e400"))
      assert.are.equal(math.huge, decode("123123e100000"))
      assert.are.equal(0, decode("1e-400"))
      assert.is_true(is_negative_zero(decode("-1e-400")))
      assert.are.equal(0, decode("0e99999999999999999999"))
    end)

    it("does not depend on the process locale", function()
      local old = os.setlocale(nil, "numeric")
      local changed = os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("fr_FR.UTF-8", "numeric")
      local ok, v = pcall(decode, "[1.5, 1.000000000000000005, 3.14159265358979323846264]")
      os.setlocale(old, "numeric")
      assert.is_true(ok)
      assert.are.same({ 1.5, 1.0, 3.141592653589793 }, v)
      -- Without a comma-decimal locale installed this checks the C locale only.
      assert.is_true(changed == nil or type(changed) == "string")
    end)
  end)

  describe("strings", function()
    it("decodes the simple escapes", function()
      assert.are.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
    end)

    it("decodes \\u escapes to UTF-8", function()
      assert.are.equal("A", decode([["\u0041"]]))
      assert.are.equal("\195\169", decode([["\u00e9"]]))
      assert.are.equal("\226\130\172", decode([["\u20AC"]]))
      assert.are.equal("\239\191\191", decode([["\uFFFF"]]))
    end)

    it("joins surrogate pairs into one 4-byte UTF-8 character", function()
      assert.are.equal("\240\159\152\128", decode([["\uD83D\uDE00"]]))
      assert.are.equal("\244\143\191\191", decode([["\uDBFF\uDFFF"]]))
    end)

    it("keeps an escaped NUL inside the string", function()
      assert.are.equal("A\0B", decode([["A\u0000B"]]))
    end)

    it("passes valid UTF-8 through unchanged", function()
      local s = "caf\195\169 \230\151\165\230\156\172 \240\159\152\128"
      assert.are.equal(s, decode('"' .. s .. '"'))
      assert.are.equal(s .. "\n", decode('"' .. s .. '\\n"'))
    end)

    it("decodes long strings with escapes far from the start", function()
      local s = string.rep("abcdefgh", 1000)
      assert.are.equal(s .. "\n" .. s, decode('"' .. s .. "\\n" .. s .. '"'))
    end)

    it("decodes object keys like other strings", function()
      assert.are.equal(1, decode([[{"\u00e9t\u00e9": 1}]])["\195\169t\195\169"])
    end)

    -- The key cache (csrc/string_cache.h) compares a key's length and its first and last 8 bytes before
    -- the rest: these keys share those and differ in between, or differ in one byte only, recur
    -- across objects, and come in every length around its limit (40 bytes).
    local function near_repeated_keys()
      local keys = { "", "k", "kk" }
      for i = 0, 299 do keys[#keys + 1] = ("a%03dmid%03dz"):format(i, 299 - i) end
      for len = 17, 40 do
        for _, middle in ipairs({ "m", "n" }) do
          keys[#keys + 1] = "headhead" .. middle:rep(len - 16) .. "tailtail"
        end
      end
      for len = 1, 16 do
        for at = 1, len do
          keys[#keys + 1] = ("q"):rep(at - 1) .. "r" .. ("q"):rep(len - at)
        end
      end
      -- one byte different between the first and last 8, in lengths at the words' edges
      for _, len in ipairs({ 17, 23, 24, 25, 31, 32, 33, 39, 40 }) do
        keys[#keys + 1] = ("p"):rep(len)
        for at = 9, len - 8 do
          keys[#keys + 1] = ("p"):rep(at - 1) .. "o" .. ("p"):rep(len - at)
        end
      end
      for len = 38, 42 do
        keys[#keys + 1] = ("x"):rep(len)
        keys[#keys + 1] = ("x"):rep(len - 1) .. "y"
      end
      return keys
    end

    -- n objects of the given keys, each in another order, as JSON texts and the tables expected.
    local function objects_of(keys, n, salt)
      local escaped = [[esc\\aped]] -- JSON for the key esc\aped
      local all = { escaped }
      for i = 1, #keys do all[#all + 1] = keys[i] end
      local texts, expected = {}, {}
      for o = 1, n do
        local fields, want = {}, {}
        for i = 1, #all do
          local k = all[(i * o + salt) % #all + 1]
          fields[#fields + 1] = ('"%s":%d'):format(k, i + salt)
          want[k == escaped and [[esc\aped]] or k] = i + salt
        end
        texts[o] = "{" .. table.concat(fields, ",") .. "}"
        expected[o] = want
      end
      return texts, expected
    end

    it("decodes repeated and near-repeated keys to themselves, across objects", function()
      local texts, expected = objects_of(near_repeated_keys(), 40, 0)
      local got = assert(decode("[" .. table.concat(texts, ",") .. "]"))
      for n = 1, #expected do
        assert.same(expected[n], setmetatable(got[n], nil))
      end
      for n = 1, 3 do -- one object alone: a text too short for this call's own copies
        assert.same(expected[n], decode(texts[n]))
      end
      assert.same({ ab = 2, ba = 3, a = { ab = 4 } }, decode('{"ab":1,"ba":3,"a":{"ab":4},"ab":2}'))
    end)

    -- The cache outlives the call: a text finds the keys of the texts before it where they were
    -- left, or other keys in their place once more than the cache holds have come by.
    it("keeps keys from call to call, and texts with other keys in their place decode right", function()
      local keys = near_repeated_keys()
      local others = {}
      for i = 1, 600 do others[i] = ("other_key_%d"):format(i) end
      local texts, expected = objects_of(keys, 4, 0)
      local other_texts, other_expected = objects_of(others, 4, 7)
      for round = 1, 3 do
        for n = 1, #texts do
          assert.same(expected[n], decode(texts[n]), "round " .. round)
          assert.same(other_expected[n], decode(other_texts[n]), "round " .. round)
          assert.same({ k = round, kk = { k = n } }, decode(('{"k":%d,"kk":{"k":%d}}'):format(round, n)))
        end
      end
    end)

    -- Memory in use (KB) after decoding text_of(from) .. text_of(to) and collecting. A collection
    -- every 20 texts keeps as many strings alive at most in every run, so that Lua's own string
    -- table is as large at the end of one run as of the next (it grows by doubling, 64 KB at once).
    local function kb_after_decoding(text_of, from, to)
      for n = from, to do
        decode(text_of(n))
        if n % 20 == 0 then collectgarbage("collect") end
      end
      collectgarbage("collect")
      collectgarbage("collect")
      return collectgarbage("count")
    end

    it("keeps a bounded number of keys alive between calls, and no values", function()
      local function text_of(n)
        local fields = {}
        for i = 1, 500 do
          fields[i] = ('"key_%06d_%03d_padding_to_forty_bytes":"value_%06d_%03d"'):format(n, i, n, i)
        end
        return "{" .. table.concat(fields, ",") .. "}"
      end
      -- The first 40 texts fill the cache (and grow Lua's own string table); the next 40, with
      -- 20,000 other keys and values of 37 and 16 bytes, about 1.5 MB of strings, leave nothing.
      local before = kb_after_decoding(text_of, 1, 40)
      local after = kb_after_decoding(text_of, 41, 80)
      assert.is_true(after - before < 4, ("%.1f KB more after the decodes"):format(after - before))
    end)

    -- An object whose keys all come from the key cache, from distinct slots and with nothing
    -- stored into the cache meanwhile, goes into its table last pair first (csrc/string_cache.h,
    -- invariant 4); any other object first to last. Both keep the last value of a key given
    -- twice. These objects have 1 to 12 keys of up to 40 bytes and no escapes: in a text decoded
    -- again, all of them hit the cache; in every other one a key is given twice.
    local function small_objects(keys, salt)
      local cacheable = {}
      for _, k in ipairs(keys) do
        if #k >= 1 and #k <= 40 then cacheable[#cacheable + 1] = k end
      end
      local texts, expected, at, o = {}, {}, 1, 0
      while at <= #cacheable do
        o = o + 1
        local per = (o * 7 + salt) % 12 + 1
        local group = {}
        for i = at, math.min(at + per - 1, #cacheable) do group[#group + 1] = cacheable[i] end
        at = at + per
        local order = {}
        for i = 1, #group do order[i] = group[i] end
        if o % 2 == 0 then -- a key again, after one of the others or at the end
          table.insert(order, (o + salt) % #order + 2, group[(o * 3) % #group + 1])
        end
        local fields, want = {}, {}
        for i, k in ipairs(order) do
          fields[i] = ('"%s":%d'):format(k, i + salt)
          want[k] = i + salt -- the last value of a key wins
        end
        texts[o] = "{" .. table.concat(fields, ",") .. "}"
        expected[o] = want
      end
      return texts, expected
    end

    it("keeps the last value of a key given twice, whether its keys come from the cache or not",
      function()
        local texts, expected = small_objects(near_repeated_keys(), 0)
        assert.is_true(#texts > 50)
        local text = "[" .. table.concat(texts, ",") .. "]"
        for round = 1, 3 do -- the first decode stores most keys into the cache, the next ones hit
          local got = decode(text)
          for n = 1, #expected do
            assert.same(expected[n], got[n], ("round %d, object %d"):format(round, n))
          end
          for n = 1, 6 do -- and alone: texts too short for a call's own copies of the keys
            assert.same(expected[n], decode(texts[n]), ("round %d, object %d"):format(round, n))
          end
        end
        -- a key again after an object with the same key, and after other keys enough to move it
        -- out of the cache and back, in another slot
        local others = {}
        for i = 1, 600 do others[#others + 1] = ('"filler_%d":%d'):format(i, i) end
        local long = ("x"):rep(41) -- longer than the cache keeps
        for round = 1, 3 do
          assert.same({ ab = 2, ba = 3, a = { ab = 4, ba = 5 } },
            decode('{"ab":1,"ba":3,"a":{"ab":4,"ba":5},"ab":2}'), "round " .. round)
          -- keys that do not come from the cache, given twice among keys that do
          assert.same({ [long] = 3, ab = 2 }, decode(('{"%s":1,"ab":2,"%s":3}'):format(long, long)))
          assert.same({ [""] = 3, ab = 2 }, decode('{"":1,"ab":2,"":3}'))
          assert.same({ ab = 3, ba = 2 }, decode('{"a\\u0062":1,"ba":2,"ab":3}'))
          assert.same({ ab = 3, ba = 2 }, decode('{"ab":1,"ba":2,"a\\u0062":3}'))
          local fields, want = {}, {}
          for i = 1, 20 do
            local k = ("twice_%d"):format(i)
            fields[#fields + 1] = ('"%s":1'):format(k)
            want[k] = 2
          end
          for i = 1, 600 do want["filler_" .. i] = i end
          local t = decode("{" .. table.concat(fields, ",") .. "," .. table.concat(others, ",") .. ","
            .. table.concat(fields, ","):gsub(":1", ":2") .. "}")
          assert.same(want, t, "round " .. round)
        end
      end)

    -- A text under 4 KB also keeps the string values it has pushed, for the length of the call,
    -- and pushes a value seen before as a saved copy: the same compares as the keys'.
    local function arrays_of(values, per_text)
      local texts, expected = {}, {}
      local n = 0
      while n < #values do
        local items, want = {}, {}
        for i = 1, per_text do
          -- each value twice and its neighbours in between, so that each is met again
          local v = values[(n + i - 1) % #values + 1]
          items[#items + 1] = ('"%s"'):format(v)
          want[#want + 1] = v
        end
        for i = per_text, 1, -1 do
          items[#items + 1] = items[i]
          want[#want + 1] = want[i]
        end
        texts[#texts + 1] = "[" .. table.concat(items, ",") .. "]"
        expected[#expected + 1] = want
        n = n + per_text
      end
      return texts, expected
    end

    it("decodes repeated and near-repeated string values to themselves, in small texts", function()
      local texts, expected = arrays_of(near_repeated_keys(), 40)
      for n = 1, #texts do
        assert.is_true(#texts[n] < 4096, "a text too long for the value cache")
        assert.same(expected[n], setmetatable(decode(texts[n]), nil))
      end
      -- the same strings as keys and as values, and values that are keys elsewhere
      assert.same({ id = "id", name = { "id", "name", "id" }, x = "name" },
        decode('{"id":"id","name":["id","name","id"],"x":"name"}'))
      -- values of every length around the cache's limit, and escaped ones, which it does not keep
      local v40, v41 = ("v"):rep(40), ("v"):rep(41)
      assert.same({ v40, v41, v40, "a\nb", "a\nb", "", "" },
        decode(('["%s","%s","%s","a\\nb","a\\nb","",""]'):format(v40, v41, v40)))
    end)

    it("keeps no string value alive after the call that decoded it", function()
      local function text_of(n)
        local items = {}
        for i = 1, 60 do
          items[i] = ('"value_%06d_%03d_padding_to_forty_byte"'):format(n, i)
        end
        return "[" .. table.concat(items, ",") .. "]"
      end
      assert.is_true(#text_of(1) < 4096, "a text too long for the value cache")
      -- 24,000 values of 40 bytes, about 1.5 MB of strings, leave nothing once collected
      local before = kb_after_decoding(text_of, 1, 400)
      local after = kb_after_decoding(text_of, 401, 800)
      assert.is_true(after - before < 4, ("%.1f KB more after the decodes"):format(after - before))
    end)

    -- The collector set to run all the time, with garbage whose finalizers keep running (each
    -- leaves the next behind) and call fn(n) for the n-th that runs while state.decoding is set.
    -- With `whole`, a whole cycle at each allocation instead, and a queue of such garbage, one
    -- finalizer a cycle, that allocates nothing but what fn does. state.stop() disarms them and
    -- sets the collector back.
    local function finalizers_calling(fn, whole)
      local state = { decoding = false, during = 0 }
      local armed = true
      local function call()
        if not (armed and state.decoding) then return end
        state.during = state.during + 1
        fn(state.during)
      end
      local function chain()
        collector.garbage_with_finalizer(function()
          if not armed then return end
          chain()
          call()
        end)
      end
      function state.stop()
        armed = false
        state.start_queue = nil -- the queue's garbage now, all of it
        collector.normally()
      end
      if whole then
        state.start_queue = collector.finalizer_queue(1000, call) -- which keeps it
        collector.whole_cycles()
        state.start_queue()
      else
        collector.all_the_time()
        for _ = 1, 4 do chain() end
      end
      return state
    end

    -- Decodes `text`, an array of the items `expected`, over and over until a finalizer of
    -- `state` has run in the middle of a decode (and at least three times), as cycles end: a
    -- small text's decode is short (on Lua 5.2 in the whole suite it took 671). Then stops the
    -- finalizers and checks that one ran during a decode and that every decode gave `expected`.
    local function decodes_right_while_finalizing(state, text, expected)
      local results = {}
      for round = 1, 10000 do
        state.decoding = true
        results[round] = decode(text)
        state.decoding = false
        if state.during > 0 and round >= 3 then break end
      end
      state.stop()
      assert.is_true(state.during > 0, "no finalizer ran during a decode")
      for round = 1, #results do
        for n = 1, #expected do
          assert.same(expected[n], results[round][n])
        end
      end
    end

    -- Decodes `text`, an array of the items `expected`, over and over, collecting all the time,
    -- until a finalizer has run in the middle of a decode and decoded one of nested_texts (arrays
    -- or objects); checks what both decoded.
    local function decode_with_finalizers(text, expected, nested_texts, nested_expected, whole)
      local wrong
      local state = finalizers_calling(function(during)
        local n = during % #nested_texts + 1
        local ok, err = pcall(assert.same, nested_expected[n], setmetatable(decode(nested_texts[n]), nil))
        if not ok then wrong = wrong or err end
      end, whole)
      decodes_right_while_finalizing(state, text, expected)
      assert.is_nil(wrong)
    end

    it("decodes right when a finalizer decodes other keys in the middle of a decode", function()
      local texts, expected = objects_of(near_repeated_keys(), 6, 0)
      -- Keys of its own, which move the outer text's keys out of the cache, and the outer
      -- text's keys, which then come back in other places.
      local mixed = {}
      for i, key in ipairs(near_repeated_keys()) do
        mixed[#mixed + 1] = key
        mixed[#mixed + 1] = ("nested_%d"):format(i)
      end
      local nested_texts, nested_expected = objects_of(mixed, 3, 3)
      -- Lua 5.3's small steps seldom fall in the middle of this decode (12 s of rounds); whole
      -- cycles at each step make a finalizer run there at once. Elsewhere small steps are the
      -- quicker way (whole cycles take 2 s on 5.1 and LuaJIT).
      decode_with_finalizers("[" .. table.concat(texts, ",") .. "]", expected,
        nested_texts, nested_expected, _VERSION == "Lua 5.3")
    end)

    it("keeps the last value of a key given twice when a finalizer decodes in the middle", function()
      local texts, expected = small_objects(near_repeated_keys(), 1)
      local others = {}
      for i = 1, 400 do others[i] = ("stored_by_a_finalizer_%d"):format(i) end
      local nested_texts, nested_expected = small_objects(others, 2)
      decode_with_finalizers("[" .. table.concat(texts, ",") .. "]", expected, nested_texts, nested_expected)
    end)

    it("keeps the last value of a key given twice when a finalizer stores the same keys in the middle",
      function()
        -- the nested decodes store the keys the outer one is storing, in other orders: a key must
        -- still have one slot, however it is found (its set, or the key that came after the last)
        local texts, expected = small_objects(near_repeated_keys(), 1)
        local nested_texts, nested_expected = small_objects(near_repeated_keys(), 2)
        decode_with_finalizers("[" .. table.concat(texts, ",") .. "]", expected, nested_texts,
          nested_expected)
      end)

    it("stores a key once when a finalizer stores it while the decode does", function()
      -- A fresh key misses the key cache and is pushed, which may run a finalizer that decodes the
      -- same key and stores it first. Stored twice, it would have two slots, A by the finalizer and
      -- B by the decode, and a later object that finds it once in each would look as if its keys
      -- were distinct, and keep the first of its two values.
      --
      -- A whole collection at each allocation runs a finalizer at each: the decode's first
      -- allocations are its fresh keys k1, k2, k3 and their long values, and the finalizer
      -- stores the keys at the first, second or third (by round). Lua 5.2 runs the next
      -- finalizer only about 2.4 KB of allocation after the last: the values (2.6 KB) are long
      -- enough for its steps to fall on the keys too. No key or value exists as a string before
      -- the decode, or its push would allocate nothing (and take no step on Lua 5.4).
      -- Each key k is then checked by an object that finds it after the key it followed in the
      -- decode (whose link leads to B) and after the key q it followed in the finalizer's decode
      -- (whose link leads to A), in the order that leaves each link as it was.
      local run = 3
      local function fresh(round, i) -- 38 bytes
        return ("fresh_key_%02d_%02d_"):format(round, i) .. ("k"):rep(22)
      end
      local q, primed = {}, { '"P":0' }
      for i = 1, run do
        q[i] = "q_" .. i
        primed[i + 1] = ('"%s":0'):format(q[i])
      end
      primed = "{" .. table.concat(primed, ",") .. "}"
      local rounds = {}
      for round = 1, 16 do
        local first, stored, later = { '"P":0' }, {}, {}
        for i = 1, run do
          local key = fresh(round, i)
          first[i + 1] = ('"%s":"%s"'):format(key, key:rep(70))
          stored[i] = ('"%s":0,"%s":1'):format(q[i], key)
          later[run + 1 - i] = ('{"%s":0,"%s":1,"%s":2,"%s":3}'):format(
            i == 1 and "P" or fresh(round, i - 1), key, q[i], key)
        end
        rounds[round] = {
          at = round % 3 + 1, -- the finalizer's call that stores the keys
          text = "[{" .. table.concat(first, ",") .. "}," .. table.concat(later, ",") .. "]",
          stored = "{" .. table.concat(stored, ",") .. "}",
        }
      end
      local this, calls
      local state = finalizers_calling(function()
        calls = calls + 1
        if calls == this.at then decode(this.stored) end
      end, "whole")
      local stored_during, wrong = 0, {}
      for round, r in ipairs(rounds) do
        decode(primed) -- in the cache, so that only the fresh keys miss
        this, calls = r, 0
        state.decoding = true
        local t = decode(r.text)
        state.decoding = false
        if calls >= r.at then stored_during = stored_during + 1 end
        for i = 1, run do
          local key = fresh(round, i)
          if t[run + 2 - i][key] ~= 3 then wrong[#wrong + 1] = key end
        end
      end
      state.stop()
      assert.equal(16, stored_during, "decodes during which a finalizer stored the keys")
      assert.same({}, wrong)
    end)

    it("decodes right when a finalizer decodes other values in the middle of a small text's decode",
      function()
        local values = near_repeated_keys()
        local texts, expected = arrays_of(values, 40)
        local nested_texts, nested_expected = arrays_of(values, 30)
        decode_with_finalizers(texts[2], expected[2], nested_texts, nested_expected)
      end)

    -- Everything the debug library reaches from decode: its upvalues and, for a userdata, its user
    -- value. Clears every string held in a table among them: what Lua code can free.
    local function clear_strings_reachable_from(fn)
      local function clear(t)
        if type(t) ~= "table" then return end
        for k, v in pairs(t) do
          if type(v) == "string" then t[k] = nil end
        end
      end
      for i = 1, math.huge do
        local name, value = debug.getupvalue(fn, i)
        if name == nil then break end
        clear(value)
        if type(value) == "userdata" then
          clear(debug.getuservalue and debug.getuservalue(value, 1) or debug.getfenv(value))
        end
      end
    end

    -- Keys and values made anew after the strings are gone, so that freed memory is reused.
    local function churn()
      local junk = {}
      for i = 1, 2000 do junk[i] = ("%038d"):format(i) end
      return junk
    end

    it("decodes right after Lua code clears what its key cache holds (debug.getupvalue)", function()
      local texts, expected = objects_of(near_repeated_keys(), 3, 0)
      local small = '{"id":"x","name":"y","nested":{"id":1,"name":2}}'
      for _ = 1, 2 do
        for n = 1, #texts do assert.same(expected[n], decode(texts[n])) end
        assert.same({ id = "x", name = "y", nested = { id = 1, name = 2 } }, decode(small))
        clear_strings_reachable_from(decode)
        collectgarbage()
        collectgarbage()
        local junk = churn()
        for n = 1, #texts do assert.same(expected[n], decode(texts[n])) end
        assert.same({ id = "x", name = "y", nested = { id = 1, name = 2 } }, decode(small))
        assert.is_table(junk)
      end
    end)

    it("reads no freed memory when the cache's strings are the only copies Lua code clears", function()
      -- Keys of 17 to 40 bytes that no Lua value holds but the cache's own strings: the text is one
      -- string, and the first decode's value is dropped. Under ASan or valgrind a decoder that still
      -- compared keys with the cleared strings' bytes would read freed memory here.
      local function key_of(i) return ("only_in_the_cache_%03d_%s"):format(i, ("k"):rep(i % 15)) end
      local fields = {}
      for i = 1, 120 do fields[i] = ('"%s":%d'):format(key_of(i), i) end
      local text = "{" .. table.concat(fields, ",") .. "}"
      assert.is_table(decode(text))
      clear_strings_reachable_from(decode)
      collectgarbage()
      collectgarbage()
      local junk = churn()
      local got = decode(text)
      assert.is_table(got)
      for i = 1, 120 do assert.equal(i, got[key_of(i)]) end
      assert.is_table(junk)
    end)

    it("decodes right when a finalizer clears what its key cache holds in the middle of a decode",
      function()
        local texts, expected = objects_of(near_repeated_keys(), 6, 0)
        local text = "[" .. table.concat(texts, ",") .. "]"
        assert.is_table(decode(text)) -- its keys in the cache
        local state = finalizers_calling(function()
          clear_strings_reachable_from(decode)
        end)
        decodes_right_while_finalizing(state, text, expected)
      end)
  end)

  describe("errors", function()
    it("returns nil and a message with byte, line and column", function()
      local v, err = decode('{"a": 1,\n  "b": tru}')
      assert.is_nil(v)
      -- the first byte that is wrong: the "}" where the "e" of true should be
      assert.are.equal("leadconduit.decode: invalid literal at byte 20 (line 2, column 11)", err)
    end)

    it("reports a wrong literal at its first wrong byte, or at the end of the text", function()
      for _, word in ipairs { "true", "false", "null" } do
        for cut = 1, #word - 1 do
          local prefix = word:sub(1, cut)
          assert.matches("unexpected end of input at byte " .. (cut + 2) .. " ", decode_error("[" .. prefix))
          assert.matches("invalid literal at byte " .. (cut + 2) .. " ", decode_error("[" .. prefix .. "]"))
          assert.matches("invalid literal at byte " .. (cut + 2) .. " ",
            decode_error("[" .. prefix .. "X" .. word:sub(cut + 2) .. "]"))
        end
        assert.are.same({ decode(word) }, { decode("[" .. word .. "]")[1] })
        assert.matches("trailing content", decode_error(word .. "s"))
        assert.matches("unexpected character '" .. word:upper():sub(1, 1) .. "' at byte 2 ",
          decode_error("[" .. word:upper() .. "]"))
      end
    end)

    it("reports the end of the text for truncated input", function()
      assert.are.equal("leadconduit.decode: unexpected end of input at byte 9 (line 1, column 9)",
        decode_error('{"a": [1'))
      assert.are.equal("leadconduit.decode: unexpected end of input at byte 1 (line 1, column 1)",
        decode_error(""))
      assert.matches("unterminated string at byte 5 ", decode_error('["ab'))
    end)

    -- The parser finds the end of the text by the NUL byte after it (csrc/decode.c, parse), so
    -- the end and a NUL byte in the text must still be told apart, at every place a text can stop.
    it("tells the end of the text from a NUL byte in it, at every byte of a document", function()
      local docs = {
        '{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n\\"y"],"b":{},"c":[],"d":{"e":"f"}}',
        '{ "a" : [ 1 , -2.5e3 , true , false , null , "x\\u00e9\\n" ] , "b" : { } , "c" : [ ] }',
        '{\n  "a": [\n    1,\n    "two"\n  ],\n  "b": {\n    "c": null\n  }\n}',
      }
      local checked = 0
      for _, doc in ipairs(docs) do
        assert.is_table(decode(doc))
        for k = 1, #doc - 1 do
          local at = " at byte " .. (k + 1) .. " "
          local cut = decode_error(doc:sub(1, k))
          assert(cut:find(at, 1, true) and (cut:find("end of input", 1, true)
            or cut:find("unterminated string", 1, true)), ("%q cut after %d: %s"):format(doc, k, cut))
          local nul = decode_error(doc:sub(1, k) .. "\0" .. doc:sub(k + 2))
          assert(nul:find(at, 1, true) and not nul:find("end of input", 1, true),
            ("%q with a NUL at %d: %s"):format(doc, k + 1, nul))
          checked = checked + 1
        end
      end
      assert.equal(217, checked)
    end)

    it("rejects trailing content after the value", function()
      assert.matches("trailing content after the JSON value at byte 5 %(line 1, column 5%)",
        decode_error("[1] x"))
      assert.matches("trailing content", decode_error("1 2"))
      assert.matches("trailing content", decode_error('{}"'))
    end)

    it("rejects a NUL byte outside and inside strings", function()
      assert.matches("unexpected byte 0x00 at byte 2", decode_error("[\0]"))
      assert.matches("trailing content after the JSON value at byte 4 ", decode_error("[1]\0"))
      assert.matches("control character in string at byte 3", decode_error('["\0"]'))
    end)

    it("rejects raw control characters in strings", function()
      assert.matches("control character in string at byte 2 ", decode_error('"\n"'))
      assert.matches("control character in string", decode_error('"\31"'))
      assert.matches("control character in string", decode_error('"a\tb"'))
    end)

    it("rejects invalid UTF-8, overlong forms and encoded surrogates", function()
      local bad = {
        "\128", "\191", "\192\175", "\193\191", "\224\128\175", "\237\160\128", "\237\191\191",
        "\240\128\128\175", "\244\144\128\128", "\245\128\128\128", "\255", "\195", "\226\130",
        "\195\40", "\248\136\128\128\128",
      }
      for _, seq in ipairs(bad) do
        local err = decode_error('["ab' .. seq .. '"]')
        assert.matches("invalid UTF%-8 in string at byte 5 ", err)
      end
    end)

    local three = "\230\151\165" -- U+65E5, a three-byte sequence that needs no range check
    -- (utf8.h takes such runs five sequences, 15 bytes, a block: up to 17 before the case at hand,
    -- 51 bytes, put it in each of the first four blocks, at each of a block's five sequences)

    it("reads long runs of three-byte sequences, with each kind of sequence at every offset", function()
      local others = { "\224\160\128", "\224\191\191", "\237\128\128", "\237\159\191", "\225\128\128",
        "\236\191\191", "\238\128\128", "\239\191\191", "\195\169", "\240\159\152\128", "\244\143\191\191",
        "a" }
      for _, other in ipairs(others) do
        for before = 0, 17 do
          for after = 0, 7 do
            local s = three:rep(before) .. other .. three:rep(after)
            assert.are.equal(s, decode('"' .. s .. '"'))
            assert.are.equal(s, decode('["' .. s .. '", 1]')[1])
          end
        end
      end
    end)

    it("finds invalid UTF-8 at every offset of a long run of three-byte sequences", function()
      local bad = { "\128", "\191", "\192\175", "\224\128\175", "\224\159\191", "\237\160\128",
        "\237\191\191", "\240\128\128\175", "\244\144\128\128", "\245\128\128\128", "\255", "\230\151",
        "\230\151a", "\230a\165", "\230\151\230", "\230\192\165", "\230\151\255", "\195\40" }
      for _, seq in ipairs(bad) do
        for before = 0, 17 do
          for _, after in ipairs { "", three:rep(6), "abc" } do
            local s = three:rep(before) .. seq .. after
            local err = decode_error('"' .. s .. '"')
            assert.matches("invalid UTF%-8 in string at byte " .. (2 + 3 * before) .. " ", err)
          end
        end
      end
    end)

    it("agrees with RFC 3629 on runs of random sequences and bytes", function()
      local rand = park_miller.new(4242) -- the same cases on every interpreter
      local pieces = { three, three, three, three, "\224\176\128", "\237\149\156", "\195\169",
        "\240\159\152\128", " ", "x" }
      local checked, rejected = 0, 0
      for _ = 1, 3000 do
        local t = {}
        for k = 1, 1 + rand(24) do
          if rand(12) == 0 then
            t[k] = string.char(0x80 + rand(128)) -- any byte >= 0x80, most often wrong there
          else
            t[k] = pieces[1 + rand(#pieces)]
          end
        end
        local s = table.concat(t)
        local at = first_invalid_utf8(s)
        if at then
          local err = decode_error('"' .. s .. '"')
          assert.matches("invalid UTF%-8 in string at byte " .. (at + 1) .. " ", err)
          rejected = rejected + 1
        else
          assert.are.equal(s, decode('"' .. s .. '"'))
        end
        checked = checked + 1
      end
      -- both outcomes are common, or the spec would test one side only
      assert.is_true(rejected > 300 and checked - rejected > 300,
        rejected .. " of " .. checked .. " rejected")
    end)

    it("rejects lone and inverted surrogates in \\u escapes", function()
      assert.matches("lone surrogate in \\u escape at byte 2 ", decode_error([["\uD800"]]))
      assert.matches("lone surrogate", decode_error([["\uDC00"]]))
      assert.matches("lone surrogate", decode_error([["\uDE00\uD83D"]]))
      assert.matches("lone surrogate", decode_error([["\uD800\u0041"]]))
      assert.matches("lone surrogate", decode_error([["\uD800x"]]))
      assert.matches("invalid \\u escape", decode_error([["\uD800\u12"]]))
    end)

    it("reports a \\u escape's error at the first byte that is wrong, found while scanning", function()
      -- A lone high surrogate before invalid UTF-8 is the first fault, not the UTF-8.
      assert.matches("lone surrogate in \\u escape at byte 2 ", decode_error('"\\uD800 \255"'))
      -- A lone low surrogate at the end of the input is known to be lone at once.
      assert.matches("lone surrogate in \\u escape at byte 3 ", decode_error('["\\uDC00'))
      assert.matches("invalid \\u escape in string at byte 6 ", decode_error('"\\u00G0"'))
      assert.matches("invalid \\u escape in string at byte 11 ", decode_error('"\\uD800\\u1x"'))
      assert.matches("end of input in a \\u escape at byte 12 ", decode_error('"\\uD800\\uDC'))
    end)

    it("rejects invalid escapes", function()
      assert.matches("invalid escape in string at byte 4 ", decode_error([["a\x"]])) -- the x
      assert.matches("invalid \\u escape", decode_error([["\u12G4"]]))
      assert.matches("invalid \\u escape", decode_error([["\u12"]]))
      assert.matches("invalid escape", decode_error('"\\\195\169"'))
    end)

    it("rejects numbers outside the JSON grammar", function()
      for _, s in ipairs { "01", "-01", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "0x10", "1.5e3.2",
        "Infinity", "-Infinity", "NaN", "- 1", "1_000", "[.5]", "[1.]" } do
        decode_error(s)
      end
      assert.matches("digit expected after '%.' at byte 3 ", decode_error("1.x"))
    end)

    it("rejects the usual non-JSON conveniences", function()
      for _, s in ipairs { "[1,]", '{"a":1,}', "{a:1}", "['a']", "[1 2]", '{"a" 1}', "//x\n1", "/*x*/1",
        "\239\187\191{}", "True", "nul", "[", "{", '{"a"', '{"a":', "]", "}", "[}", "{]" } do
        decode_error(s)
      end
      assert.matches("expected ',' or ']'", decode_error("[1 2]"))
      assert.matches("expected ':'", decode_error('{"a" 1}'))
      assert.matches("expected a string key", decode_error("{1:2}"))
    end)

    it("counts lines and byte columns across multi-byte characters", function()
      assert.are.equal("leadconduit.decode: unexpected character 'x' at byte 12 (line 3, column 4)",
        decode_error('[\n"\195\169",\n   x]'))
      assert.are.equal("leadconduit.decode: unexpected character 'x' at byte 8 (line 1, column 8)",
        decode_error('["\195\169", x]'))
    end)
  end)

  describe("max_depth", function()
    it("accepts nesting up to the default limit of 1000", function()
      local v = decode(string.rep("[", 1000) .. string.rep("]", 1000))
      for _ = 1, 999 do
        v = v[1]
      end
      assert.are.same({}, v)
    end)

    it("rejects deeper nesting with a clean error", function()
      assert.matches("nesting deeper than max_depth %(1000%) at byte 1001 ",
        decode_error(string.rep("[", 1001) .. string.rep("]", 1001)))
      assert.matches("nesting deeper than max_depth",
        decode_error(string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001)))
    end)

    it("survives a million opening brackets", function()
      assert.matches("nesting deeper", decode_error(string.rep("[", 1000000)))
    end)

    it("returns an error, not a crash, when a huge max_depth exceeds the Lua stack", function()
      local err = decode_error(string.rep("[", 2000000) .. string.rep("]", 2000000), { max_depth = 3000000 })
      assert.matches("document too large for the Lua stack", err)
    end)

    it("honours opts.max_depth", function()
      assert.are.same({ { 1 } }, decode("[[1]]", { max_depth = 2 }))
      assert.matches("max_depth %(2%)", decode_error("[[[1]]]", { max_depth = 2 }))
      assert.are.equal(5, decode("5", { max_depth = 0 }))
      decode_error("[]", { max_depth = 0 })
    end)

    it("counts an empty array as a level, with or without whitespace inside", function()
      for _, empty in ipairs({ "[]", "[ ]", "[\n\t\r ]" }) do
        assert.matches("nesting deeper than max_depth %(0%) at byte 1 ",
          decode_error(empty, { max_depth = 0 }))
        assert.matches("nesting deeper than max_depth %(1%) at byte 2 ",
          decode_error("[" .. empty .. "]", { max_depth = 1 }))
        assert.matches("nesting deeper than max_depth %(1%) at byte 6 ",
          decode_error('{"a":' .. empty .. "}", { max_depth = 1 }))
        local v = decode("[" .. empty .. ", 1, " .. empty .. "]", { max_depth = 2 })
        assert.are.equal(3, #v)
        assert.are.equal(1, v[2])
        assert.are_not.equal(v[1], v[3])
        for _, inner in ipairs({ v[1], v[3] }) do
          assert.are.equal(leadconduit.array_mt, getmetatable(inner))
          assert.is_nil(next(inner))
        end
      end
    end)

    it("decodes deep documents when a larger limit is asked for", function()
      -- Lua 5.1 and LuaJIT give a C function at most 8000 stack slots.
      local depth = _VERSION == "Lua 5.1" and 2000 or 20000
      local text = string.rep('{"a":[', depth) .. "1" .. string.rep("]}", depth)
      local v = assert(decode(text, { max_depth = 2 * depth }))
      for _ = 1, depth do
        v = v.a[1]
      end
      assert.are.equal(1, v)
    end)
  end)

  describe("arguments", function()
    it("raises when the text is not a string", function()
      assert.has_error(function() decode() end)
      assert.has_error(function() decode(nil) end)
      assert.has_error(function() decode(12) end)
      assert.has_error(function() decode({}) end)
    end)

    it("raises on bad options", function()
      assert.has_error(function() decode("1", "x") end)
      assert.has_error(function() decode("1", { max_depth = -1 }) end)
      assert.has_error(function() decode("1", { max_depth = 1.5 }) end)
      assert.has_error(function() decode("1", { max_depth = "10" }) end)
    end)

    it("leaves the caller's stack usable after many errors", function()
      for _ = 1, 1000 do
        decode_error('[1, {"a": "\\uD800"}]')
      end
      assert.are.same({ 1 }, decode("[1]"))
    end)
  end)

  describe("hostile inputs", function()
    local dir = "spec/fuzz/regressions"

    local function read(name)
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      local text = f:read("*a")
      f:close()
      return text
    end

    it("answers every input kept in spec/fuzz/regressions (fuzzer finds, seeds) without raising", function()
      local p = io.popen('ls "' .. dir .. '"')
      local n = 0
      for name in p:lines() do
        n = n + 1
        local ok, value, err = pcall(decode, read(name))
        assert(ok, name .. " raised: " .. tostring(value))
        assert(value ~= nil or err:match("^leadconduit%.decode: .+ at byte %d+ "), name)
      end
      p:close()
      assert.is_true(n >= 4)
    end)

    it("reads numbers with thousands of digits exactly", function()
      assert.are.same({ 1.0, -1e9 }, decode(read("long_number.json")))
    end)
  end)
end)
