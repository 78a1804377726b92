-- Specs for lua/leadconduit/errors.lua: what each transport outcome means to users.
local leadconduit = require "leadconduit"
local errors = require "leadconduit.errors"

-- An outcome as csrc/transport.c reports it: a status whose header block came whole.
local function outcome(fields)
  if fields.status then fields.headers_complete = true end
  return fields
end

local function classify(fields)
  local kind, message, f = errors.classify(outcome(fields))
  return kind, message, f or {}
end

local function account_answer()
  return { success = true, account = { name = "Acme" } }
end

describe("errors.classify", function()
  it("accepts a 2xx answer with success = true and an account object", function()
    assert.is_nil(classify({ status = 200, value = account_answer() }))
  end)

  it("calls a 2xx body that is not JSON a decode error, not retryable", function()
    local kind, message, f = classify({ status = 200, decode_error = "leadconduit.decode: x at byte 1" })
    assert.are.equal("decode", kind)
    assert.matches("not valid JSON", message)
    assert.are.same({ 200, false }, { f.status, f.retryable == true })
  end)

  it("calls success ~= true or a missing account an api error", function()
    assert.are.equal("api", (classify({ status = 200, value = { success = false, account = {} } })))
    assert.are.equal("api", (classify({ status = 200, value = { success = "true", account = {} } })))
    assert.are.equal("api", (classify({ status = 200, value = { success = true } })))
    assert.are.equal("api", (classify({ status = 200, value = { success = true, account = "x" } })))
    local array = setmetatable({}, leadconduit.array_mt)
    assert.are.equal("api", (classify({ status = 200, value = { success = true, account = array } })))
    assert.are.equal("api", (classify({ status = 200, value = array })))
    assert.are.equal("api", (classify({ status = 200, value = leadconduit.null })))
  end)

  it("puts the server's error text into auth messages", function()
    local kind, message, f = classify({ status = 401, value = { error = "authentication failed" } })
    assert.are.equal("auth", kind)
    assert.are.equal("HTTP 401: authentication failed", message)
    assert.is_falsy(f.retryable)
    assert.are.equal("auth", (classify({ status = 403, decode_error = "..." })))
  end)

  it("takes the server's message when its error field is null or not text", function()
    for _, bad in ipairs({ leadconduit.null, 42, "", false }) do
      local _, message = classify({ status = 429, value = { error = bad, message = "slow down" } })
      assert.are.equal("HTTP 429: slow down", message)
    end
  end)

  it("retries 500, 502, 503, 504 and 429 only", function()
    for status, retryable in pairs({ [500] = true, [502] = true, [503] = true, [504] = true,
                                     [501] = false, [404] = false, [400] = false, [302] = false }) do
      local kind, _, f = classify({ status = status })
      assert.are.equal("http", kind)
      assert.are.equal(retryable, f.retryable == true, status)
    end
    local kind, _, f = classify({ status = 429 })
    assert.are.equal("rate_limited", kind)
    assert.is_true(f.retryable)
  end)

  it("says that redirects are not followed, for redirects only", function()
    for _, status in ipairs({ 301, 302, 303, 307, 308 }) do
      local _, message = classify({ status = status })
      assert.matches("redirects are not followed", message)
    end
    local _, message = classify({ status = 304 })
    assert.are.equal("HTTP 304", message)
  end)

  it("maps libcurl's codes to kinds and retries network and timeout only", function()
    local cases = {
      { { curl_code = "CURLE_COULDNT_CONNECT" }, "network", true },
      { { curl_code = "CURLE_COULDNT_RESOLVE_HOST" }, "network", true },
      { { curl_code = "CURLE_RECV_ERROR", os_errno = 104 }, "network", true },
      { { curl_code = "CURLE_GOT_NOTHING" }, "network", true },
      { { curl_code = "CURLE_OPERATION_TIMEDOUT" }, "timeout", true },
      { { curl_code = "CURLE_PEER_FAILED_VERIFICATION" }, "tls", false },
      { { curl_code = "CURLE_SSL_CACERT_BADFILE" }, "tls", false },
      { { curl_code = "CURLE_SSL_CONNECT_ERROR" }, "tls", false },
      -- reset or closed during the handshake: the OS saw it, so not a certificate problem
      { { curl_code = "CURLE_SSL_CONNECT_ERROR", os_errno = 104 }, "network", true },
      { { curl_code = "CURLE_WRITE_ERROR", body_too_large = true }, "too_large", false },
      { { curl_code = "CURLE_WRITE_ERROR" }, "network", true },
      { { curl_code = "CURLE_BAD_CONTENT_ENCODING", status = 200 }, "decode", false },
      { { curl_code = "CURLE_99999" }, "network", true },
    }
    for _, case in ipairs(cases) do
      case[1].curl_message = "libcurl says"
      local kind, message, f = classify(case[1])
      assert.are.equal(case[2], kind, case[1].curl_code)
      assert.are.equal(case[3], f.retryable == true, case[1].curl_code)
      if kind ~= "too_large" then assert.are.equal("libcurl says", message) end
    end
    local _, _, f = classify({ curl_code = "CURLE_WRITE_ERROR", body_too_large = true, status = 200 })
    assert.are.equal(200, f.status)
  end)

  it("lets a non-2xx status decide, whatever became of its body", function()
    for _, code in ipairs({ "CURLE_BAD_CONTENT_ENCODING", "CURLE_RECV_ERROR", "CURLE_OPERATION_TIMEDOUT" }) do
      assert.are.equal("auth", (classify({ status = 401, curl_code = code })))
      local kind, _, f = classify({ status = 503, curl_code = code })
      assert.are.same({ "http", 503, true }, { kind, f.status, f.retryable })
    end
  end)

  it("calls a response cut off inside its headers a network failure, retried, without a status", function()
    local kind, message, f = errors.classify({ status = 200, headers_complete = false, body = "" })
    assert.are.same({ "network", true }, { kind, f.retryable })
    assert.is_nil(f.status)
    assert.matches("headers", message)
  end)

  it("gives a status only for a final response: after a 1xx and a timeout there is none", function()
    local kind, _, f = errors.classify({ status = 103, headers_complete = true,
      curl_code = "CURLE_OPERATION_TIMEDOUT", curl_message = "timed out" })
    assert.are.equal("timeout", kind)
    assert.is_nil(f.status)
  end)

  it("calls an attempt that had no time left to start a timeout, retried", function()
    local kind, _, f = classify({ deadline_passed = true })
    assert.are.same({ "timeout", true }, { kind, f.retryable })
  end)

  it("maps the driver thread's failures: one that cannot start is config, no report a timeout", function()
    local kind, message, f = classify({ driver_error = "leadconduit's driver thread: cannot make a"
      .. " directory for its socket: No such file or directory" })
    assert.are.same({ "config", false }, { kind, f.retryable })
    assert.matches("cannot make a directory for its socket", message, 1, true)
    assert.matches("nginx passes TMPDIR to its workers with `env TMPDIR;`", message, 1, true)
    kind, message, f = classify({ driver_timeout = 6.5 })
    assert.are.same({ "timeout", true }, { kind, f.retryable })
    assert.are.equal("no outcome from leadconduit's driver thread 6.500 s after the attempt started,"
      .. " past its deadline", message)
  end)

  it("builds every kind other modules need by name, and no kind that is not in the contract", function()
    local config = errors.config("api_key is missing")
    assert.are.same({ "config", false, 0 }, { config.kind, config.retryable, config.attempts })
    local cause = errors.new("http", "HTTP 503", { status = 503, retryable = true })
    local unavailable = errors.unavailable("no sync has succeeded yet", cause)
    assert.are.same({ "unavailable", false, cause },
      { unavailable.kind, unavailable.retryable, unavailable.cause })
    local phase = errors.unsupported_phase("log phase")
    assert.are.same({ "unsupported_phase", false, 0 }, { phase.kind, phase.retryable, phase.attempts })
    local timeout = errors.timeout("max_time ran out", { attempts = 3, status = 503, retry_after = 2 })
    assert.are.same({ "timeout", true, 3, 503, 2 },
      { timeout.kind, timeout.retryable, timeout.attempts, timeout.status, timeout.retry_after })
    assert.has_error(function() errors.new("unavailible", "typo") end)
    assert.are.equal(12, #errors.KINDS)
  end)

  it("restores an error kept as its fields, and nothing that is not one", function()
    local err = errors.restore({ kind = "auth", message = "HTTP 401", status = 401, attempts = 1 })
    assert.are.equal("leadconduit: auth: HTTP 401", tostring(err))
    assert.are.same({ 401, 1, false }, { err.status, err.attempts, err.retryable })
    local not_errors = { "x", {}, { kind = "nope", message = "m" }, { kind = "auth" }, leadconduit.null }
    for _, bad in ipairs(not_errors) do
      assert.is_nil(errors.restore(bad))
    end
  end)

  it("keeps the key and line breaks out of what it says for a driver failure", function()
    local key = "k3y-found-by-the-fuzzer"
    local _, message = errors.classify({ driver_error = "cannot connect to /tmp/" .. key .. "\n/driver" },
      { key })
    assert.is_nil(message:find(key, 1, true), message)
    assert.is_nil(message:find("\n", 1, true), message)
  end)

  it("says too_large is about max_response_bytes, not libcurl's write failure", function()
    local _, message = classify({ curl_code = "CURLE_WRITE_ERROR", body_too_large = true, status = 200,
      curl_message = "Failure writing output to destination" })
    assert.matches("max_response_bytes", message, 1, true)
    assert.is_nil(message:find("Failure writing", 1, true))
  end)

  it("scrubs the key before shortening server text, so no head of it survives the cut", function()
    local key = ("k"):rep(39) .. "Z"
    for at = 150, 210 do
      local text = ("x"):rep(at) .. key .. " and more"
      local kind, message, f = errors.classify(outcome({ status = 500, value = { error = text } }), { key })
      local err = errors.new(kind, message, f, { key })
      assert.is_nil(err.message:find("kkkkk", 1, true), "key starting at byte " .. at)
    end
  end)

  it("shortens server text on a UTF-8 character boundary", function()
    for pad = 0, 3 do
      local text = ("a"):rep(pad) .. ("\226\130\172"):rep(100) -- 100 euro signs, 3 bytes each
      local _, message = classify({ status = 500, value = { error = text } })
      assert.is_true(#message < 260)
      assert.is_truthy(leadconduit.encode(message), "padding " .. pad)
    end
  end)

  it("keeps server text to one short line", function()
    local _, message = classify({ status = 500, value = { error = "line1\r\nline2" .. ("x"):rep(500) } })
    assert.is_nil(message:find("[\r\n]"))
    _, message = classify({ status = 500, value = { error = "a\194\133b\194\155c\27[2Jd" } })
    assert.are.equal("HTTP 500: a b c [2Jd", message) -- NEL, CSI (C1) and ESC (C0) are gone
    assert.is_true(#message < 260)
  end)
end)

describe("errors.new", function()
  it("makes the contract's table and string form", function()
    local err = errors.new("http", "HTTP 503", { status = 503, retryable = true, attempts = 3 })
    assert.are.same({ "http", "HTTP 503", 503, true, 3 },
      { err.kind, err.message, err.status, err.retryable, err.attempts })
    assert.are.equal("leadconduit: http: HTTP 503", tostring(err))
    assert.is_true(errors.is_error(err))
  end)

  it("defaults retryable to false and attempts to 0", function()
    local err = errors.new("tls", "bad certificate")
    assert.are.equal(false, err.retryable)
    assert.are.equal(0, err.attempts)
    assert.is_nil(err.status)
  end)

  it("scrubs every occurrence of each secret from the message", function()
    local err = errors.new("auth", "bad key s3cr%t. and s3cr%t again; QVBJOnMzY3IldA==",
      {}, { "s3cr%t", "QVBJOnMzY3IldA==" })
    assert.is_nil(err.message:find("s3cr%t", 1, true))
    assert.is_nil(err.message:find("QVBJOnMzY3IldA==", 1, true))
    assert.are.equal("bad key [REDACTED]. and [REDACTED] again; [REDACTED]", err.message)
  end)
end)
