-- tcp_server.lua — the raw TCP misbehaviours nginx cannot produce, for mock_server.lua.
--
-- Usage: lua tcp_server.lua <portfile> <prefix-dir>. Listens on two free loopback ports and
-- writes "reset=<port> silent=<port>" to <portfile>: "reset" accepts and closes every
-- connection with SO_LINGER 0 (a TCP RST before any TLS byte is answered); "silent" accepts
-- and never says a word (a TLS handshake that never completes). Exits when <prefix-dir> goes.

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

local held = {} -- connections of the silent port, kept open until their peer leaves

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
    if s == reset then
      local c = reset:accept()
      if c then
        c:setoption("linger", { on = true, timeout = 0 })
        c:close()
      end
    elseif s == silent then
      local c = silent:accept()
      if c then
        c:settimeout(0)
        held[#held + 1] = c
        if #held > 200 then table.remove(held, 1):close() end
      end
    else
      -- Read and drop what the peer sends; forget it once it has closed.
      local _, err = s:receive(65536)
      if err == "closed" then
        for i, c in ipairs(held) do
          if c == s then table.remove(held, i); break end
        end
        s:close()
      end
    end
  end
end
