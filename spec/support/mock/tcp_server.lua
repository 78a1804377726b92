-- tcp_server.lua — the raw TCP misbehaviours nginx cannot produce, for mock_server.lua.
--
-- Usage: lua tcp_server.lua <portfile> <prefix-dir>. Listens on two free loopback ports and
-- writes "reset=<port> silent=<port>" to <portfile>: "reset" accepts, waits for the client's
-- first bytes (its TLS ClientHello) and closes with SO_LINGER 0: a TCP RST before any TLS byte
-- is answered (resetting before the client's first write would race with its connect());
-- "silent" accepts and never says a word (a TLS handshake that never completes).
-- Exits when <prefix-dir> goes.

local socket = require "socket"

local portfile, prefix = arg[1], arg[2]

local reset = assert(socket.bind("127.0.0.1", 0, 64))
local silent = assert(socket.bind("127.0.0.1", 0, 64))
reset:settimeout(0)
silent:settimeout(0)

local function port_of(server)
  local _, port = server:getsockname()
  return port
end

do
  local tmp = portfile .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(("reset=%d silent=%d\n"):format(port_of(reset), port_of(silent)))
  f:close()
  assert(os.rename(tmp, portfile))
end

local held = {} -- accepted connections: silent ones until their peer leaves, reset ones until it speaks
local doomed = {} -- the held connections of the reset port

local function alive()
  local f = io.open(prefix .. "/mock_config.lua", "r")
  if f then f:close() end
  return f ~= nil
end

while alive() do
  local watched = { reset, silent }
  for _, c in ipairs(held) do watched[#watched + 1] = c end
  local readable = socket.select(watched, nil, 0.5)
  for _, s in ipairs(readable) do
    if s == reset or s == silent then
      local c = s:accept()
      if c then
        c:settimeout(0)
        doomed[c] = s == reset or nil
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
        err = select(2, s:receive(65536))
      end
      if err == "closed" then
        for i, c in ipairs(held) do
          if c == s then table.remove(held, i); break end
        end
        doomed[s] = nil
        s:close()
      end
    end
  end
end
