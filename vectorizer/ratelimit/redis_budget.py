"""A rate budget shared by replicas through Redis (`--shared-budget`).

- `RedisLink` (redis_link.py): the process's one Redis client, and whether
  Redis is reachable.
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
by 1 / its share of the calls over the round (its grants over everyone's,
from the shared `sent` counter) so they show the whole quota (`shares.
ScaledRound`: volumes and rates scaled, sample sizes not), and runs the
usual `PacingController` on them. A throttled round's cut is in force here
at once and published in the background (redis_lua.CUT: the lower rate,
cuts by several replicas within `CUT_MERGE_SECONDS` averaged); every round
trip brings back the shared rates, which the controller adopts
(`RateController.adopt`, ordered by the shared `cuts` counter): a throttle
seen by one replica lowers the rate of all. Growth is applied only by the
replica holding the probe lease (a key with a TTL, `PROBE_LEASE_SECONDS`,
kept while it sends), so one replica probes upward at a time; the others
grow when they adopt its rate.

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
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable

from vectorizer.ratelimit.budgets import (
    BURST_SECONDS,
    INITIAL_BURST_CALLS,
    Cost,
)
from vectorizer.ratelimit.controller import (
    BINDING_UTILISATION,
    LimiterSettings,
    PacingController,
    Rates,
)
from vectorizer.ratelimit.redis_link import REDIS_ERRORS, RedisLink, budget_key
from vectorizer.ratelimit.rounds import Round
from vectorizer.ratelimit.shares import (
    FallbackBuckets,
    lower,
    lowered,
    raised,
    scale_round,
    token_rate,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "vectorizer:rl:v1:"
LEASE_SECONDS = 0.03
MAX_LEASE_CALLS = 16
LEASE_TTL_SECONDS = 0.25
PROBE_LEASE_SECONDS = 3.0
# Cuts by several replicas within this of the first are one measure, averaged.
CUT_MERGE_SECONDS = 0.3
HEARTBEAT_SECONDS = 3.0
KEY_TTL_MS = 3_600_000  # an idle target's state is dropped after an hour
SHARE_WINDOW_SECONDS = 2.0
SHARE_MIN_CALLS = 8.0
MIN_SHARE = 0.02
_EPSILON = 1e-9


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
        self._fallback: FallbackBuckets | None = None
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
                self._adopt(Rates(rate, token_rate(trate)), cuts, now)
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
                log.debug("shared rate adopted: %.1f -> %.1f (cuts %d)", dimension.rate, rate, cuts)
                dimension.adopt(rate, now)
        if shared.tokens is None and not math.isinf(c.tokens.rate) and not self._cutting:
            self._pending_cut = lower(self._pending_cut or c.rates, c.rates)
            self._kick()  # Redis forgot our token limit: publish it again
        self._rates = c.rates

    # --- observe -----------------------------------------------------------------

    def observe(self, report: Round) -> Rates:
        now = self._clock()
        before = self._rates
        if self._fallback is not None or not self._link.up:
            fb = self._fallback or self._enter_fallback(now)
            rates = self.controller.on_round(scale_round(report, 1 / fb.share), now)
            fb.set(rates, now, cut=lowered(before, rates))
            self._rates = rates
            return rates
        # The share over the round itself: a replica's part of the calls
        # moves from one moment to the next (whose round trip came first).
        share = self.share_over(report.duration, now) or self.share
        scaled = scale_round(report, 1 / share)
        holder = now < self._lease_until
        rates = self.controller.on_round(scaled, now, may_grow=holder)
        if lowered(before, rates):
            # As the local budget: our lease is spent, the quota's bucket is empty.
            self._pool_r = min(self._pool_r, 0.0)
            self._pool_t = min(self._pool_t, 0.0)
            old = self._pending_cut
            self._pending_cut = rates if old is None else lower(old, rates)
        elif holder and raised(before, rates):
            self._pending_grow = rates
        binding = self.controller.requests.utilisation(scaled.calls_sent, scaled.duration)
        if holder or (not report.calls_throttled and binding >= BINDING_UTILISATION):
            # Take the probe lease when growth is due; keep it while we send:
            # a new prober would start its probe over, slowly.
            self._want_lease = True
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
                    shared = Rates(float(answer[0]), token_rate(float(answer[1])))
                    self._adopt(shared, int(answer[2]), self._clock())
        except REDIS_ERRORS as exc:
            self._pending_cut = self._pending_grow = None
            self._want_lease = False
            self._link.failed(exc)
        finally:
            self._publisher = None

    # --- without Redis -----------------------------------------------------------

    def _enter_fallback(self, now: float) -> FallbackBuckets:
        share = 1.0 / self.live_replicas
        self._fallback = FallbackBuckets(self._rates, share, now)
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
