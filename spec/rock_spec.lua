-- rock_spec.lua — the LuaRocks path works as rockspec/ and README.md write it: on Debian,
-- `luarocks make --lua-version=5.4 --deps-mode=none rockspec/leadconduit-<version>-1.rockspec`
-- builds (no CURL_INCDIR), also with --tree DIR, and the `leadconduit` it installs runs with no
-- environment set. The build runs in a copy of the checkout, so that it leaves nothing here.
-- The rockspecs build for Lua 5.4 whatever runs the suite: this runs in the Lua 5.4 suite only.
local mock = require "support.mock_server"
local sys = require "support.sys"

local ROOT = sys.PROJECT_DIR
local quote = sys.quote
local HAVE_LUAROCKS = sys.run("command -v luarocks >/dev/null 2>&1")

-- What the rockspecs are called: the release's and the checkout's.
local function rockspecs()
  local names = {}
  for line in sys.capture("ls " .. quote(ROOT .. "/rockspec")):gmatch("[^\n]+") do
    names[#names + 1] = line
  end
  return names
end

describe("LuaRocks", function()
  if _VERSION ~= "Lua 5.4" then return end
  if not HAVE_LUAROCKS then
    pending("luarocks is not installed (Debian luarocks): the rockspecs were not built")
    return
  end

  local dir, src, srv

  lazy_setup(function()
    dir = sys.tempdir("rock")
    src = dir .. "/src"
    -- The files a rock is built from, as a clone has them.
    assert(sys.run(("mkdir -p %s && cd %s && cp -r Makefile csrc lua bin doc completions types rockspec %s")
      :format(quote(src), quote(ROOT), quote(src))))
    srv = mock.start()
  end)

  lazy_teardown(function()
    if srv then srv:stop() end
    if dir and dir:match("^/tmp/leadconduit%-rock%.") then sys.run("rm -rf " .. quote(dir)) end
  end)

  -- Runs a shell command in the copy; returns ok and what it printed. As a user's shell would:
  -- the system's interpreters first in PATH (LuaRocks looks for the headers beside the lua5.4 it
  -- finds, and `make sanitize` puts one of its own first) and no enclosing make's variables.
  local USER_SHELL = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH=/usr/local/bin:/usr/bin:/bin"
  local function in_src(command, env)
    local log = dir .. "/log"
    local ok = sys.run(("cd %s && %s %s %s >%s 2>&1"):format(quote(src), USER_SHELL, env or "", command,
      quote(log)))
    return ok, sys.slurp(log)
  end

  -- The installed command, run with nothing in its environment but what `extra` adds.
  local function leadconduit(tree, args, extra)
    local out = dir .. "/out"
    local status = sys.capture(("env -i %s %s %s >%s 2>&1; echo $?"):format(extra or "",
      quote(tree .. "/bin/leadconduit"), args, quote(out))):match("%d+")
    return tonumber(status), sys.slurp(out)
  end

  local function check_installed(tree)
    local status, out = leadconduit(tree, "--version")
    assert.equal(0, status, out)
    assert.matches("^leadconduit %d+%.%d+%.%d+ %(Lua 5%.4, libcurl/", out)
    status, out = leadconduit(tree, "help pending")
    assert.equal(0, status, out)
    assert.matches("^usage: leadconduit %[options%] pending", out)
    status, out = leadconduit(tree, "pending", ("LEADCONDUIT_API_KEY=%s LEADCONDUIT_BASE_URL=%s"
      .. " LEADCONDUIT_CA_FILE=%s"):format(quote(srv.api_key), quote(srv:url("fixture/demo")),
      quote(srv.ca_file)))
    assert.equal(0, status, out)
    assert.truthy(out:find("Prairie Clicks", 1, true), out)
    -- the library too, from the tree's own directories
    local lua = ("env -i lua5.4 -e %s"):format(quote(("package.path = %q; package.cpath = %q;"
      .. " print(require('leadconduit')._VERSION)"):format(tree .. "/share/lua/5.4/?.lua",
      tree .. "/lib/lua/5.4/?.so")))
    assert.matches("^leadconduit %d", sys.capture(lua .. " 2>&1"))
  end

  it("has a release rockspec and a checkout one", function()
    local names = table.concat(rockspecs(), " ")
    assert.matches("leadconduit%-%d+%.%d+%.%d+%-1%.rockspec", names)
    assert.matches("leadconduit%-scm%-1%.rockspec", names)
  end)

  for _, rockspec in ipairs(rockspecs()) do
    it(rockspec .. " builds as written with --tree DIR; its leadconduit runs with no environment", function()
      local tree = dir .. "/tree-" .. rockspec
      local ok, log = in_src(("luarocks make --lua-version=5.4 --deps-mode=none rockspec/%s --tree %s")
        :format(quote(rockspec), quote(tree)))
      assert.is_true(ok, log)
      check_installed(tree)
    end)
  end

  it("README's LuaRocks commands run as printed", function()
    local readme = sys.slurp(ROOT .. "/README.md")
    local block = assert(readme:match("<!%-%- recipe: luarocks %-%->\n```sh\n(.-)```"), "no luarocks block")
    local home = dir .. "/home"
    local config = dir .. "/readme-config.lua"
    assert(sys.run("mkdir -p " .. quote(home)))
    -- The command without --tree installs into the configured tree: a private one here.
    sys.write_file(config, ("rocks_trees = { { name = 'spec', root = %q } }\n"):format(dir .. "/readme-tree"))
    local ok, log = in_src("sh -ec " .. quote(block), ("env -i PATH=/usr/bin:/bin HOME=%s LUAROCKS_CONFIG=%s"
      .. " LUAROCKS_CONFIG_5_4=%s"):format(quote(home), quote(config), quote(config)))
    assert.is_true(ok, log)
    assert.matches("\nleadconduit %d+%.%d+%.%d+ %(Lua 5%.4, libcurl/", "\n" .. log)
    check_installed(home .. "/lc")
    check_installed(dir .. "/readme-tree")
  end)

  it("builds as written with no --tree, into the configured tree", function()
    -- The command exactly as written; the tree it installs into is the one LuaRocks is
    -- configured with, here a private one instead of /usr/local.
    local tree = dir .. "/configured"
    local config = dir .. "/config.lua"
    sys.write_file(config, ("rocks_trees = { { name = 'spec', root = %q } }\n"):format(tree))
    local release
    for _, name in ipairs(rockspecs()) do
      if name:match("%d+%.%d+%.%d+%-1%.rockspec$") then release = name end
    end
    local ok, log = in_src("luarocks make --lua-version=5.4 --deps-mode=none rockspec/" .. release,
      ("LUAROCKS_CONFIG=%s LUAROCKS_CONFIG_5_4=%s"):format(quote(config), quote(config)))
    assert.is_true(ok, log)
    assert.is_nil(log:find("CURL", 1, true), log)
    check_installed(tree)
  end)
end)
