-- driver_spec.lua — csrc/driver.c outside nginx: the thread that runs an nginx worker's
-- exchanges, driven here by hand against the mock (LuaSocket's unix socket reads its reports in
-- place of nginx.lua's reader), so that its C runs under ASan/UBSan and valgrind too. Inside
-- nginx: spec/nginx_spec.lua.

local core = require "leadconduit.core"
local options = require "leadconduit.options"
local mock = require "support.mock_server"
local sys = require "support.sys"
local unix = require "socket.unix"

describe("leadconduit's driver thread (csrc/driver.c)", function()
  -- Its C is the same under every interpreter, and nginx runs it under LuaJIT
  -- (spec/nginx_spec.lua): defined once, in the Lua 5.4 suite, which ASan and valgrind run too.
  if _VERSION ~= "Lua 5.4" then return end
  local srv, path, reader
  local reported = {} -- every id the driver reported so far

  setup(function()
    srv = mock.start()
    path = assert(core.driver_socket())
    reader = unix()
    assert(reader:connect(path))
    reader:settimeout(10)
  end)

  teardown(function()
    if reader then reader:close() end
    if srv then srv:stop() end
  end)

  local function transport(scenario)
    local settings = assert(options.check({ api_key = srv.api_key, ca_file = srv.ca_file,
      base_url = srv.base_url .. (scenario and "/" .. scenario or "") }))
    return core.transport(settings.transport)
  end

  -- Reads reports until the driver has reported every id of `ids`.
  local function wait_for(ids)
    local function missing()
      for _, id in ipairs(ids) do
        if not reported[id] then return true end
      end
    end
    while missing() do
      local line = assert(reader:receive("*l"))
      local id = assert(tonumber(line), line)
      if id ~= 0 then -- 0: the heartbeat
        assert.is_nil(reported[id], "reported twice: " .. line)
        reported[id] = true
      end
    end
  end

  it("starts once per process, its socket in a directory only its user may enter", function()
    assert.equal(path, core.driver_socket())
    local dir = path:match("^(.*)/driver$")
    assert.truthy(dir, path)
    assert.equal("700", sys.capture("stat -c %a " .. sys.quote(dir)):match("%d+"))
  end)

  it("runs an exchange, reports its id, and keeps the outcome until it is collected", function()
    local t = transport()
    assert.is_nil(t:collect()) -- nothing submitted
    assert.is_true(t:submit("sso_account_id=5fd4371e940df5a34a3888b2", core.monotime() + 10))
    wait_for({ t:id() })
    local outcome = assert(t:collect())
    assert.equal(200, outcome.status)
    assert.is_true(outcome.headers_complete)
    assert.is_true(core.decode(outcome.body).success)
    assert.is_nil(t:collect()) -- collected once
    -- and the transport takes the next exchange, reported under the same id
    reported[t:id()] = nil
    assert.is_true(t:submit(nil, core.monotime() + 10))
    wait_for({ t:id() })
    assert.equal(200, assert(t:collect()).status)
    t:close()
  end)

  it("runs exchanges side by side: 20 against an API answering after 0.3 s end in one wave", function()
    local ts, ids = {}, {}
    local started = core.monotime()
    for i = 1, 20 do
      ts[i] = transport("slow/300")
      assert.is_true(ts[i]:submit(nil, core.monotime() + 10))
      ids[i] = ts[i]:id()
      reported[ids[i]] = nil
    end
    wait_for(ids)
    local seconds = core.monotime() - started
    assert.is_true(seconds >= 0.29 and seconds < 1.5, ("20 exchanges took %.2f s"):format(seconds))
    for i = 1, 20 do
      assert.equal(200, assert(ts[i]:collect()).status)
      ts[i]:close()
    end
  end)

  it("refuses a second exchange on a busy transport, and any on a closed one", function()
    local t = transport("slow/100")
    assert.is_true(t:submit(nil, core.monotime() + 10))
    assert.has_error(function() t:submit(nil, core.monotime() + 10) end,
      "leadconduit.sync_account: the client is in the middle of an exchange (called again from a"
      .. " finalizer, a debug hook or another thread)")
    reported[t:id()] = nil
    wait_for({ t:id() })
    assert.truthy(t:collect())
    t:close()
    assert.has_error(function() t:submit(nil, core.monotime() + 10) end,
      "leadconduit.sync_account: the client is closed")
    assert.has_error(function() t:id() end, "leadconduit.sync_account: the client is closed")
    assert.is_nil(t:collect())
  end)

  it("ends an exchange at its deadline as libcurl's timeout, reported like any other", function()
    local t = transport("slow/5000")
    local started = core.monotime()
    assert.is_true(t:submit(nil, started + 0.3))
    reported[t:id()] = nil
    wait_for({ t:id() })
    local seconds = core.monotime() - started
    assert.is_true(seconds >= 0.29 and seconds < 1.3, ("the timeout came after %.2f s"):format(seconds))
    local outcome = assert(t:collect())
    assert.equal("CURLE_OPERATION_TIMEDOUT", outcome.curl_code)
    t:close()
  end)

  it("does not start an exchange with less than a millisecond left: collect it at once", function()
    local t = transport()
    assert.is_false(t:submit(nil, core.monotime()))
    assert.same({ deadline_passed = true }, t:collect())
    t:close()
  end)

  it("frees a transport closed while its exchange runs when the exchange ends, and reports it", function()
    -- Reported all the same: the request that waited for it may have been abandoned mid-wait,
    -- and its reader forgets it only when the id comes.
    local closed = transport("slow/200")
    assert.is_true(closed:submit(nil, core.monotime() + 10))
    local closed_id = closed:id()
    reported[closed_id] = nil
    closed:close()
    wait_for({ closed_id })
    assert.is_nil(closed:collect())
  end)

  it("frees an outcome nobody collected when its transport is closed (a request abandoned)", function()
    local t = transport()
    assert.is_true(t:submit(nil, core.monotime() + 10))
    reported[t:id()] = nil
    wait_for({ t:id() })
    t:close() -- ASan and valgrind check that the outcome's body goes with it
    assert.is_nil(t:collect())
  end)

  it("reports every id to every reader: one per Lua VM of an nginx worker", function()
    local second = unix()
    assert(second:connect(path))
    second:settimeout(10)
    local t = transport()
    assert.is_true(t:submit(nil, core.monotime() + 10))
    reported[t:id()] = nil
    wait_for({ t:id() })
    local line
    repeat line = assert(second:receive("*l")) until line ~= "0"
    assert.equal(t:id(), tonumber(line))
    second:close()
    assert.truthy(t:collect())
    t:close()
  end)

  it("keeps what no reader could take for the next reader that connects", function()
    reader:close()
    local t = transport("slow/100")
    assert.is_true(t:submit(nil, core.monotime() + 10))
    require("socket").sleep(1.5) -- the exchange ends, and a heartbeat finds the reader gone
    reader = unix()
    assert(reader:connect(path))
    reader:settimeout(10)
    reported[t:id()] = nil
    wait_for({ t:id() })
    assert.truthy(t:collect())
    t:close()
  end)

  it("sends a heartbeat line, 0, about every second while idle", function()
    local started = core.monotime()
    repeat
      local line = assert(reader:receive("*l"))
    until line == "0"
    assert.is_true(core.monotime() - started < 2.5)
  end)
end)
