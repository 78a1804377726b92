-- leadconduit.cli — the command-line tool: arguments, one sync, what each command prints, and the
-- exit status. bin/leadconduit only calls main(); argparse parses, cli_key finds the API key,
-- cli_output formats. Every secret met on the way is scrubbed from what is printed.

local argparse = require "argparse"
local leadconduit = require "leadconduit"
local client = require "leadconduit.client"
local cli_key = require "leadconduit.cli_key"
local core = require "leadconduit.core"
local features = require "leadconduit.features"
local options = require "leadconduit.options"
local output = require "leadconduit.cli_output"
local redact = require "leadconduit.redact"

local cli = {}

-- API.md "The command-line tool": exit statuses. 141 is the shell's status for SIGPIPE.
local EXIT = { ok = 0, negative = 1, usage = 2, auth = 3, temporary = 4, failure = 5, pipe = 141 }
cli.EXIT = EXIT

local USAGE = "usage: leadconduit [options] sync | pending [--buyers] [--expired | --expiring-within"
  .. " DURATION] | features | feature NAME | changes --since FILE [--save] | help [COMMAND]"

local HELP = [[
leadconduit - ask the LeadConduit API about your account, from shell scripts and cron jobs.

Usage:
  leadconduit [options] sync           account summary; with --json the whole answer
  leadconduit [options] pending [--buyers] [--expired | --expiring-within DURATION]
                                       open pending sellers, one per line: id, name, expiry
                                       --buyers   pending buyers instead of sellers
                                       --expired  expired invitations instead of open ones
                                       --expiring-within DURATION  open invitations that lapse
                                                  within DURATION: seconds, or 90m, 36h, 7d
  leadconduit [options] features       every feature flag, on or off
  leadconduit [options] feature NAME   prints nothing; exit status 0 when NAME is on, 1 when off:
                                       if leadconduit feature firehose; then ...; fi
  leadconduit [options] changes --since FILE [--save]
                                       what changed since the answer saved in FILE, one change
                                       per line: op, path, old, new; exit status 0 when nothing
                                       changed, 1 when something did
                                       --save     then replace FILE with the new answer (mode
                                                  0600, atomically); a missing or empty FILE
                                                  counts as the first run
  leadconduit help [COMMAND]           this help, or one command's: also COMMAND --help

Options (before or after the command):
  --api-key-file FILE  read the API key from FILE (trailing newline removed); FILE must not be
                       readable by group or others (chmod 600 FILE); "-" reads one line from
                       standard input
  --base-url URL       API address (default https://app.leadconduit.com)
  --ca-file FILE       PEM bundle of trusted certificate authorities (default: the system store)
  --timeout SECONDS    time limit of each attempt (default 30)
  --connect-timeout SECONDS
                       time limit of connecting, within each attempt (default 10, or
                       --timeout when that is shorter)
  --max-time SECONDS   time limit of the whole call, retries and waits included (default none)
  --retries N          extra attempts after temporary failures, 0 to 10 (default 2)
  --json               print JSON instead of text: sorted keys, null kept
                       (sync: the whole answer; pending: an array; features: an object;
                       feature: true or false; changes: an array of {op, path, old, new})
  --tsv                print one record per line, fields separated by a TAB, no padding
                       (pending, features and changes)
  --show-secrets       with --json, print the account's keys as the server sent them
                       (otherwise every api_key and *_api_key value is "(redacted)"); the
                       output then holds secrets
  -h, --help           show this help (after a command: that command's help) and exit
  -V, --version        show the version and exit

Environment:
  LEADCONDUIT_API_KEY   the API key, when --api-key-file is not given. A key is never taken from
                        the command line, where other users could read it.
  LEADCONDUIT_BASE_URL  default for --base-url
  LEADCONDUIT_CA_FILE   default for --ca-file

Exit status:
  0  success (changes: nothing changed)
  1  negative answer (feature NAME is off; changes: something changed)
  2  usage or configuration error (unknown command or feature name, no API key, bad option,
     changes: a missing or unreadable FILE without --save)
  3  authentication failed
  4  temporary failure worth retrying later (network, timeout, rate limited, 5xx)
  5  any other failure
Errors go to stderr as one line starting with "leadconduit: ".
]]

local OPTIONS_HINT = [[

Options (before or after the command): --api-key-file FILE, --base-url URL, --ca-file FILE,
--timeout SECONDS, --connect-timeout SECONDS, --max-time SECONDS, --retries N, --json, --tsv,
--show-secrets; the key comes from --api-key-file or $LEADCONDUIT_API_KEY. `leadconduit --help`
describes them all.

Exit status: 0 success, 1 negative answer, 2 usage or configuration error, 3 authentication
failed, 4 temporary failure worth retrying later, 5 any other failure.
]]

-- `leadconduit help COMMAND` and `leadconduit COMMAND --help`: what that command does.
local COMMAND_HELP = {
  sync = [=[
usage: leadconduit [options] sync [--json [--show-secrets]]

Syncs the account once and prints a summary: name, id, state, billing, features, subscriptions,
connected and pending partners. With --json, the whole answer as JSON (every api_key and
*_api_key value "(redacted)" unless --show-secrets).
]=],
  pending = [=[
usage: leadconduit [options] pending [--buyers] [--expired | --expiring-within DURATION]
                                     [--tsv | --json]

Lists the pending sellers whose invitations are still open, one per line: id, name, expiry.
  --buyers                     pending buyers instead of sellers
  --expired                    the expired invitations instead of the open ones
  --expiring-within DURATION   the open invitations that lapse within DURATION: seconds, or a
                               number followed by s, m, h or d (90m, 36h, 7d)
  --tsv                        id, name, expiry separated by one TAB ("-" for no expiry)
  --json                       a JSON array of the entries
]=],
  features = [=[
usage: leadconduit [options] features [--tsv | --json]

Lists every feature flag, the documented ones and any other the account carries, with on or off.
  --tsv    name, on/off separated by one TAB
  --json   an object of booleans
]=],
  feature = [=[
usage: leadconduit [options] feature NAME [--json]

Prints nothing; the exit status answers: 0 when feature NAME is on, 1 when it is off, 2 when NAME
is neither a documented feature nor one the account carries.
  if leadconduit feature firehose; then ...; fi
  --json   prints true or false as well
]=],
  changes = [=[
usage: leadconduit [options] changes --since FILE [--save] [--tsv | --json]

Syncs and prints what changed since the answer saved in FILE (what `sync --json` printed or
`--save` wrote), one change per line: op, path, old, new. Exit status 0 when nothing changed, 1
when something did (like diff), 2 when FILE is missing or unreadable without --save. Text output
cuts old and new at 60 columns (ending in …); --tsv and --json keep them whole.
  --since FILE   the saved answer to compare with
  --save         then replace FILE with the new answer, atomically, mode 0600 (it holds the
                 account's keys); a missing or empty FILE counts as the first run
  --tsv          op, path, old, new separated by one TAB, values as JSON text
  --json         an array of {op, path, old, new}
]=],
  help = [=[
usage: leadconduit help [COMMAND]

Prints the help of COMMAND (sync, pending, features, feature, changes, help), or without one the
tool's whole help. `leadconduit COMMAND --help` does the same.
]=],
}

-- Options and flags every command accepts, before or after its name: { flag, argname or target }.
local COMMON_OPTIONS = {
  { "--api-key-file", "FILE" }, { "--base-url", "URL" }, { "--ca-file", "FILE" },
  { "--timeout", "SECONDS" }, { "--connect-timeout", "SECONDS" }, { "--max-time", "SECONDS" },
  { "--retries", "N" },
}
local COMMON_FLAGS = {
  { "--json", "json" }, { "--tsv", "tsv" }, { "--show-secrets", "show_secrets" },
  { "-h --help", "help" }, { "-V --version", "version" },
}

-- The commands and what each accepts besides the common options.
local COMMANDS = {
  { name = "sync" },
  { name = "pending", flags = { "--buyers", "--expired" },
    options = { { "--expiring-within", "DURATION" } } },
  { name = "features" },
  { name = "feature", argument = "NAME" },
  { name = "changes", flags = { "--save" }, options = { { "--since", "FILE" } } },
  { name = "help", argument = "COMMAND", optional = true, target = "topic" },
}

-- For the man page, completion and help specs: what the tool accepts.
cli.COMMON_OPTIONS, cli.COMMON_FLAGS, cli.COMMANDS = COMMON_OPTIONS, COMMON_FLAGS, COMMANDS

-- The client's option names, as the flags a command-line user knows them by.
local FLAG_OF_OPTION = {
  base_url = "--base-url", ca_file = "--ca-file", timeout = "--timeout",
  connect_timeout = "--connect-timeout", max_time = "--max-time", max_retries = "--retries",
}

-- The commands whose records --tsv can print.
local TSV_COMMANDS = { pending = true, features = true, changes = true }

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
  for _, c in ipairs(COMMANDS) do
    local command = parser:command(c.name):add_help(false)
    for _, flag in ipairs(c.flags or {}) do command:flag(flag) end
    for _, o in ipairs(c.options or {}) do command:option(o[1]):argname(o[2]) end
    if c.argument then
      command:argument(c.target or c.argument:lower()):argname(c.argument):args(c.optional and "?" or 1)
    end
    add_common(command, "cmd_")
  end
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

-- The options that take a value, wherever they may stand: their values are not commands.
local TAKES_VALUE = {}
for _, o in ipairs(COMMON_OPTIONS) do TAKES_VALUE[o[1]] = true end
for _, c in ipairs(COMMANDS) do
  for _, o in ipairs(c.options or {}) do TAKES_VALUE[o[1]] = true end
end
local COMMAND_NAMES = {}
for _, c in ipairs(COMMANDS) do COMMAND_NAMES[c.name] = true end

-- Help is answered before any parsing, so that a command's own rules (feature NAME, changes
-- --since) never turn `COMMAND --help` into a usage error. Returns whether help was asked for
-- and, when it names one, the command it is about.
local function help_request(args)
  local words, asked = {}, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do words[#words + 1] = args[j] end
      break
    elseif a == "-h" or a == "--help" then
      asked = true
    elseif TAKES_VALUE[a] then
      i = i + 1
    elseif a:sub(1, 1) ~= "-" or a == "-" then
      words[#words + 1] = a
    end
    i = i + 1
  end
  if words[1] == "help" then
    if #words > 2 then fail(EXIT.usage, "help takes at most one command", true) end
    return true, words[2] or (asked and "help" or nil)
  end
  if asked then return true, COMMAND_NAMES[words[1]] and words[1] or nil end
  return false
end

-- The text `help [COMMAND]` prints.
local function help_text(command)
  if command == nil then return HELP end
  if not COMMAND_HELP[command] then
    fail(EXIT.usage, ("unknown command '%s': help knows %s"):format(command,
      "sync, pending, features, feature, changes and help"), true)
  end
  return COMMAND_HELP[command] .. (command ~= "help" and OPTIONS_HINT or "")
end
cli.help_text = help_text

-- What only makes sense together, or not at all, once argparse has done its part.
local function check_combinations(args)
  if args.json and args.tsv then
    fail(EXIT.usage, "--json and --tsv cannot be combined", true)
  end
  if args.tsv and args.command and not TSV_COMMANDS[args.command] then
    fail(EXIT.usage, "--tsv applies to pending, features and changes", true)
  end
  if args.expired and args.expiring_within then
    fail(EXIT.usage, "--expired and --expiring-within cannot be combined", true)
  end
  if args.command == "changes" and not args.since then
    fail(EXIT.usage, "changes needs --since FILE", true)
  end
end

-- args: the command line as run() copied it, the key arguments already refused.
local function parse_arguments(args)
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
  check_combinations(result)
  return result
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

local UNIT_SECONDS = { [""] = 1, s = 1, m = 60, h = 3600, d = 86400 }

--- duration(text) -> seconds: "3600", "90m", "36h", "7d", "1.5h"; nil for anything else
function cli.duration(text)
  local number, unit = tostring(text):match("^(%d+%.?%d*)([smhd]?)$")
  if not number then return nil end
  return tonumber(number) * UNIT_SECONDS[unit]
end

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

local function client_options(args, key)
  local opts = {
    api_key = key,
    base_url = args.base_url or env("LEADCONDUIT_BASE_URL"),
    ca_file = args.ca_file or env("LEADCONDUIT_CA_FILE"),
  }
  if args.timeout then
    opts.timeout = number_flag("--timeout", args.timeout)
    -- Unless told otherwise, a connection may not take longer than the attempt.
    opts.connect_timeout = opts.timeout > 0 and math.min(opts.timeout, 10) or nil
  end
  if args.connect_timeout then
    opts.connect_timeout = number_flag("--connect-timeout", args.connect_timeout)
  end
  if args.max_time then
    opts.max_time = number_flag("--max-time", args.max_time)
  end
  if args.retries then
    opts.max_retries = number_flag("--retries", args.retries)
  end
  return opts
end

-- explicit_connect: whether --connect-timeout was given (else --timeout set connect_timeout).
local function new_client(opts, key_source, explicit_connect)
  local settings, problem = options.check(opts)
  if settings then return client.from_settings(settings) end
  if problem.option == "api_key" then
    fail(EXIT.usage, key_source .. " does not hold a valid API key "
      .. "(printable ASCII characters without spaces)")
  end
  local flag = FLAG_OF_OPTION[problem.option]
  if problem.option == "connect_timeout" and not explicit_connect then flag = "--timeout" end
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

local function sync(opts, key_source, explicit_connect)
  local c = new_client(opts, key_source, explicit_connect)
  local ok, res, err = pcall(c.sync_account, c)
  c:close()
  if not ok then error(res, 0) end
  if not res then
    fail(exit_status(err), (tostring(err):gsub("^leadconduit: ", "")))
  end
  return res
end

-- The largest saved answer read: eight times the largest answer the tool accepts from the
-- server (max_response_bytes' default), room for --json's indentation. Anything larger is no
-- file this tool wrote, and is not read into memory.
local MAX_SAVED_BYTES = 64 * 1024 * 1024

-- The answer saved in FILE by `sync --json` or `changes --save`; nil when FILE is missing or
-- empty and --save will write it. Read before the sync, so that a bad FILE costs no request; only a
-- regular file is opened (a FIFO or /dev/zero would block or never end).
local function read_saved(path, save)
  local text, why, detail = core.read_file(path, MAX_SAVED_BYTES)
  if not text then
    if save and why == "missing" then return nil end -- the first run of a cron job
    if why == "not_file" then
      fail(EXIT.usage, ("cannot read the saved answer: %s is not a regular file"):format(path))
    elseif why == "too_large" then
      fail(EXIT.usage, ("cannot read the saved answer: %s is larger than %d MiB"):format(path,
        MAX_SAVED_BYTES / 1048576))
    end
    fail(EXIT.usage, ("cannot read the saved answer: %s: %s"):format(path, detail))
  end
  -- `: > FILE` or `echo > FILE` to start over: the first run again, not a broken FILE.
  if save and text:match("^%s*$") then return nil end
  local saved, err = leadconduit.decode(text)
  if type(saved) ~= "table" or type(saved.account) ~= "table" then
    fail(EXIT.usage, ("%s does not hold a saved answer (what `leadconduit sync --json` prints): %s")
      :format(path, err or "no account object"))
  end
  return saved
end

-- What each command prints: lines of text, TSV rows or a JSON value; and its exit status.
local commands = {}

-- A command's records as text columns, TSV or JSON.
local function records(args, rows_of, json)
  if args.json then return { json = json } end
  return { rows = rows_of(args.tsv) }
end

function commands.sync(res, args)
  if args.json then return { json = res } end
  return { rows = output.summary_rows(res.account) }
end

function commands.pending(res, args)
  local account = res.account
  -- Not `args.buyers and account.pending_buyers or ...`: a missing buyers list would list the sellers.
  local list
  if args.buyers then list = account.pending_buyers else list = account.pending_sellers end
  local entries
  if args.expiring_within then
    local within = cli.duration(args.expiring_within)
    entries = leadconduit.expiring_pending(list, within)
  elseif args.expired then
    entries = leadconduit.expired_pending(list)
  else
    entries = leadconduit.active_pending(list)
  end
  return records(args, function(tsv) return output.pending_rows(entries, tsv) end, entries)
end

function commands.features(res, args)
  return records(args, function() return output.feature_rows(res.account) end, output.features(res.account))
end

function commands.feature(res, args)
  if not features.is_known(res.account, args.name) then
    fail(EXIT.usage, ("unknown feature %q (leadconduit features lists them)"):format(args.name))
  end
  local on = leadconduit.has_feature(res.account, args.name)
  local status = on and EXIT.ok or EXIT.negative
  if args.json then return { json = on, status = status } end
  return { rows = {}, status = status }
end

function commands.changes(res, args, saved, secrets)
  local found = setmetatable({}, leadconduit.array_mt)
  if saved then found = leadconduit.changes(saved.account, res.account) end
  if not args.show_secrets then
    -- The caller's key out of every value before the text output cuts it at 60 columns: a cut
    -- key would no longer be recognised, and its head would show.
    for _, r in ipairs(found) do
      r.old, r.new = redact.fields(r.old, secrets), redact.fields(r.new, secrets)
    end
  end
  local result = records(args, function(tsv) return output.change_rows(found, tsv) end, found)
  if args.save then
    -- The real values (hence mode 0600): a key rotated since is reported next time, redacted.
    -- Written by main() only once the changes are out: a run whose output is lost must not
    -- leave FILE saying that nothing changed.
    -- Infinities (a number past a double's range in the answer) as 1e999, which reads back as
    -- the same value: the save must not fail on anything the decoder produced.
    result.save = { path = args.since, text = output.json(res, { infinity = true }) .. "\n" }
  end
  result.status = #found > 0 and EXIT.negative or EXIT.ok
  return result
end

local function version()
  local lua = type(jit) == "table" and jit.version or _VERSION
  return ("%s (%s, %s)"):format(leadconduit._VERSION, lua, core.curl_version())
end

-- The text a command's result prints, secrets removed, or nil when it prints nothing.
local function render(result, args, secrets)
  if result.json ~= nil then
    local value = result.json
    if not args.show_secrets then value = redact.fields(value, secrets) end
    local ok, text = pcall(output.json, value)
    if not ok then
      fail(EXIT.failure, "the answer cannot be printed as JSON: " .. tostring(text))
    end
    return text .. "\n"
  end
  if #result.rows == 0 then return nil end
  local lines = args.tsv and output.tsv(result.rows) or output.columns(result.rows)
  return redact.scrub(table.concat(lines, "\n") .. "\n", secrets)
end

-- Runs the tool and returns its exit status; what to print goes into out.text, and every secret
-- met on the way into out.secrets.
local function run(argv, out)
  -- Scrub the environment's key even from argument errors, in case it was pasted into argv too.
  local env_key = env("LEADCONDUIT_API_KEY")
  out.secrets[#out.secrets + 1] = env_key
  local plain = {}
  for i = 1, #argv do plain[i] = argv[i] end
  refuse_key_argument(plain)
  local help, topic = help_request(plain)
  if help then
    out.text = help_text(topic)
    return EXIT.ok
  end
  local args = parse_arguments(plain)
  if args.version then
    out.text = version() .. "\n"
    return EXIT.ok
  end
  if not args.command then
    fail(EXIT.usage, "no command given", true)
  end
  if args.expiring_within and not cli.duration(args.expiring_within) then
    fail(EXIT.usage, ("--expiring-within must be seconds or a number followed by s, m, h or d"
      .. " (90m, 36h, 7d), got %q"):format(args.expiring_within), true)
  end
  local saved = args.command == "changes" and read_saved(args.since, args.save)
  local key, key_source = cli_key.find(args.api_key_file, env_key)
  if not key then fail(EXIT.usage, key_source) end
  out.secrets[#out.secrets + 1] = key
  local res = sync(client_options(args, key), key_source, args.connect_timeout ~= nil)

  local ok, result = pcall(commands[args.command], res, args, saved, out.secrets)
  if not ok then
    if type(result) == "table" then error(result, 0) end
    -- A shape the commands refuse: the reason, not where in the tool it was found.
    fail(EXIT.failure, "unexpected answer: " .. tostring(result):gsub("^[^\n]-%.lua:%d+: ", ""))
  end
  out.text = render(result, args, out.secrets)
  out.save = result.save
  return result.status or EXIT.ok
end

-- For spec/changes_fuzz_spec.lua: what a command's result prints, through the same code.
cli.commands, cli.render = commands, render

local EPIPE = 32 -- Linux

--- main(argv) -> exit status. Writes the result to stdout and any error, as one line, to stderr.
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
  if out.text then
    -- A full disk or closed stdout must not pass for success in a cron job; a reader that has
    -- seen enough (| head -1) is no failure: the usual quiet SIGPIPE status.
    local written, err, code = io.stdout:write(out.text)
    if written then written, err, code = io.stdout:flush() end
    if not written then
      if code == EPIPE then return EXIT.pipe end
      io.stderr:write("leadconduit: cannot write the output: ", tostring(err), "\n")
      return EXIT.failure
    end
  end
  if out.save then
    local saved, err = core.write_private(out.save.path, out.save.text)
    if not saved then
      io.stderr:write("leadconduit: cannot save the answer: ", redact.scrub(err, out.secrets), "\n")
      return EXIT.failure
    end
  end
  return status
end

return cli
