-- leadconduit.cli_output — what the command-line tool prints: aligned text for people, sorted JSON
-- for programs. Text shows only fields picked by name, so secrets the account carries (api_key,
-- keen_*_api_key) never appear in it; server text is made safe for a terminal.

local leadconduit = require "leadconduit"
local features = require "leadconduit.features"
local safe_text = require "leadconduit.safe_text"

local null = leadconduit.null

local output = {}

-- Control and invisible characters from the server (terminal escape sequences included) never
-- reach a terminal.
local clean = safe_text.printable

-- Columns are counted in UTF-8 code points, not bytes, so accented names stay aligned.
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function number_text(n)
  if n == math.floor(n) and n > -2 ^ 53 and n < 2 ^ 53 then
    return ("%d"):format(n)
  end
  return tostring(n)
end

-- A JSON scalar as display text; nil when missing, null, empty or not a scalar.
local function text(v)
  if type(v) == "string" then return v ~= "" and clean(v) or nil end
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

--- columns(rows) -> lines: cells padded to a common width, two spaces apart, the last unpadded.
function output.columns(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, width(cell))
    end
  end
  local lines = {}
  for r, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - width(cell)) or cell
    end
    lines[r] = table.concat(cells, "  ")
  end
  return lines
end

--- json(value) -> text: sorted keys, two-space indent, null and [] kept.
function output.json(value)
  local out, err = leadconduit.encode(value, { indent = 2 })
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
    rows[#rows + 1] = { clean(name), leadconduit.has_feature(account, name) and "on" or "off" }
  end
  return rows
end

--- pending_rows(list) -> rows of { id, name, expiry } for the given pending entries
function output.pending_rows(list)
  local rows = {}
  for i, entry in ipairs(list) do
    local at = entry.invitation_expires_at
    local expiry
    if at == nil or at == null then
      expiry = "no expiry"
    elseif type(at) == "string" and at ~= "" then
      expiry = clean(at)
    else
      expiry = "invalid expiry"
    end
    rows[i] = { text(entry.id) or "-", text(entry.name) or "-", expiry }
  end
  return rows
end

-- Names of the active subscriptions, sorted.
local function active_subscriptions(account)
  local names = {}
  for name in pairs(object(account.subscriptions) or {}) do
    if type(name) == "string" and leadconduit.subscription_active(account, name) then
      names[#names + 1] = clean(name)
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
  for i, name in ipairs(leadconduit.enabled_features(account)) do enabled[i] = clean(name) end

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
