-- fake_ngx.lua — a stand-in for OpenResty's ngx table, so that the Lua glue for nginx runs in
-- plain Lua under every interpreter (spec/nginx_spec.lua, spec/account_cache_spec.lua).
--
--   local fake = fake_ngx.new("content")   -- the phase get_phase() reports
--   rawset(_G, "ngx", fake)
--   fake.answer = { true, outcome }        -- how each exchange goes (see exchange() below)
--   fake.calls                             -- { "sleep", s } and { "exchange", query, deadline }
--   fake_ngx.restore()                     -- after the spec: nginx.lua's transports again
--   fake.clock                             -- what ngx.now() says; expiries in shared dicts follow it
--   fake.shared.<name>                     -- a lua_shared_dict: get, set, safe_set, add, safe_add,
--                                          -- incr, delete, with expiries
--   fake.timers                            -- { { delay =, every =, fn =, args = } } created
--   fake.logs                              -- { { level, text } } of ngx.log

-- The dict's methods take self, like nginx's, whether they need it or not.
-- luacheck: ignore self

local nginx = require "leadconduit.nginx"

local fake_ngx = {}

-- nginx.lua's own transports, which new() replaces and restore() puts back.
local real_transports = nginx.transports

--- restore(): clients made from now on use nginx.lua's real transports again.
function fake_ngx.restore()
  nginx.transports = real_transports
end

-- One exchange of a client inside the stand-in: fake.answer says how it went, { true, outcome }
-- or { false, why the driver could not run it }, or is a function(query, deadline) returning
-- those two. Outcome tables are copied, as csrc/transport.c makes a new one each time.
local function exchange(fake, query, deadline)
  fake.calls[#fake.calls + 1] = { "exchange", query, deadline }
  local ok, outcome
  if type(fake.answer) == "function" then
    ok, outcome = fake.answer(query, deadline)
  else
    ok, outcome = fake.answer[1], fake.answer[2]
  end
  if not ok then return { driver_error = outcome } end
  local copy = {}
  for k, v in pairs(outcome) do copy[k] = v end
  return copy
end

-- A lua_shared_dict with expiries on fake.clock (values copied in and out, like nginx's).
local function shared_dict(fake)
  local items = {}
  local dict = {}
  local function live(key)
    local item = items[key]
    if item and item.expires and item.expires <= fake.clock then
      items[key] = nil
      item = nil
    end
    return item
  end
  function dict:get(key)
    local item = live(key)
    if item then return item.value end
    return nil
  end
  function dict:set(key, value, exptime)
    items[key] = { value = value, expires = exptime and exptime > 0 and fake.clock + exptime or nil }
    return true
  end
  dict.safe_set = dict.set
  function dict:add(key, value, exptime)
    if live(key) then return false, "exists" end
    return self:set(key, value, exptime)
  end
  dict.safe_add = dict.add
  function dict:incr(key, by, init)
    local item = live(key)
    if not item then
      if init == nil then return nil, "not found" end
      self:set(key, init)
      item = items[key]
    end
    item.value = item.value + by
    return item.value
  end
  function dict:delete(key)
    items[key] = nil
  end
  function dict:keys()
    local keys = {}
    for key in pairs(items) do
      if live(key) then keys[#keys + 1] = key end
    end
    table.sort(keys)
    return keys
  end
  return dict
end

function fake_ngx.new(phase)
  local fake = {
    phase = phase, calls = {}, answer = { false, "no answer set" }, clock = 1000000,
    timers = {}, logs = {}, NOTICE = 6, WARN = 5, ERR = 4, shared = {}, worker = {},
  }
  fake.get_phase = function() return fake.phase end
  fake.sleep = function(seconds)
    fake.calls[#fake.calls + 1] = { "sleep", seconds }
    fake.clock = fake.clock + seconds
  end
  fake.now = function() return fake.clock end
  fake.update_time = function() end
  fake.log = function(level, ...)
    fake.logs[#fake.logs + 1] = { level, table.concat({ ... }) }
  end
  fake.worker.pid = function() return 4242 end
  -- Not nginx's CRC-32, but like it a number that the same text always gives.
  fake.crc32_short = function(text)
    local h = 0
    for i = 1, #text do h = (h * 31 + text:byte(i)) % 4294967296 end
    return h
  end
  fake.timer = {
    at = function(delay, fn, ...)
      fake.timers[#fake.timers + 1] = { delay = delay, fn = fn, args = { ... } }
      return true
    end,
    every = function(delay, fn, ...)
      fake.timers[#fake.timers + 1] = { every = delay, fn = fn, args = { ... } }
      return true
    end,
  }
  -- Present, as in nginx (nginx.runtime() tells VMs apart by it), but syncs do not use it.
  fake.run_worker_thread = function() error("fake_ngx: run_worker_thread is not used") end
  -- The exchanges of clients made while this stand-in is the ngx: answered from fake.answer.
  nginx.transports = function()
    return { perform = function(_, query, deadline) return exchange(fake, query, deadline) end,
      close = function() end }
  end
  fake.add_shared_dict = function(name)
    fake.shared[name] = shared_dict(fake)
    return fake.shared[name]
  end
  return fake
end

-- answer(status, body, extra) -> an outcome of csrc/transport.c for a complete response.
function fake_ngx.answer(status, body, extra)
  local outcome = { status = status, headers_complete = true, body = body }
  for k, v in pairs(extra or {}) do outcome[k] = v end
  return outcome
end

return fake_ngx
