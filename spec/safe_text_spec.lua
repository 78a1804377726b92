-- Specs for lua/leadconduit/safe_text.lua: what server text may not bring to a terminal or log.
local safe_text = require "leadconduit.safe_text"

describe("safe_text", function()
  local unsafe = {
    "\0", "\7", "\8", "\9", "\10", "\13", "\27", "\31", "\127",           -- C0 and DEL
    "\194\128", "\194\133", "\194\155", "\194\159",                       -- C1: U+0080, NEL, CSI
    "\226\128\168", "\226\128\169",                                       -- U+2028, U+2029
    "\226\128\170", "\226\128\171", "\226\128\172", "\226\128\173", "\226\128\174", -- U+202A-202E
    "\226\129\166", "\226\129\167", "\226\129\168", "\226\129\169",       -- U+2066-2069
    "\239\187\191",                                                       -- U+FEFF
    "\226\128\142", "\226\128\143", "\216\156",                             -- U+200E, 200F, 061C
    "\239\191\185", "\239\191\186", "\239\191\187",                        -- U+FFF9-FFFB
  }

  it("shows every control and invisible character as ? for a terminal", function()
    for _, c in ipairs(unsafe) do
      assert.equal("a?b", safe_text.printable("a" .. c .. "b"), ("%q"):format(c))
    end
  end)

  it("turns controls into spaces and invisible characters into ? on one line", function()
    assert.equal("a  b", safe_text.one_line("a\r\nb"))
    assert.equal("a b c", safe_text.one_line("a\194\133b\27c"))
    assert.equal("x?y?z", safe_text.one_line("x\226\128\168y\239\187\191z"))
  end)

  it("leaves every other character alone, visible non-ASCII text included", function()
    local fine = "Société Générale — 株式会社 🚀 \226\128\166 \226\128\175 \226\129\165 \239\187\190"
      .. " \226\128\141 \226\128\144 \216\155 \239\191\184 \239\191\188 عربي עברית" -- their neighbours
    assert.equal(fine, safe_text.printable(fine))
    assert.equal(fine, safe_text.one_line(fine))
  end)
end)
