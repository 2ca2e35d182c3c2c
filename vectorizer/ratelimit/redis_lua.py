"""The Lua scripts of the shared rate budget (`redis_budget`), each atomic in Redis.

One target's state is a hash (`state`): the shared rates (`rate` calls/s,
`trate` tokens/s or -1 while no token limit is known), the two bucket
levels (`rlevel`, `tlevel`) as of `stamp` (Redis's own clock, so replicas'
clocks never matter), `ver`, bumped whenever the rates are set, and the
fleet's counters: `sent` and `tsent`, calls and tokens granted so far;
`ok`, `thr` and `tok`, calls accepted, calls throttled and tokens accepted
as the replicas report them; `counted`, 1 once a report carried AWS's own
token counts; `born`, when the state was made (every counter 0); `est`,
the request quota the pacer measured (a probing rate is above it). A
sorted set (`replicas`) holds each replica that took lately, scored by
when its heartbeat expires. A string (`probe`) is the pacer
lease: the replica id holding it, with a TTL.

- `TAKE`: refill both buckets (after an idle gap, to a small first burst
  only, however full they were: the quota's own bucket may be empty), add
  back what the replica returns (an unused lease, dropped after an idle gap;
  a negative token amount is a debt: tokens a call used beyond its
  estimate), add its report to the counters, then
  grant `need` in both dimensions, all or nothing, plus up to `extra` more
  if the buckets hold it (a lease served locally, so most takes cost no
  round trip). Not enough: nothing is taken and the answer is the seconds
  until `need` and `extra` will be there (one round trip per lease, not
  per call, while the quota binds). A `need` of 0 only reports. Also the
  heartbeat. A state that does not exist yet (a new target, or a Redis
  restarted empty) starts from the replica's own rates.
- `SET`: new rates, only from the replica holding the pacer lease (renewed
  by it); a lowered bucket is emptied (the quota's own bucket is empty
  after a throttle).
- `LEASE`: take the pacer lease if no one holds it, or renew one's own.

Numbers cross as strings: Redis truncates a Lua number it returns to an
integer.
"""

from __future__ import annotations

# Loads and refills the state; `rate` nil when there is none.
_LOAD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) - 1.7e9 + tonumber(t[2]) / 1e6
local s = redis.call('HMGET', KEYS[1], 'rate', 'trate', 'rlevel', 'tlevel', 'stamp', 'sent',
  'ver', 'tsent', 'ok', 'thr', 'tok', 'counted', 'born', 'est')
local rate, trate = tonumber(s[1]), tonumber(s[2])
local rlevel, tlevel = tonumber(s[3]), tonumber(s[4])
local stamp, sent, ver = tonumber(s[5]), tonumber(s[6]), tonumber(s[7]) or 0
local tsent, ok, thr = tonumber(s[8]) or 0, tonumber(s[9]) or 0, tonumber(s[10]) or 0
local tok, counted = tonumber(s[11]) or 0, tonumber(s[12]) or 0
local born, est = tonumber(s[13]) or 0, tonumber(s[14]) or -1
local function caps(burst, max_burst)
  local rcap = math.max(1, math.min(rate * burst, max_burst))
  local tcap = -1
  if trate >= 0 then tcap = math.max(1, trate * burst) end
  return rcap, tcap
end
local function refill(burst, max_burst, idle, idle_r, idle_t)
  local rcap, tcap = caps(burst, max_burst)
  local dt = math.max(0, now - stamp)
  if rlevel < rcap then rlevel = math.min(rcap, rlevel + dt * rate) end
  if tcap >= 0 and tlevel < tcap then tlevel = math.min(tcap, tlevel + dt * trate) end
  local was_idle = idle and dt > idle
  if was_idle then
    -- Idle: the quota's bucket may have been emptied meanwhile (another
    -- client, or a quota that starts empty): no saved-up burst.
    rlevel = math.min(rlevel, idle_r)
    if tcap >= 0 then tlevel = math.min(tlevel, idle_t) end
  end
  stamp = now
  return rcap, tcap, was_idle
end
local function store()
  redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'trate', tostring(trate),
    'rlevel', tostring(rlevel), 'tlevel', tostring(tlevel), 'stamp', tostring(stamp),
    'sent', tostring(sent), 'ver', tostring(ver), 'tsent', tostring(tsent), 'ok', tostring(ok),
    'thr', tostring(thr), 'tok', tostring(tok), 'counted', tostring(counted),
    'born', tostring(born), 'est', tostring(est))
end
"""

# KEYS: state, replicas. ARGV: replica, need_r, need_t, extra_r, extra_t,
# return_r, return_t, init_rate, init_trate, burst_seconds, max_burst,
# initial_burst_calls, heartbeat_seconds, key_ttl_ms, idle_seconds,
# report_ok, report_throttled, report_tokens, report_counted (0/1).
# Answers grant_r, grant_t, wait, rate, trate, sent, live replicas, ver, now,
# tsent, ok, thr, tok, counted, born (when the state was made, all counters 0),
# est (the quota the pacer measured, -1 if none).
TAKE = (
    _LOAD
    + """
local burst, max_burst = tonumber(ARGV[10]), tonumber(ARGV[11])
local first = tonumber(ARGV[12])
if rate == nil then
  rate, trate = tonumber(ARGV[8]), tonumber(ARGV[9])
  local rcap, tcap = caps(burst, max_burst)
  rlevel = math.min(first, rcap)
  tlevel = 0
  if tcap >= 0 then tlevel = math.min(tcap, trate * 0.1) end
  stamp, sent, born = now, 0, now
end
local rcap, tcap, was_idle = refill(burst, max_burst, tonumber(ARGV[15]), first, trate * 0.1)
local return_r, return_t = tonumber(ARGV[6]), tonumber(ARGV[7])
if was_idle then
  -- A lease given back after the gap would be a saved-up burst too (a
  -- token debt still counts).
  return_r, return_t = 0, math.min(0, return_t)
end
rlevel = math.min(rcap, rlevel + return_r)
if tcap >= 0 then tlevel = math.min(tcap, tlevel + return_t) end
ok = ok + tonumber(ARGV[16])
thr = thr + tonumber(ARGV[17])
tok = tok + tonumber(ARGV[18])
if ARGV[19] == '1' then counted = 1 end
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
if wait == 0 and need_r > 0 then
  grant_r = need_r + math.max(0, math.min(extra_r, rlevel - need_r))
  rlevel = rlevel - grant_r
  if tcap >= 0 then
    grant_t = need_t + math.max(0, math.min(extra_t, tlevel - need_t))
    tlevel = tlevel - grant_t
  else
    grant_t = need_t + extra_t
  end
  sent = sent + grant_r
  tsent = tsent + grant_t
end
store()
redis.call('ZADD', KEYS[2], tostring(now + tonumber(ARGV[13])), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tostring(now))
local live = redis.call('ZCARD', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[14])
redis.call('PEXPIRE', KEYS[2], ARGV[14])
return {tostring(grant_r), tostring(grant_t), tostring(wait), tostring(rate), tostring(trate),
  tostring(sent), live, ver, tostring(now), tostring(tsent), tostring(ok), tostring(thr),
  tostring(tok), counted, tostring(born), tostring(est)}
"""
)

# KEYS: state, probe. ARGV: replica, rate, trate (-1: no token limit), burst_seconds,
# max_burst, lease_ms, est (the quota the pacer measured). Answers rate, trate,
# ver; nothing if the caller does not hold the lease.
SET = (
    _LOAD
    + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {} end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if rate == nil then return {} end
refill(tonumber(ARGV[4]), tonumber(ARGV[5]))
local new_r, new_t = tonumber(ARGV[2]), tonumber(ARGV[3])
if new_r < rate then rlevel = math.min(rlevel, 0) end
if new_t >= 0 and (trate < 0 or new_t < trate) then
  if trate < 0 then tlevel = 0 else tlevel = math.min(tlevel, 0) end
end
rate, trate, est = new_r, new_t, tonumber(ARGV[7])
ver = ver + 1
local rcap, tcap = caps(tonumber(ARGV[4]), tonumber(ARGV[5]))
rlevel = math.min(rlevel, rcap)
if tcap >= 0 then tlevel = math.min(tlevel, tcap) end
store()
return {tostring(rate), tostring(trate), ver}
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
