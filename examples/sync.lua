-- examples/sync.lua — sync an account and print what most scripts want to know.
--
--   LEADCONDUIT_API_KEY=... lua5.4 examples/sync.lua
-- LEADCONDUIT_BASE_URL and LEADCONDUIT_CA_FILE point it at another server (make demo uses the mock).
local leadconduit = require "leadconduit"

local client = leadconduit.new({
  api_key = os.getenv("LEADCONDUIT_API_KEY"),
  base_url = os.getenv("LEADCONDUIT_BASE_URL"),
  ca_file = os.getenv("LEADCONDUIT_CA_FILE"),
})

local res, err = client:sync_account()
client:close()
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local account = res.account

-- JSON null arrives as leadconduit.null and a missing field as nil: show both as "-".
local function text(value)
  if value == nil or value == leadconduit.null then return "-" end
  return tostring(value)
end

print(("Account: %s (%s)"):format(text(account.name), text(account.id)))

local function print_pending(title, list)
  local open = leadconduit.active_pending(list)
  print(("%s: %d open, %d expired"):format(title, #open, #leadconduit.expired_pending(list)))
  for _, partner in ipairs(open) do
    local expires = partner.invitation_expires_at
    if expires == nil or expires == leadconduit.null then expires = "no expiry" end
    print(("  %-26s %-30s %s"):format(text(partner.id), text(partner.name), text(expires)))
  end
end
print_pending("Pending sellers", account.pending_sellers)
print_pending("Pending buyers", account.pending_buyers)

print("Enabled features: " .. table.concat(leadconduit.enabled_features(account), ", "))
