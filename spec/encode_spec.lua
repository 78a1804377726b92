-- encode: Lua values to JSON text with sorted keys, null kept and arrays told from objects.
local leadconduit = require "leadconduit"
local encode, decode = leadconduit.encode, leadconduit.decode
local null, array_mt = leadconduit.null, leadconduit.array_mt

local HAS_INTEGERS = math.type ~= nil

local function arr(t) return setmetatable(t or {}, array_mt) end

local same_value = require "support.same_value"
local cjson = require "cjson" -- an independent parser for the output
local park_miller = require "support.park_miller"
local first_invalid_utf8 = require "support.utf8_oracle".first_invalid

local function round_trip(v)
  local text, err = encode(v)
  assert.is_string(text, err)
  local back, derr = decode(text)
  assert.is_not_nil(back, derr)
  local ok, why = same_value(v, back)
  assert(ok, ("round trip of %s differs at %s"):format(text, tostring(why)))
  return text
end

local function fails(v, what, opts)
  local text, err = encode(v, opts)
  assert.is_nil(text)
  assert.is_string(err)
  assert.matches("^leadconduit%.encode: ", err)
  if what then assert.matches(what, err, 1, true) end
end

describe("encode", function()
  describe("scalars", function()
    it("writes null, true and false", function()
      assert.equal("null", encode(null))
      assert.equal("true", encode(true))
      assert.equal("false", encode(false))
    end)

    it("writes integers without a decimal point", function()
      assert.equal("0", encode(0))
      assert.equal("42", encode(42))
      assert.equal("-7", encode(-7))
      assert.equal("123", encode(123))
      if HAS_INTEGERS then
        assert.equal(tostring(math.maxinteger), encode(math.maxinteger))
        assert.equal(tostring(math.mininteger), encode(math.mininteger))
        round_trip(math.maxinteger)
        round_trip(math.mininteger)
      end
    end)

    it("keeps floats floats on Lua 5.3+ and prints integral doubles as integers on 5.1", function()
      if HAS_INTEGERS then
        assert.equal("1.0", encode(1.0))
        assert.equal("-0.0", encode(-0.0))
        assert.equal("1e+300", encode(1e300))
      else
        assert.equal("1", encode(1.0))
        assert.equal("-0", encode(-0.0))
      end
    end)

    it("writes the shortest text that reads back as the same double", function()
      assert.equal("0.1", encode(0.1))
      assert.equal("2.5", encode(2.5))
      assert.equal("-1.5e-10", encode(-1.5e-10))
      assert.equal("0.30000000000000004", encode(0.1 + 0.2))
      for _, x in ipairs({ 1 / 3, 2 / 3, math.pi, 5e-324, 2.2250738585072014e-308,
                           1.7976931348623157e308, -1e-7, 123456.789, 2 ^ 53 + 0.0, 1e21 }) do
        assert.equal(x, tonumber(encode(x)))
      end
    end)

    it("refuses NaN and the infinities", function()
      fails(0 / 0, "NaN")
      fails(1 / 0, "infinity")
      fails(-1 / 0, "infinity")
      fails(arr({ 1, 0 / 0 }), "NaN")
    end)

    it("with infinity = true writes the infinities as numbers that decode back to them, not NaN", function()
      assert.equal('{"big":1e999,"small":-1e999}',
        encode({ big = 1 / 0, small = -1 / 0 }, { infinity = true }))
      local back = leadconduit.decode(encode(arr({ 1 / 0, -1 / 0, 1 }), { infinity = true }))
      assert.same({ math.huge, -math.huge, 1 }, { back[1], back[2], back[3] })
      local text, err = encode(0 / 0, { infinity = true })
      assert.is_nil(text)
      assert.matches("NaN", err, 1, true)
      assert.is_nil(encode(1 / 0, { infinity = false }))
    end)
  end)

  describe("strings", function()
    it("escapes quotes, backslashes and every control character", function()
      assert.equal([["a\"b\\c/d"]], encode('a"b\\c/d'))
      assert.equal([["\b\f\n\r\t"]], encode("\b\f\n\r\t"))
      assert.equal([["\u0000\u0001\u001f"]], encode("\0\1\31"))
      local short = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r" }
      for c = 0, 31 do
        local text = encode(string.char(c))
        assert.equal('"' .. (short[c] or ("\\u%04x"):format(c)) .. '"', text)
        assert.equal(string.char(c), decode(text))
      end
      assert.equal('"\127"', encode("\127"))
    end)

    it("passes valid UTF-8 through unchanged", function()
      assert.equal('"é€😀"', encode("é€😀"))
      local max = "\244\143\191\191"              -- U+10FFFF
      local around = "\238\128\128\237\159\191"    -- U+E000 U+D7FF, next to the surrogates
      assert.equal('"' .. max .. '"', encode(max))
      assert.equal('"' .. around .. '"', encode(around))
    end)

    it("refuses invalid UTF-8 instead of writing invalid JSON", function()
      for _, bad in ipairs({
        "\128", "\191", "a\255b", "\192\128", "\193\191", "\224\128\128", "\224\159\191",
        "\237\160\128", "\237\191\191", "\240\128\128\128", "\244\144\128\128", "\245\128\128\128",
        "\195", "\226\130", "\240\159\152", "\195\40", "\226\40\161",
      }) do
        fails(bad, "UTF-8")
        fails({ [bad] = 1 }, "UTF-8") -- in keys too
      end
    end)
  end)

  describe("random strings", function()
    it("either round-trip exactly or are refused as invalid UTF-8", function()
      math.randomseed(20261127)
      local pieces = { "a", "\"", "\\", "\n", "\0", "\31", "\127", "é", "€", "😀", "\128", "\192",
                       "\237\160\128", "\244\143\191\191", "\255", "\226\130" }
      local accepted, refused = 0, 0
      for _ = 1, 2000 do
        local parts = {}
        for i = 1, math.random(0, 8) do parts[i] = pieces[math.random(#pieces)] end
        local s = table.concat(parts)
        local text, err = encode(s)
        if text then
          accepted = accepted + 1
          assert.equal(s, decode(text))
        else
          refused = refused + 1
          assert.matches("UTF-8", err, 1, true)
          assert.truthy(s:find("[\128-\255]"))
        end
      end
      assert.is_true(accepted > 100 and refused > 100)
    end)
  end)

  describe("long runs of text that is not ASCII", function()
    it("are refused exactly where RFC 3629 says, at every offset of a run", function()
      local three = "\230\151\165"
      local pieces = { three, three, three, "\224\176\128", "\237\149\156", "\195\169",
        "\240\159\152\128", " ", "\230\151", "\237\160\128", "\224\128\128", "\128", "\255" }
      local rand = park_miller.new(99)
      local accepted, refused = 0, 0
      for _ = 1, 2000 do
        local parts = {}
        for k = 1, 1 + rand(20) do parts[k] = rand(4) == 0 and pieces[1 + rand(#pieces)] or three end
        local s = table.concat(parts)
        local text, err = encode(s)
        if first_invalid_utf8(s) then
          refused = refused + 1
          assert.is_nil(text, string.format("%q", s))
          assert.matches("UTF-8", err, 1, true)
        else
          accepted = accepted + 1
          assert.equal('"' .. s .. '"', text)
        end
      end
      assert.is_true(accepted > 300 and refused > 300, accepted .. " accepted, " .. refused .. " refused")
    end)
  end)

  describe("tables", function()
    it("sorts object keys bytewise", function()
      assert.equal('{"B":1,"a":2,"aa":3,"b":4,"é":5}', encode({ b = 4, aa = 3, a = 2, ["é"] = 5, B = 1 }))
      assert.equal('{"":0,"a\\n":1}', encode({ ["a\n"] = 1, [""] = 0 }))
    end)

    it("gives the same text whatever order the keys were inserted in", function()
      local a, b = {}, {}
      for i = 1, 200 do a["k" .. i] = i end
      for i = 200, 1, -1 do b["k" .. i] = i end
      assert.equal(encode(a), encode(b))
    end)

    it("tells empty arrays from empty objects by array_mt", function()
      assert.equal("[]", encode(arr()))
      assert.equal("{}", encode({}))
      assert.equal('{"a":[],"o":{}}', encode({ a = arr(), o = {} }))
    end)

    it("writes sequences as arrays, with or without array_mt", function()
      assert.equal("[1,2,3]", encode({ 1, 2, 3 }))
      assert.equal('[1,"x",null,[]]', encode(arr({ 1, "x", null, arr() })))
    end)

    it("refuses tables with no faithful JSON form", function()
      fails({ 1, 2, x = 3 }, "mixes")
      fails({ [1] = 1, [3] = 3 }, "sparse")
      fails({ [0] = "zero" }, "key")
      fails({ [1.5] = 1 }, "key")
      fails({ [true] = 1 }, "key")
      fails({ [{}] = 1 }, "key")
      fails(arr({ x = 1 }), "array_mt")
    end)

    it("ignores metamethods and reads the raw table", function()
      local proxy = setmetatable({ a = 1 }, { __index = function() return "nope" end,
                                             __pairs = function() error("called __pairs") end })
      assert.equal('{"a":1}', encode(proxy))
    end)

    it("encodes a table referenced twice (not a cycle) twice", function()
      local shared = { x = 1 }
      assert.equal('{"a":{"x":1},"b":{"x":1}}', encode({ a = shared, b = shared }))
      assert.equal('[{"x":1},{"x":1}]', encode({ shared, shared }))
    end)

    it("refuses cycles instead of looping or crashing", function()
      local t = {}
      t.self = t
      fails(t, "cycle")
      local a, b = {}, arr()
      a.list = b
      b[1] = a
      fails(a, "cycle")
      fails(arr({ arr({ b }) }), "cycle")
    end)

    it("limits nesting depth (default 1000) without crashing", function()
      local function nest(n)
        local root = arr()
        local cur = root
        for _ = 2, n do
          local nxt = arr()
          cur[1] = nxt
          cur = nxt
        end
        return root
      end
      assert.equal(string.rep("[", 1000) .. string.rep("]", 1000), encode(nest(1000)))
      fails(nest(1001), "max_depth")
      fails(nest(100000), "max_depth")
      assert.equal("[[]]", encode(nest(2), { max_depth = 2 }))
      fails(nest(3), "max_depth", { max_depth = 2 })
      assert.equal("1", encode(1, { max_depth = 1 }))
    end)

    -- encode allocates as it goes, so the collector runs: it clears entries of weak tables and
    -- calls finalizers, Lua code that may add keys to the object being encoded. Run in a child
    -- process, as the failure this guards against is a crash (a write past the key buffer, or
    -- sorting keys that were never read).
    it("survives an object that the collector shrinks or a finalizer grows meanwhile", function()
      local sys = require "support.sys"
      local interpreter = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
      local script = ([[
        package.path, package.cpath = %q, %q
        local lc = require "leadconduit"
        local function check(t)
          local text, err = lc.encode(t)
          assert(text, err)
          local back = assert(lc.decode(text))
          for k, v in pairs(back) do assert(type(k) == "string" and type(v) == "table") end
        end
        local target
        local grow = { __gc = function()
          if target then for i = 1, 50 do target["added" .. i] = {} end end
        end }
        for _ = 1, 100 do
          local t = {}
          for i = 1, 50 do t["key" .. i] = { ("v"):rep(100) } end
          target = t
          for _ = 1, 200 do setmetatable({}, grow) end
          check(t)
          target = nil
        end
        for round = 1, 10 do
          local weak = setmetatable({}, { __mode = "v" })
          for i = 1, 2000 * round do weak["key" .. i] = {} end
          check(weak)
        end
        io.write("ok")
      ]]):format(package.path, package.cpath)
      local out = sys.capture(("%s -e %s 2>&1; echo \" exit $?\""):format(interpreter, sys.quote(script)))
      assert.equal("ok exit 0", (out:gsub("\n", "")))
    end)
  end)

  describe("values JSON cannot hold", function()
    it("returns nil and a message for functions, userdata, threads and nil", function()
      fails(print, "function")
      fails(io.stdout, "userdata")
      fails(coroutine.create(function() end), "thread")
      fails(nil, "leadconduit.null")
      fails({ f = print }, "function")
    end)

    it("raises when called without a value or with bad options", function()
      assert.has_error(function() encode() end)
      assert.has_error(function() encode(1, "pretty") end)
      assert.has_error(function() encode(1, { indent = -1 }) end)
      assert.has_error(function() encode(1, { indent = 2.5 }) end)
      assert.has_error(function() encode(1, { indent = "2" }) end)
      assert.has_error(function() encode(1, { max_depth = 0 }) end)
      assert.has_error(function() encode(1, { max_depth = 1e9 }) end)
    end)
  end)

  describe("indent", function()
    it("pretty-prints with the given number of spaces", function()
      local t = { b = arr({ 1, { c = null } }), a = arr(), d = {} }
      assert.equal(table.concat({
        "{",
        '  "a": [],',
        '  "b": [',
        "    1,",
        "    {",
        '      "c": null',
        "    }",
        "  ],",
        '  "d": {}',
        "}",
      }, "\n"), encode(t, { indent = 2 }))
      assert.equal('[\n    1\n]', encode(arr({ 1 }), { indent = 4 }))
      assert.equal('{"x":1}', encode({ x = 1 }, { indent = 0 }))
    end)
  end)

  describe("round trips through decode", function()
    it("gives back an account answer unchanged", function()
      round_trip({
        success = true,
        account = {
          id = "5fd4371e940df5a34a3888b2", name = "Acme, Inc. — Zürich 😀", data_retention_in_days = 123,
          ratio = 0.25, data_truncated_at = null, pricing_components = arr({ {} }),
          pending_sellers = arr({ { id = "x", expired = false, invitation_expires_at = null } }),
          connected_buyers = arr(), features = { firehose = true, seller_access = false },
          note = "tab\tquote\"nl\nnul\0",
        },
      })
    end)

    -- Defined only where ../shared holds the suite (spec/shared_data_spec.lua says when not).
    local suite = require("support.shared").files("conformance/JSONTestSuite", ".json")
    local names = {}
    for _, path in ipairs(suite or {}) do
      if path:match("/y_[^/]*$") then names[#names + 1] = path end
    end
    if suite then it("gives back every valid file of the JSONTestSuite unchanged", function()
      assert.is_true(#names >= 90, "only " .. #names .. " y_ files")
      for _, name in ipairs(names) do
        local f = assert(io.open(name, "rb"))
        local text = f:read("*a")
        f:close()
        local value, err = decode(text)
        assert(value ~= nil, name .. ": " .. tostring(err))
        local again = encode(value)
        assert(again, name)
        local back = decode(again)
        local ok, why = same_value(value, back)
        assert(ok, name .. ": " .. tostring(why))
        assert.equal(again, encode(back), name) -- encoding is deterministic
        assert(pcall(cjson.decode, again), name .. ": lua-cjson cannot read the output")
      end
    end) end
  end)
end)
