-- fake_ngx.lua — a stand-in for OpenResty's ngx table, so that the Lua glue for nginx runs in
-- plain Lua under every interpreter (spec/nginx_spec.lua, spec/account_cache_spec.lua).
--
--   local fake = fake_ngx.new("content")   -- the phase get_phase() reports
--   rawset(_G, "ngx", fake)
--   fake.answer = { true, outcome }        -- what ngx.run_worker_thread returns (or a function)
--   fake.calls                             -- { "sleep", s } and { "run_worker_thread", ... } in order
--   fake.clock                             -- what ngx.now() says; expiries in shared dicts follow it
--   fake.shared.<name>                     -- a lua_shared_dict: get, set, safe_set, add, safe_add,
--                                          -- incr, delete, with expiries
--   fake.timers                            -- { { delay =, every =, fn =, args = } } created
--   fake.logs                              -- { { level, text } } of ngx.log
--   fake.semaphores                        -- ngx.semaphore's made: { count =, waits = { s... } }
--                                          -- (a wait with no count left times out at once)

-- The dict's methods take self, like nginx's, whether they need it or not.
-- luacheck: ignore self

local unpack = table.unpack or unpack

local fake_ngx = {}

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
  fake.run_worker_thread = function(...)
    fake.calls[#fake.calls + 1] = { "run_worker_thread", ... }
    local given = fake.answer
    if type(given) == "function" then given = { given(...) } end
    -- Tables are copied, as nginx copies them from the worker thread's VM.
    local answer = {}
    for i, v in ipairs(given) do
      if type(v) == "table" then
        answer[i] = {}
        for k, field in pairs(v) do answer[i][k] = field end
      else
        answer[i] = v
      end
    end
    return unpack(answer, 1, #given)
  end
  -- require "ngx.semaphore" while this stand-in is the ngx.
  fake.semaphores = {}
  package.loaded["ngx.semaphore"] = {
    new = function(n)
      local sema = { count = n, waits = {} }
      function sema.wait(self, seconds)
        self.waits[#self.waits + 1] = seconds
        if self.count > 0 then
          self.count = self.count - 1
          return true
        end
        fake.clock = fake.clock + seconds
        return false, "timeout"
      end
      function sema.post(self, k)
        self.count = self.count + (k or 1)
        return true
      end
      fake.semaphores[#fake.semaphores + 1] = sema
      return sema
    end,
  }
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
