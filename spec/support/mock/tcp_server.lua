-- tcp_server.lua — the raw TCP misbehaviours nginx cannot produce, for mock_server.lua.
--
-- Usage: lua tcp_server.lua <portfile> <prefix-dir>. Listens on free loopback ports and writes
-- "reset=<port> silent=<port> cut=<port> hints=<port> raw=<port>" to <portfile>:
--   reset   accepts, waits for the client's first bytes (its TLS ClientHello) and closes with
--           SO_LINGER 0: a TCP RST before any TLS byte is answered (resetting before the client's
--           first write would race with its connect());
--   silent  accepts and never says a word (a TLS handshake that never completes);
--   cut     plain HTTP: answers a request with a status line and one header, then closes before
--           the blank line that would end the header block;
--   hints   plain HTTP: answers with a complete 103 Early Hints block, then nothing more;
--   raw     plain HTTP: a request for /<name>/... gets the bytes of <prefix-dir>/raw/<name> as the
--           whole response (status line, headers, body), then the connection closes; /long-header/...
--           gets a 200 whose one header line is 16 MiB long.
-- Exits when <prefix-dir> goes.

local socket = require "socket"

local portfile, prefix = arg[1], arg[2]

local listeners = {}
for _, name in ipairs({ "reset", "silent", "cut", "hints", "raw" }) do
  listeners[name] = assert(socket.bind("127.0.0.1", 0, 64))
  listeners[name]:settimeout(0)
end
local reset, silent = listeners.reset, listeners.silent

-- What the plain-HTTP listeners send once a request has arrived.
local ANSWERS = {
  cut = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
  hints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
}

local function port_of(server)
  local _, port = server:getsockname()
  return port
end

do
  local tmp = portfile .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(("reset=%d silent=%d cut=%d hints=%d raw=%d\n"):format(port_of(reset), port_of(silent),
    port_of(listeners.cut), port_of(listeners.hints), port_of(listeners.raw)))
  f:close()
  assert(os.rename(tmp, portfile))
end

local held = {} -- accepted connections: silent ones until their peer leaves, reset ones until it speaks
local doomed = {} -- the held connections of the reset port
local answer_of = {} -- the held connections of the plain-HTTP ports: what they send
local listener_of, kind_of = {}, {} -- the name of each listener; of each connection, its listener's
for name, server in pairs(listeners) do listener_of[server] = name end

local LONG_HEADER = 16 * 1024 * 1024

-- The whole response the raw listener sends for a request whose head is `head`.
local function raw_answer(head)
  local name = head:match("^%u+ /([%w_-]+)/")
  if name == "long-header" then
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Long: " .. ("a"):rep(LONG_HEADER)
      .. "\r\nContent-Length: 2\r\n\r\n{}"
  end
  local f = name and io.open(prefix .. "/raw/" .. name, "rb")
  if not f then return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" end
  local data = f:read("*a")
  f:close()
  return data
end

local function alive()
  local f = io.open(prefix .. "/mock_config.lua", "r")
  if f then f:close() end
  return f ~= nil
end

while alive() do
  local watched = {}
  for _, server in pairs(listeners) do watched[#watched + 1] = server end
  for _, c in ipairs(held) do watched[#watched + 1] = c end
  local readable = socket.select(watched, nil, 0.5)
  for _, s in ipairs(readable) do
    if listener_of[s] then
      local c = s:accept()
      if c then
        c:settimeout(0)
        doomed[c] = s == reset or nil
        answer_of[c] = ANSWERS[listener_of[s]]
        kind_of[c] = listener_of[s]
        held[#held + 1] = c
        if #held > 200 then table.remove(held, 1):close() end
      end
    else
      local err
      if doomed[s] then
        -- Unread data plus linger 0: the kernel answers with RST, never FIN.
        s:setoption("linger", { on = true, timeout = 0 })
        err = "closed"
      else
        -- Read and drop what the peer sends; forget it once it has closed.
        local data, why, partial = s:receive(65536)
        err = why
        local got = data or partial or ""
        if kind_of[s] == "raw" and got:find("\r\n\r\n", 1, true) then
          -- Blocking, with a bound: the client may stop reading (libcurl gives up on a long
          -- header line); the close then tells it where the response ends.
          s:settimeout(10)
          s:send(raw_answer(got))
          err = "closed"
        elseif answer_of[s] and got:find("\r\n\r\n", 1, true) then
          s:send(answer_of[s])
          if kind_of[s] == "cut" then err = "closed" end
          answer_of[s] = nil
        end
      end
      if err == "closed" then
        for i, c in ipairs(held) do
          if c == s then table.remove(held, i); break end
        end
        doomed[s], answer_of[s], kind_of[s] = nil, nil, nil
        s:close()
      end
    end
  end
end
