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
                            "decode", "api", "unsupported_phase", "unavailable", "config" }) do
      assert.is_true(kinds[kind], kind)
    end
  end)
end)

-- The annotations' classes, read as lua-language-server reads them, against the code itself.
describe("the LuaCATS classes of types/leadconduit.lua", function()
  local source = sys.slurp(ROOT .. "/types/leadconduit.lua")

  -- { [class] = { [field] = { type = <text>, optional = <bool> } } } and the methods annotated
  -- as `function <Local>:<name>` after `---@class <class>` / `local <Local> = {}`.
  local classes, methods = {}, {}
  do
    local current, fields
    for line in source:gmatch("([^\n]*)\n") do
      local class = line:match("^%-%-%-@class ([%w_.]+)")
      if class then
        current, fields = class, {}
        classes[class] = fields
      elseif current and line:match("^%-%-%-@field ") then
        local name, optional, rest = line:match("^%-%-%-@field ([%w_]+)(%??) (.*)$")
        assert.truthy(name, line)
        -- a function type holds spaces: fun(self: T): R
        local type_text = rest:match("^fun%b()%s*:%s*[%w_.]+") or rest:match("^fun%b()")
          or rest:match("^%S+")
        fields[name] = { type = type_text, optional = optional == "?" or type_text:match("|nil$") ~= nil }
      elseif current and line:match("^local [%w_]+ = {}") then
        local var = line:match("^local ([%w_]+)")
        methods[current] = {}
        for method in source:gmatch("\nfunction " .. var .. ":([%w_]+)%(") do
          methods[current][method] = true
        end
        current = nil
      elseif not line:match("^%-%-%-") then
        current = nil
      end
    end
  end

  local options_source = sys.slurp(ROOT .. "/lua/leadconduit/options.lua")
  local function names_in(table_name)
    local body = assert(options_source:match("local " .. table_name .. " = (%b{})"), table_name)
    local names = {}
    for name in body:gmatch("([%w_]+) = true") do names[#names + 1] = name end
    assert.is_true(#names > 0, table_name)
    return names
  end

  it("lets a pending partner be made by hand: no field is required", function()
    local partner = assert(classes["leadconduit.PendingPartner"])
    local n = 0
    for name, field in pairs(partner) do
      assert.is_true(field.optional, "PendingPartner." .. name .. " is required")
      n = n + 1
    end
    assert.is_true(n >= 4)
    -- README's own call type-checks: is_expired takes a PendingPartner
    local block, in_block = {}, false
    for line in source:gmatch("([^\n]*)\n") do
      if line:match("^function leadconduit%.is_expired%(") then break end
      if line:match("^%-%-%-") then
        if not in_block then block = {} end
        block[#block + 1], in_block = line, true
      elseif line ~= "" then
        in_block = false
      end
    end
    local text = table.concat(block, "\n")
    assert.truthy(text:find("---@param entry leadconduit.PendingPartner", 1, true), text)
  end)

  it("annotates every option new() accepts", function()
    local annotated = assert(classes["leadconduit.Options"])
    local candidates = names_in("KNOWN")
    for name in pairs(require("leadconduit.options").DEFAULTS) do candidates[#candidates + 1] = name end
    local n = 0
    for _, name in ipairs(candidates) do
      local ok, err = pcall(leadconduit.new, { api_key = "k3y", [name] = name ~= "api_key" and {} or "k3y" })
      if ok then err:close() end
      if ok or not tostring(err):find("unknown option", 1, true) then
        assert.is_table(annotated[name], "option " .. name .. " is not annotated")
        n = n + 1
      end
    end
    assert.is_true(n >= 11)
    -- and one that new() refuses is refused by these annotations too
    assert.is_nil(annotated.apikey)
  end)

  it("annotates every option account_cache() and sync_account() accept", function()
    local annotated = assert(classes["leadconduit.AccountCacheOptions"])
    for _, name in ipairs(names_in("CACHE_KNOWN")) do
      assert.is_table(annotated[name], "account_cache option " .. name .. " is not annotated")
    end
    assert.equal("leadconduit.Options", annotated.client.type)
    local sync = assert(classes["leadconduit.SyncOptions"])
    local c = leadconduit.new{ api_key = "k3y" }
    for name in pairs(sync) do
      local _, err = pcall(c.sync_account, c, { [name] = 1 })
      assert.is_nil(tostring(err):find("unknown option", 1, true), name)
    end
    c:close()
  end)

  it("annotates a client's metamethods: __close and __tostring", function()
    local annotated = assert(classes["leadconduit.Client"])
    local c = leadconduit.new{ api_key = "k3y" }
    local n = 0
    for name in pairs(getmetatable(c)) do
      -- __index and __name are how, __gc is never called by hand
      if name ~= "__index" and name ~= "__gc" and name ~= "__name" and name ~= "__metatable" then
        assert.is_table(annotated[name], "Client." .. name .. " is not annotated")
        assert.matches("^fun%(self: leadconduit%.Client%)", annotated[name].type)
        n = n + 1
      end
    end
    c:close()
    assert.is_true(n >= 2)
    assert.is_true(methods["leadconduit.Client"].sync_account and methods["leadconduit.Client"].close)
  end)

  it("annotates every method of an account cache", function()
    local cache_source = sys.slurp(ROOT .. "/lua/leadconduit/account_cache.lua")
    local n = 0
    for name in cache_source:gmatch("\nfunction Cache:([%w_]+)%(") do
      assert.is_true(methods["leadconduit.AccountCache"][name], "cache:" .. name .. " is not annotated")
      n = n + 1
    end
    assert.is_true(n >= 4)
  end)
end)

-- doc/reference.md: the project's own reference of its contract (a clone has nothing else).
describe("the reference doc/reference.md", function()
  local reference = sys.slurp(ROOT .. "/doc/reference.md")
  local types = sys.slurp(ROOT .. "/types/leadconduit.lua")

  local function mentions(name)
    return reference:find("`" .. name .. "`", 1, true) or reference:find("`" .. name .. "(", 1, true)
      or reference:find("`" .. name .. " ", 1, true) or reference:find("`" .. name .. "{", 1, true)
  end

  -- The fields of a ---@class in the annotations.
  local function class_fields(class)
    local block = assert(types:match("%-%-%-@class " .. class:gsub("%.", "%%.") .. "\n(.-)\n[^%-]"), class)
    local fields = {}
    for name in block:gmatch("%-%-%-@field ([%w_]+)") do fields[#fields + 1] = name end
    assert.is_true(#fields > 0, class)
    return fields
  end

  it("describes every public field of the module", function()
    local n = 0
    for name in pairs(leadconduit) do
      assert.truthy(mentions(name), "leadconduit." .. name .. " is not in doc/reference.md")
      n = n + 1
    end
    assert.is_true(n >= 16)
  end)

  it("describes every option of new, sync_account, account_cache, decode and encode", function()
    for _, class in ipairs({ "leadconduit.Options", "leadconduit.AccountCacheOptions",
                             "leadconduit.SyncOptions", "leadconduit.DecodeOptions",
                             "leadconduit.EncodeOptions" }) do
      for _, name in ipairs(class_fields(class)) do
        assert.truthy(mentions(name) or reference:find("opts." .. name, 1, true),
          class .. "." .. name .. " is not in doc/reference.md")
      end
    end
    assert.truthy(mentions("api_key_file"))
  end)

  it("describes every error kind and every field of an error", function()
    local n = 0
    for kind in types:gmatch('\n%-%-%-| "([%w_]+)"') do
      assert.truthy(reference:find("\n| `" .. kind .. "` |", 1, true), "error kind " .. kind)
      n = n + 1
    end
    assert.is_true(n >= 12)
    for _, kind in ipairs({ "config", "unsupported_phase" }) do
      assert.truthy(reference:find("\n| `" .. kind .. "` |", 1, true), kind)
    end
    for _, field in ipairs(class_fields("leadconduit.Error")) do
      assert.truthy(reference:find("\n| `" .. field .. "` |", 1, true), "error field " .. field)
    end
  end)

  it("describes every method of a client and of an account cache, metrics() included", function()
    for method in types:gmatch("\nfunction Client:([%w_]+)%(") do
      assert.truthy(reference:find("client:" .. method .. "(", 1, true), "client:" .. method)
    end
    local cache_methods = 0
    for method in types:gmatch("\nfunction AccountCache:([%w_]+)%(") do
      assert.truthy(reference:find("`cache:" .. method .. "(", 1, true), "cache:" .. method)
      cache_methods = cache_methods + 1
    end
    assert.is_true(cache_methods >= 5)
    for _, metric in ipairs({ "leadconduit_account_syncs_total", "leadconduit_account_sync_failures_total",
                              "leadconduit_account_last_success_timestamp_seconds",
                              "leadconduit_account_age_seconds", "leadconduit_account_fresh",
                              "leadconduit_account_sync_duration_seconds" }) do
      assert.truthy(reference:find("`" .. metric, 1, true), metric)
    end
  end)

  it("describes every command, every option the tool accepts and every exit status", function()
    for _, c in ipairs(cli.COMMANDS) do
      assert.truthy(reference:find("\n| `" .. c.name, 1, true), "command " .. c.name)
    end
    for _, option in ipairs(accepted()) do
      local flag = option[2]
      local found = reference:find("`" .. flag .. "`", 1, true) or reference:find("`" .. flag .. " ", 1, true)
      assert.truthy(found, flag .. " is not in doc/reference.md")
    end
    for status = 0, 5 do
      assert.truthy(reference:find("\n| " .. status .. " |", 1, true), "exit status " .. status)
    end
    assert.truthy(reference:find("make mock", 1, true))
  end)
end)

-- What a user reads never sends them outside the repository.
describe("user-facing documentation", function()
  local files = { "README.md", "doc/reference.md", "doc/leadconduit.1", "CHANGELOG.md" }

  it("points only at files the repository has, and never at API.md", function()
    for _, file in ipairs(files) do
      local text = sys.slurp(ROOT .. "/" .. file)
      assert.is_nil(text:find("API.md", 1, true), file .. " mentions API.md")
      assert.is_nil(text:find("../shared/", 1, true), file .. " points into ../shared/")
      for target in text:gmatch("%]%(([^)#]+)[^)]*%)") do
        if not target:match("^%a+:") then -- a URL
          local dir = file:match("^(.*)/") or "."
          assert.is_true(sys.run("test -e " .. sys.quote(ROOT .. "/" .. dir .. "/" .. target)),
            file .. " links to " .. target .. ", which the repository lacks")
        end
      end
    end
    assert.truthy(sys.slurp(ROOT .. "/README.md"):find("](doc/reference.md)", 1, true),
      "README does not link doc/reference.md")
  end)
end)
