-- park_miller.lua — a seeded random source for generated test inputs: the same cases on every
-- interpreter (math.random differs between them), exact in doubles too (Lua 5.1, LuaJIT).

local park_miller = {}

-- park_miller.new(seed) -> rand(n) in [0, n), digits(n) a string of n decimal digits
function park_miller.new(seed)
  local function rand(n)
    seed = (seed * 16807) % 2147483647
    return seed % n
  end
  local function digits(n)
    local t = {}
    for i = 1, n do
      t[i] = tostring(rand(10))
    end
    return table.concat(t)
  end
  return rand, digits
end

return park_miller
