-- redact.lua — keeping secrets out of text: the one place that knows what a key gives away
-- (itself and its Basic credential) and how it is scrubbed from messages, logs and output.

local redact = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out, floor = {}, math.floor
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local sextets = { floor(n / 262144), floor(n / 4096) % 64, floor(n / 64) % 64, n % 64 }
    for k = 1, 4 do
      out[#out + 1] = B64:sub(sextets[k] + 1, sextets[k] + 1)
    end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

--- credential(api_key) -> the value of the Authorization header: "Basic " .. base64("API:" .. key)
function redact.credential(api_key)
  return "Basic " .. base64("API:" .. api_key)
end

--- secrets(api_key) -> the strings that must never be shown: the key and its Basic credential
function redact.secrets(api_key)
  return { api_key, base64("API:" .. api_key) }
end

redact.MARK = "[REDACTED]"

-- The byte ranges of text that some secret covers, sorted and merged: overlapping occurrences
-- ("aa" in "aaa") are covered whole, so no head or tail of a key is left standing.
local function covered(text, secrets)
  local ranges = {}
  for _, secret in ipairs(secrets) do
    if secret ~= "" then
      local from = 1
      while true do
        local i, j = text:find(secret, from, true)
        if not i then break end
        ranges[#ranges + 1] = { i, j }
        from = i + 1
      end
    end
  end
  table.sort(ranges, function(a, b) return a[1] < b[1] end)
  local merged = {}
  for _, r in ipairs(ranges) do
    local last = merged[#merged]
    if last and r[1] <= last[2] + 1 then
      if r[2] > last[2] then last[2] = r[2] end
    else
      merged[#merged + 1] = { r[1], r[2] }
    end
  end
  return merged
end

local function replace(text, ranges, mark)
  local out, from = {}, 1
  for _, r in ipairs(ranges) do
    out[#out + 1] = text:sub(from, r[1] - 1)
    out[#out + 1] = mark
    from = r[2] + 1
  end
  out[#out + 1] = text:sub(from)
  return table.concat(out)
end

local function shows_any(text, secrets)
  for _, secret in ipairs(secrets) do
    if secret ~= "" and text:find(secret, 1, true) then return true end
  end
  return false
end

--- scrub(text, secrets) -> text with every occurrence of every secret replaced by MARK.
-- A key may hold MARK's characters ("]a1b2..."), so MARK next to the text left around it could
-- spell a key again: then every occurrence becomes a space instead, which no key contains.
function redact.scrub(text, secrets)
  if not secrets then return text end
  local ranges = covered(text, secrets)
  if #ranges == 0 then return text end
  local out = replace(text, ranges, redact.MARK)
  if shows_any(out, secrets) then
    out = replace(text, ranges, " ")
  end
  return out
end

--- is_secret_field(name) -> true for the names the account keeps keys under: api_key, *_api_key
function redact.is_secret_field(name)
  return type(name) == "string" and (name == "api_key" or name:sub(-8) == "_api_key")
end

redact.HIDDEN = "(redacted)"

-- The name a scrubbed object key takes in the copy: itself, or "<scrubbed>#<n>" for the first n
-- that no other key of the object holds, so that no entry is lost and none shows a secret.
local function free_key(scrubbed, taken, secrets)
  local name, n = scrubbed, 1
  while taken[name] ~= nil or shows_any(name, secrets) do
    n = n + 1
    name = scrubbed .. "#" .. n
  end
  return name
end

--- fields(value, secrets) -> a copy of a decoded JSON value in which every api_key and
-- *_api_key field holds HIDDEN and no string, value or object key, shows a secret (metatables
-- such as array_mt kept). The one rule for every value that leaves the library: the CLI's
-- output in all its forms, changes() records, the account cache's shared dict.
function redact.fields(value, secrets)
  if type(value) == "string" then return redact.scrub(value, secrets) end
  if type(value) ~= "table" then return value end
  local copy, renamed = {}, {}
  for k, v in pairs(value) do
    local shown
    -- A secret field hides whatever it holds: a table too ({"api_key": ["..."]}).
    if redact.is_secret_field(k) and v ~= nil then
      shown = redact.HIDDEN
    else
      shown = redact.fields(v, secrets)
    end
    local name = type(k) == "string" and redact.scrub(k, secrets) or k
    if name == k then
      copy[k] = shown
    else
      renamed[#renamed + 1] = { name = name, value = shown, original = k }
    end
  end
  -- Renamed keys last, in the order of their original names, so that which one gets "#2" does
  -- not depend on pairs(); the keys that show no secret keep their names.
  table.sort(renamed, function(a, b) return a.original < b.original end)
  for _, entry in ipairs(renamed) do
    copy[free_key(entry.name, copy, secrets)] = entry.value
  end
  return setmetatable(copy, getmetatable(value))
end

return redact
