-- stats.lua — the statistics the benchmarks share.

local stats = {}

-- Median of a list of numbers (the mean of the two middle ones for an even count); the list
-- itself is left as it was.
function stats.median(list)
  local sorted = {}
  for i, v in ipairs(list) do sorted[i] = v end
  table.sort(sorted)
  local n = #sorted
  if n % 2 == 1 then return sorted[(n + 1) / 2] end
  return (sorted[n / 2] + sorted[n / 2 + 1]) / 2
end

return stats
