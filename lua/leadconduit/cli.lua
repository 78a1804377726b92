-- leadconduit.cli — the command-line tool: arguments, API key, one sync, output and exit status.
-- bin/leadconduit only calls main(); argparse parses, cli_output formats. The API key comes from a
-- private file or the environment, never from argv, and is scrubbed from every line of text printed.

local argparse = require "argparse"
local leadconduit = require "leadconduit"
local client = require "leadconduit.client"
local core = require "leadconduit.core"
local features = require "leadconduit.features"
local options = require "leadconduit.options"
local output = require "leadconduit.cli_output"
local redact = require "leadconduit.redact"

local cli = {}

-- API.md "The command-line tool": exit statuses.
local EXIT = { ok = 0, negative = 1, usage = 2, auth = 3, temporary = 4, failure = 5 }
cli.EXIT = EXIT

local USAGE = "usage: leadconduit [options] sync | pending [--buyers] [--expired] | features | feature NAME"

local HELP = [[
leadconduit - ask the LeadConduit API about your account, from shell scripts and cron jobs.

Usage:
  leadconduit [options] sync           account summary; with --json the whole answer
  leadconduit [options] pending [--buyers] [--expired]
                                       open pending sellers, one per line: id, name, expiry
                                       --buyers   pending buyers instead of sellers
                                       --expired  expired invitations instead of open ones
  leadconduit [options] features       every feature flag, on or off
  leadconduit [options] feature NAME   prints nothing; exit status 0 when NAME is on, 1 when off:
                                       if leadconduit feature firehose; then ...; fi

Options (before or after the command):
  --api-key-file FILE  read the API key from FILE (trailing newline removed); FILE must not be
                       readable by group or others (chmod 600 FILE)
  --base-url URL       API address (default https://app.leadconduit.com)
  --ca-file FILE       PEM bundle of trusted certificate authorities (default: the system store)
  --timeout SECONDS    time limit of each attempt (default 30)
  --retries N          extra attempts after temporary failures, 0 to 10 (default 2)
  --json               print JSON instead of text: sorted keys, null kept
                       (sync: the whole answer; pending: an array; features: an object;
                       feature: true or false)
  -h, --help           show this help and exit
  --version            show the version and exit

Environment:
  LEADCONDUIT_API_KEY   the API key, when --api-key-file is not given. A key is never taken from
                        the command line, where other users could read it.
  LEADCONDUIT_BASE_URL  default for --base-url
  LEADCONDUIT_CA_FILE   default for --ca-file

Exit status:
  0  success
  1  negative answer (feature NAME is off)
  2  usage or configuration error (unknown command or feature name, no API key, bad option)
  3  authentication failed
  4  temporary failure worth retrying later (network, timeout, rate limited, 5xx)
  5  any other failure
Errors go to stderr as one line starting with "leadconduit: ".
]]

-- Options every command accepts, before or after its name: { flag, argname, what to call it in errors }.
local COMMON_OPTIONS = {
  { "--api-key-file", "FILE" }, { "--base-url", "URL" }, { "--ca-file", "FILE" },
  { "--timeout", "SECONDS" }, { "--retries", "N" },
}
local COMMON_FLAGS = { { "--json", "json" }, { "-h --help", "help" }, { "--version", "version" } }

-- The client's option names, as the flags a command-line user knows them by.
local FLAG_OF_OPTION = {
  base_url = "--base-url", ca_file = "--ca-file", timeout = "--timeout",
  connect_timeout = "--timeout", max_retries = "--retries",
}

-- A failure that ends the run: error() carries it to main, which prints it and exits.
-- show_usage adds the short usage line, for mistakes in the arguments themselves.
local function fail(status, message, show_usage)
  error({ status = status, message = message, show_usage = show_usage }, 0)
end

local function target_of(flag)
  return (flag:match("%-%-([%w-]+)$"):gsub("-", "_"))
end

-- Common options are added to the command parsers too, under "cmd_" targets, because argparse
-- resets a parent's targets when a command declares the same option.
local function add_common(parser, prefix)
  for _, o in ipairs(COMMON_OPTIONS) do
    parser:option(o[1]):argname(o[2]):target(prefix .. target_of(o[1]))
  end
  for _, f in ipairs(COMMON_FLAGS) do
    parser:flag(f[1]):target(prefix .. f[2])
  end
end

local function make_parser()
  local parser = argparse("leadconduit"):add_help(false):require_command(false)
  add_common(parser, "")
  parser:command_target("command")
  local commands = {
    parser:command("sync"):add_help(false),
    parser:command("pending"):add_help(false),
    parser:command("features"):add_help(false),
    parser:command("feature"):add_help(false),
  }
  commands[2]:flag("--buyers")
  commands[2]:flag("--expired")
  commands[4]:argument("name"):argname("NAME")
  for _, command in ipairs(commands) do add_common(command, "cmd_") end
  return parser
end

-- A command-line key would be visible to every user (ps, /proc): refuse it before parsing,
-- so that no parser message can echo it.
local function refuse_key_argument(args)
  for _, a in ipairs(args) do
    if a == "--" then return end
    if a == "--api-key" or a:match("^%-%-api%-key=") or a:match("^%-%-api_key") then
      fail(EXIT.usage, "--api-key is not accepted: other users can read the command line; "
        .. "use --api-key-file FILE or the LEADCONDUIT_API_KEY environment variable")
    end
  end
end

local function parse_arguments(argv)
  local args = {}
  for i = 1, #argv do args[i] = argv[i] end
  refuse_key_argument(args)
  local ok, result = make_parser():pparse(args)
  if not ok then
    fail(EXIT.usage, (tostring(result):gsub("%s*\n%s*", " ")), true)
  end
  for _, o in ipairs(COMMON_OPTIONS) do
    local name = target_of(o[1])
    if result["cmd_" .. name] ~= nil then result[name] = result["cmd_" .. name] end
  end
  for _, f in ipairs(COMMON_FLAGS) do
    result[f[2]] = result[f[2]] or result["cmd_" .. f[2]]
  end
  return result
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- mode ("file", "directory", ...) and permissions ("rw-------") of path, following symlinks.
local function file_mode(path)
  local has_lfs, lfs = pcall(require, "lfs")
  if has_lfs then
    local attr, err = lfs.attributes(path)
    if not attr then return nil, err end
    return attr.mode, attr.permissions
  end
  local p = io.popen("stat -L -c '%F|%A' -- " .. shell_quote(path) .. " 2>&1")
  local line = p and p:read("*l") or ""
  if p then p:close() end
  local kind, perms = line:match("^(.-)|.(.........)$")
  if not kind then return nil, line end
  return (kind:match("^regular") and "file" or kind), perms
end

local function trim_right(s)
  return (s:gsub("%s+$", ""))
end

local function read_key_file(path)
  local mode, perms = file_mode(path)
  if not mode then
    fail(EXIT.usage, ("cannot read the API key file %s: %s"):format(path, tostring(perms)))
  end
  if mode ~= "file" then
    fail(EXIT.usage, ("the API key file %s is not a regular file"):format(path))
  end
  if perms:sub(4, 4) == "r" or perms:sub(7, 7) == "r" then
    fail(EXIT.usage, ("the API key file %s is readable by other users (%s); run: chmod 600 %s")
      :format(path, perms, path))
  end
  local f, err = io.open(path, "rb")
  if not f then
    fail(EXIT.usage, ("cannot read the API key file %s: %s"):format(path, tostring(err)))
  end
  local key = f:read("*a")
  f:close()
  key = trim_right(key or "")
  if key == "" then
    fail(EXIT.usage, ("the API key file %s is empty"):format(path))
  end
  return key
end

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

-- The API key and where it came from (for messages that must not quote it).
local function find_key(args)
  if args.api_key_file then
    return read_key_file(args.api_key_file), "the API key file " .. args.api_key_file
  end
  local key = env("LEADCONDUIT_API_KEY")
  if key then
    return trim_right(key), "LEADCONDUIT_API_KEY"
  end
  fail(EXIT.usage, "no API key: set LEADCONDUIT_API_KEY or pass --api-key-file FILE")
end

-- A flag's value as a number, or a usage error. Whether the number is in range is
-- options.lua's to say.
local function number_flag(flag, value)
  local n = tonumber(value)
  if not n then
    fail(EXIT.usage, flag .. " must be a number, got " .. ("%q"):format(value))
  end
  return n
end

local function client_options(args, key)
  local opts = {
    api_key = key,
    base_url = args.base_url or env("LEADCONDUIT_BASE_URL"),
    ca_file = args.ca_file or env("LEADCONDUIT_CA_FILE"),
  }
  if args.timeout then
    opts.timeout = number_flag("--timeout", args.timeout)
    -- One flag for both: a connection may not take longer than the attempt.
    opts.connect_timeout = opts.timeout > 0 and math.min(opts.timeout, 10) or nil
  end
  if args.retries then
    opts.max_retries = number_flag("--retries", args.retries)
  end
  return opts
end

local function new_client(opts, key_source)
  local settings, problem = options.check(opts)
  if settings then return client.from_settings(settings) end
  if problem.option == "api_key" then
    fail(EXIT.usage, key_source .. " does not hold a valid API key "
      .. "(printable ASCII characters without spaces)")
  end
  local flag = FLAG_OF_OPTION[problem.option]
  local message = problem.message
  if flag then
    message = flag .. message:sub(#problem.option + 1)
  end
  fail(EXIT.usage, "configuration: " .. message)
end

-- API.md: 3 authentication, 4 worth retrying later, 5 anything else.
local function exit_status(err)
  if err.kind == "auth" then return EXIT.auth end
  if err.retryable or err.kind == "network" or err.kind == "timeout" or err.kind == "rate_limited"
    or (err.kind == "http" and type(err.status) == "number" and err.status >= 500 and err.status <= 599) then
    return EXIT.temporary
  end
  return EXIT.failure
end

local function sync(opts, key_source)
  local c = new_client(opts, key_source)
  local ok, res, err = pcall(c.sync_account, c)
  c:close()
  if not ok then error(res, 0) end
  if not res then
    fail(exit_status(err), (tostring(err):gsub("^leadconduit: ", "")))
  end
  return res
end

-- What each command prints: text lines or a JSON value; and its exit status.
local commands = {}

function commands.sync(res, args)
  if args.json then return { json = res } end
  return { lines = output.columns(output.summary_rows(res.account)) }
end

function commands.pending(res, args)
  local account = res.account
  -- Not `args.buyers and account.pending_buyers or ...`: a missing buyers list would list the sellers.
  local list
  if args.buyers then list = account.pending_buyers else list = account.pending_sellers end
  local pick = args.expired and leadconduit.expired_pending or leadconduit.active_pending
  local entries = pick(list)
  if args.json then return { json = entries } end
  return { lines = output.columns(output.pending_rows(entries)) }
end

function commands.features(res, args)
  if args.json then return { json = output.features(res.account) } end
  return { lines = output.columns(output.feature_rows(res.account)) }
end

function commands.feature(res, args)
  if not features.is_known(res.account, args.name) then
    fail(EXIT.usage, ("unknown feature %q (leadconduit features lists them)"):format(args.name))
  end
  local on = leadconduit.has_feature(res.account, args.name)
  local status = on and EXIT.ok or EXIT.negative
  if args.json then return { json = on, status = status } end
  return { lines = {}, status = status }
end

local function version()
  local lua = type(jit) == "table" and jit.version or _VERSION
  return ("%s (%s, %s)"):format(leadconduit._VERSION, lua, core.curl_version())
end

-- Runs the tool and returns its exit status; what to print goes into `out` (text or json), and
-- every secret met on the way into out.secrets.
local function run(argv, out)
  -- Scrub the environment's key even from argument errors, in case it was pasted into argv too.
  out.secrets[#out.secrets + 1] = env("LEADCONDUIT_API_KEY")
  local args = parse_arguments(argv)
  if args.help then
    out.text = HELP
    return EXIT.ok
  end
  if args.version then
    out.text = version() .. "\n"
    return EXIT.ok
  end
  if not args.command then
    fail(EXIT.usage, "no command given", true)
  end
  local key, key_source = find_key(args)
  out.secrets[#out.secrets + 1] = key
  local opts = client_options(args, key)
  local res = sync(opts, key_source)

  local ok, result = pcall(commands[args.command], res, args)
  if not ok then
    if type(result) == "table" then error(result, 0) end
    fail(EXIT.failure, "unexpected answer: " .. tostring(result))
  end
  if result.json ~= nil then
    local printed, text = pcall(output.json, result.json)
    if not printed then
      fail(EXIT.failure, "the answer cannot be printed as JSON: " .. tostring(text))
    end
    out.json = text .. "\n"
  elseif #result.lines > 0 then
    out.text = table.concat(result.lines, "\n") .. "\n"
  end
  return result.status or EXIT.ok
end

--- main(argv) -> exit status. Writes the result to stdout and any error, as one line, to stderr.
-- --json output is the decoded answer as is (the only place account secrets may appear).
function cli.main(argv)
  local out = { secrets = {} }
  local ok, status = pcall(run, argv or {}, out)
  if not ok then
    local err, show_usage = status, false
    if type(err) == "table" and err.status then
      status, show_usage = err.status, err.show_usage
      err = err.message
    else
      status = EXIT.failure
      err = "internal error: " .. tostring(err)
    end
    err = redact.scrub(tostring(err), out.secrets):gsub("[\r\n]+", " ")
    io.stderr:write("leadconduit: ", err, "\n")
    if show_usage then
      io.stderr:write(USAGE, "\n")
    end
    return status
  end
  local text = out.json or (out.text and redact.scrub(out.text, out.secrets))
  if text then
    -- A full disk or closed stdout must not pass for success in a cron job.
    local written, err = io.stdout:write(text)
    if written then written, err = io.stdout:flush() end
    if not written then
      io.stderr:write("leadconduit: cannot write the output: ", tostring(err), "\n")
      return EXIT.failure
    end
  end
  return status
end

return cli
