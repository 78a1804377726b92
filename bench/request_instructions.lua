-- bench/request_instructions.lua — N keep-alive client:sync_account() calls of the reference
-- account against the mock server, for callgrind, which counts instructions where wall time
-- drifts: the difference between two runs (N = 110 and N = 10), over 100, is one call's work.
--
--   for n in 10 110; do
--     valgrind --tool=callgrind --callgrind-out-file=cg.$n lua5.4 bench/request_instructions.lua . $n
--   done; callgrind_annotate cg.10 | grep TOTALS; callgrind_annotate cg.110 | grep TOTALS
--
-- The first argument is the checkout whose build/5.4 module and lua/ helpers are measured (the
-- mock server always comes from this one), so that two versions can be compared.

local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/bench/[^/]*$") or "."
local checkout, n = arg[1] or here, tonumber(arg[2] or "10")
package.path = checkout .. "/lua/?.lua;" .. here .. "/spec/?.lua;" .. package.path
package.cpath = checkout .. "/build/5.4/?.so;" .. package.cpath

local leadconduit = require "leadconduit"
local srv = require("support.mock_server").start()
local client = leadconduit.new{ api_key = srv.api_key, base_url = srv.base_url, ca_file = srv.ca_file }
assert(client:sync_account()) -- the connection opened, the trust store read
for _ = 1, n do assert(client:sync_account()) end
client:close()
srv:stop()
