-- leadconduit.cli_output — what the command-line tool prints: text aligned by display width for
-- people, TSV for cut and awk, sorted JSON for programs. Text shows only fields picked by name, so
-- secrets the account carries (api_key, keen_*_api_key) never appear in it; server text is made
-- safe for a terminal.

local leadconduit = require "leadconduit"
local features = require "leadconduit.features"
local safe_text = require "leadconduit.safe_text"

local null = leadconduit.null

local output = {}

-- Control and invisible characters from the server (terminal escape sequences included) never
-- reach a terminal.
local clean = safe_text.printable

-- Code points that take no column (combining marks, joiners, variation selectors) or two (East
-- Asian wide and fullwidth characters, emoji), as sorted, disjoint ranges { first, last }.
local ZERO_WIDTH = {
  { 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x05BF, 0x05BF }, { 0x05C1, 0x05C2 },
  { 0x05C4, 0x05C5 }, { 0x05C7, 0x05C7 }, { 0x0610, 0x061A }, { 0x064B, 0x065F }, { 0x0670, 0x0670 },
  { 0x06D6, 0x06DC }, { 0x06DF, 0x06E4 }, { 0x06E7, 0x06E8 }, { 0x06EA, 0x06ED }, { 0x0711, 0x0711 },
  { 0x0730, 0x074A }, { 0x07A6, 0x07B0 }, { 0x07EB, 0x07F3 }, { 0x0816, 0x082D }, { 0x0859, 0x085B },
  { 0x08D3, 0x0902 }, { 0x093A, 0x093A }, { 0x093C, 0x093C }, { 0x0941, 0x0948 }, { 0x094D, 0x094D },
  { 0x0951, 0x0957 }, { 0x0962, 0x0963 }, { 0x0981, 0x0981 }, { 0x09BC, 0x09BC }, { 0x09C1, 0x09C4 },
  { 0x09CD, 0x09CD }, { 0x0A01, 0x0A02 }, { 0x0A3C, 0x0A3C }, { 0x0A41, 0x0A51 }, { 0x0A70, 0x0A71 },
  { 0x0ABC, 0x0ABC }, { 0x0AC1, 0x0AC8 }, { 0x0ACD, 0x0ACD }, { 0x0B01, 0x0B01 }, { 0x0B3C, 0x0B3C },
  { 0x0BCD, 0x0BCD }, { 0x0C3E, 0x0C40 }, { 0x0C46, 0x0C56 }, { 0x0CBC, 0x0CBC }, { 0x0CCC, 0x0CCD },
  { 0x0D41, 0x0D44 }, { 0x0D4D, 0x0D4D }, { 0x0DCA, 0x0DCA }, { 0x0E31, 0x0E31 }, { 0x0E34, 0x0E3A },
  { 0x0E47, 0x0E4E }, { 0x0EB1, 0x0EB1 }, { 0x0EB4, 0x0EBC }, { 0x0EC8, 0x0ECE }, { 0x0F18, 0x0F19 },
  { 0x0F35, 0x0F35 }, { 0x0F37, 0x0F37 }, { 0x0F39, 0x0F39 }, { 0x0F71, 0x0F7E }, { 0x0F80, 0x0F84 },
  { 0x102D, 0x1030 }, { 0x1032, 0x1037 }, { 0x1039, 0x103A }, { 0x1160, 0x11FF }, { 0x135D, 0x135F },
  { 0x1712, 0x1714 }, { 0x17B4, 0x17B5 }, { 0x17B7, 0x17BD }, { 0x17C6, 0x17C6 }, { 0x17C9, 0x17D3 },
  { 0x180B, 0x180F }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF }, { 0x200B, 0x200F }, { 0x2060, 0x2064 },
  { 0x20D0, 0x20FF }, { 0x302A, 0x302D }, { 0x3099, 0x309A }, { 0xFE00, 0xFE0F }, { 0xFE20, 0xFE2F },
  { 0x1F3FB, 0x1F3FF }, { 0xE0001, 0xE007F }, { 0xE0100, 0xE01EF },
}
local DOUBLE_WIDTH = {
  { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x23E9, 0x23EC }, { 0x23F0, 0x23F0 },
  { 0x23F3, 0x23F3 }, { 0x25FD, 0x25FE }, { 0x2614, 0x2615 }, { 0x2648, 0x2653 }, { 0x267F, 0x267F },
  { 0x2693, 0x2693 }, { 0x26A1, 0x26A1 }, { 0x26AA, 0x26AB }, { 0x26BD, 0x26BE }, { 0x26C4, 0x26C5 },
  { 0x26CE, 0x26CE }, { 0x26D4, 0x26D4 }, { 0x26EA, 0x26EA }, { 0x26F2, 0x26F3 }, { 0x26F5, 0x26F5 },
  { 0x26FA, 0x26FA }, { 0x26FD, 0x26FD }, { 0x2705, 0x2705 }, { 0x270A, 0x270B }, { 0x2728, 0x2728 },
  { 0x274C, 0x274C }, { 0x274E, 0x274E }, { 0x2753, 0x2755 }, { 0x2757, 0x2757 }, { 0x2795, 0x2797 },
  { 0x27B0, 0x27B0 }, { 0x27BF, 0x27BF }, { 0x2B1B, 0x2B1C }, { 0x2B50, 0x2B50 }, { 0x2B55, 0x2B55 },
  { 0x2E80, 0x3029 }, { 0x302E, 0x303E }, { 0x3041, 0x3098 }, { 0x309B, 0x33FF }, { 0x3400, 0x4DBF },
  { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF }, { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF },
  { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 }, { 0x16FE0, 0x16FE4 },
  { 0x17000, 0x18CFF }, { 0x1B000, 0x1B2FF }, { 0x1F004, 0x1F004 }, { 0x1F0CF, 0x1F0CF },
  { 0x1F18E, 0x1F18E }, { 0x1F191, 0x1F19A }, { 0x1F200, 0x1F2FF }, { 0x1F300, 0x1F320 },
  { 0x1F32D, 0x1F335 }, { 0x1F337, 0x1F37C }, { 0x1F37E, 0x1F393 }, { 0x1F3A0, 0x1F3CA },
  { 0x1F3CF, 0x1F3D3 }, { 0x1F3E0, 0x1F3F0 }, { 0x1F3F4, 0x1F3F4 }, { 0x1F3F8, 0x1F3FA },
  { 0x1F400, 0x1F43E }, { 0x1F440, 0x1F440 }, { 0x1F442, 0x1F4FC }, { 0x1F4FF, 0x1F53D },
  { 0x1F54B, 0x1F54E }, { 0x1F550, 0x1F567 }, { 0x1F57A, 0x1F57A }, { 0x1F595, 0x1F596 },
  { 0x1F5A4, 0x1F5A4 }, { 0x1F5FB, 0x1F64F }, { 0x1F680, 0x1F6C5 }, { 0x1F6CC, 0x1F6CC },
  { 0x1F6D0, 0x1F6D2 }, { 0x1F6D5, 0x1F6D7 }, { 0x1F6DC, 0x1F6DF }, { 0x1F6EB, 0x1F6EC },
  { 0x1F6F4, 0x1F6FC }, { 0x1F7E0, 0x1F7EB }, { 0x1F7F0, 0x1F7F0 }, { 0x1F90C, 0x1F93A },
  { 0x1F93C, 0x1F945 }, { 0x1F947, 0x1F9FF }, { 0x1FA70, 0x1FAFF }, { 0x20000, 0x2FFFD },
  { 0x30000, 0x3FFFD },
}

local function in_ranges(ranges, cp)
  local lo, hi = 1, #ranges
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    local r = ranges[mid]
    if cp < r[1] then hi = mid - 1 elseif cp > r[2] then lo = mid + 1 else return true end
  end
  return false
end

-- Columns a code point takes in a terminal.
local function code_point_width(cp)
  if cp < 0x300 then return 1 end
  if in_ranges(ZERO_WIDTH, cp) then return 0 end
  if in_ranges(DOUBLE_WIDTH, cp) then return 2 end
  return 1
end

--- width(s) -> the columns s takes in a terminal (s is valid UTF-8: it came through the decoder)
function output.width(s)
  local n = 0
  for seq in s:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
    local b1, b2, b3, b4 = seq:byte(1, 4)
    local cp
    if b1 < 0x80 then
      cp = b1
    elseif b1 < 0xE0 then
      cp = (b1 % 32) * 64 + (b2 or 0) % 64
    elseif b1 < 0xF0 then
      cp = ((b1 % 16) * 64 + (b2 or 0) % 64) * 64 + (b3 or 0) % 64
    else
      cp = (((b1 % 8) * 64 + (b2 or 0) % 64) * 64 + (b3 or 0) % 64) * 64 + (b4 or 0) % 64
    end
    n = n + code_point_width(cp)
  end
  return n
end

local width = output.width

local function number_text(n)
  if n == math.floor(n) and n > -2 ^ 53 and n < 2 ^ 53 then
    return ("%d"):format(n)
  end
  return tostring(n)
end

-- A JSON scalar as text (cleaned where it is printed); nil when missing, null, empty or not a scalar.
local function text(v)
  if type(v) == "string" then return v ~= "" and v or nil end
  if type(v) == "number" then return number_text(v) end
  if type(v) == "boolean" then return tostring(v) end
  return nil
end

local function count(list)
  if type(list) == "table" then return #list end
  return 0
end

local function object(v)
  if type(v) == "table" then return v end
  return nil
end

--- columns(rows) -> lines: cells padded to a common display width, two spaces apart, the last
-- unpadded; control and invisible characters shown as ?.
function output.columns(rows)
  local widths, cleaned = {}, {}
  for r, row in ipairs(rows) do
    cleaned[r] = {}
    for i, cell in ipairs(row) do
      cleaned[r][i] = clean(cell)
      widths[i] = math.max(widths[i] or 0, width(cleaned[r][i]))
    end
  end
  local lines = {}
  for r, row in ipairs(cleaned) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - width(cell)) or cell
    end
    lines[r] = table.concat(cells, "  ")
  end
  return lines
end

--- tsv(rows) -> lines: cells joined by one TAB, no padding; a TAB or line break inside a cell is
-- shown as a space, other control and invisible characters as ?.
function output.tsv(rows)
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do cells[i] = clean((cell:gsub("[\t\r\n]", " "))) end
    lines[r] = table.concat(cells, "\t")
  end
  return lines
end

--- json(value [, opts]) -> text: sorted keys, two-space indent, null and [] kept; opts.infinity
-- as encode's (infinities as 1e999).
function output.json(value, opts)
  local out, err = leadconduit.encode(value, { indent = 2, infinity = opts and opts.infinity })
  if not out then error(err, 0) end
  return out
end

--- features(account) -> { name = boolean } for every feature name (true only when exactly true)
function output.features(account)
  local flags = {}
  for _, name in ipairs(features.names(account)) do
    flags[name] = leadconduit.has_feature(account, name)
  end
  return flags
end

--- feature_rows(account) -> rows of { name, "on" | "off" }, sorted by name
function output.feature_rows(account)
  local rows = {}
  for _, name in ipairs(features.names(account)) do
    rows[#rows + 1] = { name, leadconduit.has_feature(account, name) and "on" or "off" }
  end
  return rows
end

--- pending_rows(list [, tsv]) -> rows of { id, name, expiry } for the given pending entries; for
-- TSV (API.md) an entry without an expiry time shows "-", for people "no expiry"
function output.pending_rows(list, tsv)
  local rows = {}
  for i, entry in ipairs(list) do
    local at = entry.invitation_expires_at
    local expiry
    if type(at) == "string" and at ~= "" then
      expiry = at
    elseif tsv then
      expiry = "-"
    elseif at == nil or at == null then
      expiry = "no expiry"
    else
      expiry = "invalid expiry"
    end
    rows[i] = { text(entry.id) or "-", text(entry.name) or "-", expiry }
  end
  return rows
end

-- A value of a change record as JSON text ("" when absent); shown compactly, one line.
local function value_text(v)
  if v == nil then return "" end
  local json = leadconduit.encode(v)
  return json or tostring(v) -- 1e400 decodes to inf, which JSON cannot hold
end

-- The widest a value of a change takes in text output (API.md 0.3): a whole account in one
-- cell made lines of hundreds of columns, in terminals and in mail.
local VALUE_COLUMNS = 60

--- cut(s, columns) -> s when it takes at most columns display columns, else its longest head
-- that fits in columns - 1, then "…"; never ends in a space before the "…". s is cleaned first
-- (clean is idempotent), so what is measured is what is shown.
function output.cut(s, columns)
  s = clean(s)
  if width(s) <= columns then return s end
  local used, stop = 0, 0
  for start, seq in s:gmatch("()([%z\1-\127\194-\244][\128-\191]*)") do
    local w = width(seq)
    if used + w > columns - 1 then break end
    used, stop = used + w, start + #seq - 1
  end
  return (s:sub(1, stop):gsub(" +$", "")) .. "…"
end

--- change_rows(records [, tsv]) -> rows of { op, path, old, new }, values as JSON text; for
-- people an absent value shows "-" and a long one is cut at VALUE_COLUMNS columns
function output.change_rows(records, tsv)
  local rows = {}
  for i, r in ipairs(records) do
    local old, new = value_text(r.old), value_text(r.new)
    if not tsv then
      old = old ~= "" and output.cut(old, VALUE_COLUMNS) or "-"
      new = new ~= "" and output.cut(new, VALUE_COLUMNS) or "-"
    end
    rows[i] = { r.op, r.path, old, new }
  end
  return rows
end

-- Names of the active subscriptions, sorted.
local function active_subscriptions(account)
  local names = {}
  for name in pairs(object(account.subscriptions) or {}) do
    if type(name) == "string" and leadconduit.subscription_active(account, name) then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return names
end

local function list_text(names)
  if #names == 0 then return "none" end
  return table.concat(names, ", ")
end

--- summary_rows(account [, now]) -> rows of { label, value } describing the account.
-- Fields are picked one by one: nothing secret is ever among them.
function output.summary_rows(account, now)
  local function field(name) return text(account[name]) or "-" end
  local retention = text(account.data_retention_in_days)
  local billing = text(account.billing_type)
  local financial = text(account.financial_state)
  if billing and financial then
    billing = billing .. " (" .. financial .. ")"
  else
    billing = billing or financial or "-"
  end
  local lead_ping = account.lead_ping_enabled
  local enabled = {}
  for i, name in ipairs(leadconduit.enabled_features(account)) do enabled[i] = name end

  local function pending(list)
    return ("%d open, %d expired"):format(#leadconduit.active_pending(list, now),
      #leadconduit.expired_pending(list, now))
  end

  return {
    { "name", field("name") },
    { "id", field("id") },
    { "sso id", field("sso_id") },
    { "type", field("type") },
    { "state", field("state") },
    { "product", field("product_id") },
    { "time zone", field("time_zone") },
    { "data retention", retention and (retention .. " days") or "-" },
    { "billing", billing },
    { "lead ping", lead_ping == true and "on" or (lead_ping == false and "off" or "-") },
    { "features", list_text(enabled) },
    { "subscriptions", list_text(active_subscriptions(account)) },
    { "connected sellers", number_text(count(account.connected_sellers)) },
    { "connected buyers", number_text(count(account.connected_buyers)) },
    { "pending sellers", pending(account.pending_sellers) },
    { "pending buyers", pending(account.pending_buyers) },
  }
end

return output
