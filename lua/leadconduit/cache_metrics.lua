-- cache_metrics.lua — the account cache's counters in the Prometheus text exposition format
-- (version 0.0.4), for a location that a Prometheus server scrapes. The names are the contract's
-- (API.md 0.3); account_cache.lua gathers the numbers across all workers, this file only writes.

local cache_metrics = {}

-- An integer as digits, anything else with enough digits for a time in seconds: Prometheus reads
-- both, and neither exponent form nor "-nan" ever appears.
local function number(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  return ("%.6f"):format(n)
end

local function family(out, name, kind, help)
  out[#out + 1] = "# HELP " .. name .. " " .. help
  out[#out + 1] = "# TYPE " .. name .. " " .. kind
end

local function sample(out, name, value, label)
  out[#out + 1] = name .. (label or "") .. " " .. number(value)
end

--- render(snapshot) -> text. snapshot: syncs, failures (by kind), kinds (the order to list them
-- in), last_success and age (nil before the first success), fresh (boolean), duration (nil
-- before the first sync).
function cache_metrics.render(s)
  local out = {}
  family(out, "leadconduit_account_syncs_total", "counter",
    "Successful syncs of the LeadConduit account, across all workers.")
  sample(out, "leadconduit_account_syncs_total", s.syncs)
  family(out, "leadconduit_account_sync_failures_total", "counter",
    "Failed syncs of the LeadConduit account, by error kind.")
  for _, kind in ipairs(s.kinds) do
    sample(out, "leadconduit_account_sync_failures_total", s.failures[kind], '{kind="' .. kind .. '"}')
  end
  if s.last_success then
    family(out, "leadconduit_account_last_success_timestamp_seconds", "gauge",
      "Unix time of the last successful sync.")
    sample(out, "leadconduit_account_last_success_timestamp_seconds", s.last_success)
    family(out, "leadconduit_account_age_seconds", "gauge", "Seconds since the last successful sync.")
    sample(out, "leadconduit_account_age_seconds", s.age)
  end
  family(out, "leadconduit_account_fresh", "gauge",
    "1 while the cache serves the account (synced within refresh + stale seconds), else 0.")
  sample(out, "leadconduit_account_fresh", s.fresh and 1 or 0)
  if s.duration then
    family(out, "leadconduit_account_sync_duration_seconds", "gauge", "How long the last sync took.")
    sample(out, "leadconduit_account_sync_duration_seconds", s.duration)
  end
  return table.concat(out, "\n") .. "\n"
end

return cache_metrics
