-- key_file.lua — the API key read from a file that only its owner may read: new{ api_key_file = },
-- the account cache's client and the CLI's --api-key-file FILE. The key is the file's first line;
-- every problem is a message that names the path, never the key.

local core = require "leadconduit.core"

local key_file = {}

-- The most a key file may hold: options.lua accepts keys of up to 1024 characters, the rest is
-- room for trailing white space. More is no key file, and is not read into memory.
key_file.MAX_BYTES = 4096

--- read(path) -> key | nil, message
function key_file.read(path)
  local data, permissions, detail = core.read_file(path, key_file.MAX_BYTES)
  if not data then
    local why = permissions -- on failure, the second result says why
    if why == "not_file" then
      return nil, ("the API key file %s is not a regular file"):format(path)
    elseif why == "too_large" then
      return nil, ("the API key file %s is larger than %d bytes"):format(path, key_file.MAX_BYTES)
    end
    return nil, ("cannot read the API key file %s: %s"):format(path, detail)
  end
  if permissions:sub(4, 4) == "r" or permissions:sub(7, 7) == "r" then
    return nil, ("the API key file %s is readable by other users (%s); run: chmod 600 %s")
      :format(path, permissions, path)
  end
  local key = data:match("^[^\r\n]*"):gsub("%s+$", "")
  if key == "" then
    return nil, ("the API key file %s is empty"):format(path)
  end
  return key
end

return key_file
