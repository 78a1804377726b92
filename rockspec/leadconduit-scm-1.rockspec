-- LuaRocks build of the same module: `luarocks make rockspec/leadconduit-scm-1.rockspec`
rockspec_format = "3.0"
package = "leadconduit"
version = "scm-1"
source = {
  url = "git+https://example.invalid/leadconduit.git",
}
description = {
  summary = "LeadConduit account API client: libcurl transport and a strict JSON decoder in C",
  detailed = [[
    POST /account_sso_sync through libcurl, the JSON answer decoded straight into Lua tables in C,
    and helpers for expired pending partners, feature flags and subscriptions.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  -- Only the library is looked up: Debian keeps curl.h in a multiarch include directory
  -- that the compiler searches by itself but LuaRocks does not.
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  -- The Lua helpers in lua/leadconduit/ are installed by the builtin backend on its own.
  modules = {
    leadconduit = {
      sources = {
        "csrc/module.c", "csrc/transport.c", "csrc/decode.c", "csrc/number.c", "csrc/encode.c",
        "csrc/files.c",
      },
      libraries = { "curl", "pthread" },
      libdirs = { "$(CURL_LIBDIR)" },
      defines = { "_GNU_SOURCE" },
    },
  },
  install = {
    bin = { leadconduit = "bin/leadconduit" },
  },
}
