"""The Lua scripts of the shared rate budget (`redis_budget`), each atomic in Redis.

One target's state is a hash (`state`): the shared rates (`rate` calls/s,
`trate` tokens/s or -1 while no token limit is known), the two bucket
levels (`rlevel`, `tlevel`) as of `stamp` (Redis's own clock, so replicas'
clocks never matter), `sent`, every call granted so far (a replica's
share of the calls is its grants over the growth of `sent`), and `cuts`,
how many times a rate was lowered (an answer showing no cut a replica has
not seen yet cannot lower its rate: it set out before that replica's own
growth). A sorted set
(`replicas`) holds each replica that took lately, scored by when its
heartbeat expires. A string (`probe`) is the probe lease: the replica id
holding it, with a TTL.

- `TAKE`: refill both buckets, add back what the replica returns (an unused
  lease; a negative token amount is a debt: tokens a call used beyond its
  estimate), then grant `need` in both dimensions, all or nothing, plus up
  to `extra` more if the buckets hold it (a lease served locally, so most
  takes cost no round trip). Not enough: nothing is taken and the answer
  is the seconds until `need` and `extra` will be there (one round trip
  per lease, not per call, while the quota binds). Also the heartbeat. A state
  that does not exist yet (a new target, or a Redis restarted empty) starts
  from the replica's own rates.
- `CUT`: the lower of the stored and the given rates; a lowered bucket is
  emptied (the quota's own bucket is empty after a throttle). Replicas
  throttled together each measure the quota at once, each with its noise:
  cuts of calls within `merge_seconds` of the first are averaged (never
  above the rate before it) rather than the lowest taken.
- `GROW`: a higher rate, only from the replica holding the probe lease
  (renewed by it).
- `LEASE`: take the probe lease if no one holds it, or renew one's own.

Numbers cross as strings: Redis truncates a Lua number it returns to an
integer.
"""

from __future__ import annotations

# Loads and refills the state; `rate` nil when there is none.
_LOAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) - 1.7e9 + tonumber(t[2]) / 1e6
local s = redis.call('HMGET', KEYS[1], 'rate', 'trate', 'rlevel', 'tlevel', 'stamp', 'sent',
  'cuts')
local rate, trate = tonumber(s[1]), tonumber(s[2])
local rlevel, tlevel = tonumber(s[3]), tonumber(s[4])
local stamp, sent, cuts = tonumber(s[5]), tonumber(s[6]), tonumber(s[7]) or 0
local function caps(burst, max_burst)
  local rcap = math.max(1, math.min(rate * burst, max_burst))
  local tcap = -1
  if trate >= 0 then tcap = math.max(1, trate * burst) end
  return rcap, tcap
end
local function refill(burst, max_burst)
  local rcap, tcap = caps(burst, max_burst)
  local dt = math.max(0, now - stamp)
  if rlevel < rcap then rlevel = math.min(rcap, rlevel + dt * rate) end
  if tcap >= 0 and tlevel < tcap then tlevel = math.min(tcap, tlevel + dt * trate) end
  stamp = now
  return rcap, tcap
end
local function store()
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'trate', tostring(trate),
    'rlevel', tostring(rlevel), 'tlevel', tostring(tlevel), 'stamp', tostring(stamp),
    'sent', tostring(sent), 'cuts', tostring(cuts))
end
"""

# KEYS: state, replicas. ARGV: replica, need_r, need_t, extra_r, extra_t,
# return_r, return_t, init_rate, init_trate, burst_seconds, max_burst,
# initial_burst_calls, heartbeat_seconds, key_ttl_ms.
TAKE = (
    _LOAD
    + """
local burst, max_burst = tonumber(ARGV[10]), tonumber(ARGV[11])
if rate == nil then
  rate, trate = tonumber(ARGV[8]), tonumber(ARGV[9])
  local rcap, tcap = caps(burst, max_burst)
  rlevel = math.min(tonumber(ARGV[12]), rcap)
  tlevel = 0
  if tcap >= 0 then tlevel = math.min(tcap, trate * 0.1) end
  stamp, sent = now, 0
end
local rcap, tcap = refill(burst, max_burst)
rlevel = math.min(rcap, rlevel + tonumber(ARGV[6]))
if tcap >= 0 then tlevel = math.min(tcap, tlevel + tonumber(ARGV[7])) end
local need_r, need_t = tonumber(ARGV[2]), tonumber(ARGV[3])
local extra_r, extra_t = tonumber(ARGV[4]), tonumber(ARGV[5])
local short = rlevel < math.min(need_r, rcap) - 1e-9
if tcap >= 0 and need_t > 0 and tlevel < math.min(need_t, tcap) - 1e-9 then short = true end
local wait = 0
if short then
  -- Come back when the whole lease is there, not just this call: one
  -- round trip per lease rather than per call while the quota binds.
  wait = math.max(0, (math.min(need_r + extra_r, rcap) - rlevel) / rate)
  if tcap >= 0 and need_t > 0 then
    wait = math.max(wait, (math.min(need_t + extra_t, tcap) - tlevel) / trate)
  end
  wait = math.max(wait, 1e-6)
end
local grant_r, grant_t = 0, 0
if wait == 0 then
  grant_r = need_r + math.max(0, math.min(extra_r, rlevel - need_r))
  rlevel = rlevel - grant_r
  if tcap >= 0 then
    grant_t = need_t + math.max(0, math.min(extra_t, tlevel - need_t))
    tlevel = tlevel - grant_t
  else
    grant_t = need_t + extra_t
  end
  sent = sent + grant_r
end
store()
redis.call('ZADD', KEYS[2], tostring(now + tonumber(ARGV[13])), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tostring(now))
local live = redis.call('ZCARD', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[14])
redis.call('PEXPIRE', KEYS[2], ARGV[14])
return {tostring(grant_r), tostring(grant_t), tostring(wait), tostring(rate), tostring(trate),
  tostring(sent), live, cuts}
"""
)

# KEYS: state. ARGV: rate, trate (-1: no token limit to set), burst_seconds,
# max_burst, merge_seconds.
CUT = (
    _LOAD
    + """
if rate == nil then return {} end
refill(tonumber(ARGV[3]), tonumber(ARGV[4]))
local new_r, new_t = tonumber(ARGV[1]), tonumber(ARGV[2])
local merge = tonumber(ARGV[5])
local m = redis.call('HMGET', KEYS[1], 'cut_at', 'cut_from', 'cut_sum', 'cut_n')
local cut_at, cut_from = tonumber(m[1]) or -1e18, tonumber(m[2]) or rate
local cut_sum, cut_n = tonumber(m[3]) or 0, tonumber(m[4]) or 0
local lowered = false
local merging = now - cut_at <= merge
if new_r < rate or merging then
  if not merging then cut_at, cut_from, cut_sum, cut_n = now, rate, 0, 0 end
  cut_sum, cut_n = cut_sum + new_r, cut_n + 1
  local mean = math.min(cut_from, cut_sum / cut_n)
  if mean < rate then rlevel = math.min(rlevel, 0) end
  if mean ~= rate then lowered = true end
  rate = mean
  redis.call('HSET', KEYS[1], 'cut_at', tostring(cut_at), 'cut_from', tostring(cut_from),
    'cut_sum', tostring(cut_sum), 'cut_n', tostring(cut_n))
end
if new_t >= 0 and (trate < 0 or new_t < trate) then
  if trate < 0 then tlevel = 0 else tlevel = math.min(tlevel, 0) end
  trate = new_t
  lowered = true
end
if lowered then cuts = cuts + 1 end
local rcap, tcap = caps(tonumber(ARGV[3]), tonumber(ARGV[4]))
rlevel = math.min(rlevel, rcap)
if tcap >= 0 then tlevel = math.min(tlevel, tcap) end
store()
return {tostring(rate), tostring(trate), cuts}
"""
)

# KEYS: state, probe. ARGV: replica, rate, trate (-1: unchanged), burst_seconds,
# max_burst, lease_ms.
GROW = (
    _LOAD
    + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {} end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if rate == nil then return {} end
refill(tonumber(ARGV[4]), tonumber(ARGV[5]))
local new_r, new_t = tonumber(ARGV[2]), tonumber(ARGV[3])
if new_r > rate then rate = new_r end
if new_t >= 0 and trate >= 0 and new_t > trate then trate = new_t end
store()
return {tostring(rate), tostring(trate), cuts}
"""
)

# KEYS: probe. ARGV: replica, lease_ms. 1: held by the caller now.
LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
