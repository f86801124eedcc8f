"""The Lua scripts ``RedisState`` runs server-side, where read-then-write is atomic.

Each runs as one ``EVALSHA`` round trip. ``PUT_BOUNDED`` touches the value keys
it evicts by name (built from ``ARGV``), which a standalone Redis (or a primary
with replicas) allows; Redis Cluster is not supported.
"""

from __future__ import annotations

from typing import Final

# KEYS[1] cooldown hash; ARGV: field, until, reason, now.
# A field holds "until|reason"; expired fields are dropped on every write, so
# the hash holds only the live cooldowns plus those expired since the last one.
SET_COOLDOWN: Final = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local deadline = tonumber(ARGV[2])
if current then
  local held = tonumber(string.match(current, '^[^|]*'))
  if held and held >= deadline then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
local now = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local held = tonumber(string.match(all[i + 1], '^[^|]*'))
  if not held or held <= now then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1
"""

# KEYS[1] failure hash; ARGV: account, now, quiet (now minus the reset window,
# both wall-clock seconds), the hash's ttl (ms).
# A field holds "count|updated"; a count last bumped before ``quiet`` starts
# afresh. Fields past ``quiet`` are dropped on every write, and the hash
# expires after a quiet window with no failure at all.
RECORD_FAILURE: Final = """
local quiet = tonumber(ARGV[3])
local count = 1
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local held, at = string.match(current, '^(%d+)|(.*)$')
  if held and tonumber(at) and tonumber(at) >= quiet then
    count = tonumber(held) + 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], count .. '|' .. ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], '|(.*)$'))
  if not at or at < quiet then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return count
"""

# KEYS: 1 zset member -> expiry (ms, server time), 2 hash member -> bytes,
#       3 byte total, 4 the value key.
# ARGV: 1 member, 2 value, 3 size, 4 ttl (ms), 5 max total, 6 value key prefix.
# Expired members are swept 64 at a time, then the soonest-expiring are evicted
# until the new value fits; the three bookkeeping keys live as long as the
# longest-lived value.
PUT_BOUNDED: Final = """
local function drop(member)
  local size = tonumber(redis.call('HGET', KEYS[2], member) or '0')
  redis.call('HDEL', KEYS[2], member)
  redis.call('ZREM', KEYS[1], member)
  redis.call('DECRBY', KEYS[3], size)
  redis.call('DEL', ARGV[6] .. member)
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 64)
for _, member in ipairs(expired) do drop(member) end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then drop(ARGV[1]) end
local room = tonumber(ARGV[5]) - tonumber(ARGV[3])
while tonumber(redis.call('GET', KEYS[3]) or '0') > room do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then
    redis.call('SET', KEYS[3], 0)
    break
  end
  drop(oldest[1])
end
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[4], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('INCRBY', KEYS[3], ARGV[3])
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
"""
