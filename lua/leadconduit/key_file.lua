-- key_file.lua — the API key read from a file that only its owner may read: new{ api_key_file = }
-- and the account cache's client. The key is the file's first line; every problem is a message
-- that names the path, never the key.

local core = require "leadconduit.core"

local key_file = {}

-- A key is at most 1024 characters (options.lua): a first line longer than this is not a key
-- file, and reading stops here rather than at the end of whatever the path names.
local MAX_READ = 4096

--- read(path) -> key | nil, message
function key_file.read(path)
  local info, err = core.file_info(path)
  if not info then
    return nil, "cannot read the API key file: " .. err
  end
  if info.type ~= "file" then
    return nil, ("the API key file %s is not a regular file"):format(path)
  end
  local perms = info.permissions
  if perms:sub(4, 4) == "r" or perms:sub(7, 7) == "r" then
    return nil, ("the API key file %s is readable by other users (%s); run: chmod 600 %s")
      :format(path, perms, path)
  end
  local f, open_err = io.open(path, "rb")
  if not f then
    return nil, "cannot read the API key file " .. tostring(open_err)
  end
  local head = f:read(MAX_READ) or ""
  f:close()
  local line = head:match("^[^\r\n]*")
  if #line == MAX_READ then
    return nil, ("the API key file %s does not start with a line of at most %d bytes")
      :format(path, MAX_READ - 1)
  end
  local key = line:gsub("%s+$", "")
  if key == "" then
    return nil, ("the API key file %s is empty"):format(path)
  end
  return key
end

return key_file
