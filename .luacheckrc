-- luacheck configuration: the module code has no globals; specs run under busted.
std = "max"
max_line_length = 110
files["spec/"] = { std = "+busted" }
-- Code that runs inside nginx reads the ngx global that OpenResty provides.
files["lua/leadconduit/nginx.lua"] = { read_globals = { "ngx" } }
files["lua/leadconduit/client.lua"] = { read_globals = { "ngx" } }
files["lua/leadconduit/options.lua"] = { read_globals = { "ngx" } }
files["lua/leadconduit/account_cache.lua"] = { read_globals = { "ngx" } }
files["spec/nginx/"] = { read_globals = { "ngx" } }
-- Handlers set the response status and headers: the two fields of ngx that are written to.
files["bench/gate_handlers.lua"] = { read_globals = { "ngx" } }
files["bench/nginx_handlers.lua"] = { read_globals = { "ngx" } }
files["examples/nginx/"] = { read_globals = { ngx = { other_fields = true, fields = {
  status = { read_only = false }, header = { read_only = false, other_fields = true } } } } }
files["spec/support/mock/"] = { read_globals = { "ngx" } }
-- LuaCATS declarations: functions without bodies.
files["types/"] = { unused_args = false, unused = false }
