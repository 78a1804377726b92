-- readme_spec.lua — what README.md tells users to paste works: the cron recipes (run by sh with
-- the installed tool, against the mock server; only their paths and `mail` are replaced) and the
-- Lua usage tour (run as is, with the client pointed at the mock).
local mock = require "support.mock_server"
local sys = require "support.sys"

local ROOT = sys.PROJECT_DIR
local LUA_VERSION = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
local INTERPRETER = type(jit) == "table" and "luajit" or ("lua" .. LUA_VERSION)
local quote = sys.quote

local readme = sys.slurp(ROOT .. "/README.md")

-- The sh block that follows <!-- recipe: name --> in README.md.
local function recipe(name)
  local block = readme:match("<!%-%- recipe: " .. name:gsub("%-", "%%-") .. " %-%->\n```sh\n(.-)```")
  return assert(block, "README.md has no recipe " .. name)
end

describe("README.md", function()
  local srv, prefix, dir, key_file, state

  lazy_setup(function()
    srv = mock.start()
    prefix = sys.tempdir("readme")
    dir = prefix .. "/work"
    state = prefix .. "/state"
    assert(sys.run(("mkdir -p %s %s %s/stubs"):format(quote(dir), quote(state), quote(prefix))))
    assert(sys.run(("make -C %s --no-print-directory -s install PREFIX=%s LUA_VERSION=%s >%s 2>&1")
      :format(quote(ROOT), quote(prefix), LUA_VERSION, quote(prefix .. "/make.log"))),
      "make install failed")
    key_file = prefix .. "/key"
    sys.write_file(key_file, srv.api_key .. "\n")
    assert(sys.run("chmod 600 " .. quote(key_file)))
    -- mail(1) and the deploy script, as stubs that record how they were called.
    sys.write_file(prefix .. "/stubs/mail", ("#!/bin/sh\n{ echo \"mail $*\"; cat; } >> %s\n")
      :format(quote(prefix .. "/mailbox")))
    sys.write_file(dir .. "/deploy-firehose-consumer.sh", ("#!/bin/sh\necho deployed >> %s\n")
      :format(quote(prefix .. "/deployed")))
    assert(sys.run(("chmod +x %s %s"):format(quote(prefix .. "/stubs/mail"),
      quote(dir .. "/deploy-firehose-consumer.sh"))))
  end)

  lazy_teardown(function()
    if srv then srv:stop() end
    if prefix and prefix:match("^/tmp/leadconduit%-readme%.") then sys.run("rm -rf " .. quote(prefix)) end
  end)

  -- Runs a recipe with sh in the work directory, the tool and `mail` on PATH, the mock as the
  -- API (scenario); returns exit status, stdout, stderr, and what was mailed (then cleared).
  -- extra: more of the environment, as "NAME=value ..." (already quoted).
  local function run_recipe(name, scenario, extra, shell)
    local script = recipe(name):gsub("/etc/leadconduit/key", key_file)
      :gsub("/var/lib/leadconduit", state)
    local env = ("env -i PATH=%s:%s:/usr/bin:/bin LEADCONDUIT_BASE_URL=%s LEADCONDUIT_CA_FILE=%s %s")
      :format(quote(prefix .. "/stubs"), quote(prefix .. "/bin"), quote(srv:url(scenario)),
        quote(srv.ca_file), extra or "")
    local out = sys.capture(("cd %s && %s %s %s >%s 2>%s; echo $?"):format(quote(dir), env,
      shell or "sh -c", quote(script), quote(prefix .. "/out"), quote(prefix .. "/err")))
    local mailed = sys.read_file(prefix .. "/mailbox") or ""
    os.remove(prefix .. "/mailbox")
    local r = { status = tonumber(out:match("%d+")), out = sys.slurp(prefix .. "/out"),
      err = sys.slurp(prefix .. "/err"), mailed = mailed }
    for _, text in ipairs({ r.out, r.err, r.mailed }) do
      assert.is_nil(text:find(srv.api_key, 1, true), "the API key was printed")
    end
    return r
  end

  describe("cron recipe: changes by mail", function()
    it("mails nothing on the first run, then what changed, then nothing again", function()
      os.remove(state .. "/account.json")
      local r = run_recipe("changes-by-mail", "fixture/demo")
      assert.equal(0, r.status, r.err)
      assert.equal("", r.mailed)
      assert.is_truthy(sys.read_file(state .. "/account.json"))
      r = run_recipe("changes-by-mail", "fixture/demo_next")
      assert.equal(0, r.status, r.err)
      assert.matches("^mail %-s LeadConduit account changed ops@example.com\n", r.mailed)
      assert.matches("changed%s+features%.firehose%s+true%s+false", r.mailed)
      assert.matches("added%s+pending_sellers%[64b0c0ffee0000000000a205%]", r.mailed)
      r = run_recipe("changes-by-mail", "fixture/demo_next")
      assert.equal(0, r.status, r.err)
      assert.equal("", r.mailed)
    end)

    it("fails, mailing nothing and keeping the saved answer, when the sync fails", function()
      local before = sys.slurp(state .. "/account.json")
      local r = run_recipe("changes-by-mail", "status/401")
      assert.equal(1, r.status)
      assert.equal("", r.mailed)
      assert.matches("^leadconduit: auth: HTTP 401", r.err)
      assert.equal(before, sys.slurp(state .. "/account.json"))
    end)
  end)

  describe("cron recipe: expiring reminder", function()
    it("mails the invitations that lapse within a week, and nothing when none do", function()
      local r = run_recipe("expiring-reminder", "expiring")
      assert.equal(0, r.status, r.err)
      assert.matches("^mail %-s LeadConduit invitations sales@example.com\n", r.mailed)
      for _, name in ipairs({ "in 30 minutes", "in 2 hours", "in 3 days" }) do
        assert.truthy(r.mailed:find(name, 1, true), name)
      end
      assert.is_nil(r.mailed:find("in 10 days", 1, true))
      r = run_recipe("expiring-reminder", "fixture/demo")
      assert.equal(0, r.status, r.err)
      assert.equal("", r.mailed)
    end)
  end)

  describe("cron recipe: feature gate", function()
    it("deploys while the feature is on, not when it is off or cannot be told", function()
      os.remove(prefix .. "/deployed")
      local r = run_recipe("feature-gate", "fixture/demo")
      assert.equal(0, r.status, r.err)
      assert.equal("deployed\n", sys.read_file(prefix .. "/deployed"))
      os.remove(prefix .. "/deployed")
      r = run_recipe("feature-gate", "fixture/demo_next")
      assert.equal(0, r.status, r.err)
      assert.equal("firehose is off: not deploying\n", r.out)
      r = run_recipe("feature-gate", "status/503")
      assert.equal(1, r.status)
      assert.matches("cannot tell whether firehose is on", r.err)
      assert.is_nil(sys.read_file(prefix .. "/deployed"))
    end)
  end)

  it("has a Lua usage tour that runs as written, against any account", function()
    local tour = assert(readme:match("## Usage\n\n```lua\n(.-)```"), "no usage tour")
    -- The one change: the tour's clients talk to the mock instead of app.leadconduit.com.
    local preamble = ([[
      package.path, package.cpath = %q, %q
      local leadconduit = require "leadconduit"
      local new = leadconduit.new
      leadconduit.new = function(opts)
        opts.base_url, opts.ca_file = %q, %q
        return new(opts)
      end
    ]]):format(package.path, package.cpath, srv:url("fixture/demo"), srv.ca_file)
    local script = prefix .. "/tour.lua"
    sys.write_file(script, preamble .. tour)
    local out = sys.capture(("LEADCONDUIT_API_KEY=%s %s %s 2>&1; echo \"exit $?\""):format(
      quote(srv.api_key), INTERPRETER, quote(script)))
    assert.matches("exit 0\n$", out)
    assert.truthy(out:find("Prairie Clicks", 1, true), out)
    assert.truthy(out:find("firehose is on", 1, true), out)
    assert.truthy(out:find("1699335116", 1, true), out)
    -- JSON null arrives as leadconduit.null: the tour says so, and prints no userdata for it
    assert.truthy(out:find("Summit Referral Co.\tno expiry\n", 1, true), out)
    assert.is_nil(out:find("userdata", 1, true), out)
  end)

  it("says what an error object shows without tostring, as this interpreter shows it", function()
    local rows = assert(readme:match("<!%-%- error%-objects %-%->\n(.-)\n\n"), "no error-objects table")
    local version = type(jit) == "table" and "LuaJIT" or _VERSION:gsub("^Lua ", "")
    local expected
    for line in rows:gmatch("[^\n]+") do
      local who, by_assert, by_error = line:match("^| ([^|]-) | `([^`]+)` | `([^`]+)` |$")
      if who and who ~= "interpreter" then
        for name in who:gmatch("[%w.]+") do
          if name == version then expected = { by_assert, by_error } end
        end
      end
    end
    assert.truthy(expected, "no row for " .. version)
    local function shown(snippet)
      local script = prefix .. "/error_object.lua"
      local head = ("package.path, package.cpath = %q, %q\n"):format(package.path, package.cpath)
        .. ("local leadconduit = require 'leadconduit'\nlocal client = leadconduit.new{ api_key = %q,"
        .. " base_url = %q, ca_file = %q }\n"):format(srv.api_key, srv:url("status/401"), srv.ca_file)
      sys.write_file(script, head .. snippet)
      return sys.capture(("%s %s 2>&1"):format(INTERPRETER, quote(script)))
    end
    for i, snippet in ipairs({ "assert(client:sync_account())\n",
                               "local _, err = client:sync_account()\nerror(err)\n" }) do
      local out = shown(snippet)
      local text = expected[i]:gsub("%.%.%.$", "")
      assert.truthy(out:find(text, 1, true), ("README says %q, %s printed:\n%s"):format(expected[i],
        INTERPRETER, out))
    end
  end)

  it("shows leadconduit pending's output as the tool prints it", function()
    local block = assert(readme:match(
      "<!%-%- output: pending fixture/demo %-%->\n```\n%$ leadconduit pending\n(.-)```"))
    local out = sys.capture(("env -i PATH=/usr/bin:/bin LEADCONDUIT_API_KEY=%s LEADCONDUIT_BASE_URL=%s"
      .. " LEADCONDUIT_CA_FILE=%s %s pending"):format(quote(srv.api_key), quote(srv:url("fixture/demo")),
      quote(srv.ca_file), quote(prefix .. "/bin/leadconduit")))
    assert.equal(block, out)
  end)

  it("has command-line examples that run as written, one after the other", function()
    -- vault(1) as a stub that prints the key; HOME a directory of its own; the key exported, as
    -- the block's first line says.
    local home = prefix .. "/home"
    assert(sys.run("mkdir -p " .. quote(home)))
    sys.write_file(prefix .. "/stubs/vault", ("#!/bin/sh\nprintf '%%s\\n' %s\n"):format(quote(srv.api_key)))
    assert(sys.run("chmod +x " .. quote(prefix .. "/stubs/vault")))
    local r = run_recipe("cli-tour", "fixture/demo", ("HOME=%s KEY=%s LEADCONDUIT_API_KEY=%s"):format(
      quote(home), quote(srv.api_key), quote(srv.api_key)), "sh -ec")
    assert.equal(0, r.status, r.err)
    assert.equal("", r.err)
    for _, text in ipairs({ "Northwind Home Insurance", "Prairie Clicks", "firehose is on",
                            "usage: leadconduit [options] changes", "America/Chicago\n",
                            "Summit Referral Co.\n" }) do
      assert.truthy(r.out:find(text, 1, true), text .. " not in:\n" .. r.out)
    end
    assert.equal("600", sys.capture("stat -c %a " .. quote(home .. "/.leadconduit-key")):match("%d+"))
    assert.truthy(sys.read_file(dir .. "/account.json"))
  end)

  describe("cron recipe: retry later", function()
    it("saves the answer, says a temporary failure will be retried, fails on any other", function()
      local r = run_recipe("retry-later", "fixture/demo")
      assert.equal(0, r.status, r.err)
      assert.truthy(sys.slurp(state .. "/pending.json"):find("Prairie Clicks", 1, true))
      r = run_recipe("retry-later", "status/503")
      assert.equal(0, r.status, r.err)
      assert.matches("temporary failure, next run will retry", r.err)
      r = run_recipe("retry-later", "status/401")
      assert.equal(1, r.status, r.err)
    end)
  end)

  it("lists make mock's scenarios with what sync_account returns for each, and each does", function()
    local leadconduit = require "leadconduit"
    local rows = assert(readme:match("<!%-%- mock%-scenarios %-%->\n(.-)\n\n"), "no scenario table")
    local n = 0
    for line in rows:gmatch("[^\n]+") do
      local paths, what, outcome = line:match("^| (.-) | (.-) | (.-) |$")
      if paths and paths ~= "path" and not paths:match("^%-%-") then
        local tried = {}
        local templates = {}
        if paths == "(none)" then tried[1] = "" end
        for path in paths:gmatch("`([^`]+)`") do
          if path:find("<", 1, true) then templates[#templates + 1] = path:match("^([^<]*)")
          else tried[#tried + 1] = path end
        end
        -- a template's examples are in the description: `slow/500` for `slow/<ms>`
        for example in what:gmatch("`([^`]+)`") do
          for _, head in ipairs(templates) do
            if example:sub(1, #head) == head and not example:find("<", 1, true) then
              tried[#tried + 1] = example
            end
          end
        end
        assert.is_true(#tried > 0, line)
        local kind = outcome == "the answer" and "answer" or outcome:match("^`([%w_]+)`$")
        assert.truthy(kind, line)
        for _, path in ipairs(tried) do
          local c = leadconduit.new{ api_key = srv.api_key, ca_file = srv.ca_file,
            base_url = srv:url(path), max_retries = 0, timeout = 2 }
          local res, err = c:sync_account()
          c:close()
          assert.equal(kind, res and "answer" or err.kind, path)
          n = n + 1
        end
      end
    end
    assert.is_true(n >= 30)
    -- and the export lines it shows have the form make mock prints (spec/make_mock_spec.lua)
    local block = assert(readme:match("```sh\n%$ make mock\n(.-)```"))
    local lines = {}
    for line in block:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(3, #lines)
    assert.matches("^export LEADCONDUIT_BASE_URL='https://127%.0%.0%.1:%d+'$", lines[1])
    assert.matches("^export LEADCONDUIT_CA_FILE='/tmp/leadconduit%-mock%.[%w]+/ca%.pem'$", lines[2])
    assert.matches("^export LEADCONDUIT_API_KEY='%x+'$", lines[3])
  end)
end)
