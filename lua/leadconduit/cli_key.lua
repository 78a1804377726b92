-- leadconduit.cli_key — where the command-line tool takes the API key from: a private file, standard
-- input (`--api-key-file -`, for secret managers) or $LEADCONDUIT_API_KEY (read by cli.lua and
-- passed in); never the command line, where other users can read it. Every problem is returned as
-- a message that does not quote the key.

local core = require "leadconduit.core"

local cli_key = {}

local function trim_right(s)
  return (s:gsub("%s+$", ""))
end

-- The most a key source may hold: options.lua accepts keys of up to 1024 characters; the rest
-- is room for trailing white space. More is no key file, and is not read into memory.
local MAX_KEY_BYTES = 4096

local function from_file(path)
  local data, permissions, detail = core.read_file(path, MAX_KEY_BYTES)
  if not data then
    local why = permissions -- on failure, the second result says why
    if why == "not_file" then
      return nil, ("the API key file %s is not a regular file"):format(path)
    elseif why == "too_large" then
      return nil, ("the API key file %s is larger than %d bytes"):format(path, MAX_KEY_BYTES)
    end
    return nil, ("cannot read the API key file %s: %s"):format(path, detail)
  end
  if permissions:sub(4, 4) == "r" or permissions:sub(7, 7) == "r" then
    return nil, ("the API key file %s is readable by other users (%s); run: chmod 600 %s")
      :format(path, permissions, path)
  end
  local key = trim_right(data)
  if key == "" then
    return nil, ("the API key file %s is empty"):format(path)
  end
  return key
end

-- One line of standard input: `vault kv get -field=key secret/lc | leadconduit --api-key-file - sync`.
-- At most MAX_KEY_BYTES are read: an endless line (a wrong pipe, /dev/zero) is refused, not
-- waited for until memory runs out.
local function from_stdin()
  local parts, n = {}, 0
  while n <= MAX_KEY_BYTES do
    local c = io.stdin:read(1)
    if c == nil or c == "\n" then break end
    parts[#parts + 1] = c
    n = n + 1
  end
  if n > MAX_KEY_BYTES then
    return nil, ("the line on standard input is longer than %d bytes: no API key"):format(MAX_KEY_BYTES)
  end
  local key = trim_right(table.concat(parts))
  if key == "" then
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
