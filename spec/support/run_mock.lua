-- run_mock.lua — `make mock`: the specs' mock LeadConduit server (mock_server.lua) as a tool for
-- users' own scripts and nginx configs. Prints three `export` lines a shell can eval, then runs
-- in the foreground until Ctrl-C or SIGTERM, and stops nginx and its helpers on the way out.
--
--   LUA_PATH='spec/?.lua;;' lua5.4 spec/support/run_mock.lua
--
-- Signals: while it waits, a child shell traps INT, TERM and HUP and returns (system() makes this
-- process ignore INT meanwhile), after which the server is stopped here. A SIGTERM sent to this
-- process alone ends it at once; mock_server.lua's watchdog, which ignores those signals and
-- watches this process, then stops the server within a second.

local mock = require "support.mock_server"
local sys = require "support.sys"

local quote = sys.quote

local srv = mock.start()

local function say(line)
  io.stdout:write(line, "\n")
end

say("export LEADCONDUIT_BASE_URL=" .. quote(srv.base_url))
say("export LEADCONDUIT_CA_FILE=" .. quote(srv.ca_file))
say("export LEADCONDUIT_API_KEY=" .. quote(srv.api_key))
say("# The leadconduit mock server runs until Ctrl-C (or SIGTERM). A path after the address picks")
say("# a scenario, e.g. LEADCONDUIT_BASE_URL=" .. srv:url("status/503") .. " leadconduit sync")
say("# (exit 4); README.md, \"A mock server to try things on\", lists them.")
io.stdout:flush()

local pid = assert(sys.own_pid(), "run_mock: cannot tell this process's id")
-- `sleep & wait`: a trapped signal ends the wait at once, not after the sleep.
sys.run(("trap 'exit 0' INT TERM HUP; while kill -0 %s 2>/dev/null; do sleep 1 & wait $!; done")
  :format(pid))
srv:stop()
io.stderr:write("leadconduit mock server: stopped\n")
