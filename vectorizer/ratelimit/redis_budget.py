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

How the rate is learned: one controller for the fleet. Every replica
reports its answers (accepted, throttled, tokens AWS counted) with its next
round trip, at once after a throttle; Redis adds them to the fleet's
counters next to the calls it granted. One replica, the pacer (pacer.py),
runs the usual `PacingController` on the fleet's rounds and alone moves the
rates. The others adopt the shared rates from each round trip (newer `ver`
only), keeping their own controller in step to take over when the lease
passes to them. A replica's first throttle in start-up stops its own takes
until the pacer's cut arrives (`BRAKE_*`).

Without Redis. A replica that cannot reach Redis paces locally at its share
of the last shared rate: 1 / the replicas whose heartbeat (each take) was
live at the last round trip, or `fallback_share` if it never reached Redis
(--rate-share). It keeps learning locally, from its own rounds scaled to
the fleet, from that conservative start, and rejoins when Redis is back:
its state is adopted, or seeds a Redis that came back empty. No call waits
on a Redis that is down for more than the one socket timeout that found it
down.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Hashable

from vectorizer.ratelimit.budgets import (
    BURST_SECONDS,
    IDLE_SECONDS,
    INITIAL_BURST_CALLS,
    Cost,
)
from vectorizer.ratelimit.controller import Mode
from vectorizer.ratelimit.fleet import FleetCounts
from vectorizer.ratelimit.pacer import SAMPLE_SECONDS, PacerRole
from vectorizer.ratelimit.pacing import LimiterSettings, PacingController, Rates
from vectorizer.ratelimit.redis_link import REDIS_ERRORS, RedisLink, budget_key
from vectorizer.ratelimit.rounds import ROUND_SECONDS, Round
from vectorizer.ratelimit.shares import (
    FallbackBuckets,
    ShareMeter,
    lowered,
    scale_round,
    token_rate,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "vectorizer:rl:v1:"
LEASE_SECONDS = 0.03
MAX_LEASE_CALLS = 16
LEASE_TTL_SECONDS = 0.25
# Every replica reports at least this often while answers come (its takes
# stall after a cut, and answers reported late would read as a drop).
REPORT_SECONDS = ROUND_SECONDS / 2
HEARTBEAT_SECONDS = 3.0
# A replica's first throttle in start-up (at most one a second) stops its
# takes for BRAKE_SECONDS, or until the pacer's cut arrives: the quota's
# bucket is empty and the fleet far above the quota, and every call sent
# before the pacer's round closes is one more throttle.
BRAKE_SECONDS = 0.1
BRAKE_EVERY_SECONDS = 1.0
KEY_TTL_MS = 3_600_000  # an idle target's state is dropped after an hour
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
        self._shares = ShareMeter(fallback_share)
        self.live_replicas = max(1, round(1 / fallback_share))
        self._fallback: FallbackBuckets | None = None
        self._ver_seen = 0  # the shared rates' version as last adopted or set
        self._pacer = PacerRole(
            link, self._state_key, self._probe_key, self._max_burst, clock, self._set_seen
        )
        # Answers not yet reported to Redis: accepted, throttled, tokens
        # accepted, whether AWS counted them.
        self._report_ok = 0
        self._report_throttled = 0
        self._report_tokens = 0.0
        self._report_counted = False
        self._reported = -math.inf  # this replica's last report trip
        self.round_trips = 0
        # A throttle in start-up stops this replica's takes until the pacer's
        # cut arrives, or BRAKE_SECONDS at most.
        self._brake_until = -math.inf
        self._braked = -math.inf

    @property
    def rates(self) -> Rates:
        """The shared rates (the whole fleet's), as last known here."""
        return self._rates

    @property
    def probing(self) -> bool:
        """Whether this replica holds the pacer lease (moves the fleet's rates)."""
        return self._pacer.holding

    @property
    def writing(self) -> bool:
        """Whether a write of the pacer (rates, lease) is on its way."""
        return self._pacer.writing

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
            braking = self._brake_until - self._clock()
            if braking > 0.0:
                return braking
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
        mine = self._rates.requests * self._shares.share * LEASE_SECONDS
        return max(1.0, min(float(MAX_LEASE_CALLS), mine))

    async def _fetch(self, cost: Cost) -> float:
        """One round trip: `cost` and a lease (none for a report only, a
        cost of 0), what this replica gives back, and its report."""
        try:
            limited = self._rates.tokens is not None
            now = self._clock()
            back_r = back_t = 0.0
            if cost.requests > 0 or now > self._pool_until:
                back_r, back_t = self._pool_r, self._pool_t if limited else 0.0
                self._pool_r = self._pool_t = 0.0
            wanted = cost.requests > 0
            extra_r = max(0.0, self._lease_size() - cost.requests) if wanted else 0.0
            need_t = cost.tokens if limited else 0.0
            extra_t = extra_r * cost.tokens if limited else 0.0
            report = (self._report_ok, self._report_throttled, self._report_tokens)
            counted = self._report_counted
            self._report_ok = self._report_throttled = 0
            self._report_tokens = 0.0
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
                        repr(IDLE_SECONDS),
                        str(report[0]),
                        str(report[1]),
                        repr(report[2]),
                        "1" if counted else "0",
                    ],
                )
            except REDIS_ERRORS as exc:
                self._link.failed(exc)
                return 0.0
            self.round_trips += 1
            grant_r, grant_t, wait, rate, trate, sent = (float(x) for x in answer[:6])
            ver = int(answer[7])
            now = self._clock()
            if wanted or grant_r:
                self._pool_r += grant_r
                self._pool_t += grant_t
                self._pool_until = now + LEASE_TTL_SECONDS
            self.live_replicas = max(1, int(answer[6]))
            if not self._shares.granted(grant_r, sent, now):
                self._ver_seen = 0  # Redis came back empty: its state starts over
            counts = FleetCounts(
                float(answer[8]),
                sent,
                float(answer[9]),
                float(answer[10]),
                float(answer[11]),
                float(answer[12]),
                int(answer[13]) == 1,
                float(answer[14]),
            )
            estimate = float(answer[15])
            shared = Rates(rate, token_rate(trate))
            self._shared(shared, ver, counts, now, estimate if estimate > 0 else None)
            return wait
        finally:
            self._trip = None

    def _shared(
        self, shared: Rates, ver: int, counts: FleetCounts, now: float, estimate: float | None
    ) -> None:
        """What a round trip brought back: the pacer runs the fleet's round
        on the counters; the others adopt the shared rates if newer."""
        pacer = self._pacer
        if not pacer.holding:
            pacer.reset()
            if ver > self._ver_seen:
                self._adopt(shared, ver, now, estimate)
            return
        if pacer.new:
            # Set before we held the lease. Later answers can only bring our
            # own sets (the lease guards SET), and some of them older than our
            # rates now: not adopted.
            pacer.new = False
            if ver > self._ver_seen:
                self._adopt(shared, ver, now, estimate)
        c = self.controller
        fleet_round = pacer.round(counts, now, c.requests.mode)
        if fleet_round is None:
            return
        before = c.rates
        rates = c.on_round(fleet_round, now)
        if rates != before:
            cut = lowered(before, rates)
            if cut:
                # As the local budget: our lease is spent, the quota's bucket is empty.
                self._pool_r = min(self._pool_r, 0.0)
                self._pool_t = min(self._pool_t, 0.0)
                self._brake_until = -math.inf
            self._rates = rates
            pacer.publish(rates, c.requests.estimate, cut)

    def _set_seen(self, ver: int) -> None:
        self._ver_seen = max(self._ver_seen, ver)

    def _adopt(self, shared: Rates, ver: int, now: float, estimate: float | None) -> None:
        """Take the shared rates and estimate (set by the pacer): in step
        with them, this replica's controller can take over as pacer."""
        self._ver_seen = ver
        c = self.controller
        if shared.requests < c.requests.rate:
            self._brake_until = -math.inf  # the pacer's cut is here
        if shared.requests != c.requests.rate:
            log.debug("shared rate adopted: %.1f -> %.1f (ver %d)", c.requests.rate,
                      shared.requests, ver)  # fmt: skip
            c.requests.adopt(shared.requests, now, estimate)
        if shared.tokens is not None and shared.tokens != c.tokens.rate:
            c.tokens.adopt(shared.tokens, now)
        self._rates = c.rates

    # --- observe -----------------------------------------------------------------

    def answered(self, throttled: bool, tokens: float, counted: bool) -> None:
        """One answer, for the fleet's counters: reported with the next
        round trip, at once if throttled (the pacer must see it soon)."""
        if self._fallback is not None or not self._link.up:
            return
        now = self._clock()
        if throttled:
            self._report_throttled += 1
            # The quota's bucket is empty: what this lease holds would be throttled too.
            self._pool_r = min(self._pool_r, 0.0)
            self._pool_t = min(self._pool_t, 0.0)
            if (
                self.controller.requests.mode is Mode.STARTUP
                and now - self._braked >= BRAKE_EVERY_SECONDS
            ):
                self._braked = now
                self._brake_until = now + BRAKE_SECONDS
        else:
            self._report_ok += 1
            self._report_tokens += tokens
            self._report_counted = self._report_counted or counted
        if (
            throttled
            or now - self._reported >= REPORT_SECONDS
            or (self.probing and now - self._pacer.sampled >= SAMPLE_SECONDS)
        ):
            self._report_now()

    def _report_now(self) -> asyncio.Task[float]:
        self._reported = self._clock()
        if self._trip is None:
            self._trip = asyncio.get_running_loop().create_task(self._fetch(Cost(0.0, 0.0)))
        return self._trip

    async def report(self) -> None:
        """A round trip now, after any on its way: this replica's report
        out, the shared state (and, at the pacer, a fleet round) back."""
        if self._trip is not None:
            await asyncio.shield(self._trip)
        if self._link.up and self._fallback is None:
            await asyncio.shield(self._report_now())

    def observe(self, report: Round) -> Rates:
        now = self._clock()
        before = self._rates
        if self._fallback is not None or not self._link.up:
            fb = self._fallback or self._enter_fallback(now)
            rates = self.controller.on_round(scale_round(report, 1 / fb.share), now)
            fb.set(rates, now, cut=lowered(before, rates))
            self._rates = rates
            return rates
        # Shared: the pacer's fleet rounds move the rates (`_shared`); a
        # replica's own round only keeps the pacer lease taken while it sends.
        if report.calls_sent:
            self._pacer.sending(now)
        return self._rates

    # --- without Redis -----------------------------------------------------------

    def _enter_fallback(self, now: float) -> FallbackBuckets:
        share = 1.0 / self.live_replicas
        self._fallback = FallbackBuckets(self._rates, share, now)
        self._pool_r = self._pool_t = 0.0
        self._pacer.drop()
        return self._fallback

    def _fallback_take(self, cost: Cost) -> float:
        now = self._clock()
        fb = self._fallback or self._enter_fallback(now)
        return fb.take(cost, now)

    def _rejoin(self) -> None:
        self._fallback = None
        self._shares.clear()
        self._pool_until = -math.inf
        self._ver_seen = 0  # newer shared rates are adopted; none seeds a Redis come back empty
        self._pacer.reset()
