-- leadconduit.cli_key — where the command-line tool takes the API key from: a private file, standard
-- input (`--api-key-file -`, for secret managers) or $LEADCONDUIT_API_KEY (read by cli.lua and
-- passed in); never the command line, where other users can read it. Every problem is returned as
-- a message that does not quote the key.

local core = require "leadconduit.core"

local cli_key = {}

local function trim_right(s)
  return (s:gsub("%s+$", ""))
end

local function from_file(path)
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
  local key = trim_right(f:read("*a") or "")
  f:close()
  if key == "" then
    return nil, ("the API key file %s is empty"):format(path)
  end
  return key
end

-- One line of standard input: `vault kv get -field=key secret/lc | leadconduit --api-key-file - sync`.
local function from_stdin()
  local line = io.stdin:read("*l")
  local key = line and trim_right(line)
  if not key or key == "" then
    return nil, "no API key on standard input (--api-key-file - reads one line)"
  end
  return key
end

--- find(api_key_file, env_key) -> key, where it came from (to name in messages) | nil, message.
-- env_key: $LEADCONDUIT_API_KEY, nil when unset or empty.
function cli_key.find(api_key_file, env_key)
  if api_key_file == "-" then
    local key, err = from_stdin()
    return key, key and "the API key on standard input" or err
  end
  if api_key_file then
    local key, err = from_file(api_key_file)
    return key, key and ("the API key file " .. api_key_file) or err
  end
  if env_key then
    return trim_right(env_key), "LEADCONDUIT_API_KEY"
  end
  return nil, "no API key: set LEADCONDUIT_API_KEY or pass --api-key-file FILE"
end

return cli_key
