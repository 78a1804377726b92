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

local function one_line(text)
  text = text:gsub("[%c]+", " ")
  if #text > MAX_SERVER_TEXT then
    text = text:sub(1, MAX_SERVER_TEXT) .. "..."
  end
  return text
end

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

-- The `error` text of a JSON error body, when the server sent one.
local function server_text(value)
  if type(value) == "table" then
    local text = value.error or value.message
    if type(text) == "string" and text ~= "" then
      return one_line(text)
    end
  end
end

local function with_server_text(message, value)
  local text = server_text(value)
  if text then return message .. ": " .. text end
  return message
end

-- classify(outcome) -> nil when the outcome carries a valid account answer, else
-- kind, message, fields (status, retryable). A 429 is classified as retryable "http";
-- the caller renames it "rate_limited" once the retries are spent.
function errors.classify(outcome)
  local status = outcome.status
  if outcome.failure then
    local retryable = outcome.failure == "network" or outcome.failure == "timeout"
    return outcome.failure, one_line(outcome.message or outcome.failure),
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
      return "api", with_server_text("the response's success is not true", value), { status = status }
    end
    if type(value.account) ~= "table" or getmetatable(value.account) == core.array_mt then
      return "api", "the response has no account object", { status = status }
    end
    return nil
  end

  if status == 401 or status == 403 then
    return "auth", with_server_text("HTTP " .. status, value), { status = status }
  end
  if status == 429 then
    return "rate_limited", with_server_text("HTTP 429", value), { status = status, retryable = true }
  end
  local message = "HTTP " .. status
  if status >= 300 and status < 400 then
    message = message .. " (redirects are not followed)"
  end
  return "http", with_server_text(message, value),
    { status = status, retryable = RETRYABLE_STATUS[status] == true }
end

return errors
