"""The scheduler: which call of a target goes upstream next, and when.

- `AdaptiveLimiter`: one target's concurrency bound, pacing and priorities.
  Callers `acquire(priority, chars)` (chars: the text the call carries, for
  its token estimate), make one upstream call, then `release(outcome,
  permit, tokens)` with AWS's token count when it gave one; or use
  `slot(priority, chars)`. Waiters are served strictly by priority (0 =
  query before 1 = document), FIFO within one, by one pump task that asks
  the budget for the head waiter's cost and sleeps exactly until it is due:
  no polling. Sends and answers are cut into rounds (`RoundMeter`), each
  handed to the budget (`observe`) as it closes: a cut is in force before
  `release` returns. A throttle of a call granted before the last cut
  answers for the old rate and is left out of the rounds.
- `Permit`: one granted call: what it was estimated to cost.
- `Slot`: the async context manager behind `AdaptiveLimiter.slot`.
- `LimiterRegistry`: one limiter per target key, bounded, dropping idle ones;
  a `budget_factory` chooses each target's `RateBudget` (local by default).

Everything runs on one event loop; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal

from vectorizer.ratelimit.budgets import Cost, LocalBudget, RateBudget
from vectorizer.ratelimit.pacing import LimiterSettings, Rates
from vectorizer.ratelimit.rounds import Round, RoundMeter
from vectorizer.ratelimit.tokens import TokenEstimator

# Outcomes a caller reports for one upstream call. Only throttling lowers a
# rate: a 5xx or a bad request says nothing about the quota.
OK: Final = "ok"
THROTTLED: Final = "throttled"
ERROR: Final = "error"
Outcome = Literal["ok", "throttled", "error"]
_OUTCOMES = frozenset({OK, THROTTLED, ERROR})

DEFAULT_MAX_TARGETS = 1_000

log = logging.getLogger(__name__)
_BUDGET_RETRY = 0.1  # seconds the pump waits after a budget raised

Sleep = Callable[[float], Awaitable[object]]
BudgetFactory = Callable[[tuple[Hashable, ...]], RateBudget]


@dataclass(frozen=True, slots=True)
class Permit:
    """One granted call: its characters, the tokens estimated for them, and
    when it was granted."""

    chars: int = 0
    tokens: float = 0.0
    granted_at: float = 0.0


class _Waiter:
    __slots__ = ("future", "cost", "chars")

    def __init__(self, future: asyncio.Future[Permit], cost: Cost, chars: int):
        self.future = future
        self.cost = cost
        self.chars = chars


class AdaptiveLimiter:
    """Concurrency bound + paced adaptive rates + strict priorities, for one target."""

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
        self._budget: RateBudget = budget or LocalBudget(settings, clock)
        self._estimator = TokenEstimator(settings.chars_per_token)
        self._meter = RoundMeter(clock())
        self._in_flight = 0
        # priority -> FIFO of waiters; cancelled waiters are dropped lazily.
        self._queues: dict[int, deque[_Waiter]] = {}
        self._priorities: list[int] = []  # sorted keys of _queues
        self._waiting = 0  # live (not cancelled, not granted) waiters
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # When a rate was last lowered: a throttle of a call granted before
        # answers for the old rate and is left out of the rounds.
        self._cut_at = -math.inf

    @property
    def rate(self) -> float:
        """Upstream calls per second in force."""
        return self._budget.rates.requests

    @property
    def token_rate(self) -> float | None:
        """Input tokens per second in force; None while no token limit is known."""
        return self._budget.rates.tokens

    @property
    def chars_per_token(self) -> float:
        return self._estimator.chars_per_token

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def idle(self) -> bool:
        return self._in_flight == 0 and self._waiting == 0

    async def acquire(self, priority: int, chars: int = 0) -> Permit:
        """Wait for a slot; the caller then makes one call and must `release`."""
        cost = Cost(1.0, self._estimator.estimate(chars))
        if self._waiting == 0 and self._in_flight < self.settings.max_concurrency:
            self._in_flight += 1  # reserved while the budget answers
            try:
                wait = await self._budget.take(cost)
            except BaseException:
                self._in_flight -= 1
                self._kick()
                raise
            if wait == 0.0:
                return self._granted(cost, chars)
            self._in_flight -= 1
        waiter = _Waiter(asyncio.get_running_loop().create_future(), cost, chars)
        queue = self._queues.get(priority)
        if queue is None:
            queue = self._queues[priority] = deque()
            self._priorities = sorted(self._queues)
        queue.append(waiter)
        self._waiting += 1
        self._kick()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.cancelled():
                self._waiting -= 1
                if self._waiting == 0:
                    for q in self._queues.values():
                        q.clear()  # only cancelled waiters are left
            else:
                # Granted, then cancelled before it could run: hand the slot on.
                self._in_flight -= 1
                self._budget.refund(waiter.cost)
                self._kick()
            raise

    def release(
        self, outcome: str, permit: Permit | None = None, tokens: int | None = None
    ) -> None:
        """End a call begun by `acquire`: `outcome` is "ok", "throttled" or
        "error"; `permit` is what `acquire` returned and `tokens` the input
        tokens AWS counted for the call (None when it gave no count)."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use 'ok', 'throttled' or 'error'")
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        stale = outcome == THROTTLED and permit is not None and permit.granted_at < self._cut_at
        if outcome != ERROR and not stale:
            estimated = permit.tokens if permit is not None else 0.0
            counted = outcome == OK and tokens is not None and tokens > 0
            used = float(tokens) if counted and tokens is not None else estimated
            if counted and permit is not None and tokens is not None:
                self._estimator.learn(permit.chars, tokens)
                if used != estimated:
                    self._budget.refund(Cost(0.0, estimated - used))
            sent_at = permit.granted_at if permit is not None else None
            self._budget.answered(outcome == THROTTLED, used, counted)
            done = self._meter.on_answer(
                outcome == THROTTLED, used, counted, self._clock(), sent_at, self._in_flight == 0
            )
            if done is not None:
                self._observe(done)
        self._kick()

    def slot(self, priority: int, chars: int = 0) -> Slot:
        """`async with limiter.slot(p) as s: ...; s.mark("throttled")`, see `Slot`."""
        return Slot(self, priority, chars)

    # --- the pump ---------------------------------------------------------------

    def _granted(self, cost: Cost, chars: int) -> Permit:
        # The slot is already counted in _in_flight (reserved before the take).
        now = self._clock()
        done = self._meter.on_send(cost.tokens, now)
        if done is not None:
            self._observe(done)
        return Permit(chars, cost.tokens, now)

    def _observe(self, done: Round) -> None:
        before = self._budget.rates
        after = self._budget.observe(done)
        if after.requests < before.requests or _tokens_lowered(before, after):
            self._cut_at = self._clock()
        if done.calls_throttled:
            log.debug("throttled round: %s; rates %s -> %s", done, before, after)

    def _kick(self) -> None:
        self._wake.set()
        if self._pump is None and self._waiting:
            self._pump = asyncio.get_running_loop().create_task(self._run())

    def _head(self) -> _Waiter | None:
        if self._waiting == 0:
            return None
        for priority in self._priorities:
            queue = self._queues[priority]
            while queue and queue[0].future.done():
                queue.popleft()  # cancelled
            if queue:
                return queue[0]
        return None

    async def _run(self) -> None:
        me = asyncio.current_task()
        try:
            while True:
                try:
                    if not await self._step():
                        return
                except Exception:
                    # A budget must not raise (a shared one falls back locally);
                    # if one does, waiters wait on rather than hang forever.
                    log.exception("rate budget failed; pacing retries in %.1fs", _BUDGET_RETRY)
                    await self._sleep(_BUDGET_RETRY)
        finally:
            if self._pump is me:
                self._pump = None

    async def _step(self) -> bool:
        """Grant the head waiter, or wait for a slot or the budget; False: no one waits."""
        waiter = self._head()
        if waiter is None:
            return False
        if self._in_flight >= self.settings.max_concurrency:
            self._wake.clear()
            await self._wake.wait()  # the next release
            return True
        self._in_flight += 1
        try:
            wait = await self._budget.take(waiter.cost)
        except BaseException:
            self._in_flight -= 1
            raise
        if wait > 0.0:
            self._in_flight -= 1
            await self._sleep(wait)
            return True
        if waiter.future.done():  # cancelled while a shared budget answered
            self._in_flight -= 1
            self._budget.refund(waiter.cost)
            return True
        # A lower priority never overtakes a higher one: `waiter` is the head.
        self._queues_pop(waiter)
        waiter.future.set_result(self._granted(waiter.cost, waiter.chars))
        return True

    def _queues_pop(self, waiter: _Waiter) -> None:
        for priority in self._priorities:
            queue = self._queues[priority]
            if queue and queue[0] is waiter:
                queue.popleft()
                self._waiting -= 1
                return


def _tokens_lowered(before: Rates, after: Rates) -> bool:
    if after.tokens is None:
        return False
    return before.tokens is None or after.tokens < before.tokens


class Slot:
    """One acquired call. Released on exit with, in order of precedence: the
    outcome given to `mark`, "error" if an exception escaped, else "ok"."""

    __slots__ = ("_limiter", "_priority", "_chars", "_outcome", "_tokens", "_permit", "_state")

    def __init__(self, limiter: AdaptiveLimiter, priority: int, chars: int = 0):
        self._limiter = limiter
        self._priority = priority
        self._chars = chars
        self._outcome: str | None = None
        self._tokens: int | None = None
        self._permit: Permit | None = None
        self._state = "new"  # -> "held" -> "done"

    def mark(self, outcome: str, tokens: int | None = None) -> None:
        """The call's outcome, and the input tokens AWS counted for it if it said."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use 'ok', 'throttled' or 'error'")
        if self._state != "held":
            raise RuntimeError("mark() is only valid inside `async with slot`")
        self._outcome = outcome
        self._tokens = tokens

    async def __aenter__(self) -> Slot:
        if self._state != "new":
            raise RuntimeError("a Slot is single-use; take a new one per call")
        self._permit = await self._limiter.acquire(self._priority, self._chars)
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
        self._limiter.release(outcome, self._permit, self._tokens)


class LimiterRegistry:
    """One `AdaptiveLimiter` per target key, at most `max_targets` kept.

    Past the bound the least recently used idle limiters are dropped (their
    learned rates with them); busy ones are never dropped, so the bound can be
    exceeded while that many targets are busy at once. `budget_factory(key)`
    gives a new target its `RateBudget`; by default a `LocalBudget`.
    """

    def __init__(
        self,
        settings: LimiterSettings | None = None,
        *,
        max_targets: int = DEFAULT_MAX_TARGETS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        budget_factory: BudgetFactory | None = None,
    ):
        self.settings = settings or LimiterSettings()
        self.max_targets = max_targets
        self._clock = clock
        self._sleep = sleep
        self._budget_factory = budget_factory
        self._limiters: OrderedDict[Hashable, AdaptiveLimiter] = OrderedDict()

    def get(self, key: tuple[Hashable, ...]) -> AdaptiveLimiter:
        limiter = self._limiters.get(key)
        if limiter is not None:
            self._limiters.move_to_end(key)
            return limiter
        budget = self._budget_factory(key) if self._budget_factory is not None else None
        limiter = AdaptiveLimiter(
            self.settings, clock=self._clock, sleep=self._sleep, budget=budget
        )
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
