-- errors.lua — what an exchange's outcome means (API.md "Errors"), and the error table users
-- see, built here and nowhere else.
--
-- classify() maps the facts a transport reports (HTTP status, libcurl's code, the OS errno,
-- nginx.lua's driver failures) and the decoded body to the contract's kinds; new() makes the
-- table, with the API key scrubbed from its text.

local core = require "leadconduit.core"
local redact = require "leadconduit.redact"
local safe_text = require "leadconduit.safe_text"

local errors = {}

local error_mt = {
  __tostring = function(err)
    return "leadconduit: " .. err.kind .. ": " .. err.message
  end,
}

-- Every kind of the contract (API.md "Errors", "Two more error kinds"), in the order reports
-- list them: the metrics count failures by these names.
errors.KINDS = {
  "auth", "rate_limited", "http", "timeout", "network", "tls", "too_large", "decode", "api",
  "config", "unavailable", "unsupported_phase",
}

local KNOWN_KIND = {}
for _, kind in ipairs(errors.KINDS) do KNOWN_KIND[kind] = true end

-- errors.new(kind, message, fields, secrets) -> error table.
-- fields: status, retryable, attempts, cause, retry_after. secrets: strings that must not appear
-- in message. Other modules use the named constructors below, so that each kind is picked here.
function errors.new(kind, message, fields, secrets)
  assert(KNOWN_KIND[kind], "leadconduit: no error kind named " .. tostring(kind))
  fields = fields or {}
  return setmetatable({
    kind = kind,
    message = redact.scrub(message, secrets),
    status = fields.status,
    retryable = fields.retryable == true,
    attempts = fields.attempts or 0,
    cause = fields.cause,
    retry_after = fields.retry_after,
  }, error_mt)
end

--- config(message [, secrets]): the setup is wrong, and nothing works until a person changes it
-- (an unreadable key file or CA file, no key, no driver thread). Not retryable.
function errors.config(message, secrets)
  return errors.new("config", message, nil, secrets)
end

--- unavailable(message, cause [, secrets]): the account cache has no account fresh enough;
-- cause is the last sync's error table, if any.
function errors.unavailable(message, cause, secrets)
  return errors.new("unavailable", message, { cause = cause }, secrets)
end

--- unsupported_phase(message): a sync asked for in an nginx phase that cannot do network I/O.
function errors.unsupported_phase(message)
  return errors.new("unsupported_phase", message, { attempts = 0 })
end

--- timeout(message, fields [, secrets]): a deadline passed outside an exchange (max_time ran out
-- between attempts, a wait for another worker's sync); retryable.
function errors.timeout(message, fields, secrets)
  fields = fields or {}
  return errors.new("timeout", message, { status = fields.status, attempts = fields.attempts,
    retry_after = fields.retry_after, retryable = true }, secrets)
end

-- The kinds that a retry may cure: whatever else fails needs a person to change something.
local TRANSIENT = { network = true, timeout = true, rate_limited = true, http = true }

--- needs_person(err) -> true when no retry cures err: the account cache logs it at ngx.ERR, the
-- transient ones at ngx.WARN (API.md 0.3, "Log levels").
function errors.needs_person(err)
  return not TRANSIENT[err.kind]
end

--- restore(fields) -> the error table that error_fields() of an error table gave, or nil when
-- fields is not one (the account cache keeps its last failure as JSON in the shared dict).
function errors.restore(fields)
  if type(fields) ~= "table" or not KNOWN_KIND[fields.kind] or type(fields.message) ~= "string" then
    return nil
  end
  return errors.new(fields.kind, fields.message, fields)
end

function errors.is_error(value)
  return getmetatable(value) == error_mt
end

-- Server-provided text is shown to users and logged: keep it short and on one line.
local MAX_SERVER_TEXT = 200

-- One line of at most MAX_SERVER_TEXT bytes. The secrets go first, so that the cut cannot
-- keep the head of a key; the cut backs off to a UTF-8 character boundary, so that the
-- message stays valid UTF-8 (encode, and JSON logs, refuse anything else).
local function one_line(text, secrets)
  text = safe_text.one_line(redact.scrub(text, secrets))
  if #text > MAX_SERVER_TEXT then
    local cut = MAX_SERVER_TEXT
    while cut > 0 and text:byte(cut + 1) >= 0x80 and text:byte(cut + 1) < 0xC0 do
      cut = cut - 1
    end
    text = text:sub(1, cut) .. "..."
  end
  return text
end

-- The `error` (or else `message`) text of a JSON error body, when the server sent one.
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

-- libcurl's codes that mean the TLS layer refused: certificate, host name, handshake setup.
local TLS_CODES = {
  CURLE_PEER_FAILED_VERIFICATION = true, CURLE_SSL_CACERT_BADFILE = true,
  CURLE_SSL_CERTPROBLEM = true, CURLE_SSL_CIPHER = true, CURLE_SSL_ENGINE_NOTFOUND = true,
  CURLE_SSL_ENGINE_SETFAILED = true, CURLE_SSL_ENGINE_INITFAILED = true,
  CURLE_SSL_ISSUER_ERROR = true, CURLE_SSL_PINNEDPUBKEYNOTMATCH = true,
  CURLE_SSL_INVALIDCERTSTATUS = true, CURLE_SSL_CRL_BADFILE = true, CURLE_USE_SSL_FAILED = true,
  CURLE_SSL_CLIENTCERT = true,
}

-- The kind of an exchange that libcurl ended with a failure.
local function failure_kind(outcome)
  local code = outcome.curl_code
  if code == "CURLE_OPERATION_TIMEDOUT" then return "timeout" end
  if code == "CURLE_WRITE_ERROR" and outcome.body_too_large then return "too_large" end
  -- libcurl 7.88 ends a response whose header line passes its limit (100 KiB) with
  -- CURLE_OUT_OF_MEMORY, 8.6 with CURLE_TOO_LARGE; either way no retry gets a smaller one.
  if code == "CURLE_OUT_OF_MEMORY" or code == "CURLE_TOO_LARGE" then return "too_large" end
  if code == "CURLE_BAD_CONTENT_ENCODING" then return "decode" end
  if code == "CURLE_SSL_CONNECT_ERROR" then
    -- A peer that resets or closes the socket during the handshake is a transport failure
    -- (retryable), not a certificate problem.
    return outcome.os_errno and "network" or "tls"
  end
  if TLS_CODES[code] then return "tls" end
  return "network"
end

local RETRYABLE_STATUS = { [500] = true, [502] = true, [503] = true, [504] = true }
local REDIRECT_STATUS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

-- The kind a final non-2xx status means, whatever became of its body.
local function status_kind(status, value, secrets)
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

-- The kind of a complete 2xx answer: nil when it is the account answer the contract promises.
local function answer_kind(outcome, status, secrets)
  local value = outcome.value
  if outcome.decode_error then
    return "decode", "the response is not valid JSON: " .. outcome.decode_error, { status = status }
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

--- classify(outcome [, secrets]) -> nil when the outcome carries the account answer, else
-- kind, message, fields (status, retryable). outcome: a transport's facts (csrc/transport.c:
-- status, headers_complete, body, curl_code, curl_message, os_errno, body_too_large,
-- deadline_passed; nginx.lua: driver_error, driver_timeout) plus the decoded body (value or
-- decode_error).
-- secrets: as for new(), scrubbed from the server's and libcurl's text before it is shortened.
function errors.classify(outcome, secrets)
  if outcome.driver_error then
    -- The driver thread or its socket could not start: out of descriptors, or no writable
    -- $TMPDIR. Nothing works until a person changes that.
    return "config", safe_text.one_line(redact.scrub(outcome.driver_error, secrets))
      .. " (the driver's socket goes under $TMPDIR, else /tmp: nginx passes TMPDIR to its"
      .. " workers with `env TMPDIR;`)", { retryable = false }
  end
  if outcome.driver_timeout then
    return "timeout", ("no outcome from leadconduit's driver thread %.3f s after the attempt"
      .. " started, past its deadline"):format(outcome.driver_timeout), { retryable = true }
  end
  if outcome.deadline_passed then
    return "timeout", "the deadline passed before the attempt could start (max_time ran out)",
      { retryable = true }
  end
  -- A status is a final response's (not a 1xx), and only once its whole header block came.
  local status = outcome.status
  if not (status and status >= 200 and outcome.headers_complete) then status = nil end

  if status and (status < 200 or status >= 300) then
    -- The status decides first: a 401 or 503 whose body broke or stopped is still a 401 or 503.
    return status_kind(status, outcome.value, secrets)
  end
  if outcome.curl_code then
    local kind = failure_kind(outcome)
    if kind == "too_large" then
      -- libcurl only knows that its write callback refused the data ("Failure writing
      -- output to destination"), which reads like a local disk problem.
      local message = outcome.body_too_large and "the response body is larger than max_response_bytes"
        or "the response is larger than can be held (a header line longer than libcurl accepts,"
          .. " or no memory left)"
      return "too_large", message, { status = status, retryable = false }
    end
    return kind, one_line(outcome.curl_message or outcome.curl_code, secrets),
      { status = status, retryable = kind == "network" or kind == "timeout" }
  end
  if not status then
    -- libcurl took a connection closed inside the headers for a complete, empty answer.
    return "network", "the connection closed before the response's headers were complete",
      { retryable = true }
  end
  return answer_kind(outcome, status, secrets)
end

return errors
