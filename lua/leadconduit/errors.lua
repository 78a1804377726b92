-- errors.lua — what an exchange's outcome means (API.md "Errors"), and the error table users
-- see, built here and nowhere else.
--
-- classify() maps the facts a transport reports (HTTP status, libcurl's code, the OS errno,
-- nginx's thread pool failures) and the decoded body to the contract's kinds; new() makes the
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

-- errors.new(kind, message, fields, secrets) -> error table.
-- fields: status, retryable, attempts, cause. secrets: strings that must not appear in message.
function errors.new(kind, message, fields, secrets)
  fields = fields or {}
  return setmetatable({
    kind = kind,
    message = redact.scrub(message, secrets),
    status = fields.status,
    retryable = fields.retryable == true,
    attempts = fields.attempts or 0,
    cause = fields.cause,
  }, error_mt)
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
  if code == "CURLE_BAD_CONTENT_ENCODING" then return "decode" end
  if code == "CURLE_SSL_CONNECT_ERROR" then
    -- A peer that resets or closes the socket during the handshake is a transport failure
    -- (retryable), not a certificate problem.
    return outcome.os_errno and "network" or "tls"
  end
  if TLS_CODES[code] then return "tls" end
  return "network"
end

-- Why ngx.run_worker_thread failed before the exchange started: the pool is saturated or out
-- of memory. A retry may cure these.
local TRANSIENT_THREAD_ERRORS = {
  ["no available Lua vm"] = true,
  ["ngx_thread_task_post failed"] = true,
  ["no memory"] = true,
}

-- A failure of nginx's thread pool: network (retryable), or a raise for what no retry cures.
local function thread_failure(text, secrets)
  text = safe_text.one_line(redact.scrub(text, secrets))
  if TRANSIENT_THREAD_ERRORS[text] then
    return "network", "nginx worker thread: " .. text, { retryable = true }
  end
  local pool = text:match("^thread pool (.*) not found")
  if pool then
    error("leadconduit: nginx has no thread pool '" .. pool .. "': add `thread_pool " .. pool
      .. " threads=16;` to the main context of nginx.conf", 0)
  end
  -- A raise inside the worker thread (out of memory, a closed client, a broken install).
  error("leadconduit: in an nginx worker thread: " .. text, 0)
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
-- deadline_passed; nginx.lua: thread_error, pool_timeout) plus the decoded body (value or decode_error).
-- secrets: as for new(), scrubbed from the server's and libcurl's text before it is shortened.
function errors.classify(outcome, secrets)
  if outcome.thread_error then
    return thread_failure(outcome.thread_error, secrets)
  end
  if outcome.pool_timeout then
    local pool = outcome.pool_timeout
    return "timeout", ("the deadline passed after %.3f s waiting for a thread of nginx's thread_pool"
      .. " '%s' (all %d busy: raise its threads= and the client's thread_pool_size together)")
      :format(pool.waited, pool.pool, pool.size), { retryable = true }
  end
  if outcome.deadline_passed then
    return "timeout", "the deadline passed before the attempt could start (max_time ran out, or"
      .. " the attempt waited that long for a thread of nginx's pool)", { retryable = true }
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
      return "too_large", "the response body is larger than max_response_bytes",
        { status = status, retryable = false }
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
