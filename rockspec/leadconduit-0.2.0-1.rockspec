-- LuaRocks build of leadconduit 0.2.0: `luarocks make --lua-version=5.4 --deps-mode=none rockspec/leadconduit-0.2.0-1.rockspec`
-- (add --tree DIR for another tree). Debian's LuaRocks builds for Lua 5.1 unless given
-- --lua-version, and finds no argparse rock offline, where Debian's lua-argparse already provides
-- it: hence --deps-mode=none. libcurl is declared by its library alone, which LuaRocks finds in
-- Debian's multiarch directory; the compiler finds curl/curl.h there by itself (a header entry
-- would make LuaRocks look for it in /usr/include only and fail). The build is the Makefile's
-- own, so flags and files are the same; spec/rock_spec.lua runs this very command.
rockspec_format = "3.0"
package = "leadconduit"
version = "0.2.0-1"
source = {
  url = "git+https://example.invalid/leadconduit.git",
  tag = "v0.2.0",
}
description = {
  summary = "LeadConduit account API client: libcurl transport and a strict JSON decoder in C",
  detailed = [[
    POST /account_sso_sync through libcurl, the JSON answer decoded straight into Lua tables in C,
    and helpers for pending partner invitations (open, lapsed, about to lapse), feature flags,
    subscriptions and what changed between two syncs. Works in plain Lua 5.1-5.4, LuaJIT and
    OpenResty (without blocking nginx's event loop), and ships the `leadconduit` command-line tool,
    its man page and bash completion, and LuaCATS annotations for lua-language-server.
  ]],
  license = "MIT",
  labels = { "http", "json", "curl", "openresty", "api" },
}
supported_platforms = { "unix" }
dependencies = {
  "lua >= 5.1, < 5.5",
  "argparse >= 0.7", -- the command-line tool
}
-- libcurl 7.85.0 or newer (CURLOPT_PROTOCOLS_STR): csrc/transport.c refuses to build with less.
-- By library only: see the top of this file.
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "make",
  build_variables = {
    CFLAGS = "$(CFLAGS) -fvisibility=hidden",
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    CURL_CFLAGS = "-I$(CURL_INCDIR)",
    CURL_LIBS = "-L$(CURL_LIBDIR) -lcurl",
    BUILD_DIR = "build/rock",
  },
  -- The man page and the completion land in the rock's own directory (LuaRocks has no man or
  -- completion tree): man -l "$(luarocks show --rock-dir leadconduit)/share/man/man1/leadconduit.1"
  install_variables = {
    PREFIX = "$(PREFIX)",
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
    INST_BINDIR = "$(BINDIR)",
    LUA_INTERPRETER = "$(LUA)",
    BUILD_DIR = "build/rock",
  },
}
test = {
  type = "busted",
}
