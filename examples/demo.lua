-- examples/demo.lua — what `make demo` shows: the library and the command-line tool, each
-- syncing against the mock LeadConduit server (spec/support/mock_server.lua) over HTTPS.
--
-- Run by the Makefile with LEADCONDUIT_PREFIX pointing at a `make install` of this build.
-- The API key travels through the environment only; nothing here prints it.

local mock = require "support.mock_server"

local prefix = assert(os.getenv("LEADCONDUIT_PREFIX"), "LEADCONDUIT_PREFIX is not set")
local interpreter = arg[-1] or "lua"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local srv = mock.start()
local env = table.concat({
  "LEADCONDUIT_API_KEY=" .. quote(srv.api_key),
  "LEADCONDUIT_BASE_URL=" .. quote(srv:url("fixture/demo")),
  "LEADCONDUIT_CA_FILE=" .. quote(srv.ca_file),
}, " ")

-- Show a command, run it with the mock's settings in its environment, report its exit status.
local function show(title, command)
  print(("\n$ %s"):format(title))
  io.stdout:flush()
  local ok, _, status = os.execute(env .. " " .. command)
  if ok == true or ok == 0 then status = 0 end
  if status ~= 0 then print(("(exit status %s)"):format(tostring(status))) end
  return status
end

local tool = quote(prefix .. "/bin/leadconduit")
local results = {
  show("lua examples/sync.lua", interpreter .. " examples/sync.lua"),
  show("leadconduit sync", tool .. " sync"),
  show("leadconduit pending", tool .. " pending"),
  show("leadconduit pending --buyers --expired", tool .. " pending --buyers --expired"),
  show("leadconduit feature firehose && echo on", tool .. " feature firehose && echo on"),
}
srv:stop()

for _, status in ipairs(results) do
  if status ~= 0 then os.exit(1) end -- the demo account has firehose on: every step succeeds
end
print("\ndemo: done")
