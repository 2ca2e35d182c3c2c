"""The pacer of a shared budget: the one replica that moves the fleet's rates.

Every replica reports its answers to the fleet's counters in Redis
(redis_budget.py). The replica holding the pacer lease (a key with a TTL,
`PACER_LEASE_SECONDS`, renewed while it sends; any replica that sends takes
it when it is free) cuts the counters' growth into fleet rounds (fleet.py)
for its `PacingController`, as a single process does with its own calls,
and writes the rates it sets (redis_lua.SET, which checks the lease): a
throttle seen by any replica is in the fleet's next round, and one replica
probes upward at a time. `PacerRole` is one replica's part in that: whether
it holds the lease, the rounds it cuts while it does, and the writes.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from vectorizer.ratelimit.budgets import BURST_SECONDS
from vectorizer.ratelimit.controller import Mode
from vectorizer.ratelimit.fleet import FleetCounts, FleetMeter
from vectorizer.ratelimit.pacing import Rates
from vectorizer.ratelimit.redis_link import REDIS_ERRORS, RedisLink
from vectorizer.ratelimit.rounds import EARLY_CLOSE_THROTTLES, ROUND_SECONDS, Round

PACER_LEASE_SECONDS = 1.0
# A replica asks for (or renews) the pacer lease at most this often.
LEASE_ASK_SECONDS = 0.25
# The pacer samples the fleet's counters at least this often while it sends.
SAMPLE_SECONDS = ROUND_SECONDS / 2
# After the pacer's cut, no fleet round starts for this long: the throttles
# of calls sent before the cut still come back, and the calls accepted
# after it are few while the emptied buckets refill, and counted in clumps
# (each replica's report): read as a round, they would show the quota
# falling again.
SETTLE_SECONDS = 0.3
# How many throttles close a fleet round early, by the request rate's mode.
# Probing above a quota it measured, the pacer cuts on the first throttle:
# the quota's bucket is empty, and the cycle since the last cut measures the
# quota exactly (controller.CYCLE_*), however short the round. In HOLD no
# round closes early: the rate is at the quota, and short rounds are noisy.
_EARLY_CLOSE = {
    Mode.STARTUP: EARLY_CLOSE_THROTTLES,
    Mode.PROBE: 1,
    Mode.RECOVER: 1,
    Mode.UNLIMITED: EARLY_CLOSE_THROTTLES,
}


class PacerRole:
    """One replica's part in pacing one target's fleet.

    `on_set(ver)` is told the version of every rate this replica wrote.
    """

    def __init__(
        self,
        link: RedisLink,
        state_key: str,
        probe_key: str,
        max_burst: float,
        clock: Callable[[], float],
        on_set: Callable[[int], None],
    ):
        self._link = link
        self._state_key, self._probe_key = state_key, probe_key
        self._max_burst = max_burst
        self._clock = clock
        self._on_set = on_set
        self._lease_until = -math.inf  # the pacer lease, as far as we know
        self._lease_asked = -math.inf
        self._pending: tuple[Rates, float] | None = None  # rates and estimate to write
        self._want_lease = False
        self._writer: asyncio.Task[None] | None = None
        self._meter = FleetMeter()
        self._settle_until = -math.inf  # no fleet round starts before a cut settles
        self.sampled = -math.inf  # the last sample of the fleet's counters
        # Just took the lease: the shared rates set before are to be adopted.
        self.new = False

    @property
    def holding(self) -> bool:
        """Whether this replica holds the pacer lease."""
        return self._clock() < self._lease_until

    @property
    def writing(self) -> bool:
        """Whether a write (rates, lease) is on its way to Redis."""
        return self._writer is not None

    def sending(self, now: float) -> None:
        """This replica sends: it asks for the lease, or renews its own."""
        if now - self._lease_asked >= LEASE_ASK_SECONDS:
            self._want_lease = True
            self._kick()

    def round(self, counts: FleetCounts, now: float, mode: Mode) -> Round | None:
        """The fleet round these counters close, if any (`mode`: the request
        rate's, which decides how few throttles close one early)."""
        self.sampled = now
        if now < self._settle_until:
            self._meter.restart(counts)  # the next round starts once the cut has settled
            return None
        return self._meter.feed(counts, early=_EARLY_CLOSE.get(mode))

    def publish(self, rates: Rates, estimate: float, cut: bool) -> None:
        """Write the rates this pacer set (and its quota estimate); after a
        `cut`, rounds wait for it to settle."""
        if cut:
            self._settle_until = self._clock() + SETTLE_SECONDS
        self._pending = (rates, estimate)
        self._kick()

    def reset(self) -> None:
        """Rounds start over (not the pacer, or back from a fallback)."""
        self._meter.reset()

    def drop(self) -> None:
        """The lease is not ours (any more)."""
        self._lease_until = -math.inf
        self._meter.reset()

    def _kick(self) -> None:
        if self._writer is None and (self._pending is not None or self._want_lease):
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Writes the pacer's rates and asks for the pacer lease."""
        limits = [repr(BURST_SECONDS), repr(self._max_burst)]
        lease_ms = str(int(PACER_LEASE_SECONDS * 1000))
        try:
            while True:
                if self._pending is not None:
                    (rates, estimate), self._pending = self._pending, None
                    trate = rates.tokens if rates.tokens is not None else -1.0
                    answer = await self._link.set(
                        keys=[self._state_key, self._probe_key],
                        args=[self._link.replica, repr(rates.requests), repr(trate), *limits,
                              lease_ms, repr(estimate)],
                    )  # fmt: skip
                    if answer:
                        self._on_set(int(answer[2]))
                    else:
                        self.drop()
                elif self._want_lease:
                    self._want_lease = False
                    asked = self._lease_asked = self._clock()
                    held = await self._link.lease(
                        keys=[self._probe_key], args=[self._link.replica, lease_ms]
                    )
                    if held and not self.holding:
                        self._meter.reset()  # a new pacer: the fleet's rounds start here
                        self.new = True
                    # Counted from before asking, and a margin short of the TTL.
                    if held:
                        self._lease_until = asked + 0.8 * PACER_LEASE_SECONDS
                    else:
                        self.drop()
                else:
                    return
        except REDIS_ERRORS as exc:
            self._pending = None
            self._want_lease = False
            self._link.failed(exc)
        finally:
            self._writer = None
