-- The command-line tool (API.md "The command-line tool"): the INSTALLED bin/leadconduit, run as a
-- subprocess with a clean environment against the mock server, for every command, option and
-- exit status. Every run also checks that the API key appears in no output.
local leadconduit = require "leadconduit"
local mock = require "support.mock_server"
local same_value = require "support.same_value"
local sys = require "support.sys"

local ROOT = sys.PROJECT_DIR
local LUA_VERSION = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
local LUA_ABI = type(jit) == "table" and "5.1" or LUA_VERSION
local INTERPRETER = type(jit) == "table" and "luajit" or ("lua" .. LUA_VERSION)

local shell_quote = sys.quote

local read_file = sys.slurp

local function write_file(path, data, mode)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  assert(os.execute("chmod " .. (mode or "600") .. " " .. shell_quote(path)))
end

-- ok, exit status of a shell command on every Lua version.
local execute = sys.run

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  return (s:gsub("..?.?", function(c)
    local a, b, d = c:byte(1, 3)
    local n = a * 65536 + (b or 0) * 256 + (d or 0)
    local out = ""
    for k = 3, 0, -1 do
      local i = math.floor(n / 64 ^ k) % 64
      out = out .. B64:sub(i + 1, i + 1)
    end
    if not b then return out:sub(1, 2) .. "==" end
    if not d then return out:sub(1, 3) .. "=" end
    return out
  end))
end

local function lines_of(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  return lines
end

describe("leadconduit command-line tool", function()
  local srv, prefix, bin, key, keyfile, scratch
  local secrets -- strings that must never be printed (the key, its Basic credential)

  lazy_setup(function()
    prefix = assert(io.popen("mktemp -d /tmp/leadconduit-cli-spec.XXXXXX")):read("*l")
    scratch = prefix .. "/scratch"
    assert(execute("mkdir -p " .. shell_quote(scratch)))
    local ok = execute(("make -C %s --no-print-directory -s install PREFIX=%s LUA_VERSION=%s >%s 2>&1")
      :format(shell_quote(ROOT), shell_quote(prefix), LUA_VERSION, shell_quote(prefix .. "/make.log")))
    assert(ok, "make install failed:\n" .. read_file(prefix .. "/make.log"))
    bin = prefix .. "/bin/leadconduit"
    srv = mock.start()
    key = srv.api_key
    secrets = { key, base64("API:" .. key) }
    keyfile = scratch .. "/key"
    write_file(keyfile, key .. "\n")
  end)

  lazy_teardown(function()
    if srv then srv:stop() end
    if prefix and prefix:match("^/tmp/leadconduit%-cli%-spec%.") then
      execute("rm -rf " .. shell_quote(prefix))
    end
  end)

  -- run{ args..., env = {NAME = value}, key = false (no LEADCONDUIT_API_KEY), url = scenario,
  --      ca = false (no LEADCONDUIT_CA_FILE), key_in_stdout = true (sync --json of own account),
  --      stdin = text, stdin_file = path (instead of stdin), timeout = seconds (killed after) }
  -- -> { status, out, err }. Runs from an unrelated directory with nothing but PATH and HOME set.
  local function run(spec)
    local env = {
      "PATH=/usr/bin:/bin", "HOME=" .. scratch,
    }
    if spec.key ~= false then env[#env + 1] = "LEADCONDUIT_API_KEY=" .. (spec.key or key) end
    if spec.ca ~= false then env[#env + 1] = "LEADCONDUIT_CA_FILE=" .. srv.ca_file end
    if spec.url ~= false then env[#env + 1] = "LEADCONDUIT_BASE_URL=" .. srv:url(spec.url) end
    for name, value in pairs(spec.env or {}) do env[#env + 1] = name .. "=" .. value end
    local quoted = {}
    for i, e in ipairs(env) do quoted[i] = shell_quote(e) end
    for _, a in ipairs(spec) do quoted[#quoted + 1] = shell_quote(a) end
    local out_file, err_file, in_file = scratch .. "/stdout", scratch .. "/stderr", scratch .. "/stdin"
    write_file(in_file, spec.stdin or "")
    local command = ("cd %s && %senv -i %s %s %s <%s >%s 2>%s; echo $?"):format(shell_quote(scratch),
      spec.timeout and ("timeout -k 1 %d "):format(spec.timeout) or "",
      table.concat(quoted, " ", 1, #env), shell_quote(bin), table.concat(quoted, " ", #env + 1),
      shell_quote(spec.stdin_file or in_file), shell_quote(out_file), shell_quote(err_file))
    local p = assert(io.popen(command))
    local status = tonumber(p:read("*l"))
    p:close()
    local r = { status = status, out = read_file(out_file), err = read_file(err_file) }
    for _, secret in ipairs(secrets) do
      if not spec.key_in_stdout then
        assert(not r.out:find(secret, 1, true), "the API key appeared on stdout")
      end
      assert(not r.err:find(secret, 1, true), "the API key appeared on stderr")
    end
    return r
  end

  -- A failure: the status, nothing on stdout, one line on stderr starting "leadconduit: ".
  local function assert_failure(r, status, text)
    assert.equal(status, r.status, r.err)
    assert.equal("", r.out)
    local lines = lines_of(r.err)
    assert.is_true(#lines >= 1, "nothing on stderr")
    assert.matches("^leadconduit: ", lines[1])
    if status ~= 2 then assert.equal(1, #lines, r.err) end
    if text then assert.matches(text, lines[1], 1, true) end
    return lines
  end

  local function fixture(name)
    local text = read_file(ROOT .. "/spec/fixtures/" .. name .. ".json"):gsub("@API_KEY@", key)
    return assert(leadconduit.decode(text))
  end

  describe("installation", function()
    it("installs bin/leadconduit with a shebang naming the interpreter it was built for", function()
      local first = read_file(bin):match("^([^\n]*)")
      assert.matches("^#!/", first)
      assert.matches("/" .. INTERPRETER:gsub("%p", "%%%0") .. "$", first)
    end)

    it("runs from any directory with no LUA_PATH or LUA_CPATH set", function()
      local r = run{ "--version" }
      assert.equal(0, r.status, r.err)
      assert.equal("", r.err)
    end)

    it("uses the modules of its own prefix, not the source tree", function()
      local text = read_file(bin)
      assert.truthy(text:find(prefix .. "/share/lua/", 1, true))
      assert.truthy(text:find(prefix .. "/lib/lua/", 1, true))
    end)

    it("is removed by make uninstall", function()
      local other = prefix .. "/other"
      local make = ("make -C %s --no-print-directory -s %%s PREFIX=%s LUA_VERSION=%s >/dev/null 2>&1")
        :format(shell_quote(ROOT), shell_quote(other), LUA_VERSION)
      assert.is_true(execute(make:format("install")))
      local installed = { "/bin/leadconduit", "/share/man/man1/leadconduit.1",
        "/share/bash-completion/completions/leadconduit",
        "/share/lua/" .. LUA_ABI .. "/leadconduit/types.lua",
        "/share/lua/" .. LUA_ABI .. "/leadconduit/cli.lua", "/lib/lua/" .. LUA_ABI .. "/leadconduit.so" }
      for _, path in ipairs(installed) do
        assert.is_true(execute("test -f " .. shell_quote(other .. path)), path)
      end
      assert.is_true(execute(make:format("uninstall")))
      for _, path in ipairs(installed) do
        assert.is_false(execute("test -e " .. shell_quote(other .. path)), path)
      end
    end)

    it("installs a man page that renders, and a completion that bash loads", function()
      local page = sys.capture("groff -man -Tascii -P-c -P-b -P-u "
        .. shell_quote(prefix .. "/share/man/man1/leadconduit.1") .. " 2>&1")
      assert.matches("leadconduit%s+%-%s+ask%s+the%s+LeadConduit%s+API", page)
      local loaded = sys.capture("bash -c " .. shell_quote(". " .. shell_quote(prefix
        .. "/share/bash-completion/completions/leadconduit") .. " && complete -p leadconduit"))
      assert.matches("complete %-F _leadconduit leadconduit", loaded)
    end)
  end)

  describe("--help and --version", function()
    it("--help documents every command, option, environment variable and exit status", function()
      for _, flag in ipairs({ "--help", "-h" }) do
        local r = run{ flag, key = false, url = false, ca = false }
        assert.equal(0, r.status)
        assert.equal("", r.err)
        for _, word in ipairs({
          "sync", "pending", "--buyers", "--expired", "features", "feature NAME",
          "--api-key-file FILE", "--base-url URL", "--ca-file FILE", "--timeout SECONDS",
          "--retries N", "--json", "--help", "--version", "--connect-timeout SECONDS", "-V, --version",
          "help [COMMAND]",
          "LEADCONDUIT_API_KEY", "LEADCONDUIT_BASE_URL", "LEADCONDUIT_CA_FILE",
          "0  success", "1  negative", "2  usage", "3  authentication", "4  temporary", "5  any other",
        }) do
          assert.truthy(r.out:find(word, 1, true), "--help does not mention " .. word)
        end
      end
    end)

    it("--help after a command shows the same help", function()
      local r = run{ "pending", "--help", key = false }
      assert.equal(0, r.status)
      assert.truthy(r.out:find("Exit status", 1, true))
    end)

    -- API.md 0.3: `help [COMMAND]` and `COMMAND --help` print that command's usage on stdout and
    -- exit 0, for every command, even where the command's own arguments are missing.
    it("help COMMAND, COMMAND --help and COMMAND -h print that command's usage, for every command", function()
      local names = {}
      for _, c in ipairs(require("leadconduit.cli").COMMANDS) do names[#names + 1] = c.name end
      assert.is_true(#names >= 6)
      for _, name in ipairs(names) do
        local usage = name == "help" and "^usage: leadconduit help %[COMMAND%]\n"
          or ("^usage: leadconduit %[options%] " .. name .. "[ \n]")
        local asked = { { "help", name }, { name, "--help" }, { name, "-h" }, { "--json", name, "--help" } }
        for _, args in ipairs(asked) do
          args.key, args.url, args.ca = false, false, false
          local r = run(args)
          local what = table.concat(args, " ")
          assert.equal(0, r.status, what .. ": " .. r.err)
          assert.equal("", r.err, what)
          assert.matches(usage, r.out, nil, what)
        end
      end
      -- what used to be usage errors: feature without NAME, changes without --since
      local feature = run{ "feature", "--help", key = false }.out
      assert.matches("^usage: leadconduit %[options%] feature NAME", feature)
      local changes = run{ "changes", "-h", key = false }.out
      assert.matches("^usage: leadconduit %[options%] changes %-%-since", changes)
      assert.matches("60 columns", run{ "help", "changes", key = false }.out)
    end)

    it("help alone prints the whole help; help with an unknown command is a usage error", function()
      local whole = run{ "--help", key = false }
      local r = run{ "help", key = false }
      assert.equal(0, r.status, r.err)
      assert.equal(whole.out, r.out)
      assert.truthy(r.out:find("help [COMMAND]", 1, true))
      local lines = assert_failure(run{ "help", "synk", key = false }, 2, "unknown command 'synk'")
      assert.matches("^usage: ", lines[2])
      assert_failure(run{ "help", "sync", "pending", key = false }, 2)
    end)

    it("-V is --version", function()
      local long = run{ "--version", key = false, url = false, ca = false }
      for _, args in ipairs({ { "-V" }, { "sync", "-V" } }) do
        args.key, args.url, args.ca = false, false, false
        local r = run(args)
        assert.equal(0, r.status, r.err)
        assert.equal("", r.err)
        assert.equal(long.out, r.out)
      end
    end)

    it("--version prints the module version without needing a key", function()
      local r = run{ "--version", key = false, url = false, ca = false }
      assert.equal(0, r.status)
      assert.matches("^" .. leadconduit._VERSION:gsub("%p", "%%%0") .. " %(.*libcurl/[%d.]+%)\n$", r.out)
    end)
  end)

  it("fails with status 5 when it cannot write its output (a full disk is not success)", function()
    local err_file = scratch .. "/stderr-full"
    local p = assert(io.popen(("env -i PATH=/usr/bin:/bin %s --version >/dev/full 2>%s; echo $?")
      :format(shell_quote(bin), shell_quote(err_file))))
    local status = tonumber(p:read("*l"))
    p:close()
    assert.equal(5, status)
    assert.matches("^leadconduit: cannot write the output", read_file(err_file))
  end)

  describe("usage errors (exit status 2)", function()
    it("says so, with a short usage line, when no command is given", function()
      local lines = assert_failure(run{}, 2, "no command")
      assert.matches("^usage: leadconduit ", lines[2])
    end)

    it("rejects an unknown command", function()
      local lines = assert_failure(run{ "syncc" }, 2, "unknown command 'syncc'")
      assert.matches("^usage: ", lines[2])
    end)

    it("rejects unknown options and missing or extra arguments", function()
      assert_failure(run{ "--verbose", "sync" }, 2, "--verbose")
      assert_failure(run{ "sync", "--bogus" }, 2, "--bogus")
      assert_failure(run{ "feature" }, 2)
      assert_failure(run{ "feature", "firehose", "extra" }, 2)
      assert_failure(run{ "sync", "--buyers" }, 2, "--buyers")
      assert_failure(run{ "--timeout" }, 2, "--timeout")
    end)

    it("never takes the API key from the command line, and does not echo it", function()
      for _, args in ipairs({ { "--api-key", key, "sync" }, { "--api-key=" .. key, "sync" },
                              { "sync", "--api-key", key } }) do
        args.key = false
        assert_failure(run(args), 2, "--api-key-file")
      end
    end)

    it("rejects a bad --timeout or --retries", function()
      for _, v in ipairs({ "abc", "0", "-1", "nan", "1e9", "" }) do
        assert_failure(run{ "--timeout=" .. v, "sync" }, 2, "--timeout")
      end
      for _, v in ipairs({ "x", "-1", "1.5", "11", "" }) do
        assert_failure(run{ "sync", "--retries=" .. v }, 2, "--retries")
      end
      assert_failure(run{ "--timeout", "-1", "sync" }, 2) -- "-1" reads as an option there
    end)

    it("rejects a bad --base-url or --ca-file as a configuration error", function()
      assert_failure(run{ "--base-url", "ftp://127.0.0.1/", "sync" }, 2, "--base-url")
      assert_failure(run{ "--base-url", "http://example.com", "sync" }, 2, "--base-url")
      assert_failure(run{ "--ca-file", scratch .. "/missing.pem", "sync" }, 2, "--ca-file")
    end)

    it("rejects an unknown feature name", function()
      assert_failure(run{ "feature", "firehoze" }, 2, 'unknown feature "firehoze"')
    end)
  end)

  describe("the API key", function()
    it("is required (exit status 2)", function()
      assert_failure(run{ "sync", key = false }, 2, "no API key")
      assert_failure(run{ "sync", key = "" }, 2, "no API key")
    end)

    it("is read from LEADCONDUIT_API_KEY", function()
      assert.equal(0, run{ "sync" }.status)
    end)

    it("is read from --api-key-file with the trailing newline trimmed", function()
      local r = run{ "--api-key-file", keyfile, "sync", key = false }
      assert.equal(0, r.status, r.err)
      local crlf = scratch .. "/key-crlf"
      write_file(crlf, key .. "\r\n")
      assert.equal(0, run{ "sync", "--api-key-file", crlf, key = false }.status)
      local bare = scratch .. "/key-bare"
      write_file(bare, key, "400")
      assert.equal(0, run{ "sync", "--api-key-file", bare, key = false }.status)
    end)

    it("prefers --api-key-file over LEADCONDUIT_API_KEY", function()
      local r = run{ "--api-key-file", keyfile, "sync", key = "0000wrong0000key0000" }
      assert.equal(0, r.status, r.err)
    end)

    it("refuses a key file that group or others can read", function()
      for _, mode in ipairs({ "640", "604", "644", "444" }) do
        local f = scratch .. "/key-" .. mode
        write_file(f, key .. "\n", mode)
        local lines = assert_failure(run{ "--api-key-file", f, "sync", key = false }, 2, "chmod 600")
        assert.truthy(lines[1]:find(f, 1, true))
      end
    end)

    it("refuses a missing, empty or directory key file, or one holding no valid key", function()
      assert_failure(run{ "--api-key-file", scratch .. "/nope", "sync", key = false }, 2, "nope")
      local empty = scratch .. "/key-empty"
      write_file(empty, "\n")
      assert_failure(run{ "--api-key-file", empty, "sync", key = false }, 2, "empty")
      local dir = scratch .. "/key-dir"
      execute("mkdir -p " .. shell_quote(dir) .. " && chmod 700 " .. shell_quote(dir))
      assert_failure(run{ "--api-key-file", dir, "sync", key = false }, 2, "not a regular file")
      local bad = scratch .. "/key-bad"
      write_file(bad, key .. " " .. key .. "\n")
      assert_failure(run{ "--api-key-file", bad, "sync", key = false }, 2, "not hold a valid API key")
    end)

    it("exits with status 3 when the server refuses it", function()
      assert_failure(run{ "sync", key = "0000wrong0000key0000" }, 3, "leadconduit: auth: ")
      assert_failure(run{ "sync", url = "status/403" }, 3, "auth")
    end)
  end)

  describe("sync", function()
    it("prints an aligned account summary", function()
      local r = run{ "sync" }
      assert.equal(0, r.status, r.err)
      assert.equal("", r.err)
      local lines = lines_of(r.out)
      local column
      for _, line in ipairs(lines) do
        local label, value = line:match("^(%S[^ ]* ?[^ ]*)  +(%S.*)$")
        assert(label, "not a label/value line: " .. line)
        local at = #line - #value + 1
        column = column or at
        assert.equal(column, at, "values are not aligned: " .. line)
      end
      assert.matches("\nname +Acme, Inc%.\n", "\n" .. r.out)
      assert.matches("\nid +5fd4371e940df5a34a3888b2\n", r.out)
      assert.matches("\ntime zone +America/New_York\n", r.out)
      assert.matches("\ndata retention +123 days\n", r.out)
      assert.matches("\nbilling +contracted %(paid%)\n", r.out)
      assert.matches("\nsubscriptions +base, partner, pro\n", r.out)
      assert.matches("\nconnected sellers +1\n", r.out)
      assert.matches("\npending sellers +0 open, 1 expired\n", r.out)
    end)

    it("summarises the edge cases: counts, enabled features, active subscriptions", function()
      local r = run{ "sync", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      assert.matches("\ndata retention +0 days\n", r.out)
      assert.matches("\nbilling +contracted %(past_due%)\n", r.out)
      assert.matches("\nlead ping +off\n", r.out)
      assert.matches("\nfeatures +beta_dashboard, leadconduit_trustedform_decisions, seller_access\n", r.out)
      assert.matches("\nsubscriptions +base\n", r.out)
      assert.matches("\nconnected sellers +0\n", r.out)
      assert.matches("\nconnected buyers +2\n", r.out)
      assert.matches("\npending sellers +9 open, 13 expired\n", r.out)
      assert.matches("\npending buyers +1 open, 2 expired\n", r.out)
    end)

    it("shows missing and null fields as '-'", function()
      local r = run{ "sync", url = "fixture/nulls" }
      assert.equal(0, r.status, r.err)
      assert.matches("\ntime zone +%-\n", r.out)
      assert.matches("\nfeatures +none\n", r.out)
      assert.matches("\npending sellers +0 open, 0 expired\n", r.out)
    end)

    it("never prints the secrets the account carries", function()
      for _, name in ipairs({ "secrets", "edge" }) do
        local account = fixture(name).account
        local r = run{ "sync", url = "fixture/" .. name }
        assert.equal(0, r.status, r.err)
        for _, field in ipairs({ "api_key", "keen_read_api_key", "keen_write_api_key" }) do
          assert.is_string(account[field])
          assert.is_falsy(r.out:find(account[field], 1, true), name .. ": printed " .. field)
        end
        assert.is_falsy(r.out:find("api_key", 1, true))
      end
    end)

    it("keeps control characters from the server off the terminal", function()
      local r = run{ "sync", url = "fixture/unicode" }
      assert.equal(0, r.status, r.err)
      assert.is_falsy(r.out:find("[%z\1-\9\11-\31\127]"))
      assert.truthy(r.out:find("Société Générale", 1, true))
    end)

    it("--json prints the whole answer: sorted keys, null kept, [] for empty arrays", function()
      for _, name in ipairs({ "reference", "edge", "unicode", "nulls", "empty" }) do
        local url = name == "reference" and "" or "fixture/" .. name
        local r = run{ "sync", "--json", "--show-secrets", url = url, key_in_stdout = true }
        assert.equal(0, r.status, r.err)
        local expected = fixture(name)
        local got, err = leadconduit.decode(r.out)
        assert(got ~= nil, name .. ": not valid JSON: " .. tostring(err))
        assert(same_value(expected, got))
        assert.equal(leadconduit.encode(expected, { indent = 2 }) .. "\n", r.out)
      end
      local edge = run{ "--json", "sync", url = "fixture/edge" }.out
      assert.truthy(edge:find('"data_truncated_at": null', 1, true))
      assert.truthy(edge:find('"connected_sellers": []', 1, true))
      assert.truthy(edge:find('"data_retention_in_days": 0,', 1, true))
      local a, b = edge:find('"billing_type"', 1, true), edge:find('"connected_buyers"', 1, true)
      assert.is_true(a < b)
    end)

    it("--json hides every api_key and *_api_key value, and the key wherever the server put it", function()
      local r = run{ "sync", "--json", url = "fixture/secrets" }
      assert.equal(0, r.status, r.err)
      assert.is_nil(r.out:find(key, 1, true))
      assert.is_nil(r.out:find("KEENREADSECRET", 1, true))
      local answer = assert(leadconduit.decode(r.out))
      assert.equal("(redacted)", answer.account.api_key)
      assert.equal("(redacted)", answer.account.keen_read_api_key)
      assert.equal("(redacted)", answer.account.keen_write_api_key)
      for _, args in ipairs({ { "pending", "--json" }, { "pending", "--expired", "--json" },
                              { "features", "--json" } }) do
        args.url = "fixture/secrets"
        assert.is_nil(run(args).out:find(key, 1, true), table.concat(args, " "))
      end
    end)

    it("--json --show-secrets shows the account's own secrets as the server sent them", function()
      local r = run{ "sync", "--json", "--show-secrets", url = "fixture/secrets", key_in_stdout = true }
      assert.equal(0, r.status)
      assert.truthy(r.out:find(key, 1, true))
      assert.truthy(r.out:find("KEENREADSECRET", 1, true))
    end)
  end)

  describe("pending", function()
    local OPEN_SELLERS = { "a003", "a004", "a005", "a007", "a008", "a00e", "a010", "a013", "a014" }
    local EXPIRED_SELLERS = { "a001", "a002", "a006", "a009", "a00a", "a00b", "a00c", "a00d", "a00f",
                              "a011", "a012", "a015", "a016" }

    local function ids(out)
      local list = {}
      for _, line in ipairs(lines_of(out)) do
        list[#list + 1] = line:match("^65a0c0ffee0000000000(%x%x%x%x)  ")
      end
      return list
    end

    it("lists the open pending sellers, one per line: id, name, expiry", function()
      local r = run{ "pending", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      assert.same(OPEN_SELLERS, ids(r.out))
      assert.matches("\n65a0c0ffee0000000000a003  expired false, expiry in the future  +"
        .. "2099%-01%-01T00:00:00Z\n", "\n" .. r.out)
      assert.matches("\n65a0c0ffee0000000000a004  expired false, expiry null  +no expiry\n", r.out)
    end)

    it("aligns the columns", function()
      local r = run{ "pending", "--expired", url = "fixture/edge" }
      local column
      for _, line in ipairs(lines_of(r.out)) do
        local at = line:find("%S+ expiry$") or line:find("%S+$") -- "no expiry" has a space
        column = column or at
        assert.equal(column, at, line)
      end
    end)

    it("--expired lists the expired ones, invalid expiry times included", function()
      local r = run{ "pending", "--expired", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      assert.same(EXPIRED_SELLERS, ids(r.out))
      assert.matches("\n65a0c0ffee0000000000a00d  [^\n]-  invalid expiry\n", r.out)
      assert.matches("\n65a0c0ffee0000000000a009  [^\n]-  not%-a%-date\n", r.out)
    end)

    it("--buyers lists pending buyers, with --expired the expired ones", function()
      local r = run{ "pending", "--buyers", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      assert.same({ "c002" }, ids(r.out))
      r = run{ "pending", "--expired", "--buyers", url = "fixture/edge" }
      assert.same({ "c001", "c003" }, ids(r.out))
    end)

    it("--buyers never falls back to the sellers when the answer has no pending_buyers", function()
      for _, args in ipairs({ { "pending", "--buyers" }, { "pending", "--buyers", "--expired" } }) do
        args.url = "fixture/sellers_only"
        local r = run(args)
        assert.equal(0, r.status, r.err)
        assert.equal("", r.out)
      end
      local r = run{ "pending", "--buyers", "--json", url = "fixture/sellers_only" }
      assert.equal("[]\n", r.out)
      assert.same({ "a101" }, ids(run{ "pending", url = "fixture/sellers_only" }.out))
    end)

    it("fails with exit 5 and says why when the answer has no JSON form (1e400 decodes to inf)", function()
      local r = run{ "sync", "--json", url = "fixture/huge_number" }
      assert.equal(5, r.status)
      assert.equal("", r.out)
      assert.matches("^leadconduit: the answer cannot be printed as JSON: ", r.err)
      assert.is_nil(r.err:find("internal error", 1, true))
      assert.equal(0, run{ "sync", url = "fixture/huge_number" }.status)
    end)

    it("prints nothing for an empty or null list", function()
      for _, name in ipairs({ "empty", "nulls", "minimal" }) do
        local r = run{ "pending", url = "fixture/" .. name }
        assert.equal(0, r.status, r.err)
        assert.equal("", r.out)
      end
    end)

    it("--json prints the entries as a JSON array, [] when there are none", function()
      local r = run{ "pending", "--json", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      local got = assert(leadconduit.decode(r.out))
      local expected = leadconduit.active_pending(fixture("edge").account.pending_sellers)
      assert(same_value(expected, got))
      assert.equal(9, #got)
      r = run{ "--json", "pending", "--buyers", "--expired", url = "fixture/edge" }
      assert(same_value(leadconduit.expired_pending(fixture("edge").account.pending_buyers),
        assert(leadconduit.decode(r.out))))
      assert.equal("[]\n", run{ "pending", "--json", url = "fixture/empty" }.out)
      assert.equal("[]\n", run{ "pending", "--json", url = "fixture/nulls" }.out)
    end)
  end)

  describe("features", function()
    local EDGE = {
      beta_dashboard = true, buyer_access = false, conversion_feedback = false, firehose = false,
      lead_transactions = false, leadconduit_trustedform_decisions = true, legacy_exports = false,
      real_time_bidding = false, seller_access = true, third_party_add_on_services = false,
    }

    it("lists every feature flag, sorted and aligned, with on or off", function()
      local r = run{ "features", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      local names, column = {}, nil
      for _, line in ipairs(lines_of(r.out)) do
        local name, state = line:match("^(%S+) +(%S+)$")
        assert(name, line)
        assert.equal(EDGE[name] and "on" or "off", state, name)
        names[#names + 1] = name
        column = column or #line - #state
        assert.equal(column, #line - #state)
      end
      local sorted = {}
      for name in pairs(EDGE) do sorted[#sorted + 1] = name end
      table.sort(sorted)
      assert.same(sorted, names)
    end)

    it("--json prints an object of booleans", function()
      local r = run{ "features", "--json", url = "fixture/edge" }
      assert.equal(0, r.status, r.err)
      assert.same(EDGE, assert(leadconduit.decode(r.out)))
      local nulls = assert(leadconduit.decode(run{ "features", "--json", url = "fixture/nulls" }.out))
      local count = 0
      for _, on in pairs(nulls) do
        assert.is_false(on)
        count = count + 1
      end
      assert.equal(8, count)
    end)
  end)

  describe("feature NAME", function()
    it("exits 0 when the feature is on and 1 when it is off, printing nothing", function()
      local cases = { seller_access = 0, beta_dashboard = 0, buyer_access = 1, firehose = 1,
                      lead_transactions = 1, real_time_bidding = 1, legacy_exports = 1 }
      for name, status in pairs(cases) do
        local r = run{ "feature", name, url = "fixture/edge" }
        assert.equal(status, r.status, name .. ": " .. r.err)
        assert.equal("", r.out)
        assert.equal("", r.err)
      end
    end)

    it("works in a shell condition", function()
      local sh = ("cd %s && env -i PATH=/usr/bin:/bin LEADCONDUIT_API_KEY=%s LEADCONDUIT_CA_FILE=%s "
        .. "LEADCONDUIT_BASE_URL=%s sh -c %s"):format(shell_quote(scratch), shell_quote(key),
        shell_quote(srv.ca_file), shell_quote(srv.base_url),
        shell_quote(shell_quote(bin) .. " feature firehose && echo on || echo off"))
      local p = assert(io.popen(sh))
      assert.equal("on\n", p:read("*a"))
      p:close()
    end)

    it("--json prints true or false", function()
      assert.equal("true\n", run{ "feature", "seller_access", "--json", url = "fixture/edge" }.out)
      local r = run{ "--json", "feature", "firehose", url = "fixture/edge" }
      assert.equal(1, r.status)
      assert.equal("false\n", r.out)
    end)
  end)

  describe("options and environment", function()
    it("--base-url overrides LEADCONDUIT_BASE_URL", function()
      local r = run{ "--base-url", srv.base_url, "sync", url = "status/401" }
      assert.equal(0, r.status, r.err)
      r = run{ "sync", "--base-url", srv:url("status/401") }
      assert.equal(3, r.status)
    end)

    it("--ca-file overrides LEADCONDUIT_CA_FILE; without either the system store is used", function()
      assert_failure(run{ "sync", ca = false }, 5, "tls")
      local r = run{ "sync", "--ca-file", srv.ca_file, ca = false }
      assert.equal(0, r.status, r.err)
      r = run{ "sync", "--ca-file", "/etc/ssl/certs/ca-certificates.crt" }
      assert.equal(5, r.status)
    end)

    it("--retries sets how many times a temporary failure is retried", function()
      local url, token = srv:counted("fail/503/1")
      local r = run{ "sync", "--retries", "0", url = false, env = { LEADCONDUIT_BASE_URL = url } }
      assert.equal(4, r.status)
      assert.equal(1, srv:count(token).requests)
      url, token = srv:counted("fail/503/1")
      r = run{ "sync", "--retries", "1", url = false, env = { LEADCONDUIT_BASE_URL = url } }
      assert.equal(0, r.status, r.err)
      assert.equal(2, srv:count(token).requests)
    end)

    it("--connect-timeout limits connecting, apart from --timeout", function()
      -- silent_url accepts the connection and never answers the TLS handshake: connecting
      -- never ends, so only the connect timeout can end it well before --timeout.
      local started = os.time()
      local r = run{ "sync", "--connect-timeout", "0.5", "--timeout", "30", "--retries", "0",
        url = false, env = { LEADCONDUIT_BASE_URL = srv.silent_url } }
      assert_failure(r, 4, "timeout")
      assert.is_true(os.time() - started <= 5, "took " .. (os.time() - started) .. " s")
      r = run{ "--connect-timeout", "5", "pending", url = "fixture/demo" }
      assert.equal(0, r.status, r.err)
      for _, v in ipairs({ "abc", "0", "-1", "1e9", "" }) do
        assert_failure(run{ "--connect-timeout=" .. v, "sync" }, 2, "--connect-timeout")
      end
      -- without --connect-timeout, a bad --timeout is still named as --timeout
      assert_failure(run{ "--timeout", "0", "sync" }, 2, "--timeout must")
    end)

    it("--timeout limits each attempt", function()
      assert_failure(run{ "sync", "--timeout", "0.5", "--retries", "0", url = "slow/3000" }, 4, "timeout")
      local r = run{ "sync", "--timeout", "5", url = "slow/300" }
      assert.equal(0, r.status, r.err)
    end)
  end)

  describe("failures", function()
    it("exit status 4 for temporary failures: 5xx, rate limiting, network, timeout", function()
      assert_failure(run{ "sync", "--retries", "0", url = "status/503" }, 4, "http")
      assert_failure(run{ "sync", "--retries", "0", url = "status/500" }, 4, "http")
      assert_failure(run{ "sync", "--retries", "0", url = "html/502" }, 4, "http")
      assert_failure(run{ "sync", "--retries", "0", url = "status/429" }, 4, "rate_limited")
      assert_failure(run{ "sync", "--retries", "0", url = false,
        env = { LEADCONDUIT_BASE_URL = srv.refused_url } }, 4, "network")
    end)

    it("exit status 5 for any other failure", function()
      assert_failure(run{ "sync", url = "status/404" }, 5, "http")
      assert_failure(run{ "sync", url = "invalid-json" }, 5, "decode")
      assert_failure(run{ "sync", url = "success-false" }, 5, "api")
      local untrusted = { LEADCONDUIT_BASE_URL = srv.untrusted_url }
      assert_failure(run{ "sync", url = false, env = untrusted }, 5, "tls")
    end)

    it("never prints the key, even when the server's error quotes it", function()
      assert_failure(run{ "sync", url = "leak/401" }, 3)
      assert_failure(run{ "sync", "--retries", "0", url = "leak/500" }, 4)
      assert_failure(run{ "sync", url = "leak/400" }, 5)
      assert_failure(run{ "pending", "--api-key-file", keyfile, url = "leak/400", key = false }, 5)
    end)
  end)

  local function rows_of(text, separator)
    local rows = {}
    for _, line in ipairs(lines_of(text)) do
      local cells = {}
      for cell in (line .. separator):gmatch("(.-)" .. separator) do cells[#cells + 1] = cell end
      rows[#rows + 1] = cells
    end
    return rows
  end

  describe("--max-time", function()
    it("bounds the whole call: a hanging server with many retries gives timeout near the deadline", function()
      local t0 = require("socket").gettime()
      local r = run{ "sync", "--timeout", "1", "--retries", "10", "--max-time", "2.5", url = "hang" }
      local took = require("socket").gettime() - t0
      assert_failure(r, 4, "timeout")
      -- Two attempts of 1 s with a wait of 0.25-0.5 s between them (equal jitter on the 0.5 s
      -- retry_delay) end at 2.25-2.5 s; the next wait, 0.5 s or more, would end past 2.5 s, so it
      -- is not started. (Any attempt after the deadline, or a wait past it, would take longer.)
      assert.is_true(took >= 2.2 and took < 4.5, ("took %.2f s"):format(took))
    end)

    it("does not start a Retry-After wait that would end past the deadline", function()
      local url = srv:counted("fail/503/forever/retry-after/20")
      local t0 = require("socket").gettime()
      local r = run{ "sync", "--retries", "3", "--max-time", "3", env = { LEADCONDUIT_BASE_URL = url },
        url = false }
      local took = require("socket").gettime() - t0
      assert_failure(r, 4, "max_time")
      assert.is_true(took < 2.5, ("waited %.2f s for a Retry-After past the deadline"):format(took))
    end)

    it("is checked like the client's max_time", function()
      for _, v in ipairs({ "0", "-1", "86401", "x" }) do
        assert_failure(run{ "sync", "--max-time=" .. v }, 2, "--max-time")
      end
    end)
  end)

  describe("pending --expiring-within", function()
    local function ids(r)
      local out = {}
      for _, row in ipairs(rows_of(r.out, "\t")) do out[#out + 1] = row[2] end
      return out
    end

    it("lists the open invitations that lapse within the duration, in order", function()
      local cases = {
        { "3600", { "in 30 minutes" } }, { "90m", { "in 30 minutes" } },
        { "3h", { "in 30 minutes", "in 2 hours" } },
        { "4d", { "in 30 minutes", "in 2 hours", "in 3 days" } },
        { "7d", { "in 30 minutes", "in 2 hours", "in 3 days" } },
        { "36h", { "in 30 minutes", "in 2 hours" } }, { "1.5d", { "in 30 minutes", "in 2 hours" } },
        { "30d", { "in 30 minutes", "in 2 hours", "in 3 days", "in 10 days" } },
        { "0", {} },
      }
      for _, case in ipairs(cases) do
        local r = run{ "pending", "--tsv", "--expiring-within", case[1], url = "expiring" }
        assert.equal(0, r.status, r.err)
        assert.same(case[2], ids(r), case[1])
      end
      local r = run{ "pending", "--buyers", "--tsv", "--expiring-within", "7d", url = "expiring" }
      assert.same({ "buyer in 5 days" }, ids(r))
      r = run{ "pending", "--json", "--expiring-within", "3h", url = "expiring" }
      local list = assert(leadconduit.decode(r.out))
      assert.same({ "65a0c0ffee0000000000f001", "65a0c0ffee0000000000f002" }, { list[1].id, list[2].id })
    end)

    it("refuses a malformed duration, and --expired with it, as usage errors", function()
      for _, v in ipairs({ "7 d", "7D", "-1", "1w", "d", "", "1e3", "7dd" }) do
        assert_failure(run{ "pending", "--expiring-within=" .. v, url = "expiring" }, 2, "--expiring-within")
      end
      assert_failure(run{ "pending", "--expired", "--expiring-within", "7d" }, 2, "cannot be combined")
    end)
  end)

  describe("--tsv", function()
    it("prints pending as id, name, expiry separated by one TAB; TAB and newline become spaces", function()
      local r = run{ "pending", "--tsv", url = "fixture/names" }
      assert.equal(0, r.status, r.err)
      local rows = rows_of(r.out, "\t")
      assert.equal(6, #rows)
      for _, row in ipairs(rows) do assert.equal(3, #row, table.concat(row, "|")) end
      assert.same({ "65a0c0ffee0000000000e101", "Tab inside", "2099-01-01T00:00:00Z" }, rows[1])
      assert.same({ "65a0c0ffee0000000000e102", "Line break and  CRLF", "-" }, rows[2])
      assert.equal("株式会社リード", rows[3][2])
      -- awk and cut read it as is
      local awk = "awk -F'\\t' 'NF != 3 { exit 1 }'"
      local ok, code = execute(("printf '%%s' %s | %s"):format(shell_quote(r.out), awk))
      assert.is_true(ok, tostring(code))
    end)

    it("prints features as name, on or off, and changes as op, path, old, new", function()
      local r = run{ "features", "--tsv", url = "fixture/names" }
      assert.equal(0, r.status, r.err)
      local rows = rows_of(r.out, "\t")
      local seen = {}
      for _, row in ipairs(rows) do
        assert.equal(2, #row)
        seen[row[1]] = row[2]
      end
      assert.equal("on", seen.firehose)
      assert.equal("off", seen["beta flag"])
      assert.equal("on", seen["实时竞价"])
      assert.equal("off", seen.seller_access)
    end)

    it("cannot be combined with --json, and applies to pending, features and changes only", function()
      assert_failure(run{ "pending", "--tsv", "--json" }, 2, "cannot be combined")
      assert_failure(run{ "sync", "--tsv" }, 2, "--tsv")
      assert_failure(run{ "feature", "firehose", "--tsv" }, 2, "--tsv")
    end)
  end)

  describe("text columns", function()
    it("align by display width: wide CJK and emoji count two, combining marks zero", function()
      local r = run{ "pending", url = "fixture/names" }
      assert.equal(0, r.status, r.err)
      local output = require "leadconduit.cli_output"
      local starts = {}
      for _, line in ipairs(lines_of(r.out)) do
        local expiry_at = line:find("2099", 1, true) or line:find("no expiry", 1, true)
        starts[#starts + 1] = output.width(line:sub(1, expiry_at - 1))
      end
      assert.equal(6, #starts)
      for i = 2, #starts do assert.equal(starts[1], starts[i], r.out) end
      assert.equal(2, output.width("株"))
      assert.equal(2, output.width("🚀"))
      assert.equal(4, output.width("Cafe\204\129"))
      assert.equal(7, output.width("Société"))
    end)
  end)

  describe("--api-key-file -", function()
    it("reads the key from standard input, trailing newline removed", function()
      local r = run{ "sync", "--api-key-file", "-", key = false, stdin = key .. "\n" }
      assert.equal(0, r.status, r.err)
      r = run{ "sync", "--api-key-file", "-", key = false, stdin = key .. "\r\n" }
      assert.equal(0, r.status, r.err)
      r = run{ "sync", "--api-key-file", "-", key = false, stdin = key }
      assert.equal(0, r.status, r.err)
    end)

    it("refuses empty input as a usage error", function()
      assert_failure(run{ "sync", "--api-key-file", "-", key = false, stdin = "" }, 2, "standard input")
      assert_failure(run{ "sync", "--api-key-file", "-", key = false, stdin = "\n" }, 2, "standard input")
    end)
  end)

  describe("changes --since FILE", function()
    local function saved_path(name)
      return scratch .. "/" .. name
    end

    it("exits 0 when nothing changed and 1 with the changes when something did", function()
      local file = saved_path("demo.json")
      os.remove(file)
      local r = run{ "changes", "--since", file, "--save", url = "fixture/demo" }
      assert.equal(0, r.status, r.err) -- a missing FILE with --save: nothing changed, FILE created
      assert.equal("", r.out)
      r = run{ "changes", "--since", file, url = "fixture/demo" }
      assert.equal(0, r.status, r.err)
      r = run{ "changes", "--since", file, "--tsv", url = "fixture/demo_next" }
      assert.equal(1, r.status, r.err)
      local rows = rows_of(r.out, "\t")
      local got = {}
      for i, row in ipairs(rows) do got[i] = table.concat(row, " | ") end
      assert.same({
        'changed | data_truncated_at | "2025-11-01T00:00:00Z" | null',
        "changed | features.conversion_feedback | false | true",
        "changed | features.firehose | true | false",
        'changed | keen_read_api_key | "(redacted)" | "(redacted)"',
        'changed | pending_sellers[64b0c0ffee0000000000a201].invitation_expires_at | "2099-01-15T18:00:00Z"'
          .. ' | "2099-02-15T18:00:00Z"',
        "removed | pending_sellers[64b0c0ffee0000000000a202] | "
          .. '{"expired":false,"id":"64b0c0ffee0000000000a202",'
          .. '"invitation_expires_at":"2021-06-30T12:00:00Z","name":"Old Mill Marketing"} | ',
        "added | pending_sellers[64b0c0ffee0000000000a205] |  | "
          .. '{"expired":false,"id":"64b0c0ffee0000000000a205",'
          .. '"invitation_expires_at":"2099-04-01T00:00:00Z","name":"Cascade Partners"}',
        'changed | subscriptions.partner.inactive_at | "2025-01-15T10:30:00Z" | null',
        'changed | subscriptions.partner.state | "inactive" | "active"',
      }, got)
      assert.is_nil(r.out:find("demo-keen-read-secret", 1, true))
    end)

    it("--save replaces FILE with the new answer, mode 0600, so the next run reports nothing", function()
      local file = saved_path("rotate.json")
      os.remove(file)
      assert.equal(0, run{ "changes", "--since", file, "--save", url = "fixture/demo" }.status)
      local r = run{ "changes", "--since", file, "--save", "--json", url = "fixture/demo_next" }
      assert.equal(1, r.status, r.err)
      local records = assert(leadconduit.decode(r.out))
      assert.equal(9, #records)
      assert.equal("(redacted)", records[4].old)
      assert.equal("600", sys.capture("stat -c %a " .. shell_quote(file)):match("%d+"))
      -- the saved answer keeps the real values (that is why it is private)
      assert.truthy(read_file(file):find("demo-keen-read-secret-rotated", 1, true))
      assert.equal(0, run{ "changes", "--since", file, url = "fixture/demo_next" }.status)
      -- and nothing is left beside it
      assert.equal("", sys.capture("ls " .. shell_quote(scratch) .. " | grep 'rotate.json.' || true"))
    end)

    it("leaves FILE untouched when the sync fails", function()
      local file = saved_path("untouched.json")
      os.remove(file)
      assert.equal(0, run{ "changes", "--since", file, "--save", url = "fixture/demo" }.status)
      local before = read_file(file)
      assert_failure(run{ "changes", "--since", file, "--save", url = "status/503", "--retries", "0" }, 4)
      assert.equal(before, read_file(file))
    end)

    it("does not call a secret changed when FILE holds it redacted, as sync --json prints it", function()
      local file = saved_path("printed.json")
      local printed = run{ "sync", "--json", url = "fixture/demo" }
      assert.equal(0, printed.status)
      write_file(file, printed.out)
      local r = run{ "changes", "--since", file, url = "fixture/demo" }
      assert.equal(0, r.status, r.out .. r.err)
      assert.equal("", r.out)
    end)

    it("exits 2 for a missing or unreadable FILE without --save, or one holding no answer", function()
      assert_failure(run{ "changes", "--since", saved_path("missing.json") }, 2, "missing.json")
      write_file(saved_path("junk.json"), "not json")
      assert_failure(run{ "changes", "--since", saved_path("junk.json") }, 2, "saved answer")
      write_file(saved_path("array.json"), "[1]")
      assert_failure(run{ "changes", "--since", saved_path("array.json") }, 2, "saved answer")
      assert_failure(run{ "changes" }, 2, "--since")
      assert_failure(run{ "changes", "--since", scratch }, 2)
    end)

    it("prints the changes aligned for people, absent values as -", function()
      local file = saved_path("people.json")
      os.remove(file)
      assert.equal(0, run{ "changes", "--since", file, "--save", url = "fixture/demo" }.status)
      local r = run{ "changes", "--since", file, url = "fixture/demo_next" }
      assert.equal(1, r.status)
      local lines = lines_of(r.out)
      assert.equal(9, #lines)
      assert.matches("^changed  features%.firehose%s+true%s+false$", lines[3])
      -- removed: no new value; the old one (123 columns of JSON) cut at 60, ending in …
      local cut = '  {"expired":false,"id":"64b0c0ffee0000000000a202","invitatio…  -'
      assert.equal(cut, lines[6]:sub(-#cut))
    end)

    it("cuts old and new at 60 columns in text, keeps them whole in --tsv and --json", function()
      local output = require "leadconduit.cli_output"
      local file = saved_path("wide.json")
      os.remove(file)
      assert.equal(0, run{ "changes", "--since", file, "--save", url = "fixture/demo" }.status)
      local r = run{ "changes", "--since", file, url = "fixture/demo_next" }
      assert.equal(1, r.status, r.err)
      local cut = 0
      for _, line in ipairs(lines_of(r.out)) do
        assert.is_nil(line:find(" $"), "a line ends in a space: " .. line)
        local path, old, new = line:match("^%S+%s+(%S+)%s+(.-)%s%s+(%S+)$")
        assert.truthy(old, line)
        for _, v in ipairs({ old, new }) do
          assert.is_true(output.width(v) <= 60, v)
          if v:find("…$") then cut = cut + 1; assert.equal(60, output.width(v)) end
        end
        -- op, path and the two values, two spaces apart: nothing wider than that
        assert.is_true(output.width(line) <= 7 + 2 + 75 + 2 + 60 + 2 + 60, line)
        assert.is_true(#path <= 75, path)
      end
      assert.equal(2, cut) -- the removed and the added seller
      local tsv = run{ "changes", "--since", file, "--tsv", url = "fixture/demo_next" }
      assert.is_nil(tsv.out:find("…", 1, true))
      assert.truthy(tsv.out:find('"name":"Cascade Partners"}', 1, true))
      -- wide characters count two: a value of CJK text is cut at 60 columns, not 60 characters
      assert.equal("ab" .. ("漢"):rep(28) .. "…", output.cut("ab" .. ("漢"):rep(40), 60))
      assert.equal(("a"):rep(60), output.cut(("a"):rep(60), 60))
      assert.equal(("a"):rep(58) .. "…", output.cut(("a"):rep(58) .. " bcd", 60))
    end)

    it("counts an empty FILE as a missing one with --save (: > FILE starts over)", function()
      for _, content in ipairs({ "", "\n", "  \n\n" }) do
        local file = saved_path("empty.json")
        write_file(file, content)
        local r = run{ "changes", "--since", file, "--save", url = "fixture/demo" }
        assert.equal(0, r.status, r.err)
        assert.equal("", r.out)
        assert.truthy(leadconduit.decode(read_file(file)).account)
        -- and the next run compares against what it wrote
        assert.equal(1, run{ "changes", "--since", file, url = "fixture/demo_next" }.status)
      end
      -- without --save an empty FILE is as unusable as a missing one
      write_file(saved_path("empty.json"), "")
      assert_failure(run{ "changes", "--since", saved_path("empty.json") }, 2, "saved answer")
    end)
  end)

  describe("hostile input (issue 29)", function()
    -- The demo answer, with a secret inside a value that changes reports whole.
    local function saved_with_nested_secret(path)
      local answer = fixture("demo")
      answer.account.integrations = { keen = { read_api_key = "KEENSECRET-OLD", project = "p" } }
      answer.account.old_partners = setmetatable({ { partner_api_key = "KEENSECRET-ARRAY" } },
        leadconduit.array_mt)
      write_file(path, assert(leadconduit.encode(answer)))
    end

    it("changes never prints a secret inside a value reported whole, as text, TSV or JSON", function()
      local file = scratch .. "/nested-secret.json"
      for _, format in ipairs({ {}, { "--tsv" }, { "--json" } }) do
        saved_with_nested_secret(file)
        local args = { "changes", "--since", file, url = "fixture/demo" }
        for _, a in ipairs(format) do args[#args + 1] = a end
        local r = run(args)
        assert.equal(1, r.status, r.err)
        assert.is_nil(r.out:find("KEENSECRET", 1, true), r.out)
        assert.truthy(r.out:find("(redacted)", 1, true), r.out)
        assert.truthy(r.out:find("integrations", 1, true), r.out)
      end
    end)

    it("changes text never shows the head of the caller's key that the 60-column cut keeps", function()
      local file = scratch .. "/cut-key.json"
      local answer = fixture("demo")
      answer.account.name = ("x"):rep(45) .. " key=" .. key -- the key straddles column 60
      write_file(file, assert(leadconduit.encode(answer)))
      local r = run{ "changes", "--since", file, url = "fixture/demo" }
      assert.equal(1, r.status, r.err)
      assert.truthy(r.out:find("key=[REDACTE", 1, true), r.out)
      assert.is_nil(r.out:find(key:sub(1, 6), 1, true), r.out)
    end)

    it("changes --save stores an answer with a number past a double's range, and reads it back", function()
      local file = scratch .. "/huge.json"
      os.remove(file)
      local r = run{ "changes", "--since", file, "--save", url = "fixture/huge_number" }
      assert.equal(0, r.status, r.err)
      assert.truthy(read_file(file):find('"data_retention_in_days": 1e999', 1, true), read_file(file))
      r = run{ "changes", "--since", file, "--save", url = "fixture/huge_number" }
      assert.equal(0, r.status, r.err)
      assert.equal("", r.out)
    end)

    it("changes --save keeps FILE as it was when the output cannot be written", function()
      local file = scratch .. "/full-disk.json"
      os.remove(file)
      assert.equal(0, run{ "changes", "--since", file, "--save", url = "fixture/demo" }.status)
      local before = read_file(file)
      local err_file = scratch .. "/stderr-save"
      local p = assert(io.popen(("env -i PATH=/usr/bin:/bin LEADCONDUIT_API_KEY=%s LEADCONDUIT_CA_FILE=%s"
        .. " LEADCONDUIT_BASE_URL=%s %s changes --since %s --save >/dev/full 2>%s; echo $?"):format(
        shell_quote(key), shell_quote(srv.ca_file), shell_quote(srv:url("fixture/demo_next")),
        shell_quote(bin), shell_quote(file), shell_quote(err_file))))
      local status = tonumber(p:read("*l"))
      p:close()
      assert.equal(5, status)
      assert.matches("^leadconduit: cannot write the output", read_file(err_file))
      assert.equal(before, read_file(file), "FILE was replaced although the changes were never shown")
      -- so the next run still reports them
      local r = run{ "changes", "--since", file, "--save", url = "fixture/demo_next" }
      assert.equal(1, r.status, r.err)
      assert.equal(9, #lines_of(r.out))
      assert.equal(0, run{ "changes", "--since", file, url = "fixture/demo_next" }.status)
    end)

    it("sync --json scrubs the key from object keys, not only from values", function()
      local r = run{ "sync", "--json", url = "key-as-key" }
      assert.equal(0, r.status, r.err)
      assert.is_nil(r.out:find(key, 1, true))
      local answer = assert(leadconduit.decode(r.out))
      assert.equal(true, answer.account.integrations["[REDACTED]"].enabled)
    end)

    it("refuses a --since FILE that is no regular file or is too large, without reading it", function()
      assert_failure(run{ "changes", "--since", "/dev/zero", timeout = 20 }, 2, "not a regular file")
      assert_failure(run{ "changes", "--since", "/dev/zero", "--save", timeout = 20 }, 2,
        "not a regular file")
      local fifo = scratch .. "/fifo"
      os.remove(fifo)
      assert(execute("mkfifo " .. shell_quote(fifo)))
      assert_failure(run{ "changes", "--since", fifo, timeout = 20 }, 2, "not a regular file")
      local huge = scratch .. "/huge.json"
      assert(execute("truncate -s 100M " .. shell_quote(huge)))
      assert_failure(run{ "changes", "--since", huge, timeout = 20 }, 2, "larger than")
      os.remove(huge)
    end)

    it("reads a bounded key: an endless line on standard input, a huge or special key file", function()
      local endless = { "sync", "--api-key-file", "-", key = false, stdin_file = "/dev/zero", timeout = 20 }
      assert_failure(run(endless), 2, "standard input")
      local long = { "sync", "--api-key-file", "-", key = false, stdin = ("k"):rep(100000), timeout = 20 }
      assert_failure(run(long), 2, "standard input")
      local huge = scratch .. "/key-huge"
      write_file(huge, "")
      assert(execute("truncate -s 100M " .. shell_quote(huge)))
      assert_failure(run{ "sync", "--api-key-file", huge, key = false, timeout = 20 }, 2, "larger than")
      os.remove(huge)
      assert_failure(run{ "sync", "--api-key-file", "/dev/zero", key = false, timeout = 20 }, 2,
        "not a regular file")
    end)

    it("names no internal file when the answer has an unexpected shape", function()
      for _, command in ipairs({ "pending", "sync" }) do
        local r = run{ command, url = "bad-shape" }
        local lines = assert_failure(r, 5, "unexpected answer")
        assert.is_nil(lines[1]:find("%.lua:%d+"), lines[1])
      end
    end)
  end)

  describe("a closed pipe", function()
    it("ends quietly with SIGPIPE's status, whether SIGPIPE is ignored or not", function()
      for _, prelude in ipairs({ "", "trap '' PIPE; " }) do
        local script = ("%s{ sleep 0.3; env -i PATH=/usr/bin:/bin LEADCONDUIT_API_KEY=%s"
          .. " LEADCONDUIT_CA_FILE=%s LEADCONDUIT_BASE_URL=%s %s pending 2>%s; echo $? >%s; } | true")
          :format(prelude, shell_quote(key), shell_quote(srv.ca_file), shell_quote(srv:url("fixture/demo")),
            shell_quote(bin), shell_quote(scratch .. "/pipe.err"), shell_quote(scratch .. "/pipe.status"))
        assert.is_true(execute("bash -c " .. shell_quote(script)))
        assert.equal("141", read_file(scratch .. "/pipe.status"):match("%d+"), prelude)
        assert.equal("", read_file(scratch .. "/pipe.err"), prelude)
      end
    end)
  end)
end)
