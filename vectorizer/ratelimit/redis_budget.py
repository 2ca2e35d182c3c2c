"""A rate budget shared by replicas through Redis (`--shared-budget`).

- `RedisLink`: the process's one Redis client for every shared budget, and
  whether Redis is reachable: on the first failure it says so once (a log
  line, the gauge `vectorizer_rate_budget_shared` 0, GetMeta's
  `rate_budget` "fallback"), then pings with a doubling backoff until Redis
  answers again, and says that once too.
- `SharedBudgets`: the `LimiterRegistry` budget factory: one `RedisBudget`
  per target key, keyed in Redis by a hash of the credentials' identity
  hash, the service, the Region and the target (nothing in clear).
- `RedisBudget`: one target's `RateBudget` (see budgets.py for the contract).

How a take works. The buckets live in Redis (redis_lua.TAKE, atomic over
requests and tokens). A round trip asks for the call's cost plus a small
lease (what this replica sends in `LEASE_SECONDS`, at most
`MAX_LEASE_CALLS`), granted only as far as the buckets hold it; later takes
are served from the lease without a round trip. A lease not used within
`LEASE_TTL_SECONDS` goes back with the next round trip (as does a refund),
so no replica saves up a burst. Overlapping takes share one round trip,
which runs in its own task: a take cancelled meanwhile takes nothing, the
grant stays in the lease.

How the rate is learned. Each replica measures its own rounds, scales them
by 1 / its share of the calls (its grants over everyone's, from the shared
`sent` counter) so they show the whole quota, and runs the usual
`PacingController` on them. A throttled round's cut is in force here at once
and published (redis_lua.CUT: the lower rate wins) in the background;
every round trip brings back the shared rates, which the controller adopts
(`RateController.adopt`): a throttle seen by one replica lowers the rate of
all. Growth is applied only by the replica holding the probe lease (a key
with a TTL, `PROBE_LEASE_SECONDS`, renewed while it probes), so one replica
probes upward at a time; the others grow when they adopt its rate.

Without Redis. A replica that cannot reach Redis paces locally at its share
of the last shared rate: 1 / the replicas whose heartbeat (each take) was
live at the last round trip, or `fallback_share` if it never reached Redis
(--rate-share). It keeps learning locally, from that conservative start,
and rejoins when Redis is back: its state is adopted, or seeds a Redis
that came back empty. No call waits on a Redis that is down for more than
the one socket timeout that found it down.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import replace

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vectorizer import metrics
from vectorizer.ratelimit import redis_lua
from vectorizer.ratelimit.budgets import (
    BURST_SECONDS,
    INITIAL_BURST_CALLS,
    Cost,
    TokenBucket,
)
from vectorizer.ratelimit.controller import (
    BINDING_UTILISATION,
    LimiterSettings,
    PacingController,
    Rates,
)
from vectorizer.ratelimit.rounds import Round

log = logging.getLogger(__name__)

KEY_SCHEMA = "vectorizer.rate_budget.v1"
KEY_PREFIX = "vectorizer:rl:v1:"
SOCKET_TIMEOUT = 0.25
LEASE_SECONDS = 0.03
MAX_LEASE_CALLS = 16
LEASE_TTL_SECONDS = 0.25
PROBE_LEASE_SECONDS = 1.5
# Cuts by several replicas within this of the first are one measure, averaged.
CUT_MERGE_SECONDS = 0.3
HEARTBEAT_SECONDS = 3.0
KEY_TTL_MS = 3_600_000  # an idle target's state is dropped after an hour
SHARE_WINDOW_SECONDS = 2.0
SHARE_MIN_CALLS = 8.0
MIN_SHARE = 0.02
REJOIN_FIRST_SECONDS = 0.5
REJOIN_MAX_SECONDS = 10.0
# What a Redis that is down or hung raises through redis-py.
REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_EPSILON = 1e-9

SHARED = "shared"
FALLBACK = "fallback"


class RedisLink:
    """The Redis client of every shared budget, and whether Redis is up."""

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = SOCKET_TIMEOUT,
        rejoin_first: float = REJOIN_FIRST_SECONDS,
        rejoin_max: float = REJOIN_MAX_SECONDS,
    ):
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: a pooled connection gone stale
        )
        self.take = self.client.register_script(redis_lua.TAKE)
        self.cut = self.client.register_script(redis_lua.CUT)
        self.grow = self.client.register_script(redis_lua.GROW)
        self.lease = self.client.register_script(redis_lua.LEASE)
        self.replica = uuid.uuid4().hex
        self.up = True
        self.failures = 0
        self._rejoin_first = rejoin_first
        self._rejoin_max = rejoin_max
        self._rejoin: asyncio.Task[None] | None = None
        metrics.RATE_BUDGET_SHARED.set(1)

    @property
    def state(self) -> str:
        return SHARED if self.up else FALLBACK

    def failed(self, exc: BaseException) -> None:
        """A Redis call failed: fall back (said once) and start trying to rejoin."""
        if not self.up:
            return
        self.up = False
        self.failures += 1
        metrics.RATE_BUDGET_SHARED.set(0)
        # The exception names host and port, never the URL's password.
        log.warning(
            "shared rate budget: Redis unreachable (%s: %s); each target paced locally at "
            "this replica's share until Redis answers again",
            type(exc).__name__,
            exc,
        )
        if self._rejoin is None:
            self._rejoin = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        delay = self._rejoin_first
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    await self.client.ping()
                except REDIS_ERRORS:
                    delay = min(self._rejoin_max, delay * 2)
                    continue
                self.up = True
                metrics.RATE_BUDGET_SHARED.set(1)
                log.warning("shared rate budget: Redis reachable again; budgets shared again")
                return
        finally:
            self._rejoin = None

    async def close(self) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()
        await self.client.aclose()


def budget_key(key: tuple[Hashable, ...]) -> str:
    """The Redis hash tag of one target: `key` is the registry's (service,
    Region, target, credential identity hash); only a hash of it is stored."""
    encoded = json.dumps([KEY_SCHEMA, *map(str, key)], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()[:32]


class SharedBudgets:
    """`budget_factory` for `LimiterRegistry`: a `RedisBudget` per target.

    `settings` are the whole fleet's limits (not scaled by --rate-share);
    `fallback_share` is this process's share of them while it has never
    reached Redis.
    """

    def __init__(
        self,
        link: RedisLink,
        settings: LimiterSettings,
        fallback_share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.link = link
        self.settings = settings
        self.fallback_share = fallback_share
        self._clock = clock

    def __call__(self, key: tuple[Hashable, ...]) -> RedisBudget:
        return RedisBudget(
            self.link, budget_key(key), self.settings, self.fallback_share, self._clock
        )

    @property
    def state(self) -> str:
        return self.link.state

    async def close(self) -> None:
        await self.link.close()


def scale_round(r: Round, k: float) -> Round:
    """`r` as the whole fleet would have seen it: every count times `k`."""
    if k == 1.0:
        return r
    return replace(
        r,
        calls_sent=round(r.calls_sent * k),
        calls_ok=round(r.calls_ok * k),
        calls_throttled=round(r.calls_throttled * k),
        tokens_sent=r.tokens_sent * k,
        tokens_ok=r.tokens_ok * k,
        saturated_calls_ok=round(r.saturated_calls_ok * k),
        saturated_tokens_ok=r.saturated_tokens_ok * k,
        saturated_answers=round(r.saturated_answers * k),
    )


class _Fallback:
    """The local buckets of a replica without Redis, at `share` of the rates."""

    def __init__(self, rates: Rates, share: float, now: float):
        self.share = share
        self.requests = TokenBucket(0.0, 1.0, 0.0, now)
        self.tokens = TokenBucket(math.inf, math.inf, 0.0, now)
        self.set(rates, now, cut=True)

    def set(self, rates: Rates, now: float, cut: bool) -> None:
        r = rates.requests * self.share
        self.requests.set_rate(r, max(1.0, r * BURST_SECONDS), now)
        t = rates.tokens * self.share if rates.tokens is not None else math.inf
        self.tokens.set_rate(t, math.inf if math.isinf(t) else max(1.0, t * BURST_SECONDS), now)
        if cut:
            self.requests.level = min(self.requests.level, 0.0)
            if not math.isinf(t):
                self.tokens.level = min(self.tokens.level, 0.0)

    def take(self, cost: Cost, now: float) -> float:
        wait = max(self.requests.delay(cost.requests, now), self.tokens.delay(cost.tokens, now))
        if wait > 0.0:
            return wait
        self.requests.add(-cost.requests, now)
        self.tokens.add(-cost.tokens, now)
        return 0.0

    def refund(self, cost: Cost, now: float) -> None:
        self.requests.add(cost.requests, now)
        self.tokens.add(cost.tokens, now)


class RedisBudget:
    """One target's budget shared through Redis; see the module docstring."""

    def __init__(
        self,
        link: RedisLink,
        tag: str,
        settings: LimiterSettings,
        fallback_share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._link = link
        base = f"{KEY_PREFIX}{{{tag}}}:"
        self._state_key, self._replicas_key, self._probe_key = (
            base + "state",
            base + "replicas",
            base + "probe",
        )
        self._max_burst = float(settings.max_concurrency)
        self._clock = clock
        now = clock()
        self.controller = PacingController(settings, now)
        self._rates = self.controller.rates
        # The lease: calls and tokens granted by Redis, not yet taken.
        self._pool_r = 0.0
        self._pool_t = 0.0
        self._pool_until = -math.inf
        self._trip: asyncio.Task[float] | None = None
        # This replica's share of the calls: own grants against everyone's.
        self._own_sent = 0.0
        self._history: deque[tuple[float, float, float]] = deque()
        self.share = fallback_share
        self.live_replicas = max(1, round(1 / fallback_share))
        self._fallback: _Fallback | None = None
        self._lease_until = -math.inf  # the probe lease, as far as we know
        self._pending_cut: Rates | None = None
        self._pending_grow: Rates | None = None
        self._want_lease = False
        self._publisher: asyncio.Task[None] | None = None
        self._cutting = False  # a cut of ours is being written
        self._cuts_seen = 0  # the shared `cuts` counter as last seen
        # Bumped whenever a round changes our rates: an answer from Redis
        # that set out before is older than them and is not adopted.
        self._changes = 0
        self.round_trips = 0

    @property
    def rates(self) -> Rates:
        """The shared rates (the whole fleet's), as last known here."""
        return self._rates

    @property
    def probing(self) -> bool:
        """Whether this replica holds the probe lease (may raise the rates)."""
        return self._clock() < self._lease_until

    @property
    def fallback(self) -> bool:
        return self._fallback is not None

    # --- take / refund -----------------------------------------------------------

    async def take(self, cost: Cost) -> float:
        wait = 0.0
        for _ in range(3):
            if not self._link.up:
                return self._fallback_take(cost)
            if self._fallback is not None:
                self._rejoin()
            if self._from_pool(cost):
                return 0.0
            trip = self._trip
            if trip is None:
                trip = self._trip = asyncio.get_running_loop().create_task(self._fetch(cost))
            wait = await asyncio.shield(trip)
            if self._link.up and self._from_pool(cost):
                return 0.0
            if wait > 0.0:
                return wait
        return max(wait, 0.001)  # others took what came back: try again shortly

    def refund(self, cost: Cost) -> None:
        if self._fallback is not None:
            self._fallback.refund(cost, self._clock())
            return
        # Into the lease; unused, it goes back to Redis with the next round trip.
        self._pool_r += cost.requests
        self._pool_t += cost.tokens

    def _from_pool(self, cost: Cost) -> bool:
        if self._clock() > self._pool_until:
            return False  # expired: returned with the next round trip
        if self._pool_r < cost.requests - _EPSILON:
            return False
        limited = self._rates.tokens is not None
        if limited and cost.tokens > 0 and self._pool_t < cost.tokens - _EPSILON:
            return False
        self._pool_r -= cost.requests
        self._pool_t -= cost.tokens
        return True

    def _lease_size(self) -> float:
        mine = self._rates.requests * self.share * LEASE_SECONDS
        return max(1.0, min(float(MAX_LEASE_CALLS), mine))

    async def _fetch(self, cost: Cost) -> float:
        try:
            limited = self._rates.tokens is not None
            back_r, back_t = self._pool_r, self._pool_t if limited else 0.0
            self._pool_r = self._pool_t = 0.0
            extra_r = max(0.0, self._lease_size() - cost.requests)
            need_t = cost.tokens if limited else 0.0
            extra_t = extra_r * cost.tokens if limited else 0.0
            changes = self._changes
            try:
                answer = await self._link.take(
                    keys=[self._state_key, self._replicas_key],
                    args=[
                        self._link.replica,
                        repr(cost.requests),
                        repr(need_t),
                        repr(extra_r),
                        repr(extra_t),
                        repr(back_r),
                        repr(back_t),
                        repr(self._rates.requests),
                        repr(self._rates.tokens if limited else -1.0),
                        repr(BURST_SECONDS),
                        repr(self._max_burst),
                        repr(INITIAL_BURST_CALLS),
                        repr(HEARTBEAT_SECONDS),
                        str(KEY_TTL_MS),
                    ],
                )
            except REDIS_ERRORS as exc:
                self._link.failed(exc)
                return 0.0
            self.round_trips += 1
            grant_r, grant_t, wait, rate, trate, sent = (float(x) for x in answer[:6])
            cuts = int(answer[7])
            now = self._clock()
            self._pool_r += grant_r
            self._pool_t += grant_t
            self._pool_until = now + LEASE_TTL_SECONDS
            self._own_sent += grant_r
            self.live_replicas = max(1, int(answer[6]))
            self._learn_share(now, sent)
            # Not while ours are on their way: Redis's answer to them is adopted.
            if changes == self._changes and self._publisher is None:
                self._adopt(Rates(rate, _tokens(trate)), cuts, now)
            return wait
        finally:
            self._trip = None

    def _learn_share(self, now: float, sent: float) -> None:
        history = self._history
        if history and sent < history[-1][2]:
            history.clear()  # Redis came back empty: the counters restarted
            self._cuts_seen = 0
        history.append((now, self._own_sent, sent))
        while len(history) > 2 and now - history[1][0] >= SHARE_WINDOW_SECONDS:
            history.popleft()
        share = self.share_over(SHARE_WINDOW_SECONDS, now)
        if share is not None:
            self.share = share

    def share_over(self, seconds: float, now: float) -> float | None:
        """This replica's share of the calls granted in the last `seconds`
        (None: too few calls to tell)."""
        history = self._history
        if not history:
            return None
        start = history[0]
        for entry in reversed(history):
            if entry[0] <= now - seconds:
                start = entry
                break
        _, own0, total0 = start
        _, own1, total1 = history[-1]
        if total1 - total0 < SHARE_MIN_CALLS:
            return None
        return min(1.0, max(MIN_SHARE, (own1 - own0) / (total1 - total0)))

    def _adopt(self, shared: Rates, cuts: int, now: float) -> None:
        """Take the shared rates (set by whichever replica cut or probed last).

        Lower only after a cut not seen yet (else the answer set out before
        our own growth); higher after one too (cuts averaged), else only
        while we do not probe (our growth is newer); never higher while a
        cut of ours is on its way."""
        if cuts < self._cuts_seen:
            return  # older than a cut already taken
        news, self._cuts_seen = cuts > self._cuts_seen, cuts
        # After a cut (or cuts averaged) the shared rate is the fleet's measure.
        may_raise = self._pending_cut is None and not self._cutting
        may_raise = may_raise and (news or not self.probing)
        c = self.controller
        for dimension, rate in ((c.requests, shared.requests), (c.tokens, shared.tokens)):
            if rate is None:
                continue
            if (rate < dimension.rate and news) or (rate > dimension.rate and may_raise):
                dimension.adopt(rate, now)
        if shared.tokens is None and not math.isinf(c.tokens.rate) and not self._cutting:
            self._pending_cut = _lower(self._pending_cut or c.rates, c.rates)
            self._kick()  # Redis forgot our token limit: publish it again
        self._rates = c.rates

    # --- observe -----------------------------------------------------------------

    def observe(self, report: Round) -> Rates:
        now = self._clock()
        before = self._rates
        if self._fallback is not None or not self._link.up:
            fb = self._fallback or self._enter_fallback(now)
            rates = self.controller.on_round(scale_round(report, 1 / fb.share), now)
            fb.set(rates, now, cut=_lowered(before, rates))
            self._rates = rates
            return rates
        # The share over the round itself: a replica's part of the calls
        # moves from one moment to the next (whose round trip came first).
        share = self.share_over(report.duration, now) or self.share
        scaled = scale_round(report, 1 / share)
        holder = now < self._lease_until
        rates = self.controller.on_round(scaled, now, may_grow=holder)
        if _lowered(before, rates):
            # As the local budget: our lease is spent, the quota's bucket is empty.
            self._pool_r = min(self._pool_r, 0.0)
            self._pool_t = min(self._pool_t, 0.0)
            old = self._pending_cut
            self._pending_cut = rates if old is None else _lower(old, rates)
        elif holder and _raised(before, rates):
            self._pending_grow = rates
        binding = self.controller.requests.utilisation(scaled.calls_sent, scaled.duration)
        if not report.calls_throttled and binding >= BINDING_UTILISATION:
            self._want_lease = True  # take the probe lease, or keep it
        if rates != before:
            self._changes += 1
        self._rates = rates
        self._kick()
        return rates

    def _pending(self) -> bool:
        return bool(self._pending_cut or self._pending_grow or self._want_lease)

    def _kick(self) -> None:
        if self._publisher is None and self._pending():
            self._publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        """Writes cuts, growth and the probe lease to Redis, newest state first."""
        limits = [repr(BURST_SECONDS), repr(self._max_burst)]
        lease_ms = str(int(PROBE_LEASE_SECONDS * 1000))
        try:
            while True:
                if self._pending_cut is not None:
                    cut, self._pending_cut = self._pending_cut, None
                    trate = cut.tokens if cut.tokens is not None else -1.0
                    self._cutting = True
                    try:
                        answer = await self._link.cut(
                            keys=[self._state_key],
                            args=[
                                repr(cut.requests),
                                repr(trate),
                                *limits,
                                repr(CUT_MERGE_SECONDS),
                            ],
                        )
                    finally:
                        self._cutting = False
                elif self._pending_grow is not None:
                    grow, self._pending_grow = self._pending_grow, None
                    trate = grow.tokens if grow.tokens is not None else -1.0
                    answer = await self._link.grow(
                        keys=[self._state_key, self._probe_key],
                        args=[self._link.replica, repr(grow.requests), repr(trate), *limits,
                              lease_ms],
                    )  # fmt: skip
                    if not answer:
                        self._lease_until = -math.inf  # lost it: stop probing
                elif self._want_lease:
                    self._want_lease = False
                    asked = self._clock()
                    held = await self._link.lease(
                        keys=[self._probe_key], args=[self._link.replica, lease_ms]
                    )
                    # Counted from before asking, and a margin short of the TTL.
                    self._lease_until = asked + 0.8 * PROBE_LEASE_SECONDS if held else -math.inf
                    continue
                else:
                    return
                if answer:
                    shared = Rates(float(answer[0]), _tokens(float(answer[1])))
                    self._adopt(shared, int(answer[2]), self._clock())
        except REDIS_ERRORS as exc:
            self._pending_cut = self._pending_grow = None
            self._want_lease = False
            self._link.failed(exc)
        finally:
            self._publisher = None

    # --- without Redis -----------------------------------------------------------

    def _enter_fallback(self, now: float) -> _Fallback:
        share = 1.0 / self.live_replicas
        self._fallback = _Fallback(self._rates, share, now)
        self._pool_r = self._pool_t = 0.0
        self._lease_until = -math.inf
        return self._fallback

    def _fallback_take(self, cost: Cost) -> float:
        now = self._clock()
        fb = self._fallback or self._enter_fallback(now)
        return fb.take(cost, now)

    def _rejoin(self) -> None:
        self._fallback = None
        self._history.clear()
        self._pool_until = -math.inf


def _tokens(value: float) -> float | None:
    return None if value < 0 else value


def _lowered(before: Rates, after: Rates) -> bool:
    if after.requests < before.requests:
        return True
    if after.tokens is None:
        return False
    return before.tokens is None or after.tokens < before.tokens


def _raised(before: Rates, after: Rates) -> bool:
    if after.requests > before.requests:
        return True
    return after.tokens is not None and before.tokens is not None and after.tokens > before.tokens


def _lower(a: Rates, b: Rates) -> Rates:
    if a.tokens is None:
        tokens = b.tokens
    elif b.tokens is None:
        tokens = a.tokens
    else:
        tokens = min(a.tokens, b.tokens)
    return Rates(min(a.requests, b.requests), tokens)
