-- leadconduit.cli_key — where the command-line tool takes the API key from: a private file (read
-- by key_file.lua, as the library reads api_key_file), standard input (`--api-key-file -`, for
-- secret managers) or $LEADCONDUIT_API_KEY (read by cli.lua and passed in); never the command
-- line, where other users can read it. Every problem is returned as a message that does not quote
-- the key.

local key_file = require "leadconduit.key_file"

local cli_key = {}

local function trim_right(s)
  return (s:gsub("%s+$", ""))
end

-- One line of standard input: `vault kv get -field=key secret/lc | leadconduit --api-key-file - sync`.
-- At most key_file.MAX_BYTES are read: an endless line (a wrong pipe, /dev/zero) is refused, not
-- waited for until memory runs out.
local function from_stdin()
  local parts, n = {}, 0
  while n <= key_file.MAX_BYTES do
    local c = io.stdin:read(1)
    if c == nil or c == "\n" then break end
    parts[#parts + 1] = c
    n = n + 1
  end
  if n > key_file.MAX_BYTES then
    return nil, ("the line on standard input is longer than %d bytes: no API key")
      :format(key_file.MAX_BYTES)
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
    local key, err = key_file.read(api_key_file)
    return key, key and ("the API key file " .. api_key_file) or err
  end
  if env_key then
    return trim_right(env_key), "LEADCONDUIT_API_KEY"
  end
  return nil, "no API key: set LEADCONDUIT_API_KEY or pass --api-key-file FILE"
end

return cli_key
