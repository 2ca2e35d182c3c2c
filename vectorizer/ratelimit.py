"""Adaptive per-target limiting: a concurrency bound plus an AIMD-paced rate.

- `LimiterSettings`: the tunables of one target's limiter.
- `AimdRate`: the rate controller. Pure arithmetic over timestamps: slow start
  until the first throttle, then additive increase on success and
  multiplicative decrease on throttle (at most once per cooldown window).
- `RateBudget`: where pacing tokens come from. `TokenBucket` is the local,
  in-process budget; a budget shared by replicas (Redis) can take its place
  without touching the limiter or the engine.
- `AdaptiveLimiter`: the scheduler. Callers `acquire(priority)`, make one
  upstream call, then `release(outcome)`; or use `slot(priority)`. Waiters are
  served strictly by priority (0 = query before 1 = document), FIFO within
  one, and woken by one pacing timer rather than by polling.
- `Slot`: the async context manager behind `AdaptiveLimiter.slot`.
- `LimiterRegistry`: one limiter per target key, bounded, dropping idle ones.

Everything runs on one event loop; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, Protocol

# Outcomes a caller reports for one upstream call. Only throttling lowers the
# rate: a 5xx or a bad request says nothing about the quota.
OK: Final = "ok"
THROTTLED: Final = "throttled"
ERROR: Final = "error"
Outcome = Literal["ok", "throttled", "error"]
_OUTCOMES = frozenset({OK, THROTTLED, ERROR})

# Slow start: until the first throttle the rate doubles every this many
# seconds of successful calls, rate' = rate * 2 ** (dt / SLOW_START_DOUBLING_SECONDS),
# so a target with a large quota is found in seconds, not minutes.
SLOW_START_DOUBLING_SECONDS = 1.0
# After the first throttle the additive step is also capped relative to the
# rate: rate' = rate + min(increase_per_second, MAX_RELATIVE_INCREASE * rate) * dt.
# A small quota (a few calls/s) would otherwise be overshot right after every
# cooldown; a large one still grows by increase_per_second.
MAX_RELATIVE_INCREASE = 0.1
# A gap between successes counts for at most this long, so a target that was
# idle does not jump on its first success.
MAX_INCREASE_STEP_SECONDS = 1.0
# The rate never grows past SEND_CEILING_FACTOR * (measured send rate): while
# demand sits below the limit, the limit must not drift up to max_rate, only
# to learn later, under load, that it was fiction.
SEND_CEILING_FACTOR = 2.0
# The send rate is measured over windows of this length and smoothed:
# measured' = SEND_SMOOTHING * window_rate + (1 - SEND_SMOOTHING) * measured.
SEND_WINDOW_SECONDS = 0.5
SEND_SMOOTHING = 0.5
# Burst allowed by the token bucket: capacity = max(1, min(rate * BURST_SECONDS,
# max_concurrency)): up to one second's worth, never more than could be in
# flight at once anyway.
BURST_SECONDS = 1.0
# Tokens within this of a whole one count as whole: float drift must not turn
# a precise wake-up into a second, microscopic sleep.
_TOKEN_EPSILON = 1e-9
# A pending pacer sleep is cut short only when a rate increase makes the next
# token due this much earlier: cheaper than restarting the timer on every success.
_PACER_SLACK_SECONDS = 0.005

DEFAULT_MAX_TARGETS = 1_000


@dataclass(frozen=True)
class LimiterSettings:
    """One target's limits. Rates are upstream calls per second.

    The additive increase is per second of time with successful calls:
    rate' = rate + increase_per_second * dt, dt being the time since the last
    success or throttle (at most MAX_INCREASE_STEP_SECONDS). On a throttle,
    rate' = max(min_rate, rate * decrease_factor), at most once per
    `decrease_cooldown` seconds so that the throttles of calls already in
    flight count as one signal.
    """

    max_concurrency: int = 64
    initial_rate: float = 50.0
    min_rate: float = 1.0
    max_rate: float = 10_000.0
    increase_per_second: float = 10.0
    decrease_factor: float = 0.7
    decrease_cooldown: float = 1.0

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError("rates must satisfy 0 < min_rate <= max_rate")
        if not 0 < self.decrease_factor < 1:
            raise ValueError("decrease_factor must be in (0, 1)")
        if self.increase_per_second < 0 or self.decrease_cooldown < 0:
            raise ValueError("increase_per_second and decrease_cooldown must be >= 0")


class _SendMeter:
    """Smoothed rate of calls sent, measured over fixed windows."""

    def __init__(self, now: float):
        self._start = now
        self._count = 0
        self.rate = 0.0

    def record(self, now: float) -> None:
        elapsed = now - self._start
        if elapsed >= SEND_WINDOW_SECONDS:
            # Idle gaps count into `elapsed`, so the estimate decays with them.
            observed = self._count / elapsed
            self.rate = SEND_SMOOTHING * observed + (1 - SEND_SMOOTHING) * self.rate
            self._start = now
            self._count = 0
        self._count += 1


class AimdRate:
    """The adaptive rate of one target; every method takes the current time."""

    def __init__(self, settings: LimiterSettings, now: float):
        self._s = settings
        self.rate = min(settings.max_rate, max(settings.min_rate, settings.initial_rate))
        self.slow_start = True
        self._last_change = now
        self._last_decrease = -math.inf
        self._sent = _SendMeter(now)

    def on_send(self, now: float) -> None:
        self._sent.record(now)

    def on_success(self, now: float) -> float:
        # No growth inside a decrease's cooldown: the calls answered then were
        # sent at the old rate, and growing back at once would overshoot again.
        start = max(self._last_change, self._last_decrease + self._s.decrease_cooldown)
        dt = min(now - start, MAX_INCREASE_STEP_SECONDS)
        if dt <= 0:
            return self.rate
        self._last_change = now
        ceiling = min(self._s.max_rate, SEND_CEILING_FACTOR * self._sent.rate)
        if self.rate >= ceiling:
            return self.rate
        if self.slow_start:
            grown = self.rate * 2 ** (dt / SLOW_START_DOUBLING_SECONDS)
        else:
            step = min(self._s.increase_per_second, MAX_RELATIVE_INCREASE * self.rate)
            grown = self.rate + step * dt
        self.rate = min(grown, ceiling)
        return self.rate

    def on_throttle(self, now: float) -> float:
        self.slow_start = False
        self._last_change = now
        if now - self._last_decrease < self._s.decrease_cooldown:
            return self.rate
        self._last_decrease = now
        self.rate = max(self._s.min_rate, self.rate * self._s.decrease_factor)
        return self.rate


class RateBudget(Protocol):
    """A source of pacing tokens, one per upstream call.

    Synchronous on purpose: the limiter asks on every call. A budget shared
    through Redis would lease tokens in chunks and refill its lease in the
    background, answering these calls from the local lease.
    """

    def set_rate(self, rate: float, now: float) -> None:
        """Adopt a new fill rate from `now` on (tokens earned so far are kept)."""

    def take(self, now: float) -> float:
        """Take one token: 0.0 when taken, else seconds until one is due (none taken)."""

    def give_back(self, now: float) -> None:
        """Return a token taken for a call that was never made."""


class TokenBucket:
    """The local `RateBudget`: continuous refill, capacity as in BURST_SECONDS."""

    def __init__(self, rate: float, max_burst: int, now: float):
        self._max_burst = max_burst
        self._rate = rate
        self._capacity = self._capacity_for(rate)
        self._tokens = self._capacity  # a new target may start with a burst
        self._stamp = now

    def _capacity_for(self, rate: float) -> float:
        return max(1.0, min(rate * BURST_SECONDS, float(self._max_burst)))

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now

    def set_rate(self, rate: float, now: float) -> None:
        self._refill(now)  # what accrued so far accrued at the old rate
        self._rate = rate
        self._capacity = self._capacity_for(rate)
        self._tokens = min(self._tokens, self._capacity)

    def take(self, now: float) -> float:
        self._refill(now)
        if self._tokens >= 1.0 - _TOKEN_EPSILON:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate

    def give_back(self, now: float) -> None:
        self._refill(now)
        self._tokens = min(self._capacity, self._tokens + 1.0)


Sleep = Callable[[float], Awaitable[object]]


class AdaptiveLimiter:
    """Concurrency bound + paced adaptive rate + strict priorities, for one target."""

    def __init__(
        self,
        settings: LimiterSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        budget: RateBudget | None = None,
    ):
        self.settings = settings = settings or LimiterSettings()
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._aimd = AimdRate(settings, now)
        self._budget = budget or TokenBucket(self._aimd.rate, settings.max_concurrency, now)
        self._in_flight = 0
        # priority -> FIFO of waiters; cancelled waiters are dropped lazily.
        self._queues: dict[int, deque[asyncio.Future[None]]] = {}
        self._priorities: list[int] = []  # sorted keys of _queues
        self._waiting = 0  # live (not cancelled, not granted) waiters
        self._pacer: asyncio.Task[None] | None = None
        self._pacer_due = math.inf

    @property
    def rate(self) -> float:
        return self._aimd.rate

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def idle(self) -> bool:
        return self._in_flight == 0 and self._waiting == 0

    async def acquire(self, priority: int) -> None:
        """Wait for a slot; the caller then makes one call and must `release`."""
        if self._waiting == 0 and self._in_flight < self.settings.max_concurrency:
            now = self._clock()
            if self._budget.take(now) == 0.0:
                self._grant(now)
                return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(priority)
        if queue is None:
            queue = self._queues[priority] = deque()
            self._priorities = sorted(self._queues)
        queue.append(waiter)
        self._waiting += 1
        self._schedule()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                self._waiting -= 1
                if self._waiting == 0:
                    for q in self._queues.values():
                        q.clear()  # only cancelled waiters are left
            else:
                # Granted, then cancelled before it could run: hand the slot on.
                self._in_flight -= 1
                self._budget.give_back(self._clock())
                self._schedule()
            raise

    def release(self, outcome: str) -> None:
        """End a call begun by `acquire`; `outcome` is "ok", "throttled" or "error"."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use 'ok', 'throttled' or 'error'")
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        if outcome != ERROR:
            now = self._clock()
            before = self._aimd.rate
            if outcome == OK:
                after = self._aimd.on_success(now)
            else:
                after = self._aimd.on_throttle(now)
            if after != before:
                self._budget.set_rate(after, now)
        self._schedule()

    def slot(self, priority: int) -> Slot:
        """`async with limiter.slot(p) as s: ...; s.mark("throttled")`, see `Slot`."""
        return Slot(self, priority)

    def _grant(self, now: float) -> None:
        self._in_flight += 1
        self._aimd.on_send(now)

    def _dispatch(self) -> float | None:
        """Grant what the limits allow; seconds until the next token if a waiter needs one."""
        if self._waiting == 0:
            return None
        now = self._clock()
        for priority in self._priorities:
            queue = self._queues[priority]
            while queue:
                waiter = queue[0]
                if waiter.done():
                    queue.popleft()
                    continue
                # A lower priority never overtakes a blocked higher one.
                if self._in_flight >= self.settings.max_concurrency:
                    return None  # the next release dispatches again
                delay = self._budget.take(now)
                if delay > 0.0:
                    return delay
                queue.popleft()
                self._waiting -= 1
                self._grant(now)
                waiter.set_result(None)
        return None

    def _schedule(self) -> None:
        delay = self._dispatch()
        if delay is None:
            return
        due = self._clock() + delay
        if self._pacer is not None:
            if self._pacer_due - due <= _PACER_SLACK_SECONDS:
                return
            self._pacer.cancel()
        self._pacer_due = due
        self._pacer = asyncio.get_running_loop().create_task(self._pace(delay))

    async def _pace(self, delay: float) -> None:
        # The one timer: sleeps exactly until the head waiter's token is due.
        me = asyncio.current_task()
        try:
            while delay is not None:
                await self._sleep(delay)
                next_delay = self._dispatch()
                if next_delay is None:
                    return
                delay = next_delay
                self._pacer_due = self._clock() + delay
        finally:
            if self._pacer is me:
                self._pacer = None
                self._pacer_due = math.inf


class Slot:
    """One acquired call. Released on exit with, in order of precedence: the
    outcome given to `mark`, "error" if an exception escaped, else "ok"."""

    __slots__ = ("_limiter", "_priority", "_outcome", "_state")

    def __init__(self, limiter: AdaptiveLimiter, priority: int):
        self._limiter = limiter
        self._priority = priority
        self._outcome: str | None = None
        self._state = "new"  # -> "held" -> "done"

    def mark(self, outcome: str) -> None:
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use 'ok', 'throttled' or 'error'")
        if self._state != "held":
            raise RuntimeError("mark() is only valid inside `async with slot`")
        self._outcome = outcome

    async def __aenter__(self) -> Slot:
        if self._state != "new":
            raise RuntimeError("a Slot is single-use; take a new one per call")
        await self._limiter.acquire(self._priority)
        self._state = "held"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "done"
        outcome = self._outcome or (ERROR if exc_type is not None else OK)
        self._limiter.release(outcome)


class LimiterRegistry:
    """One `AdaptiveLimiter` per target key, at most `max_targets` kept.

    Past the bound the least recently used idle limiters are dropped (their
    learned rate with them); busy ones are never dropped, so the bound can be
    exceeded while that many targets are busy at once.
    """

    def __init__(
        self,
        settings: LimiterSettings | None = None,
        *,
        max_targets: int = DEFAULT_MAX_TARGETS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        self.settings = settings or LimiterSettings()
        self.max_targets = max_targets
        self._clock = clock
        self._sleep = sleep
        self._limiters: OrderedDict[Hashable, AdaptiveLimiter] = OrderedDict()

    def get(self, key: tuple[Hashable, ...]) -> AdaptiveLimiter:
        limiter = self._limiters.get(key)
        if limiter is not None:
            self._limiters.move_to_end(key)
            return limiter
        limiter = AdaptiveLimiter(self.settings, clock=self._clock, sleep=self._sleep)
        self._limiters[key] = limiter
        self._trim(keep=key)
        return limiter

    def __len__(self) -> int:
        return len(self._limiters)

    def __contains__(self, key: object) -> bool:
        return key in self._limiters

    def _trim(self, keep: Hashable) -> None:
        excess = len(self._limiters) - self.max_targets
        if excess <= 0:
            return
        victims = []
        for key, limiter in self._limiters.items():
            if key != keep and limiter.idle:
                victims.append(key)
                if len(victims) == excess:
                    break
        for key in victims:
            del self._limiters[key]
