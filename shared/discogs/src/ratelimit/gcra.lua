-- GCRA bucket shared by every replica; the same steps as gcra.rs, on Redis' clock so
-- replicas with skewed clocks still agree. One hash per bucket: `tat` (microseconds) and,
-- once Discogs reported a smaller budget, `interval` (microseconds).
--
-- KEYS[1]  the bucket
-- ARGV[1]  "reserve" | "try" | "pause" | "interval"
-- ARGV[2]  default emission interval, microseconds
-- ARGV[3]  burst (requests let through back to back)
-- ARGV[4]  pause length (for "pause") or new interval (for "interval"), microseconds
-- ARGV[5]  idle time-to-live of the key, milliseconds
-- ARGV[6]  requests the server already counts in its window (for "interval")
-- Returns {taken (0/1), wait in microseconds}.
local key = KEYS[1]
local action = ARGV[1]
local default_interval = tonumber(ARGV[2])
local burst = math.max(tonumber(ARGV[3]), 1)
local amount = tonumber(ARGV[4])
local idle_ttl_ms = tonumber(ARGV[5])
local used_in_window = tonumber(ARGV[6]) or 0

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local stored = redis.call('HMGET', key, 'tat', 'interval')
local tat = tonumber(stored[1]) or 0
local interval = tonumber(stored[2]) or default_interval
if interval < 1 then interval = 1 end

local function save(new_tat)
  redis.call('HSET', key, 'tat', new_tat)
  local ttl = math.ceil(math.max(new_tat - now, 0) / 1000) + idle_ttl_ms
  redis.call('PEXPIRE', key, ttl)
end

if action == 'interval' then
  -- Slowing down charges the reserved slots and what the server already counts again,
  -- at the new rate.
  if amount > interval then
    local reserved = math.ceil(math.max(tat - now, 0) / interval)
    local repriced = now + (reserved + used_in_window) * amount
    if repriced > tat then tat = repriced end
  end
  if amount == default_interval then
    redis.call('HDEL', key, 'interval')
  else
    redis.call('HSET', key, 'interval', math.max(amount, 1))
  end
  save(tat)
  return {1, 0}
end

if action == 'pause' then
  local resume_tat = now + amount + (burst - 1) * interval
  if resume_tat > tat then tat = resume_tat end
  save(tat)
  return {1, 0}
end

if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
local wait = allow_at - now
if wait < 0 then wait = 0 end
if wait > 0 and action == 'try' then
  return {0, wait}
end
save(new_tat)
return {1, wait}
