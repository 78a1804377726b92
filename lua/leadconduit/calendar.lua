-- calendar.lua — proleptic Gregorian date arithmetic shared by the time parsers
-- (RFC 3339 in time.lua, HTTP dates in retry.lua). UTC only: no time zone, no os.time.

local floor = math.floor

local calendar = {}

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function is_leap(y)
  return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

-- Number of days of month m (1-12) in year y.
function calendar.days_in_month(y, m)
  if m == 2 and is_leap(y) then return 29 end
  return DAYS_IN_MONTH[m]
end

-- Days from 1970-01-01 to y-m-d. Eras of 400 years (146097 days) starting each
-- March 1st keep the leap day at the end of the year.
function calendar.days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400                                  -- [0, 399]
  local mp = (m + 9) % 12                                    -- March = 0
  local doy = floor((153 * mp + 2) / 5) + d - 1              -- [0, 365]
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

return calendar
