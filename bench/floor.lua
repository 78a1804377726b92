-- floor.lua — the floor of a decoder, for the decode benchmarks: a compiled Lua chunk whose table
-- constructor yields the same value as decoding a text, so that calling it costs the tables alone
-- (its strings are the chunk's constants, so it interns nothing) with nothing left to parse.
local leadconduit = require "leadconduit"

local floor = {}

-- Lua source of a constructor for a decoded value; null is the upvalue N.
local function constructor(value, out)
  local t = type(value)
  if t == "table" then
    out[#out + 1] = "{"
    if getmetatable(value) == leadconduit.array_mt then
      for _, v in ipairs(value) do
        constructor(v, out)
        out[#out + 1] = ","
      end
    else
      for k, v in pairs(value) do
        out[#out + 1] = ("[%q]="):format(k)
        constructor(v, out)
        out[#out + 1] = ","
      end
    end
    out[#out + 1] = "}"
  elseif t == "string" then
    out[#out + 1] = ("%q"):format(value)
  elseif t == "number" then
    if math.type and math.type(value) == "integer" then
      out[#out + 1] = ("%d"):format(value)
    elseif value ~= value or value == math.huge or value == -math.huge then
      error("the floor cannot build " .. tostring(value))
    else
      out[#out + 1] = ("%.17g"):format(value)
    end
  elseif value == leadconduit.null then
    out[#out + 1] = "N"
  else
    out[#out + 1] = tostring(value)
  end
  return out
end

-- floor(text) -> a function that returns, with nothing to parse, what decode(text) returns.
function floor.floor_for(text)
  local src = "local N = ...; return function() return "
    .. table.concat(constructor(leadconduit.decode(text), {})) .. " end"
  local chunk = assert((loadstring or load)(src))
  return chunk(leadconduit.null)
end

return floor
