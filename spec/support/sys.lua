-- sys.lua — the shell and file chores the spec support shares (mock server, nginx test bed, specs).
--
-- Same behaviour on Lua 5.1, 5.3, 5.4 and LuaJIT: os.execute's results differ between them.

local socket = require "socket"

local sys = {}

-- spec/support/, absolute, from this file's own path.
local function support_dir()
  local source = debug.getinfo(1, "S").source:sub(2)
  local dir = source:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    local p = assert(io.popen("pwd"))
    dir = p:read("*l") .. "/" .. dir
    p:close()
  end
  return dir
end

sys.SUPPORT_DIR = support_dir()
sys.SPEC_DIR = sys.SUPPORT_DIR:gsub("/support$", "")
sys.PROJECT_DIR = sys.SPEC_DIR:gsub("/spec$", "")

-- A word for sh: 'it''s' quoting.
function sys.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- run(command) -> ok, exit code
function sys.run(command)
  local a, _, code = os.execute(command)
  if type(a) == "number" then return a == 0, a end -- Lua 5.1, LuaJIT without 5.2 compat
  return a == true and (code == nil or code == 0), code
end

-- capture(command) -> everything it wrote to stdout
function sys.capture(command)
  local p = assert(io.popen(command))
  local out = p:read("*a")
  p:close()
  return out
end

-- read_file(path) -> contents, or nil when it cannot be opened
function sys.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

-- slurp(path) -> contents; raises when the file cannot be read
function sys.slurp(path)
  return (assert(sys.read_file(path), "cannot read " .. path))
end

function sys.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

-- The names in dir that end with suffix (e.g. ".json"), sorted; {} when dir is missing.
function sys.list_files(dir, suffix)
  local names = {}
  local p = assert(io.popen("ls " .. sys.quote(dir) .. " 2>/dev/null"))
  for name in p:lines() do
    if suffix == nil or name:sub(-#suffix) == suffix then
      names[#names + 1] = name
    end
  end
  p:close()
  table.sort(names)
  return names
end

-- A new private directory /tmp/leadconduit-<name>.XXXXXXXX.
function sys.tempdir(name)
  local dir = sys.capture("mktemp -d /tmp/leadconduit-" .. name .. ".XXXXXXXX"):match("[^\n]+")
  assert(dir and dir ~= "", "mktemp failed")
  return dir
end

-- n loopback ports free right now (bound together, so all different).
function sys.free_ports(n)
  local servers, ports = {}, {}
  for i = 1, n do
    servers[i] = assert(socket.bind("127.0.0.1", 0))
    local _, port = servers[i]:getsockname()
    ports[i] = tonumber(port)
  end
  for _, s in ipairs(servers) do s:close() end
  return ports
end

-- Does something accept TCP connections on this loopback port?
function sys.listening(port, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or 0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

-- Is the process running? A zombie counts as gone: its parent (pid 1 in a container, for a
-- daemon) reaps it when it likes.
function sys.process_alive(pid)
  if pid == nil then return false end
  local stat = sys.read_file("/proc/" .. pid .. "/stat")
  return stat ~= nil and stat:match("^%d+ %b() (%a)") ~= "Z"
end

-- The pid of this Lua process (for watchdogs that outlive a crash).
function sys.own_pid()
  local stat = sys.read_file("/proc/self/stat")
  return stat and stat:match("^(%d+)")
end

-- Replace @NAME@ in a template; every name must have a value.
function sys.fill(template, values, who)
  return (template:gsub("@([%w_]+)@", function(name)
    return tostring(assert(values[name], (who or "fill") .. ": no value for @" .. name .. "@"))
  end))
end

return sys
