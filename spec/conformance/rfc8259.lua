-- rfc8259.lua — leadconduit's own decoder conformance corpus, written from the ABNF of RFC 8259
-- (sections 2 to 9) and the decode contract (README.md, "How decode answers what RFC 8259 leaves
-- open"). No file of another project is copied here. spec/rfc8259_spec.lua runs every case.
--
-- The module returns { groups = { { name =, cases = { ... } }, ... }, null =, is_array =, is_object = }.
-- A case is either accepted, { text =, value = [, opts =] }, or rejected,
-- { text =, at =, [what =,] [opts =] }:
--   text   the JSON text. "<HH>" (two hex digits in angle brackets) stands for the byte 0xHH.
--   value  the exact Lua value: A{...} an array (it must carry leadconduit.array_mt), O{...} an
--          object (no metatable), NULL leadconduit.null. Numbers keep their subtype on Lua 5.3+:
--          an integer literal that fits lua_Integer is an integer (write 1, or int "..." for the
--          boundaries), anything with a fraction or an exponent, or out of range, is a float
--          (write 1.0, or float "..."). On Lua 5.1/LuaJIT every number is a double, and the same
--          helpers give the double the decoder must produce.
--   at     the 1-based byte of the error: the first byte that is wrong, #text + 1 for the end of
--          input. Invalid UTF-8 is reported at the first byte of its sequence; a lone or inverted
--          surrogate \uD800 / \uDC00 at the backslash of its escape; a bad hex digit of \u at that
--          digit; a bad escape letter at that letter; trailing content at its first byte.
--   what   optional: a fragment the <what> part of the message must contain (plain text).

local math_type = math.type -- nil on Lua 5.1 and LuaJIT

local ARRAY = { __name = "corpus array" }
local OBJECT = { __name = "corpus object" }
local NULL = setmetatable({}, { __name = "corpus null", __tostring = function() return "null" end })

local function A(t) return setmetatable(t, ARRAY) end
local function O(t) return setmetatable(t, OBJECT) end

-- Bytes: "<C3><A9>" -> "\195\169" (Lua 5.1 has no \x escapes).
local function h(s)
  return (s:gsub("<(%x%x)>", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- An integer that the decoder must return as an integer on Lua 5.3+ (a double on 5.1/LuaJIT).
local function int(s)
  local v = tonumber(s)
  if math_type then
    v = math.tointeger(v)
    assert(v and tostring(v) == s, "corpus: not a lua_Integer: " .. s)
  end
  return v
end

-- A float: the correctly rounded double of s (the interpreter's own strtod reads it).
local function float(s)
  local v = tonumber(s)
  assert(v and (not math_type or math_type(v) == "float"), "corpus: not a float literal: " .. s)
  return v
end

local NEG0 = float("-0.0")
local INF = math.huge

local function ok(text, value, opts)
  assert(value ~= nil, "corpus: accepted case without a value: " .. text)
  return { text = h(text), value = value, opts = opts }
end

local function bad(text, at, what, opts)
  return { text = h(text), at = at, what = what, opts = opts }
end

-- Fragments of <what> (plain text) for the errors whose kind is not in doubt.
local UTF8 = "invalid UTF-8"
local SURROGATE = "surrogate"
local HEX = "\\u escape"
local ESCAPE = "invalid escape"
local CONTROL = "control character"
local TRAILING = "trailing content"
local DEPTH = "max_depth"
local UNTERMINATED = "unterminated string"
local EOI = "end of input"

local groups = {}

local function group(name, cases)
  groups[#groups + 1] = { name = name, cases = cases }
end

local function append(list, more)
  for _, c in ipairs(more) do list[#list + 1] = c end
  return list
end

-- ---- §2 JSON-text = ws value ws -----------------------------------------------------------------

group("§2 JSON-text: exactly one value of any kind, with optional ws around it", {
  ok("1", 1),
  ok("0", 0),
  ok("-1", -1),
  ok('"a"', "a"),
  ok('""', ""),
  ok("true", true),
  ok("false", false),
  ok("null", NULL),
  ok("{}", O {}),
  ok("[]", A {}),
  ok('[1,"a",true,false,null,{},[]]', A { 1, "a", true, false, NULL, O {}, A {} }),
  ok('{"a":[{"b":[null]}]}', O { a = A { O { b = A { NULL } } } }),
  ok(" 1", 1),
  ok("1 ", 1),
  ok('\t"x"\n', "x"),
  bad(",", 1),
  bad(":", 1),
  bad("]", 1),
  bad("}", 1),
  bad("a", 1),
  bad("'a'", 1),
  bad("=1", 1),
  bad("<00>", 1),
  bad("<7F>", 1),
  bad("\\", 1),
})

group("§2 ws = *( %x20 / %x09 / %x0A / %x0D ) around values and the six structural characters", {
  ok(" \t\n\r1 \t\n\r", 1),
  ok("[ 1 ]", A { 1 }),
  ok("[\t1\t,\t2\t]", A { 1, 2 }),
  ok("[\n1\n,\n2\n]", A { 1, 2 }),
  ok("[\r1\r,\r2\r]", A { 1, 2 }),
  ok("[ ]", A {}),
  ok("[\r\n]", A {}),
  ok("{ }", O {}),
  ok("{\t}", O {}),
  ok('{ "a" : 1 , "b" : 2 }', O { a = 1, b = 2 }),
  ok('{\n\t"a"\r\n:\n1\n}', O { a = 1 }),
  ok('{"a" :1}', O { a = 1 }),
  ok('{"a": 1}', O { a = 1 }),
  ok('[1 ,2]', A { 1, 2 }),
  ok('[1, 2]', A { 1, 2 }),
  ok("\r\n\r\n[\r\n]\r\n", A {}),
  ok(string.rep(" ", 17) .. "true" .. string.rep(" ", 33), true),
  ok(string.rep(" \t\n\r", 64) .. "null" .. string.rep("\n", 100), NULL),
  ok("[" .. string.rep(" ", 1000) .. "1" .. string.rep(" ", 1000) .. "]", A { 1 }),
  ok('" a "', " a "), -- inside a string, spaces are content
  bad("<0C>1", 1), -- form feed
  bad("[<0C>1]", 2),
  bad("<0B>1", 1), -- vertical tab
  bad("[1,<0B>2]", 4),
  bad("<C2><A0>1", 1), -- U+00A0 no-break space
  bad("[1,<C2><A0>2]", 4),
  bad("<E2><80><A8>1", 1), -- U+2028 line separator
  bad("<E3><80><80>[]", 1), -- U+3000 ideographic space
  bad("[1,<EF><BB><BF>2]", 4), -- U+FEFF between tokens
  bad("[1<00>]", 3),
  bad('{"a"<0C>:1}', 5),
  bad('{"a":<0C>1}', 6),
  bad("/* c */ 1", 1),
  bad("// c\n1", 1),
  bad("# c\n1", 1),
  bad("[1 /* c */]", 4),
  bad("\\n1", 1),
  bad("[1,\n\n  x]", 8), -- line 3, column 3
  bad(" \r\n x", 5), -- CR is not a line break: line 2, column 2
  bad(string.rep(" ", 20) .. "x", 21),
})

group("§2 end of text: trailing content after the value is rejected at its first byte", {
  ok("1 \t\r\n", 1),
  ok("[]\n", A {}),
  ok("{}\r\n", O {}),
  ok('"a"  ', "a"),
  bad("1 2", 3, TRAILING),
  bad("0 1", 3, TRAILING),
  bad("[] []", 4, TRAILING),
  bad("{}}", 3, TRAILING),
  bad("[]]", 3, TRAILING),
  bad("[]a", 3, TRAILING),
  bad('"a""b"', 4, TRAILING),
  bad('"a"x', 4, TRAILING),
  bad("null null", 6, TRAILING),
  bad("true,", 5, TRAILING),
  bad("[1],", 4, TRAILING),
  bad('{"a":1} x', 9, TRAILING),
  bad("1\n\n x", 5, TRAILING), -- line 3, column 2
  bad("1 \t\r\n,", 6, TRAILING), -- line 2, column 1
  bad("1<00>", 2, TRAILING),
  bad("1 <00>", 3, TRAILING),
  bad("{} //", 4, TRAILING),
  bad("-0-", 3, TRAILING),
  bad("1.5 e3", 5, TRAILING),
  bad("[]<EF><BB><BF>", 3, TRAILING),
  bad('{"a":1}<FF>', 8, TRAILING),
})

group("§2 empty input: no value at all", {
  bad("", 1, EOI),
  bad(" ", 2, EOI),
  bad("\n", 2, EOI), -- line 2, column 1
  bad(" \t\r\n", 5, EOI),
  bad(string.rep(" ", 100), 101, EOI),
})

-- ---- §3 values: false / null / true --------------------------------------------------------------

group("§3 literals: false, null and true, in lower case only", {
  ok("[false,null,true]", A { false, NULL, true }),
  ok('{"t":true,"f":false,"n":null}', O { t = true, f = false, n = NULL }),
  ok("[null]", A { NULL }),
  ok("[null,null,null]", A { NULL, NULL, NULL }),
  ok("[1,null]", A { 1, NULL }),
  ok("[null,1]", A { NULL, 1 }),
  ok("[ true , false ]", A { true, false }),
  bad("True", 1),
  bad("TRUE", 1),
  bad("Null", 1),
  bad("NULL", 1),
  bad("False", 1),
  bad("tRUE", 2),
  bad("nUll", 2),
  bad("fAlse", 2),
  bad("nil", 2),
  bad("none", 2),
  bad("undefined", 1),
  bad("t", 2, EOI),
  bad("f", 2, EOI),
  bad("n", 2, EOI),
  bad("tru", 4, EOI),
  bad("nul", 4, EOI),
  bad("fals", 5, EOI),
  bad("tru}", 4),
  bad("nulx", 4),
  bad("falsy", 5),
  bad("[tru]", 5),
  bad('{"a":nul}', 9),
  bad("[t rue]", 3),
  bad("tr<00>ue", 3),
  bad("truex", 5, TRAILING),
  bad("nulll", 5, TRAILING),
  bad("null1", 5, TRAILING),
  bad("[truefalse]", 6),
  bad("[True]", 2),
})

-- ---- §4 objects ---------------------------------------------------------------------------------------

group("§4 objects: begin-object [ member *( value-separator member ) ] end-object", {
  ok("{}", O {}),
  ok('{"a":1}', O { a = 1 }),
  ok('{"a":1,"b":2}', O { a = 1, b = 2 }),
  ok('{"a":"b","c":"d"}', O { a = "b", c = "d" }),
  ok('{"":0}', O { [""] = 0 }),
  ok('{"a":null}', O { a = NULL }), -- the key is there, with null
  ok('{"a":[],"b":{}}', O { a = A {}, b = O {} }),
  ok('{"a":{"b":{}}}', O { a = O { b = O {} } }),
  ok('{"a":[1,{"b":null}]}', O { a = A { 1, O { b = NULL } } }),
  ok('{"1":1,"2":2}', O { ["1"] = 1, ["2"] = 2 }), -- names stay strings
  ok('{"true":true,"null":null}', O { ["true"] = true, ["null"] = NULL }),
  ok('{"a":1,"A":2}', O { a = 1, A = 2 }),
  ok('{"a b":1}', O { ["a b"] = 1 }),
  ok([[{"\\":1,"\"":2,"/":3}]], O { ["\\"] = 1, ['"'] = 2, ["/"] = 3 }),
  ok([[{"\u0000":1}]], O { ["\0"] = 1 }),
  ok('{"<C3><A9>":1}', O { [h "<C3><A9>"] = 1 }),
  ok('{"__index":1,"__newindex":2}', O { __index = 1, __newindex = 2 }),
  -- Names SHOULD be unique (§4); when they are not, the last value wins.
  ok('{"a":1,"a":2}', O { a = 2 }),
  ok('{"a":1,"b":2,"a":3}', O { a = 3, b = 2 }),
  ok('{"a":null,"a":1}', O { a = 1 }),
  ok('{"a":1,"a":null}', O { a = NULL }),
  ok([[{"a":1,"\u0061":2}]], O { a = 2 }), -- the same name once its escapes are decoded
  -- Names are compared byte for byte, not Unicode-normalized: NFC and NFD e-acute stay apart.
  ok('{"<C3><A9>":"NFC","e<CC><81>":"NFD"}', O { [h "<C3><A9>"] = "NFC", [h "e<CC><81>"] = "NFD" }),
  bad("{", 2, EOI),
  bad('{"a"', 5, EOI),
  bad('{"a":', 6, EOI),
  bad('{"a":1', 7, EOI),
  bad('{"a":1,', 8, EOI),
  bad('{"a":1,"b"', 11, EOI),
  bad('{"a":{"b":1}', 13, EOI),
  bad('{"a', 4, UNTERMINATED),
  bad("{,}", 2),
  bad('{,"a":1}', 2),
  bad('{"a":1,}', 8),
  bad('{ "a" : 1 , }', 13),
  bad('{"a":1,,"b":2}', 8),
  bad("{a:1}", 2),
  bad("{'a':1}", 2),
  bad("{1:1}", 2),
  bad("{null:1}", 2),
  bad("{[]:1}", 2),
  bad("{{}:1}", 2),
  bad("{:1}", 2),
  bad('{""}', 4),
  bad('{"a"}', 5),
  bad('{"a",1}', 5),
  bad('{"a" 1}', 6),
  bad('{"a"::1}', 6),
  bad('{"a"=1}', 5),
  bad('{"a"=>1}', 5),
  bad('{"a":}', 6),
  bad('{"a" : }', 8),
  bad('{"a":-}', 7),
  bad('{"a":1;"b":2}', 7),
  bad('{"a":1 "b":2}', 8),
  bad('{"a":1, "b"}', 12),
  bad('{"a":1]', 7),
  bad("{]", 2),
  bad('{"a":1}}', 8, TRAILING),
})

-- ---- §5 arrays ------------------------------------------------------------------------------------------

local wide, wide_value = {}, {}
for i = 1, 70000 do
  wide[i] = tostring(i)
  wide_value[i] = i
end

group("§5 arrays: begin-array [ value *( value-separator value ) ] end-array", {
  ok("[]", A {}),
  ok("[1]", A { 1 }),
  ok("[1,2,3]", A { 1, 2, 3 }),
  ok("[[]]", A { A {} }),
  ok("[[],[]]", A { A {}, A {} }),
  ok("[{}]", A { O {} }),
  ok("[{},[]]", A { O {}, A {} }),
  ok("[[[1]]]", A { A { A { 1 } } }),
  ok('["a",["b",["c"]]]', A { "a", A { "b", A { "c" } } }),
  ok('[["a"],{"b":["c"]}]', A { A { "a" }, O { b = A { "c" } } }),
  ok('[0,-1,1.5,"",true,false,null,{},[]]', A { 0, -1, 1.5, "", true, false, NULL, O {}, A {} }),
  ok("[1,1,1]", A { 1, 1, 1 }),
  ok("[" .. table.concat(wide, ",") .. "]", A(wide_value)),
  bad("[", 2, EOI),
  bad("[\n", 3, EOI),
  bad("[1", 3, EOI),
  bad("[1,", 4, EOI),
  bad("[1,2", 5, EOI),
  bad("[1,[2,3]", 9, EOI),
  bad("[[]", 4, EOI),
  bad("[{}", 4, EOI),
  bad("[1,]", 4),
  bad("[1 ,]", 5),
  bad("[[1,2],]", 8),
  bad("[,1]", 2),
  bad("[,]", 2),
  bad("[ , ]", 3),
  bad("[1,,2]", 4),
  bad("[1 2]", 4),
  bad('["a" "b"]', 6),
  bad("[1;2]", 3),
  bad("[1:2]", 3),
  bad('["a":1]', 5),
  bad("[}", 2),
  bad("[1}", 3),
  bad("[{]", 3),
  bad("[]]", 3, TRAILING),
  bad("[1]x", 4, TRAILING),
})

-- ---- §6 numbers: number = [ minus ] int [ frac ] [ exp ] ------------------------------------------------

group("§6 numbers: [ minus ] int, where int = zero / ( digit1-9 *DIGIT )", {
  ok("0", 0),
  ok("-0", NEG0), -- minus zero is a float, and keeps its sign
  ok("1", 1),
  ok("-1", -1),
  ok("9", 9),
  ok("10", 10),
  ok("-10", -10),
  ok("123456789", 123456789),
  ok("[0,1,-0]", A { 0, 1, NEG0 }),
  ok("1234567890123456789", int "1234567890123456789"),
  ok("-1234567890123456789", int "-1234567890123456789"),
  bad("01", 2, TRAILING),
  bad("00", 2, TRAILING),
  bad("0123", 2, TRAILING),
  bad("-01", 3, TRAILING),
  bad("-00", 3, TRAILING),
  bad("00.5", 2, TRAILING),
  bad("[01]", 3),
  bad('{"a":01}', 7),
  bad("+1", 1),
  bad("+0", 1),
  bad("-", 2, EOI),
  bad("[-]", 3),
  bad("--1", 2),
  bad("-+1", 2),
  bad("- 1", 2),
  bad("-a", 2),
  bad("Infinity", 1),
  bad("-Infinity", 2),
  bad("NaN", 1),
  bad("-NaN", 2),
  bad("inf", 1),
  bad("0x10", 2, TRAILING),
  bad("1_000", 2, TRAILING),
  bad("1,000", 2, TRAILING),
  bad("<EF><BC><91>", 1), -- U+FF11 fullwidth digit one
  bad("<E2><88><92>1", 1), -- U+2212 minus sign
})

group("§6 numbers: frac = decimal-point 1*DIGIT", {
  ok("0.0", 0.0),
  ok("-0.0", NEG0),
  ok("0.5", 0.5),
  ok("1.5", 1.5),
  ok("-1.5", -1.5),
  ok("1.0", 1.0), -- a float although its value is whole
  ok("-1.0", -1.0),
  ok("1.000000000", 1.0),
  ok("0.1", 0.1),
  ok("123.456", 123.456),
  ok("10.25", 10.25),
  ok("0.000001", 1e-6),
  ok("0.30000000000000004", 0.30000000000000004),
  ok("[1.5,-0.5]", A { 1.5, -0.5 }),
  ok("[0,0.0]", A { 0, 0.0 }),
  bad("1.", 3, EOI),
  bad("0.", 3, EOI),
  bad("-0.", 4, EOI),
  bad("[1.]", 4),
  bad("1.e1", 3),
  bad("1..5", 3),
  bad("1.a", 3),
  bad("1.+1", 3),
  bad("1.-1", 3),
  bad("1. 5", 3),
  bad(".5", 1),
  bad("-.5", 2),
  bad("[.5]", 2),
  bad("1.5.", 4, TRAILING),
  bad("0.1.2", 4, TRAILING),
  bad("1,5", 2, TRAILING),
})

group("§6 numbers: exp = e [ minus / plus ] 1*DIGIT, e = %x65 / %x45", {
  ok("1e2", 100.0),
  ok("1E2", 100.0),
  ok("1e+2", 100.0),
  ok("1E+2", 100.0),
  ok("1e-2", 0.01),
  ok("1E-2", 0.01),
  ok("1e0", 1.0),
  ok("1e00", 1.0),
  ok("0e0", 0.0),
  ok("0e+0", 0.0),
  ok("0e-0", 0.0),
  ok("-0e0", NEG0),
  ok("1e006", 1e6), -- leading zeros are allowed in the exponent
  ok("1e-007", 1e-7),
  ok("1.5e3", 1500.0),
  ok("-1.5E+3", -1500.0),
  ok("2.5e-1", 0.25),
  ok("100e-2", 1.0),
  ok("0.5e1", 5.0),
  ok("123e-2", 1.23),
  bad("1e", 3, EOI),
  bad("1E", 3, EOI),
  bad("1e+", 4, EOI),
  bad("1e-", 4, EOI),
  bad("1.0e", 5, EOI),
  bad("1.0e+", 6, EOI),
  bad("1e+-1", 4),
  bad("1e-+1", 4),
  bad("1ee1", 3),
  bad("1ea", 3),
  bad("1e 1", 3),
  bad("1e+ 1", 4),
  bad("1.e", 3),
  bad("[1e]", 4),
  bad("[1e5,]", 6),
  bad("e1", 1),
  bad("-e1", 2),
  bad("1e1.5", 4, TRAILING),
  bad("1e1e1", 4, TRAILING),
  bad("1e0x1", 4, TRAILING),
})

group("§6 numbers (§9 limits): integer or float, at the 2^53 and 2^63 boundaries", {
  ok("100", 100),
  ok("4294967296", int "4294967296"), -- 2^32: no 32-bit truncation
  ok("2147483648", int "2147483648"),
  ok("-2147483649", int "-2147483649"),
  ok("9007199254740991", int "9007199254740991"), -- 2^53 - 1
  ok("9007199254740992", int "9007199254740992"), -- 2^53
  ok("9007199254740993", int "9007199254740993"), -- exact on 5.3+, 2^53 as a double
  ok("-9007199254740993", int "-9007199254740993"),
  ok("9223372036854775807", int "9223372036854775807"), -- 2^63 - 1
  ok("-9223372036854775807", int "-9223372036854775807"),
  ok("-9223372036854775808", int "-9223372036854775808"), -- -2^63
  ok("9223372036854775808", 9223372036854775808.0), -- beyond lua_Integer: the nearest double
  ok("9223372036854775809", 9223372036854775808.0),
  ok("-9223372036854775809", -9223372036854775808.0),
  ok("18446744073709551615", 18446744073709551616.0),
  ok("18446744073709551616", 18446744073709551616.0),
  ok("-18446744073709551616", -18446744073709551616.0),
  ok("12345678901234567890", float "12345678901234567890"),
  ok("123456789012345678901234567890", float "123456789012345678901234567890"),
  ok("9223372036854775807.0", 9223372036854775808.0), -- a fraction makes it a float
  ok("9223372036854775807e0", 9223372036854775808.0),
  ok("-9223372036854775808.0", -9223372036854775808.0),
  ok("9007199254740992.0", 9007199254740992.0),
  ok("9007199254740993.0", 9007199254740992.0), -- halfway: ties to even
  ok("9007199254740995.0", 9007199254740996.0),
  ok("9007199254740993e0", 9007199254740992.0),
  ok("9007199254740993.000000000000000000001", 9007199254740994.0), -- just above halfway
  ok("90071992547409930000000000e-10", 9007199254740992.0),
  ok("1e2", 100.0),
})

group("§6 numbers (§9 limits): huge and tiny exponents, many digits", {
  ok("1e308", 1e308),
  ok("1.7976931348623157e308", 1.7976931348623157e308), -- the largest double
  ok("1.8e308", INF), -- too large: infinity, never clamped
  ok("-1.8e308", -INF),
  ok("1e400", INF),
  ok("-1e400", -INF),
  ok("1e-400", 0.0), -- too small: zero, with its sign
  ok("-1e-400", NEG0),
  ok("2.2250738585072014e-308", 2.2250738585072014e-308), -- the smallest normal
  ok("2.2250738585072011e-308", 2.225073858507201e-308),
  ok("4.9406564584124654e-324", 5e-324), -- the smallest subnormal
  ok("5e-324", 5e-324),
  ok("3e-324", 5e-324),
  ok("2e-324", 0.0),
  ok("2.4703282292062328e-324", 5e-324), -- just above half the smallest subnormal
  ok("2.4703282292062327e-324", 0.0), -- just below
  ok("1e99999999999999999999", INF),
  ok("-1e99999999999999999999", -INF),
  ok("1e-99999999999999999999", 0.0),
  ok("0e99999999999999999999", 0.0),
  ok("0e-99999999999999999999", 0.0),
  ok("-0e99999", NEG0),
  ok("0.0e1000", 0.0),
  ok("3.141592653589793238462643383279502884197", 3.141592653589793),
  ok("0.1000000000000000055511151231257827021181583404541015625", 0.1),
  ok("1" .. string.rep("0", 30), 1e30),
  ok("1" .. string.rep("0", 300), 1e300),
  ok("1" .. string.rep("0", 400), INF),
  ok("1" .. string.rep("0", 1000) .. "e-1000", 1.0),
  ok("0." .. string.rep("0", 1000) .. "1e1001", 1.0),
  ok("-0." .. string.rep("0", 400) .. "1", NEG0),
  ok(string.rep("9", 400) .. "e-400", 1.0),
  ok("0.000000000000000000000000000000000000000001", 1e-42),
  -- Every digit counts however long the literal is (10^199999 * 10^-2000000 is 10^-1800001).
  ok("1" .. string.rep("0", 199999) .. "e-2000000", 0.0),
  ok("0." .. string.rep("0", 199999) .. "1e2000000", INF),
  ok("1" .. string.rep("0", 199999) .. "e-199999", 1.0),
})

-- ---- §7 strings ---------------------------------------------------------------------------------------

local long = string.rep("abcdefghijklmnopqrstuvwxyz", 4000)

group("§7 strings: quotation-mark *char quotation-mark, unescaped = %x20-21 / %x23-5B / %x5D-10FFFF", {
  ok('""', ""),
  ok('"a"', "a"),
  ok('" "', " "),
  ok('"abc def"', "abc def"),
  ok('"<7F>"', "\127"), -- DEL is not a control character for JSON
  ok('"a<7F>b"', "a\127b"),
  ok('"/"', "/"),
  ok([["'"]], "'"),
  ok('"[]{}:,"', "[]{}:,"),
  ok('"true"', "true"),
  ok('"123"', "123"),
  ok('"!#[]~"', "!#[]~"), -- the edges of the unescaped ranges: 21, 23, 5B, 5D, 7E
  ok('["a","b"]', A { "a", "b" }),
  ok('"' .. long .. '"', long),
  ok('"' .. long .. [[\n]] .. long .. '"', long .. "\n" .. long),
  bad('"', 2, UNTERMINATED),
  bad('"abc', 5, UNTERMINATED),
  bad('["abc', 6, UNTERMINATED),
  bad('"' .. long, #long + 2, UNTERMINATED),
  bad([["abc\]], 6, UNTERMINATED),
  bad([["\"]], 4, UNTERMINATED),
  bad([["\\\"]], 6, UNTERMINATED),
  bad("'abc'", 1),
  bad('"""', 3, TRAILING),
  bad('"a"b"', 4, TRAILING),
  bad("<E2><80><9C>a<E2><80><9D>", 1), -- curly quotes
})

local control = {}
for c = 0, 0x1F do
  control[#control + 1] = bad('"a' .. string.char(c) .. 'b"', 3, CONTROL)
end
append(control, {
  bad('"<00>"', 2, CONTROL),
  bad('"<09>"', 2, CONTROL),
  bad('"<01>', 2, CONTROL), -- before the end of input
  bad('{"a<0A>":1}', 4, CONTROL),
  bad('["ok","<0D>"]', 8, CONTROL),
  bad([["\n]] .. "<0A>" .. '"', 4, CONTROL),
  bad('"' .. string.rep("x", 40) .. '<1F>"', 42, CONTROL),
  ok('"<20>"', " "),
  ok('"<7F>"', "\127"),
})
group("§7 strings: the control characters U+0000 to U+001F must be escaped", control)

-- Every printable ASCII byte after a backslash: eight are escape letters (u is in the next group).
local escape_letters = {
  ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
}
local escapes = {}
for c = 0x20, 0x7E do
  local ch = string.char(c)
  if escape_letters[ch] then
    escapes[#escapes + 1] = ok('"\\' .. ch .. '"', escape_letters[ch])
  elseif ch ~= "u" then
    escapes[#escapes + 1] = bad('"\\' .. ch .. '"', 3, ESCAPE)
  end
end
append(escapes, {
  ok([["\"\\\/\b\f\n\r\t"]], '"\\/\b\f\n\r\t'),
  ok([["a\nb\tc"]], "a\nb\tc"),
  ok([["\\u0041"]], "\\u0041"), -- an escaped backslash, then plain text
  ok([["\\\\"]], "\\\\"),
  ok([["\/\/"]], "//"),
  bad('"\\<C3><A9>"', 3, ESCAPE),
  bad('"\\<FF>"', 3),
  bad('"\\<00>"', 3),
  bad('"\\<0A>"', 3),
  bad('"\\', 3, UNTERMINATED),
  bad([["abc\x"]], 6, ESCAPE),
  bad([[{"\x":1}]], 4, ESCAPE),
})
group("§7 strings: escape = %x5C ( %x22 / %x5C / %x2F / %x62 / %x66 / %x6E / %x72 / %x74 / u 4HEXDIG )",
  escapes)

local unicode = {}
for c = 0, 0x1F do
  local fmt = c % 2 == 0 and "\"\\u%04X\"" or "\"\\u%04x\""
  unicode[#unicode + 1] = ok(string.format(fmt, c), string.char(c))
end
append(unicode, {
  ok([["\u0041"]], "A"),
  ok([["\u0061"]], "a"),
  ok([["\u00e9"]], h "<C3><A9>"),
  ok([["\u00E9"]], h "<C3><A9>"),
  ok([["\u00eA"]], h "<C3><AA>"),
  ok([["\uABCD"]], h "<EA><AF><8D>"),
  ok([["\uabcd"]], h "<EA><AF><8D>"),
  ok([["\uAbCd"]], h "<EA><AF><8D>"),
  ok([["a\u0000b"]], "a\0b"),
  ok([["\u007F"]], "\127"),
  ok([["\u0080"]], h "<C2><80>"),
  ok([["\u07FF"]], h "<DF><BF>"),
  ok([["\u0800"]], h "<E0><A0><80>"),
  ok([["\uD7FF"]], h "<ED><9F><BF>"),
  ok([["\uE000"]], h "<EE><80><80>"),
  ok([["\uFEFF"]], h "<EF><BB><BF>"),
  ok([["\uFFFE"]], h "<EF><BF><BE>"),
  ok([["\uFFFF"]], h "<EF><BF><BF>"),
  ok([["\u0022"]], '"'),
  ok([["\u005C"]], "\\"),
  ok([["\u005c"]], "\\"),
  ok([["\u002F"]], "/"),
  ok([["\u0041\u0042"]], "AB"),
  ok([["x\u0041y"]], "xAy"),
  ok([["\u00410"]], "A0"), -- exactly four digits: the fifth is text
  ok([["\u12345"]], h "<E1><88><B4>5"),
  bad([["\u"]], 4, HEX),
  bad([["\u0"]], 5, HEX),
  bad([["\u00"]], 6, HEX),
  bad([["\u004"]], 7, HEX),
  bad([["\uG000"]], 4, HEX),
  bad([["\u0G00"]], 5, HEX),
  bad([["\u00G0"]], 6, HEX),
  bad([["\u000G"]], 7, HEX),
  bad([["\u00g1"]], 6, HEX),
  bad([["\u00/0"]], 6, HEX), -- the bytes around 0-9, A-F and a-f
  bad([["\u00:0"]], 6, HEX),
  bad([["\u00@0"]], 6, HEX),
  bad([["\u00`0"]], 6, HEX),
  bad([["\u 041"]], 4, HEX),
  bad([["\u+041"]], 4, HEX),
  bad([["\u-041"]], 4, HEX),
  bad([["\u0x41"]], 5, HEX),
  bad([["\u12\\34"]], 6, HEX),
  bad([["\u00]] .. '<C3><A9>"', 6, HEX),
  bad([[{"\uZZZZ":1}]], 5, HEX),
  bad([["\u]], 4), -- the end of input where a digit should be
  bad([["\u00]], 6),
  bad([["\u004]], 7),
})
group("§7 strings: \\u escapes, four HEXDIG of either case, U+0000 to U+FFFF", unicode)

group("§7 strings: surrogate pairs, and lone, inverted or truncated surrogates", {
  ok([["\uD800\uDC00"]], h "<F0><90><80><80>"), -- U+10000
  ok([["\uD83D\uDE00"]], h "<F0><9F><98><80>"),
  ok([["\ud83d\ude00"]], h "<F0><9F><98><80>"),
  ok([["\uD83d\uDe00"]], h "<F0><9F><98><80>"),
  ok([["\uD834\uDD1E"]], h "<F0><9D><84><9E>"), -- U+1D11E
  ok([["\uD800\uDFFF"]], h "<F0><90><8F><BF>"), -- U+103FF
  ok([["\uDBFF\uDC00"]], h "<F4><8F><B0><80>"), -- U+10FC00
  ok([["\uDBFF\uDFFF"]], h "<F4><8F><BF><BF>"), -- U+10FFFF
  ok([["\uD83D\uDE00\uD83D\uDE01"]], h "<F0><9F><98><80><F0><9F><98><81>"),
  ok([["a\uD83D\uDE00b"]], h "a<F0><9F><98><80>b"),
  ok([[{"\uD83D\uDE00":1}]], O { [h "<F0><9F><98><80>"] = 1 }),
  bad([["\uD800"]], 2, SURROGATE),
  bad([["\uDBFF"]], 2, SURROGATE),
  bad([["\udbff"]], 2, SURROGATE),
  bad([["\uDC00"]], 2, SURROGATE),
  bad([["\uDFFF"]], 2, SURROGATE),
  bad([["\udfff"]], 2, SURROGATE),
  bad([["a\uD800b"]], 3, SURROGATE),
  bad([["\uD800\uD800"]], 2, SURROGATE), -- high then high
  bad([["\uD800\uDBFF"]], 2, SURROGATE),
  bad([["\uDC00\uD800"]], 2, SURROGATE), -- inverted
  bad([["\uDE00\uD83D"]], 2, SURROGATE),
  bad([["\uD83D\uDE00\uDE00"]], 14, SURROGATE), -- a pair, then a lone low one
  bad([["\uD800\u0041"]], 2, SURROGATE),
  bad([["\uD800\uE000"]], 2, SURROGATE),
  bad([["\uD800\uD7FF"]], 2, SURROGATE),
  bad([["\uD800\n"]], 2, SURROGATE),
  bad([["\uD800x"]], 2, SURROGATE),
  bad([["\uD800 \uDC00"]], 2, SURROGATE),
  bad([["\uD800\\uDC00"]], 2, SURROGATE),
  bad([["\uD800]] .. '<ED><B0><80>"', 2, SURROGATE), -- its low half as (invalid) UTF-8
  bad([["\uD83D]] .. '<F0><9F><98><80>"', 2, SURROGATE),
  bad([[{"\uDFAA":0}]], 3, SURROGATE),
  bad([[["\uDC00]], 3, SURROGATE), -- known to be lone before the end of input
  bad([=[["\uD800\"]]=], 3, SURROGATE), -- \" is not the \u of a low surrogate
  bad([["\uD800]], 2, SURROGATE), -- the end of input where its low half should be
  -- Truncated: the second escape breaks off; its first bad hex digit is the error.
  bad([["\uD800\u"]], 10, HEX),
  bad([["\uD800\u1"]], 11, HEX),
  bad([["\uD800\u1x"]], 11, HEX),
  bad([["\uD800\uDC"]], 12, HEX),
  bad([["\uD800\uDCxx"]], 12, HEX),
  bad([["\uD800\uZC00"]], 10, HEX),
  bad([["\uD800\uDC]], 12), -- the end of input where a digit should be
  bad([["\uD80"]], 7, HEX),
})

-- ---- §8.1 UTF-8 ------------------------------------------------------------------------------------------

group("§8.1 UTF-8: valid sequences of every length, at their boundaries", {
  ok('"<C2><80>"', h "<C2><80>"), -- U+0080
  ok('"<DF><BF>"', h "<DF><BF>"), -- U+07FF
  ok('"<E0><A0><80>"', h "<E0><A0><80>"), -- U+0800
  ok('"<E1><80><80>"', h "<E1><80><80>"),
  ok('"<ED><9F><BF>"', h "<ED><9F><BF>"), -- U+D7FF, below the surrogates
  ok('"<EE><80><80>"', h "<EE><80><80>"), -- U+E000, above them
  ok('"<EF><BF><BD>"', h "<EF><BF><BD>"), -- U+FFFD
  ok('"<EF><BF><BE>"', h "<EF><BF><BE>"), -- U+FFFE, a noncharacter, is still valid UTF-8
  ok('"<EF><BF><BF>"', h "<EF><BF><BF>"), -- U+FFFF
  ok('"<EF><BB><BF>"', h "<EF><BB><BF>"), -- U+FEFF inside a string is content
  ok('"<F0><90><80><80>"', h "<F0><90><80><80>"), -- U+10000
  ok('"<F1><80><80><80>"', h "<F1><80><80><80>"),
  ok('"<F3><BF><BF><BF>"', h "<F3><BF><BF><BF>"),
  ok('"<F4><8F><BF><BF>"', h "<F4><8F><BF><BF>"), -- U+10FFFF
  ok('"<E2><80><A8><E2><80><A9>"', h "<E2><80><A8><E2><80><A9>"), -- U+2028, U+2029
  ok('"caf<C3><A9>"', h "caf<C3><A9>"),
  ok('"a<C3><A9>b<E2><82><AC>c<F0><9F><98><80>d"', h "a<C3><A9>b<E2><82><AC>c<F0><9F><98><80>d"),
  ok('"' .. string.rep("<C3><A9>", 40) .. '"', h(string.rep("<C3><A9>", 40))),
  ok('"<F0><9F><98><80>\\n"', h "<F0><9F><98><80>\n"),
  ok('{"<C3><A9>":"<E2><82><AC>"}', O { [h "<C3><A9>"] = h "<E2><82><AC>" }),
})

local utf8_bad = {
  -- stray continuation bytes
  bad('"<80>"', 2, UTF8),
  bad('"<BF>"', 2, UTF8),
  bad('"<80><80>"', 2, UTF8),
  bad('"a<80>"', 3, UTF8),
  bad('"<C3><A9><A9>"', 4, UTF8),
  bad('"<E2><82><AC><80>"', 5, UTF8),
  bad('"<F0><9F><98><80><80>"', 6, UTF8),
  -- truncated sequences
  bad('"<C3>"', 2, UTF8),
  bad('"<C3>a"', 2, UTF8),
  bad('"<E2>"', 2, UTF8),
  bad('"<E2><82>"', 2, UTF8),
  bad('"<E2><82>a"', 2, UTF8),
  bad('"<F0>"', 2, UTF8),
  bad('"<F0><9F>"', 2, UTF8),
  bad('"<F0><9F><98>"', 2, UTF8),
  bad('"<F0><9F><98>a"', 2, UTF8),
  bad('"caf<E9>"', 5, UTF8), -- ISO 8859-1
  bad('"<E9>t<E9>"', 2, UTF8),
  bad('"<C3><C3><A9>"', 2, UTF8),
  bad('"<E2><82><C3><A9>"', 2, UTF8),
  bad('"<C3>', 2, UTF8), -- cut by the end of input
  bad('"<E2><82>', 2, UTF8),
  bad('"<F0><9F><98>', 2, UTF8),
  -- a byte that cannot continue the sequence
  bad('"<C3><28>"', 2, UTF8),
  bad('"<C3><FF>"', 2, UTF8),
  bad('"<E2><28><A1>"', 2, UTF8),
  bad('"<E2><82><28>"', 2, UTF8),
  bad('"<F0><28><8C><BC>"', 2, UTF8),
  bad('"<F0><90><28><BC>"', 2, UTF8),
  bad('"<F0><90><8C><28>"', 2, UTF8),
  -- overlong forms
  bad('"<C0><80>"', 2, UTF8),
  bad('"<C0><AF>"', 2, UTF8),
  bad('"<C1><BF>"', 2, UTF8),
  bad('"<E0><80><80>"', 2, UTF8),
  bad('"<E0><80><AF>"', 2, UTF8),
  bad('"<E0><9F><BF>"', 2, UTF8), -- just below U+0800
  bad('"<F0><80><80><80>"', 2, UTF8),
  bad('"<F0><80><80><AF>"', 2, UTF8),
  bad('"<F0><8F><BF><BF>"', 2, UTF8), -- just below U+10000
  bad('"<F8><80><80><80><AF>"', 2, UTF8),
  bad('"<FC><80><80><80><80><AF>"', 2, UTF8),
  -- UTF-16 surrogates encoded in UTF-8
  bad('"<ED><A0><80>"', 2, UTF8), -- U+D800
  bad('"<ED><AD><BF>"', 2, UTF8),
  bad('"<ED><AF><BF>"', 2, UTF8), -- U+DBFF
  bad('"<ED><B0><80>"', 2, UTF8), -- U+DC00
  bad('"<ED><BF><BF>"', 2, UTF8), -- U+DFFF
  bad('"<ED><A0><BD><ED><B8><80>"', 2, UTF8), -- CESU-8
  bad('"a<ED><A0><80>b"', 3, UTF8),
  -- above U+10FFFF
  bad('"<F4><90><80><80>"', 2, UTF8),
  bad('"<F4><BF><BF><BF>"', 2, UTF8),
  bad('"<F5><80><80><80>"', 2, UTF8),
  bad('"<F7><BF><BF><BF>"', 2, UTF8),
  bad('"<F8><88><80><80><80>"', 2, UTF8),
  bad('"<FC><84><80><80><80><80>"', 2, UTF8),
  -- where the scanner looks at blocks of bytes
  bad('"' .. string.rep("a", 15) .. '<FF>"', 17, UTF8),
  bad('"' .. string.rep("a", 31) .. '<FF>"', 33, UTF8),
  bad('"' .. string.rep("<C3><A9>", 10) .. '<A9>"', 22, UTF8),
  bad('"abc<FF>def"', 5, UTF8),
  bad('"\\n<FF>"', 4, UTF8),
  bad('"<F0><9F><98><80><FF>"', 6, UTF8),
  bad('{"<FF>":1}', 3, UTF8),
  bad('{"a<ED><A0><80>":1}', 4, UTF8),
  -- outside strings every byte >= 0x80 is out of place
  bad("<C3><A9>", 1),
  bad("<80>", 1),
  bad("[<FF>]", 2),
}
-- C0, C1 and F5 to FF never occur in UTF-8, whatever follows them.
for _, b in ipairs { 0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF } do
  utf8_bad[#utf8_bad + 1] = bad('"' .. string.format("<%02X>", b) .. '<80><80><80>"', 2, UTF8)
end
group("§8.1 UTF-8: every class of invalid sequence, at its first byte", utf8_bad)

group("§8.1 no byte order mark; UTF-16 and UTF-32 text is not JSON here", {
  bad("<EF><BB><BF>{}", 1),
  bad("<EF><BB><BF>1", 1),
  bad("<EF><BB><BF>", 1),
  bad("<EF><BB>{}", 1),
  bad(" <EF><BB><BF>[]", 2),
  bad("<FE><FF><00>[<00>]", 1), -- UTF-16BE with BOM
  bad("<FF><FE>[<00>]<00>", 1), -- UTF-16LE with BOM
  bad("<00>[<00>]", 1), -- UTF-16BE
  bad("[<00>]<00>", 2), -- UTF-16LE
  bad("<00><00><FE><FF>", 1), -- UTF-32BE BOM
  ok('"<EF><BB><BF>"', h "<EF><BB><BF>"),
})

-- ---- §9 nesting ------------------------------------------------------------------------------------------

local function nested_arrays(n, leaf)
  local v = leaf or A {}
  for _ = 2, n do v = A { v } end
  return v
end

local function nested_objects(n, leaf)
  local v = leaf
  for _ = 1, n do v = O { a = v } end
  return v
end

local function rep(s, n) return string.rep(s, n) end

local function alternating(n) -- [{"a":[{"a": ... null ... }]}], 2n levels
  local v = NULL
  for _ = 1, n do v = A { O { a = v } } end
  return v
end

local d0, d1, d2, d5 = { max_depth = 0 }, { max_depth = 1 }, { max_depth = 2 }, { max_depth = 5 }

group("§9 nesting: max_depth, 1000 by default, at the limit and one beyond it", {
  ok(rep("[", 1000) .. rep("]", 1000), nested_arrays(1000)),
  ok(rep("[", 1000) .. rep("]", 1000), nested_arrays(1000), { max_depth = 1000 }),
  ok(rep('{"a":', 1000) .. "1" .. rep("}", 1000), nested_objects(1000, 1)),
  ok(rep('[{"a":', 500) .. "null" .. rep("}]", 500), alternating(500)),
  bad(rep("[", 1001) .. rep("]", 1001), 1001, DEPTH),
  bad(rep("[", 1001), 1001, DEPTH),
  bad(rep("[", 1001) .. "x", 1001, DEPTH),
  bad(rep('{"a":', 1001) .. "1" .. rep("}", 1001), 5001, DEPTH),
  bad(rep('[{"a":', 500) .. "[1]" .. rep("}]", 500), 3001, DEPTH),
  bad(rep("[", 1001) .. rep("]", 1001), 1001, DEPTH, { max_depth = 1000 }),
  bad(rep("[", 999) .. "x", 1000),
  ok("1", 1, d0),
  ok('"[["', "[[", d0),
  ok("null", NULL, d0),
  bad("[]", 1, DEPTH, d0),
  bad("{}", 1, DEPTH, d0),
  bad(" \n[1]", 3, DEPTH, d0),
  ok("[1,2,3]", A { 1, 2, 3 }, d1),
  ok('{"a":1,"b":"[{"}', O { a = 1, b = "[{" }, d1),
  ok('["[[[[[["]', A { "[[[[[[" }, d1), -- brackets inside strings do not nest
  bad("[[]]", 2, DEPTH, d1),
  bad("[1,[2]]", 4, DEPTH, d1),
  bad('{"a":{}}', 6, DEPTH, d1),
  bad('{"a":[]}', 6, DEPTH, d1),
  ok("[[1],[2],[3]]", A { A { 1 }, A { 2 }, A { 3 } }, d2), -- siblings do not add up
  ok('{"a":[1],"b":{"c":2}}', O { a = A { 1 }, b = O { c = 2 } }, d2),
  bad("[[[1]]]", 3, DEPTH, d2),
  bad("[[],[[]]]", 6, DEPTH, d2),
  ok("[ [ [ [ [ ] ] ] ] ]", nested_arrays(5), d5),
  bad("[ [ [ [ [ [ ] ] ] ] ] ]", 11, DEPTH, d5),
  ok(rep("[", 1500) .. rep("]", 1500), nested_arrays(1500), { max_depth = 1500 }),
  bad(rep("[", 1501) .. rep("]", 1501), 1501, DEPTH, { max_depth = 1500 }),
})

-- ---- the first wrong byte ---------------------------------------------------------------------------

group("errors: a text with two faults is reported at the first byte that is wrong", {
  bad([["<FF>\uZZZZ"]], 2, UTF8),
  bad([["\uZZZZ<FF>"]], 4, HEX),
  bad([["\uZZZZ\uDC00"]], 4, HEX),
  bad([["\uDC00\uZZZZ"]], 2, SURROGATE),
  bad([["\uD800<FF>"]], 2, SURROGATE),
  bad([["\uD800<0A>"]], 2, SURROGATE),
  bad([["\q<FF>"]], 3, ESCAPE),
  bad([["a\u0041\x"]], 10, ESCAPE),
  bad([["\uZZ]], 4, HEX),
  bad([["\u004<0A>"]], 7),
  bad([["<01>\uZZZZ"]], 2, CONTROL),
  bad([[{"a":"\uD800"]], 7, SURROGATE),
  bad([=[["\uD800", x]]=], 3, SURROGATE),
  bad([=[["\u0041", x]]=], 12),
  bad([=[[1, "\x", 0x]]=], 7, ESCAPE),
})

return {
  groups = groups,
  null = NULL,
  is_array = function(v) return getmetatable(v) == ARRAY end,
  is_object = function(v) return getmetatable(v) == OBJECT end,
}
