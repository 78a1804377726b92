-- same_value.lua — deep equality for decoded JSON values, for the encode and CLI specs.
-- Stricter than assert.same: integers differ from floats, -0.0 from 0.0, arrays (array_mt) from
-- objects. Returns true, or false and the path of the first difference.

local math_type = math.type -- nil on Lua 5.1/LuaJIT: every number is a double there

local function same_value(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if math_type and math_type(a) ~= math_type(b) then return false, path .. ": number subtype" end
    if a ~= b and not (a ~= a and b ~= b) then return false, path .. ": " .. a .. " vs " .. b end
    if a == 0 and 1 / a ~= 1 / b then return false, path .. ": sign of zero" end
    return true
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  if getmetatable(a) ~= getmetatable(b) then return false, path .. ": metatable" end
  for k, v in pairs(a) do
    local ok, why = same_value(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": extra key" end
  end
  return true
end

return same_value
