-- utf8_oracle.lua — RFC 3629's table of well-formed UTF-8 sequences, byte by byte, written
-- from the RFC: the oracle for the C validator's runs (csrc/utf8.h) in the decode and encode specs.

local utf8_oracle = {}

-- The byte at which the UTF-8 of s stops being valid (the first byte of the first sequence that
-- is not well formed), or nil when all of s is valid.
function utf8_oracle.first_invalid(s)
  local i = 1
  while i <= #s do
    local c = s:byte(i)
    local n, lo, hi -- the length, and the range of the second byte
    lo, hi = 0x80, 0xBF
    if c < 0x80 then
      n = 1
    elseif c >= 0xC2 and c <= 0xDF then
      n = 2
    elseif c >= 0xE0 and c <= 0xEF then
      n = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      n = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else
      return i
    end
    if n > 1 then
      local second = s:byte(i + 1)
      if not second or second < lo or second > hi then return i end
      for k = i + 2, i + n - 1 do
        local b = s:byte(k)
        if not b or b < 0x80 or b > 0xBF then return i end
      end
    end
    i = i + n
  end
  return nil
end

return utf8_oracle
