-- docs_spec.lua — the documentation that ships with the module says what the code does: the man
-- page and the bash completion know every command and option the tool accepts, and the LuaCATS
-- annotations (types/leadconduit.lua) describe every field of require "leadconduit" and nothing else.
local leadconduit = require "leadconduit"
local cli = require "leadconduit.cli"
local features = require "leadconduit.features"
local sys = require "support.sys"

local ROOT = sys.PROJECT_DIR

-- Every option the tool accepts, and the commands they belong to ("" for the common ones).
local function accepted()
  local out = {}
  for _, o in ipairs(cli.COMMON_OPTIONS) do out[#out + 1] = { "", o[1] } end
  for _, f in ipairs(cli.COMMON_FLAGS) do
    for flag in f[1]:gmatch("%S+") do out[#out + 1] = { "", flag } end
  end
  for _, c in ipairs(cli.COMMANDS) do
    for _, flag in ipairs(c.flags or {}) do out[#out + 1] = { c.name, flag } end
    for _, o in ipairs(c.options or {}) do out[#out + 1] = { c.name, o[1] } end
  end
  return out
end

describe("the man page doc/leadconduit.1", function()
  local page = sys.slurp(ROOT .. "/doc/leadconduit.1")

  it("names every command and every option the tool accepts", function()
    for _, c in ipairs(cli.COMMANDS) do
      local entry = page:find("\n.B " .. c.name .. "\n", 1, true)
        or page:find("\n.BI " .. c.name .. " ", 1, true) or page:find('\n.BI "' .. c.name, 1, true)
      assert.truthy(entry, "command " .. c.name)
    end
    local n = 0
    for _, option in ipairs(accepted()) do
      local roff = option[2]:gsub("%-", "\\-")
      assert.truthy(page:find(roff, 1, true), option[2] .. " is not in the man page")
      n = n + 1
    end
    assert.is_true(n >= 15)
  end)

  it("has the sections a man page needs, and every exit status", function()
    for _, section in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES",
                               "EXIT STATUS", "EXAMPLES" }) do
      assert.truthy(page:find("\n.SH " .. section .. "\n", 1, true)
        or page:find('\n.SH "' .. section .. '"\n', 1, true), section)
    end
    for status in pairs({ [0] = 1, 1, 2, 3, 4, 5, [141] = 1 }) do
      assert.truthy(page:find("\n.B " .. status .. "\n", 1, true), "exit status " .. status)
    end
    for _, name in ipairs({ "LEADCONDUIT_API_KEY", "LEADCONDUIT_BASE_URL", "LEADCONDUIT_CA_FILE" }) do
      assert.truthy(page:find(name, 1, true), name)
    end
  end)

  it("renders without a warning under groff -man -ww -z", function()
    if not sys.run("command -v groff >/dev/null") then
      error("groff is not installed (Debian groff-base)")
    end
    local page_file = sys.quote(ROOT .. "/doc/leadconduit.1")
    local out = sys.capture("groff -man -ww -z " .. page_file .. " 2>&1; echo status=$?")
    assert.equal("status=0\n", out)
  end)
end)

describe("the bash completion completions/leadconduit", function()
  -- What the completion offers for the words given (the last one is being completed).
  -- compopt only works inside a real completion: a stand-in records what it was asked
  -- (offered["compopt -o filenames"]).
  local function complete(...)
    local words = { "leadconduit", ... }
    local quoted = {}
    for i, w in ipairs(words) do quoted[i] = sys.quote(w) end
    local script = ("compopt() { printf 'compopt %%s\\n' \"$*\"; }; source %s; COMP_WORDS=(%s);"
      .. " COMP_CWORD=%d; _leadconduit; printf '%%s\\n' \"${COMPREPLY[@]}\""):format(
      sys.quote(ROOT .. "/completions/leadconduit"), table.concat(quoted, " "), #words - 1)
    local offered = {}
    for line in sys.capture("bash -c " .. sys.quote(script)):gmatch("[^\n]+") do offered[line] = true end
    return offered
  end

  it("offers every command first", function()
    local offered = complete("")
    for _, c in ipairs(cli.COMMANDS) do assert.is_true(offered[c.name], c.name) end
    assert.same({ pending = true }, complete("pe"))
  end)

  it("offers every option the tool accepts, after the command it belongs to", function()
    for _, option in ipairs(accepted()) do
      local flag = option[2]
      if not flag:match("^%-%a$") then -- -h and -V: their long forms are offered
        local offered = option[1] == "" and complete("--") or complete(option[1], "--")
        assert.is_true(offered[flag], flag .. (option[1] ~= "" and " after " .. option[1] or ""))
      end
    end
    -- and not another command's
    assert.is_nil(complete("features", "--")["--buyers"])
  end)

  it("offers the documented feature names after feature, and - for --api-key-file", function()
    local offered = complete("feature", "")
    for _, name in ipairs(features.DOCUMENTED) do assert.is_true(offered[name], name) end
    assert.same({ firehose = true }, complete("--json", "feature", "fire"))
    assert.is_true(complete("--api-key-file", "")["-"])
  end)

  it("offers --tsv only where the tool takes it: not after sync, feature NAME or help", function()
    for _, command in ipairs({ "pending", "features", "changes" }) do
      assert.is_true(complete(command, "--")["--tsv"], command)
    end
    assert.is_true(complete("--")["--tsv"]) -- before any command it may still be right
    assert.is_nil(complete("sync", "--")["--tsv"])
    assert.is_nil(complete("--json", "sync", "--t")["--tsv"])
    assert.is_nil(complete("feature", "firehose", "--")["--tsv"])
    assert.is_true(complete("feature", "firehose", "--")["--json"])
  end)

  it("offers the commands after help", function()
    local offered = complete("help", "")
    for _, c in ipairs(cli.COMMANDS) do assert.is_true(offered[c.name], c.name) end
    assert.same({ changes = true }, complete("help", "ch"))
    assert.same({}, complete("help", "sync", ""))
  end)

  it("completes file arguments as file names (a directory with its /), and nothing else", function()
    local dir = sys.tempdir("completion")
    assert(sys.run("mkdir -p " .. sys.quote(dir .. "/state.d")))
    for _, option in ipairs({ "--api-key-file", "--ca-file", "--since" }) do
      local offered = complete(option, dir .. "/sta")
      assert.is_true(offered["compopt -o filenames"], option)
      assert.is_true(offered[dir .. "/state.d"], option)
    end
    assert.is_nil(complete("")["compopt -o filenames"])
    assert.is_nil(complete("feature", "")["compopt -o filenames"])
    sys.run("rm -rf " .. sys.quote(dir))
  end)
end)

describe("the LuaCATS annotations types/leadconduit.lua", function()
  local source = sys.slurp(ROOT .. "/types/leadconduit.lua")

  local function annotated(prefix)
    local names = {}
    for name in source:gmatch("\nfunction " .. prefix .. "([%w_]+)%(") do names[name] = true end
    for name in source:gmatch("\n" .. prefix .. "([%w_]+) =") do names[name] = true end
    return names
  end

  it("is a ---@meta file for require 'leadconduit' that loads", function()
    assert.matches("^%-%-%-@meta leadconduit\n", source)
    assert.is_table(assert((loadstring or load)(source))())
  end)

  it("annotates every field of require 'leadconduit', and only those", function()
    local names = annotated("leadconduit%.")
    local n = 0
    for name in pairs(leadconduit) do
      assert.is_true(names[name], "leadconduit." .. name .. " is not annotated")
      n = n + 1
    end
    for name in pairs(names) do
      assert.is_not_nil(leadconduit[name], "leadconduit." .. name .. " is annotated but does not exist")
    end
    assert.is_true(n >= 16)
  end)

  it("annotates every method of a client", function()
    local methods = annotated("Client:")
    local c = leadconduit.new{ api_key = "k3y" }
    local index = getmetatable(c).__index
    for name, f in pairs(index) do
      if type(f) == "function" then assert.is_true(methods[name], "client:" .. name) end
    end
    for name in pairs(methods) do assert.is_function(c[name], name) end
    c:close()
  end)

  it("describes every error kind the module returns", function()
    local kinds = {}
    for kind in source:gmatch('\n%-%-%-| "([%w_]+)"') do kinds[kind] = true end
    for _, kind in ipairs({ "auth", "rate_limited", "http", "timeout", "network", "tls", "too_large",
                            "decode", "api", "unsupported_phase", "unavailable" }) do
      assert.is_true(kinds[kind], kind)
    end
  end)
end)
