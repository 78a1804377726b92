-- make_mock_spec.lua — `make mock` (API.md 0.3, "Command line and tooling"): three `export`
-- lines a shell can eval, then the mock server in the foreground; with those exports the tool
-- and a scenario path work against it; Ctrl-C (SIGINT) or SIGTERM stops it and everything it
-- started, including when SIGTERM reaches the launcher alone. `make mock` runs lua5.4 whatever
-- runs the suite, so like spec/nginx_spec.lua this runs in the Lua 5.4 suite only.
local socket = require "socket"
local sys = require "support.sys"

local ROOT = sys.PROJECT_DIR
local quote = sys.quote
local INTERPRETER = type(jit) == "table" and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local function alive(pid)
  return sys.run(("kill -0 %s 2>/dev/null"):format(pid))
end

-- Waits up to `seconds` for done() to hold.
local function eventually(seconds, done)
  for _ = 1, seconds * 20 do
    if done() then return true end
    socket.sleep(0.05)
  end
  return done()
end

describe("make mock", function()
  if _VERSION ~= "Lua 5.4" then return end
  local dir

  lazy_setup(function() dir = sys.tempdir("make-mock") end)
  lazy_teardown(function()
    if dir and dir:match("^/tmp/leadconduit%-make%-mock%.") then sys.run("rm -rf " .. quote(dir)) end
  end)

  -- Starts `make -s mock` in a session of its own (as a terminal's foreground job is a process
  -- group); returns { pgid, out, err, lines, env, prefix, nginx_pid }.
  local function start()
    local m = { out = dir .. "/out", err = dir .. "/err" }
    m.pgid = sys.capture(("cd %s && setsid make -s -C %s mock </dev/null >%s 2>%s & echo $!"):format(
      quote(dir), quote(ROOT), quote(m.out), quote(m.err))):match("%d+")
    assert.truthy(m.pgid)
    assert(eventually(30, function()
      return select(2, (sys.read_file(m.out) or ""):gsub("\n", "")) >= 3
    end), "no export lines: " .. (sys.read_file(m.err) or ""))
    m.lines = {}
    for line in sys.slurp(m.out):gmatch("[^\n]+") do m.lines[#m.lines + 1] = line end
    m.env = table.concat(m.lines, "\n", 1, 3)
    m.prefix = m.lines[2]:match("'(/tmp/leadconduit%-mock%.[^/']+)/ca%.pem'$")
    assert.truthy(m.prefix, m.lines[2])
    m.nginx_pid = sys.slurp(m.prefix .. "/nginx.pid"):match("%d+")
    return m
  end

  local function stop_group(m, signal)
    sys.run(("kill -%s -%s 2>/dev/null"):format(signal, m.pgid))
  end

  -- Everything it started is gone: the process group, nginx (a daemon, in a session of its
  -- own) and the temporary directory.
  local function assert_all_gone(m)
    assert.is_true(eventually(10, function()
      return not sys.run(("kill -0 -%s 2>/dev/null"):format(m.pgid)) and not alive(m.nginx_pid)
        and not sys.run("test -e " .. quote(m.prefix))
    end), "left behind after stopping: " .. sys.capture("ps -o pid,args -g " .. m.pgid .. " 2>&1"))
  end

  -- Runs the tool with the three exports evaluated by sh, as a user would.
  local function tool(m, args, scenario)
    local script = m.env .. "\n"
    if scenario then
      script = script .. ('LEADCONDUIT_BASE_URL="$LEADCONDUIT_BASE_URL/%s"\n'):format(scenario)
    end
    script = script .. ("LUA_PATH=%s LUA_CPATH=%s %s %s %s; echo \"exit $?\""):format(
      quote(ROOT .. "/lua/?.lua;;"), quote(package.cpath), INTERPRETER, quote(ROOT .. "/bin/leadconduit"),
      args)
    -- This process's PATH: its interpreter is the one that loads package.cpath's module (under
    -- `make sanitize`, an ASan build that only its ASan lua5.4 can load).
    return sys.capture("env -i PATH=" .. quote(os.getenv("PATH")) .. " sh -c " .. quote(script) .. " 2>&1")
  end

  it("prints three export lines a shell can eval; the tool works with them; Ctrl-C stops it", function()
    local m = start()
    assert.matches("^export LEADCONDUIT_BASE_URL='https://127%.0%.0%.1:%d+'$", m.lines[1])
    assert.matches("^export LEADCONDUIT_CA_FILE='/tmp/leadconduit%-mock%.[%w]+/ca%.pem'$", m.lines[2])
    assert.matches("^export LEADCONDUIT_API_KEY='%x+'$", m.lines[3])
    for i = 4, #m.lines do assert.matches("^# ", m.lines[i]) end -- the rest: comments for eval
    assert.matches("exit 0\n$", tool(m, "sync"))
    assert.matches("exit 3\n$", tool(m, "sync", "status/401"))
    assert.matches("exit 4\n$", tool(m, "--retries 0 sync", "status/503"))
    local demo = tool(m, "pending", "fixture/demo")
    assert.truthy(demo:find("Prairie Clicks", 1, true), demo)
    assert.is_true(alive(m.nginx_pid))
    stop_group(m, "INT")
    assert_all_gone(m)
  end)

  it("stops everything on SIGTERM to its process group", function()
    local m = start()
    assert.matches("exit 0\n$", tool(m, "sync"))
    stop_group(m, "TERM")
    assert_all_gone(m)
  end)

  it("stops everything on SIGTERM to the launcher alone", function()
    local m = start()
    local launcher = sys.capture(("ps -o pid=,args= -g %s | grep '[r]un_mock.lua'"):format(m.pgid))
      :match("%d+")
    assert.truthy(launcher)
    sys.run("kill -TERM " .. launcher)
    assert.is_true(eventually(10, function()
      return not alive(m.nginx_pid) and not sys.run("test -e " .. quote(m.prefix))
    end))
    stop_group(m, "TERM") -- make itself, if still there
    assert_all_gone(m)
  end)
end)
