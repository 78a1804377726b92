-- safe_text.lua — the characters that must not reach a terminal or a log line from the server.
--
-- C0 controls and DEL, the C1 controls in their UTF-8 form (U+0085 breaks a line, U+009B is a
-- one-character CSI), and the invisible characters that split or reorder a line where they are
-- shown: U+2028 and U+2029 (line and paragraph separators), the bidirectional marks U+200E,
-- U+200F and U+061C, embeddings and overrides U+202A-U+202E and isolates U+2066-U+2069, the
-- interlinear annotation controls U+FFF9-U+FFFB, and U+FEFF (the byte-order mark).

local safe_text = {}

local CONTROLS = { "[%z\1-\31\127]", "\194[\128-\159]" }
local INVISIBLE = {
  "\226\128[\142\143\168-\174]", "\216\156", "\226\129[\166-\169]", "\239\187\191", "\239\191[\185-\187]",
}

local function replace(s, patterns, replacement)
  for _, pattern in ipairs(patterns) do
    s = s:gsub(pattern, replacement)
  end
  return s
end

--- one_line(s) -> s with line breaks and other controls as spaces, invisible characters as "?"
function safe_text.one_line(s)
  return (replace(replace(s, CONTROLS, " "), INVISIBLE, "?"))
end

--- printable(s) -> s with every control and invisible character shown as "?"
function safe_text.printable(s)
  return (replace(replace(s, CONTROLS, "?"), INVISIBLE, "?"))
end

return safe_text
