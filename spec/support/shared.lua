-- shared.lua — the extra test data that a checkout may have beside it in ../shared (CI always
-- does): the JSONTestSuite files, the benchmark corpora and the API's reference page. Whether an
-- extra runs is decided by its files being there, not by a variable: $LEADCONDUIT_SHARED only
-- says where to look instead of ../shared.
--
--   local shared = require "support.shared"
--   local files = shared.files("conformance/JSONTestSuite", ".json")  -- nil when not there
--   if files then it("...", function() ... end) end                    -- defined only then
--   shared.missing()  --> the extras that will not run, with why (spec/shared_data_spec.lua)

local sys = require "support.sys"

local shared = {}

shared.DIR = os.getenv("LEADCONDUIT_SHARED") or (sys.PROJECT_DIR .. "/../shared")

-- Each extra: the path it needs under shared.DIR, and what runs when it is there.
shared.EXTRAS = {
  { "conformance/JSONTestSuite", "JSONTestSuite: every y_ file accepted, n_ rejected, i_ as pinned;"
    .. " the decode/encode round trip and the lua-cjson differential over its valid files" },
  { "conformance/JSONTestSuite-transform", "JSONTestSuite's test_transform files pinned" },
  { "bench-data", "the lua-cjson differential over the benchmark corpora" },
  { "seed/account_sso_sync.txt", "reference.json checked against the API's reference page" },
}

--- files(subdir [, suffix]) -> sorted full paths of the files in DIR/subdir (ending in suffix), or nil
-- when there are none: an extra never passes on zero files.
function shared.files(subdir, suffix)
  local dir = shared.DIR .. "/" .. subdir
  local paths = {}
  for _, name in ipairs(sys.list_files(dir, suffix)) do paths[#paths + 1] = dir .. "/" .. name end
  if #paths == 0 then return nil end
  return paths
end

--- file(path) -> the full path of DIR/path when it is a readable file, else nil
function shared.file(path)
  local full = shared.DIR .. "/" .. path
  local f = io.open(full, "rb")
  local ok = f and f:read(1)
  if f then f:close() end
  if not ok then return nil end
  return full
end

local function present(path)
  return shared.file(path) ~= nil or shared.files(path) ~= nil
end

--- missing() -> the descriptions of the extras whose data is not there
function shared.missing()
  local out = {}
  for _, extra in ipairs(shared.EXTRAS) do
    if not present(extra[1]) then out[#out + 1] = extra[2] .. " (no " .. extra[1] .. ")" end
  end
  return out
end

return shared
