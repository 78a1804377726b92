-- errors.lua — the contract's error table (API.md "Errors"), built here and nowhere else.
--
-- classify() turns one transport outcome into the error fields it implies (or nil for a
-- usable answer); new() makes the table users see, with the API key scrubbed from its text.

local core = require "leadconduit.core"

local errors = {}

local error_mt = {
  __tostring = function(err)
    return "leadconduit: " .. err.kind .. ": " .. err.message
  end,
}

-- Server-provided text is shown to users and logged: keep it short and on one line.
local MAX_SERVER_TEXT = 200

local function replace_plain(text, secret, replacement)
  if secret == nil or secret == "" then return text end
  local out, from = {}, 1
  while true do
    local i, j = text:find(secret, from, true)
    if not i then break end
    out[#out + 1] = text:sub(from, i - 1)
    out[#out + 1] = replacement
    from = j + 1
  end
  out[#out + 1] = text:sub(from)
  return table.concat(out)
end

-- Remove every occurrence of the secrets (the key, its Basic credential) from text.
function errors.redact(text, secrets)
  for _, secret in ipairs(secrets or {}) do
    text = replace_plain(text, secret, "[REDACTED]")
  end
  return text
end

-- One line of at most MAX_SERVER_TEXT bytes. The secrets go first, so that the cut cannot
-- keep the head of a key; the cut backs off to a UTF-8 character boundary, so that the
-- message stays valid UTF-8 (encode, and JSON logs, refuse anything else).
local function one_line(text, secrets)
  -- C0 controls and DEL, and C1 ones in their UTF-8 form (U+0085 is a line break, U+009B a CSI).
  text = errors.redact(text, secrets):gsub("[%c]+", " "):gsub("\194[\128-\159]", " ")
  if #text > MAX_SERVER_TEXT then
    local cut = MAX_SERVER_TEXT
    while cut > 0 and text:byte(cut + 1) >= 0x80 and text:byte(cut + 1) < 0xC0 do
      cut = cut - 1
    end
    text = text:sub(1, cut) .. "..."
  end
  return text
end

-- errors.new(kind, message, fields, secrets) -> error table.
-- fields: status, retryable, attempts. secrets: strings that must not appear in message.
function errors.new(kind, message, fields, secrets)
  fields = fields or {}
  return setmetatable({
    kind = kind,
    message = errors.redact(message, secrets),
    status = fields.status,
    retryable = fields.retryable == true,
    attempts = fields.attempts or 0,
  }, error_mt)
end

function errors.is_error(value)
  return getmetatable(value) == error_mt
end

local RETRYABLE_STATUS = { [500] = true, [502] = true, [503] = true, [504] = true }
local REDIRECT_STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

-- The `error` text of a JSON error body, when the server sent one.
local function server_text(value, secrets)
  if type(value) == "table" then
    -- The first of the two that is text: {"error": null, "message": "..."} still says why.
    for _, field in ipairs({ "error", "message" }) do
      local text = value[field]
      if type(text) == "string" and text ~= "" then
        return one_line(text, secrets)
      end
    end
  end
end

local function with_server_text(message, value, secrets)
  local text = server_text(value, secrets)
  if text then return message .. ": " .. text end
  return message
end

-- classify(outcome [, secrets]) -> nil when the outcome carries a valid account answer, else
-- kind, message, fields (status, retryable). secrets: as for new(), scrubbed from the
-- server's and libcurl's text before it is shortened.
function errors.classify(outcome, secrets)
  local status = outcome.status
  if outcome.failure then
    local retryable = outcome.failure == "network" or outcome.failure == "timeout"
    if outcome.failure == "too_large" then
      -- libcurl only knows that its write callback refused the data ("Failure writing
      -- output to destination"), which reads like a local disk problem.
      return "too_large", "the response body is larger than max_response_bytes",
        { status = status, retryable = false }
    end
    return outcome.failure, one_line(outcome.message or outcome.failure, secrets),
      { status = status, retryable = retryable }
  end

  local value = outcome.value
  if status >= 200 and status < 300 then
    if outcome.decode_error then
      return "decode", "the response is not valid JSON: " .. outcome.decode_error,
        { status = status }
    end
    if type(value) ~= "table" or getmetatable(value) == core.array_mt then
      return "api", "the response is not a JSON object", { status = status }
    end
    if value.success ~= true then
      return "api", with_server_text("the response's success is not true", value, secrets),
      { status = status }
    end
    if type(value.account) ~= "table" or getmetatable(value.account) == core.array_mt then
      return "api", "the response has no account object", { status = status }
    end
    return nil
  end

  if status == 401 or status == 403 then
    return "auth", with_server_text("HTTP " .. status, value, secrets), { status = status }
  end
  if status == 429 then
    return "rate_limited", with_server_text("HTTP 429", value, secrets), { status = status, retryable = true }
  end
  local message = "HTTP " .. status
  if REDIRECT_STATUS[status] then
    message = message .. " (redirects are not followed)"
  end
  return "http", with_server_text(message, value, secrets),
    { status = status, retryable = RETRYABLE_STATUS[status] == true }
end

return errors
