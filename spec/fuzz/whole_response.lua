-- whole_response.lua — generated whole HTTP responses (status line, headers, body, encodings)
-- for spec/response_fuzz_spec.lua, which sends each through the real transport (the mock
-- server's raw listener) and checks what the client makes of it.
--
--   local make = whole_response.generator(rand, key, gzipped)
--   local bytes = make()     -- one response, a function of rand's state only
--
-- rand: support.park_miller's rand(n); key: the API key, quoted here and there (in bodies,
-- header values, error texts) to check that no message shows it; gzipped: { name = bytes } of
-- gzip streams made by the spec (the answer, an error, a stream cut short).

local whole_response = {}

local function pick(rand, list)
  return list[rand(#list) + 1]
end

local function random_bytes(rand, n)
  local out = {}
  for i = 1, n do out[i] = string.char(rand(256)) end
  return table.concat(out)
end

local ANSWER = '{"success":true,"account":{"id":"5fd4371e940df5a34a3888b2","name":"Fuzz","features":{}}}'

-- Bodies: answers, near-answers, error bodies (some quoting the key), broken JSON, other types.
local function bodies(key)
  return {
    ANSWER, "", "{", "[]", "null", "<html>oops</html>", '{"success":true}', '{"success":true,"account":[]}',
    '{"success":false,"error":"nope ' .. key .. '"}', '{"error":"' .. key .. '"}',
    '{"error":null,"message":"slow \226\128\174down\226\128\143 ' .. key .. '"}',
    '{"success":true,"account":{"api_key":"' .. key .. '","' .. key .. '":1}}',
    '{"success":true,"account":{"n":1e400,"s":"\\ud800"}}', ANSWER:sub(1, 40), ANSWER .. "trailing",
    '{"success":true,"account":{"deep":' .. ("["):rep(3000) .. ("]"):rep(3000) .. "}}",
  }
end

local STATUS = { 200, 200, 200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 408, 429, 500, 502, 503,
  504, 100, 101, 103, 199, 299, 600, 999 }

-- A chunked encoding of body: well formed, or broken in one of a few ways.
local function chunked(rand, body)
  local out, at = {}, 1
  while at <= #body do
    local n = rand(40) + 1
    local piece = body:sub(at, at + n - 1)
    out[#out + 1] = ("%x\r\n%s\r\n"):format(#piece, piece)
    at = at + n
  end
  local ending = pick(rand, { "0\r\n\r\n", "0\r\n\r\n", "0\r\nX-Trailer: " .. "t" .. "\r\n\r\n", "",
    "zz\r\n", "ffffffffffffffffff\r\n", "5\r\nab" })
  return table.concat(out) .. ending
end

--- generator(rand, key, gzipped) -> function() -> bytes of one response
function whole_response.generator(rand, key, gzipped)
  local body_list = bodies(key)
  local gz_names = {}
  for name in pairs(gzipped) do gz_names[#gz_names + 1] = name end
  table.sort(gz_names)

  return function()
    local body = rand(8) == 0 and random_bytes(rand, rand(200)) or pick(rand, body_list)
    local headers = {}
    local encoding = rand(6)
    if encoding == 0 and #gz_names > 0 then
      body = gzipped[pick(rand, gz_names)]
      headers[#headers + 1] = "Content-Encoding: "
        .. pick(rand, { "gzip", "gzip", "deflate", "br", "x-gzip" })
    elseif encoding == 1 then
      headers[#headers + 1] = "Content-Encoding: " .. pick(rand, { "gzip", "deflate", "br", "zstd", "bogus",
        "identity", "gzip, gzip" })
    end
    local length = rand(4)
    if length == 0 then
      headers[#headers + 1] = "Content-Length: " .. #body
    elseif length == 1 then
      headers[#headers + 1] = "Content-Length: " .. pick(rand, { #body + rand(50) + 1,
        math.max(#body - rand(20) - 1, 0), "-1", "abc", "99999999999999999999", #body .. ", " .. (#body + 1),
        " " .. #body })
    elseif length == 2 then
      headers[#headers + 1] = "Transfer-Encoding: "
        .. pick(rand, { "chunked", "chunked", "gzip, chunked", "bogus" })
      body = chunked(rand, body)
    end
    for _ = 1, rand(4) do
      headers[#headers + 1] = pick(rand, {
        "Content-Type: application/json", "Content-Type: text/html; charset=utf-8",
        "Retry-After: "
          .. pick(rand, { "0", "5", "-3", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", key }),
        "X-Echo: " .. key, "Connection: " .. pick(rand, { "close", "keep-alive", "upgrade" }),
        " folded continuation", "X-Nul: a\0b", "Bare-LF: x\nNext: y", "NoColon",
        "X-Long: " .. ("L"):rep(pick(rand, { 1000, 20000, 120000 })),
        "Location: https://example.invalid/" .. key, "WWW-Authenticate: Basic realm=\"" .. key .. "\"",
        "Set-Cookie: " .. random_bytes(rand, rand(30)),
      })
    end
    local status = STATUS[rand(#STATUS) + 1]
    local status_line = pick(rand, {
      "HTTP/1.1 " .. status .. " Reason\r\n", "HTTP/1.1 " .. status .. " Reason\r\n",
      "HTTP/1.0 " .. status .. " OK\r\n", "HTTP/1.1 " .. status .. "\r\n", "HTTP/2 " .. status .. "\r\n",
      "HTTP/1.1 " .. rand(10000) .. " X\r\n", "HTTP/1.1 2OO OK\r\n", "HTTP/9.9 200 OK\r\n",
      "ICY 200 OK\r\n", "", random_bytes(rand, rand(20)) .. "\r\n",
    })
    -- An interim 100 or 103 before the real head, sometimes.
    if rand(10) == 0 then status_line = "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" .. status_line end
    local head = status_line .. table.concat(headers, "\r\n") .. (#headers > 0 and "\r\n" or "")
    local ending = rand(12) == 0 and "" or "\r\n"
    local response = head .. ending .. body
    -- Cut short somewhere, sometimes.
    if rand(10) == 0 then response = response:sub(1, rand(#response + 1)) end
    return response
  end
end

return whole_response
