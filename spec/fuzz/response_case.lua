-- response_case.lua — one fuzz case of the response handling, without a network: arbitrary bytes
-- become the facts a transport reports (status, header flags, libcurl code, errno, Retry-After,
-- body, a thread-pool failure), and what the client's policy makes of them (decode the body once,
-- errors.classify, errors.new, retry.delay) must keep the contract: a known kind or the answer,
-- a one-line message without the key, a final status or none, a wait between 0 and 30 seconds.
-- Raises (an assertion) when it does not. Driven by spec/fuzz/response_fuzz.c (libFuzzer) and
-- replayed by spec/response_fuzz_spec.lua.

local core = require "leadconduit.core"
local errors = require "leadconduit.errors"
local redact = require "leadconduit.redact"
local retry = require "leadconduit.retry"

local KEY = "fuzz]KEY-0123456789abcdef"
local SECRETS = redact.secrets(KEY)

local KINDS = {
  auth = true, rate_limited = true, http = true, timeout = true, network = true, tls = true,
  too_large = true, decode = true, api = true, config = true,
}

local CODES = {
  "CURLE_OPERATION_TIMEDOUT", "CURLE_WRITE_ERROR", "CURLE_BAD_CONTENT_ENCODING",
  "CURLE_SSL_CONNECT_ERROR", "CURLE_PEER_FAILED_VERIFICATION", "CURLE_COULDNT_CONNECT",
  "CURLE_RECV_ERROR", "CURLE_GOT_NOTHING", "CURLE_PARTIAL_FILE", "CURLE_SSL_CACERT_BADFILE",
  "CURLE_OUT_OF_MEMORY", "CURLE_123",
}

local THREAD_ERRORS = { "no available Lua vm", "ngx_thread_task_post failed", "no memory",
  "thread pool fuzz not found", "leadconduit.sync_account: the client is closed" }

-- Reads the case's bytes front to back; past the end, zeros and empty strings.
local function reader(bytes)
  local at = 1
  local r = {}
  function r.byte()
    local b = bytes:byte(at) or 0
    at = at + 1
    return b
  end
  function r.text(n)
    local s = bytes:sub(at, at + n - 1)
    at = at + n
    return s
  end
  function r.rest()
    return bytes:sub(at)
  end
  return r
end

-- The secrets, where the case asks for them, inside server and libcurl text.
local function with_key(text, flag)
  if flag then return text .. KEY .. text end
  return text
end

local function outcome_of(bytes)
  local r = reader(bytes)
  local status = (r.byte() * 256 + r.byte()) % 1000
  local flags = r.byte()
  local code = CODES[r.byte() % #CODES + 1]
  local errno = r.byte()
  local retry_after = r.text(r.byte() % 40)
  local thread_error = THREAD_ERRORS[r.byte() % #THREAD_ERRORS + 1]
  local body = with_key(r.rest(), flags % 2 == 1)
  local function bit(n) return math.floor(flags / 2 ^ n) % 2 == 1 end

  local outcome = {}
  if bit(1) then
    outcome.thread_error = with_key(thread_error, bit(7))
    return outcome
  end
  if bit(2) then
    outcome.deadline_passed = true
    return outcome
  end
  if status > 0 then
    outcome.status, outcome.headers_complete = status, bit(3)
  end
  if bit(4) then outcome.retry_after = retry_after end
  if bit(5) then
    outcome.curl_code, outcome.curl_message = code, with_key("libcurl: " .. body:sub(1, 300), bit(7))
    if errno > 0 then outcome.os_errno = errno end
    if bit(6) then outcome.body_too_large = true end
  else
    outcome.body = body
  end
  return outcome
end

local function check_message(message)
  assert(type(message) == "string" and message ~= "", "the message is empty")
  assert(not message:find("[\r\n]"), "the message spans lines")
  for _, secret in ipairs(SECRETS) do
    assert(not message:find(secret, 1, true), "the message shows the key")
  end
end

--- run(bytes): one case; raises when the contract does not hold.
return function(bytes)
  local outcome = outcome_of(bytes)
  if outcome.body then
    outcome.value, outcome.decode_error = core.decode(outcome.body)
  end
  local ok, kind, message, fields = pcall(errors.classify, outcome, SECRETS)
  if not ok then
    -- Only a misconfigured or broken nginx raises, and says so without the key.
    assert(outcome.thread_error, "classify raised: " .. tostring(kind))
    check_message(kind)
    assert(kind:find("^leadconduit%.sync_account: "), kind)
    return
  end
  if kind == nil then
    assert(outcome.status and outcome.status >= 200 and outcome.status < 300, "an answer without a 2xx")
    assert(type(outcome.value) == "table" and outcome.value.success == true, "an answer that is not one")
    assert(type(outcome.value.account) == "table", "an answer without an account")
    return
  end
  assert(KINDS[kind], "unknown kind " .. tostring(kind))
  -- Only nginx's own answer says that its setup is wrong: never a server's.
  assert(kind ~= "config" or outcome.thread_error, "config without a thread pool failure")
  fields.attempts = 1
  local err = errors.new(kind, message, fields, SECRETS)
  check_message(err.message)
  check_message(tostring(err))
  if err.status ~= nil then
    assert(math.type == nil or math.type(err.status) == "integer", "a float status")
    assert(err.status >= 200 and err.status <= 999, "status " .. err.status .. " is not a final one")
    assert(outcome.headers_complete, "a status from headers that never ended")
  end
  assert(type(err.retryable) == "boolean")
  local wait = retry.delay(1, 0.5, outcome.retry_after, 1700000000, function() return 0.5 end)
  assert(type(wait) == "number" and wait >= 0 and wait <= retry.MAX_WAIT, "wait " .. tostring(wait))
end
