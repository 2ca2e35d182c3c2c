"""Budgets: where a call's permission to go upstream comes from.

- `Cost`: what one call spends, one request and its estimated input tokens.
- `RateBudget`: the protocol the scheduler paces against.
- `TokenBucket`: a continuously refilled bucket of one dimension (pure,
  every method takes the time).
- `LocalBudget`: the in-process `RateBudget`: a request bucket and a token
  bucket, filled at the rates a `PacingController` learns from this
  process's own rounds.

The `RateBudget` protocol, and what a budget shared by replicas (Redis) must do
-------------------------------------------------------------------------------
`take` is a coroutine, so a shared budget can ask its store before a call
goes out; `refund` and `observe` are plain methods, applied at once to the
rates and levels this process acts on (the gauges, the x-ratelimit headers
and the next take see a cut immediately), so a shared budget publishes them
to its store in the background (its own task, batching writes). The local
budget never suspends. The scheduler calls `take` from one pump task per
target and from callers' own tasks on its fast path (no one waiting), so
takes of a budget that suspends may overlap. Nothing should raise: a shared
budget that loses its store falls back locally (if `take` raises anyway, the
scheduler logs it and retries after a pause, or the caller's `acquire`
raises).

- `rates -> Rates`: the rates in force (calls/s; tokens/s or None when no
  token limit is known). Read synchronously for the rate gauges and
  x-ratelimit headers, so a shared budget answers from its latest copy.
- `async take(cost) -> float`: take `cost` from the requests and the tokens
  budgets if both hold it, all or nothing, and answer 0.0; otherwise take
  nothing and answer the seconds until both will. It must be
  cancellation-safe: a `take` cancelled mid-way has taken nothing. A shared
  budget makes the take atomic across replicas (one Lua script over both
  buckets, keyed by a hash of the credentials' identity, the Region and the
  target) or leases chunks and serves takes from its lease.
- `refund(cost)`: give back `cost`: a grant whose call never went out, or
  the part of a token estimate that AWS's count shows the call did not use.
  A negative `cost.tokens` charges what the call used beyond its estimate
  (the bucket may go into debt; later takes wait it off).
- `answered(throttled, tokens, counted)`: one answer as it comes (the
  rounds carry the same, later); a shared budget reports it to its store,
  where one replica learns the fleet's rates from everyone's answers.
- `observe(round) -> Rates`: what this process saw in one measurement round
  (`rounds.Round`); answers the rates now in force. The local budget feeds
  its `PacingController` and refills its buckets at the rates that come
  out. A shared budget keeps the learned rates in the store and moves them
  from the whole fleet's answers (see `answered`), by one replica at a
  time; a replica that cannot reach the store falls back to a conservative
  local share (the last shared rate over the replicas seen), learns from
  its own rounds scaled to the fleet meanwhile, and says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vectorizer.ratelimit.pacing import LimiterSettings, PacingController, Rates
from vectorizer.ratelimit.rounds import Round

# Burst allowed by the request bucket: capacity = max(1, min(rate *
# BURST_SECONDS, max_concurrency)). A quarter second smooths the callers'
# arrivals; more would spend in one burst what an empty upstream bucket
# would throttle.
BURST_SECONDS = 0.25
# A new target starts with this many calls in its request bucket, not a full
# one: if the upstream bucket is empty, the whole burst is throttled (and it
# must stay below controller.STARTUP_EXIT_THROTTLES).
INITIAL_BURST_CALLS = 3.0
INITIAL_BURST_SECONDS = 0.1  # of a told token rate
# A bucket not taken from for this long refills to the first burst only
# (INITIAL_BURST_*): the quota's own bucket may have been emptied meanwhile
# (another client, a quota that starts empty), and a burst saved up while
# idle would then all be throttled.
IDLE_SECONDS = 1.0
# Tokens within this of a whole request count as whole: float drift must not
# turn a precise wake-up into a second, microscopic sleep.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Cost:
    requests: float = 1.0
    tokens: float = 0.0


class RateBudget(Protocol):
    """See the module docstring for the contract a shared budget must keep."""

    @property
    def rates(self) -> Rates: ...

    async def take(self, cost: Cost) -> float: ...

    def refund(self, cost: Cost) -> None: ...

    def observe(self, report: Round) -> Rates: ...

    def answered(self, throttled: bool, tokens: float, counted: bool) -> None: ...


class TokenBucket:
    """Continuous refill at `rate` up to `capacity`; a cost larger than the
    capacity is granted from a full bucket and leaves a debt."""

    def __init__(self, rate: float, capacity: float, level: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.level = min(level, capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if math.isinf(self.rate):
            self._stamp = now
        elif now > self._stamp:
            if self.level < self.capacity:
                self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
            self._stamp = now

    def set_rate(self, rate: float, capacity: float, now: float) -> None:
        self._refill(now)  # what accrued so far accrued at the old rate
        self.rate = rate
        self.capacity = capacity
        self.level = min(self.level, capacity)
        if math.isinf(self.level):
            self.level = capacity

    def delay(self, cost: float, now: float) -> float:
        """Seconds until `cost` can be taken (0.0: now)."""
        if math.isinf(self.rate) or cost <= 0:
            return 0.0
        self._refill(now)
        need = min(cost, self.capacity)
        if self.level >= need - _EPSILON:
            return 0.0
        return (need - self.level) / self.rate

    def cap(self, level: float, now: float) -> None:
        """No more than `level` (what is above it is dropped), debts kept."""
        self._refill(now)
        self.level = min(self.level, level)

    def add(self, amount: float, now: float) -> None:
        """Take (negative) or give back (positive) `amount`."""
        if math.isinf(self.rate):
            return
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)


class LocalBudget:
    """The in-process `RateBudget` of one target."""

    def __init__(
        self,
        settings: LimiterSettings,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._clock = clock
        self._max_burst = float(settings.max_concurrency)
        now = clock()
        self.controller = PacingController(settings, now)
        rates = self.controller.rates
        capacity = self._request_capacity(rates.requests)
        start = min(INITIAL_BURST_CALLS, capacity)
        self._requests = TokenBucket(rates.requests, capacity, start, now)
        token_rate = rates.tokens if rates.tokens is not None else math.inf
        self._tokens = TokenBucket(token_rate, _token_capacity(token_rate), 0.0, now)
        if rates.tokens is not None:
            self._tokens.level = token_rate * INITIAL_BURST_SECONDS
        self._rates = rates
        self._last_take = now

    def _request_capacity(self, rate: float) -> float:
        return max(1.0, min(rate * BURST_SECONDS, self._max_burst))

    @property
    def rates(self) -> Rates:
        return self._rates

    async def take(self, cost: Cost) -> float:
        now = self._clock()
        if now - self._last_take > IDLE_SECONDS:
            self._after_idle(now)
        wait = max(self._requests.delay(cost.requests, now), self._tokens.delay(cost.tokens, now))
        if wait > 0.0:
            return wait
        self._requests.add(-cost.requests, now)
        self._tokens.add(-cost.tokens, now)
        self._last_take = now
        return 0.0

    def _after_idle(self, now: float) -> None:
        # The pause ends here, granted or not: a call that waits longer than
        # IDLE_SECONDS for its tokens must not cap the bucket again and again.
        self._last_take = now
        self._requests.cap(INITIAL_BURST_CALLS, now)
        if not math.isinf(self._tokens.rate):
            self._tokens.cap(self._tokens.rate * INITIAL_BURST_SECONDS, now)

    def answered(self, throttled: bool, tokens: float, counted: bool) -> None:
        """Nothing to do: this process's rounds are all the local budget learns from."""

    def refund(self, cost: Cost) -> None:
        now = self._clock()
        if cost.requests:
            self._requests.add(cost.requests, now)
        if cost.tokens:
            self._tokens.add(cost.tokens, now)

    def observe(self, report: Round) -> Rates:
        now = self._clock()
        rates = self.controller.on_round(report, now)
        if rates.requests != self._rates.requests:
            self._requests.set_rate(rates.requests, self._request_capacity(rates.requests), now)
            if rates.requests < self._rates.requests:
                # A cut: the quota's bucket is empty now, so is ours (a burst
                # saved up at the old rate would all be throttled).
                self._requests.level = min(self._requests.level, 0.0)
        if rates.tokens != self._rates.tokens:
            token_rate = rates.tokens if rates.tokens is not None else math.inf
            old = self._tokens.rate
            self._tokens.set_rate(token_rate, _token_capacity(token_rate), now)
            if token_rate < old:  # a cut, or limited from now on: as for requests
                self._tokens.level = min(self._tokens.level, 0.0)
        self._rates = rates
        return rates


def _token_capacity(rate: float) -> float:
    return math.inf if math.isinf(rate) else max(1.0, rate * BURST_SECONDS)
