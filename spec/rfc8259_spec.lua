-- Runs leadconduit's own RFC 8259 conformance corpus (spec/conformance/rfc8259.lua) through
-- leadconduit.decode: one test per grammar rule, every case of it checked and every failure listed.
-- Accepted cases must give exactly the expected value (type, integer or float on Lua 5.3+, the sign
-- of zero, leadconduit.null, array_mt on arrays only); rejected ones nil and a message whose byte,
-- line and column are those of the expected position. Needs nothing outside the repository.
local leadconduit = require "leadconduit"
local corpus = require "conformance.rfc8259"
local decode = leadconduit.decode

local math_type = math.type -- nil on Lua 5.1 and LuaJIT: every number is a double there

-- A short printable form of a case's text: bytes outside 0x20-0x7E as <HH>, long texts cut.
local function show(s)
  local shown = s:gsub("[^\32-\126]", function(c) return string.format("<%02X>", c:byte()) end)
  if #shown > 60 then
    shown = shown:sub(1, 40) .. "... (" .. #s .. " bytes)"
  end
  return shown
end

local function describe_value(v, depth)
  depth = depth or 0
  if v == leadconduit.null then return "null" end
  if type(v) == "string" then return '"' .. show(v) .. '"' end
  if type(v) == "number" then
    local s = tostring(v)
    if v == 0 and 1 / v < 0 then s = "-0.0" end
    return math_type and (s .. " (" .. math_type(v) .. ")") or s
  end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 3 then return "{...}" end
  local parts, n = {}, 0
  for k, item in pairs(v) do
    n = n + 1
    if n > 6 then
      parts[#parts + 1] = "..."
      break
    end
    parts[#parts + 1] = tostring(k) .. "=" .. describe_value(item, depth + 1)
  end
  local kind = getmetatable(v) == leadconduit.array_mt and "array" or getmetatable(v) and "table+mt"
    or "object"
  return kind .. "{" .. table.concat(parts, ", ") .. "}"
end

-- The number of keys of t, and whether they are exactly 1..n.
local function keys_of(t)
  local n, all_index = 0, true
  for k in pairs(t) do
    n = n + 1
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then all_index = false end
  end
  return n, all_index and (n == 0 or t[n] ~= nil)
end

local function differ(path, expected, actual)
  return false, path .. ": expected " .. expected .. ", got " .. describe_value(actual)
end

-- Strict comparison of a decoded value with the corpus's expectation.
-- `loose` (for lua-cjson) compares numbers by value only and arrays/objects by their keys.
local function compare(expected, actual, path, loose, null)
  null = null or leadconduit.null
  if expected == corpus.null then
    if actual ~= null then return differ(path, "null", actual) end
    return true
  end
  if type(expected) ~= type(actual) then return differ(path, "a " .. type(expected), actual) end
  if type(expected) == "number" then
    if not loose and math_type and math_type(expected) ~= math_type(actual) then
      return differ(path, describe_value(expected), actual)
    end
    local same
    if loose and math_type then
      same = expected + 0.0 == actual + 0.0
    else
      same = expected == actual
    end
    if not same or expected == 0 and (1 / expected < 0) ~= (1 / actual < 0) then
      return differ(path, describe_value(expected), actual)
    end
    return true
  end
  if type(expected) ~= "table" then
    if expected ~= actual then return differ(path, describe_value(expected), actual) end
    return true
  end
  local n, is_sequence = keys_of(actual)
  if corpus.is_array(expected) then
    if not loose and getmetatable(actual) ~= leadconduit.array_mt then
      return differ(path, "an array carrying array_mt", actual)
    end
    if n ~= #expected or not is_sequence then return differ(path, "an array of " .. #expected, actual) end
    for i = 1, #expected do
      local ok, why = compare(expected[i], actual[i], path .. "[" .. i .. "]", loose, null)
      if not ok then return false, why end
    end
    return true
  end
  assert(corpus.is_object(expected), "corpus: a table that is neither A{} nor O{} at " .. path)
  if not loose and getmetatable(actual) ~= nil then
    return differ(path, "an object without a metatable", actual)
  end
  local m = 0
  for k, v in pairs(expected) do
    m = m + 1
    if actual[k] == nil then return false, path .. ": no member " .. describe_value(k) end
    local ok, why = compare(v, actual[k], path .. "." .. show(k), loose, null)
    if not ok then return false, why end
  end
  if n ~= m then return differ(path, m .. " members", actual) end
  return true
end

-- Line and column of byte `at` of `text`, counted as the contract says: \n breaks lines, columns
-- count bytes.
local function line_column(text, at)
  local line, line_start = 1, 1
  for i = 1, at - 1 do
    if text:byte(i) == 10 then
      line = line + 1
      line_start = i + 1
    end
  end
  return line, at - line_start + 1
end

local MESSAGE = "^leadconduit%.decode: (.-) at byte (%d+) %(line (%d+), column (%d+)%)$"

-- nil when the case holds, else why not.
local function check(case)
  local called, value, err = pcall(decode, case.text, case.opts)
  if not called then return "raised: " .. tostring(value) end
  if case.at == nil then
    if value == nil then return "rejected: " .. tostring(err) end
    local ok, why = compare(case.value, value, "$")
    if not ok then return why end
    return nil
  end
  if value ~= nil then
    return "accepted as " .. describe_value(value) .. ", expected an error at byte " .. case.at
  end
  local what, byte, line, column = tostring(err):match(MESSAGE)
  if not what then return "message not of the documented form: " .. tostring(err) end
  local want_line, want_column = line_column(case.text, case.at)
  local want = "byte " .. case.at .. " (line " .. want_line .. ", column " .. want_column .. ")"
  local got = "byte " .. byte .. " (line " .. line .. ", column " .. column .. ")"
  if want ~= got then
    local about = case.what and (" [" .. case.what .. "]") or ""
    return "expected the error at " .. want .. about .. ", got: " .. err
  end
  if case.what and not what:find(case.what, 1, true) then
    return "expected a message about '" .. case.what .. "', got: " .. err
  end
  return nil
end

local function label(case)
  local s = show(case.text)
  if case.opts and case.opts.max_depth then s = s .. "  {max_depth=" .. case.opts.max_depth .. "}" end
  return s
end

describe("RFC 8259 conformance corpus", function()
  local total = 0
  for _, group in ipairs(corpus.groups) do
    total = total + #group.cases
    it(group.name .. " (" .. #group.cases .. " cases)", function()
      assert(#group.cases > 0, "the group has no cases")
      local failures = {}
      for _, case in ipairs(group.cases) do
        local why = check(case)
        if why then failures[#failures + 1] = "  " .. label(case) .. "\n      " .. why end
      end
      assert(#failures == 0,
        #failures .. " of " .. #group.cases .. " cases failed:\n" .. table.concat(failures, "\n"))
    end)
  end

  it("has at least 300 cases in at least 15 rule groups", function()
    assert.is_true(#corpus.groups >= 15, #corpus.groups .. " groups")
    assert.is_true(total >= 300, total .. " cases")
  end)

  -- lua-cjson is an oracle only for what it accepts, and only where it agrees by design: it has no
  -- integers (5.3+) nor array_mt, so numbers are compared by value, integers beyond 2^53 (which it
  -- rounds to doubles) are skipped, and arrays and objects are told apart by their keys.
  it("agrees with lua-cjson on every accepted case that cjson accepts too", function()
    local found, cjson_module = pcall(require, "cjson")
    if not found then
      pending("lua-cjson is not installed for this interpreter")
      return
    end

    local function big_integer(v)
      if type(v) == "number" then
        return math_type and math_type(v) == "integer" and (v > 2 ^ 53 or v < -2 ^ 53)
      end
      if type(v) == "table" and v ~= corpus.null then
        for _, item in pairs(v) do
          if big_integer(item) then return true end
        end
      end
      return false
    end

    local checked, failures = 0, {}
    for _, group in ipairs(corpus.groups) do
      for _, case in ipairs(group.cases) do
        if case.at == nil and not big_integer(case.value) then
          local cjson = cjson_module.new()
          local depth = case.opts and case.opts.max_depth or 1000
          if depth >= 1 then
            cjson.decode_max_depth(depth)
            local decoded, value = pcall(cjson.decode, case.text)
            if decoded then
              checked = checked + 1
              local same, why = compare(case.value, value, "$", true, cjson.null)
              if not same then failures[#failures + 1] = "  " .. label(case) .. "\n      cjson: " .. why end
            end
          end
        end
      end
    end
    assert(#failures == 0, #failures .. " disagreements with lua-cjson:\n" .. table.concat(failures, "\n"))
    assert(checked >= 200, "only " .. checked .. " cases cross-checked")
  end)
end)
