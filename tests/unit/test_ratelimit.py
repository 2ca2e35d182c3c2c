"""Tests for vectorizer.ratelimit.scheduler: concurrency, priorities, pacing,
cancellation, the release contract, token accounting and the registry.

They run on `VirtualTimeLoop` (tests/unit/virtual_time.py): timings are exact
and simulated seconds cost no wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.unit.virtual_time import run_virtual
from vectorizer.ratelimit import (
    AdaptiveLimiter,
    Cost,
    LimiterRegistry,
    LimiterSettings,
    LocalBudget,
    Permit,
    Rates,
    Round,
)
from vectorizer.ratelimit.budgets import INITIAL_BURST_CALLS


def make_limiter(**overrides: float) -> AdaptiveLimiter:
    """A limiter on the running (virtual) loop's clock."""
    loop = asyncio.get_running_loop()
    return AdaptiveLimiter(LimiterSettings(**overrides), clock=loop.time)  # type: ignore[arg-type]


# --- concurrency, priority, pacing ------------------------------------------


def test_concurrency_bound_is_reached_and_never_exceeded() -> None:
    async def main() -> int:
        limiter = make_limiter(max_concurrency=5, initial_rate=10_000.0)
        peak = 0

        async def call(i: int) -> None:
            nonlocal peak
            async with limiter.slot(i % 2):
                peak = max(peak, limiter.in_flight)
                await asyncio.sleep(0.001 * (1 + i % 7))

        await asyncio.gather(*(call(i) for i in range(200)))
        assert limiter.in_flight == 0
        return peak

    assert run_virtual(main) == 5


@pytest.mark.parametrize("bottleneck", ["concurrency", "rate"])
def test_a_query_overtakes_waiting_documents(bottleneck: str) -> None:
    async def main() -> list[str]:
        if bottleneck == "concurrency":
            limiter = make_limiter(max_concurrency=1, initial_rate=10_000.0)
        else:  # a bucket of one call, then one call per second
            limiter = make_limiter(max_concurrency=1000, initial_rate=1.0, min_rate=1.0)
        await limiter.acquire(1)  # holds the only slot / the only token
        order: list[str] = []

        async def waiter(name: str, priority: int) -> None:
            await limiter.acquire(priority)
            order.append(name)
            limiter.release("error")  # leaves the rate as it is

        docs = [asyncio.create_task(waiter(f"doc{i}", 1)) for i in range(100)]
        await asyncio.sleep(0)
        assert limiter.waiting == 100
        query = asyncio.create_task(waiter("query", 0))
        await asyncio.sleep(0)
        limiter.release("error")
        await asyncio.gather(query, *docs)
        return order

    order = run_virtual(main)
    assert order == ["query"] + [f"doc{i}" for i in range(100)]


def test_pacing_spaces_grants_evenly_with_one_timer_per_token() -> None:
    async def main() -> tuple[list[float], int]:
        loop = asyncio.get_running_loop()
        sleeps = 0

        async def counting_sleep(delay: float) -> None:
            nonlocal sleeps
            sleeps += 1
            await asyncio.sleep(delay)

        limiter = AdaptiveLimiter(
            LimiterSettings(max_concurrency=1000, initial_rate=100.0),
            clock=loop.time,
            sleep=counting_sleep,
        )
        grants: list[float] = []

        async def call() -> None:
            await limiter.acquire(1)
            grants.append(loop.time())
            limiter.release("error")

        await asyncio.gather(*(call() for _ in range(300)))
        return grants, sleeps

    grants, sleeps = run_virtual(main)
    burst = int(INITIAL_BURST_CALLS)  # a new target starts with a small burst only
    assert grants[:burst] == [0.0] * burst
    gaps = [b - a for a, b in zip(grants[burst:-1], grants[burst + 1 :], strict=True)]
    assert all(abs(g - 0.01) < 1e-6 for g in gaps)
    assert grants[-1] == pytest.approx((300 - burst) / 100.0)
    assert sleeps <= 300 - burst + 1  # one timer wake-up per paced grant, no polling


async def test_paces_on_the_real_event_loop() -> None:
    limiter = AdaptiveLimiter(LimiterSettings(max_concurrency=10, initial_rate=100.0))
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def call() -> None:
        async with limiter.slot(1) as slot:
            slot.mark("error")  # keep the rate fixed

    await asyncio.gather(*(call() for _ in range(30)))
    # 3 from the first burst, then 27 more at 100/s.
    assert 0.2 <= loop.time() - started < 1.0
    assert limiter.idle


# --- cancellation -------------------------------------------------------------


def test_cancelled_waiter_leaks_no_slot() -> None:
    async def main() -> None:
        limiter = make_limiter(max_concurrency=1)
        await limiter.acquire(1)
        waiting = asyncio.create_task(limiter.acquire(0))
        await asyncio.sleep(0)
        assert limiter.waiting == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert limiter.waiting == 0 and limiter.in_flight == 1
        limiter.release("ok")
        assert limiter.idle
        await asyncio.wait_for(limiter.acquire(1), timeout=0.1)
        assert limiter.in_flight == 1

    run_virtual(main)


def test_waiter_cancelled_after_its_grant_hands_the_slot_on() -> None:
    async def main() -> None:
        limiter = make_limiter(max_concurrency=1)
        await limiter.acquire(1)
        first = asyncio.create_task(limiter.acquire(1))
        second = asyncio.create_task(limiter.acquire(1))
        await asyncio.sleep(0)
        limiter.release("ok")  # the pump grants `first`, which has not run yet
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, timeout=0.1)
        assert limiter.in_flight == 1 and limiter.waiting == 0

    run_virtual(main)


def test_wait_for_timeout_on_acquire_leaves_limiter_clean() -> None:
    async def main() -> None:
        limiter = make_limiter(max_concurrency=2)
        await limiter.acquire(1)
        await limiter.acquire(1)
        for _ in range(10):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(limiter.acquire(0), timeout=0.05)
        assert limiter.waiting == 0 and limiter.in_flight == 2
        limiter.release("ok")
        limiter.release("ok")
        assert limiter.idle

    run_virtual(main)


# --- slot and release contract -----------------------------------------------


def test_slot_outcomes_and_token_counts() -> None:
    async def main() -> None:
        limiter = make_limiter(initial_rate=100.0)
        with pytest.raises(KeyError):
            async with limiter.slot(0, chars=400):
                raise KeyError("boom")  # escaped exception: released as "error"
        assert limiter.in_flight == 0 and limiter.chars_per_token == 4.0

        async with limiter.slot(1, chars=6_000) as slot:
            slot.mark("ok", tokens=1_000)  # AWS counted 6 characters per token
        assert limiter.in_flight == 0
        assert 4.0 < limiter.chars_per_token < 6.0

        with pytest.raises(KeyError):
            async with limiter.slot(0, chars=60) as slot:
                slot.mark("throttled")
                raise KeyError("throttled, then raised")
        assert limiter.in_flight == 0

    run_virtual(main)


def test_misuse_is_refused() -> None:
    async def main() -> None:
        limiter = make_limiter()
        with pytest.raises(RuntimeError):
            limiter.release("ok")
        await limiter.acquire(0)
        with pytest.raises(ValueError):
            limiter.release("fine")
        assert limiter.in_flight == 1
        slot = limiter.slot(0)
        with pytest.raises(RuntimeError):
            slot.mark("ok")
        async with slot:
            with pytest.raises(ValueError):
                slot.mark("nope")
        with pytest.raises(RuntimeError):
            async with slot:
                pass

    run_virtual(main)


def test_a_lone_caller_throttled_call_after_call_lowers_the_rate() -> None:
    async def main() -> float:
        limiter = make_limiter(initial_rate=20.0)
        for attempt in range(8):  # the engine's retries: one call, backing off
            await limiter.acquire(1)
            await asyncio.sleep(0.04)
            limiter.release("throttled")
            await asyncio.sleep(0.05 * 2**attempt)
        return limiter.rate

    assert run_virtual(main) < 20.0


def test_errors_leave_the_rate_alone() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        limiter = make_limiter(initial_rate=50.0, max_concurrency=4)
        end = loop.time() + 5.0
        while loop.time() < end:
            await limiter.acquire(1)
            await asyncio.sleep(0.01)
            limiter.release("error")
        assert limiter.rate == 50.0

    run_virtual(main)


# --- tokens -----------------------------------------------------------------------


def test_a_told_token_rate_paces_on_estimated_tokens() -> None:
    async def main() -> tuple[list[float], float | None]:
        loop = asyncio.get_running_loop()
        # 1,000 tokens/s told; requests far from binding.
        limiter = make_limiter(initial_rate=1_000.0, max_token_rate=1_000.0, max_concurrency=100)
        grants: list[float] = []
        for _ in range(6):
            permit = await limiter.acquire(1, chars=2_000)  # 500 tokens at 4 chars/token
            assert isinstance(permit, Permit) and permit.tokens == pytest.approx(500.0)
            grants.append(loop.time())
            limiter.release("error", permit)  # no count: the estimate stays charged
        return grants, limiter.token_rate

    grants, token_rate = run_virtual(main)
    assert token_rate == 1_000.0
    # The bucket holds 250 tokens (a quarter second) and starts with 100: a
    # call larger than the bucket goes once it is full and leaves a debt, so
    # the first goes at 0.15 s, then one every 500 tokens / 1,000 per s.
    gaps = [b - a for a, b in zip(grants, grants[1:], strict=False)]
    assert grants[0] == pytest.approx(0.15)
    assert gaps == pytest.approx([0.5] * 5)


def test_a_count_below_the_estimate_gives_tokens_back() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = make_limiter(initial_rate=1_000.0, max_token_rate=1_000.0, max_concurrency=100)
        first = await limiter.acquire(1, chars=2_000)  # 500 tokens estimated
        limiter.release("ok", first, tokens=100)  # AWS counted 100: 400 come back
        started = loop.time()
        await limiter.acquire(1, chars=1_500)
        return loop.time() - started

    # Without the refund the second call (about 300 tokens) would wait for
    # the 500 the first one was charged; with it, hardly at all.
    assert run_virtual(main) < 0.2


# --- budgets that suspend or fail -----------------------------------------------------


class SuspendingBudget:
    """A `RateBudget` whose takes answer after a pause, as one shared through
    a store does; the bucket arithmetic is a `LocalBudget`'s."""

    def __init__(self, settings: LimiterSettings, clock: Callable[[], float]):
        self.local = LocalBudget(settings, clock)
        self.calls = 0

    @property
    def rates(self) -> Rates:
        return self.local.rates

    async def take(self, cost: Cost) -> float:
        self.calls += 1
        await asyncio.sleep(0.0005)
        return await self.local.take(cost)

    def refund(self, cost: Cost) -> None:
        self.local.refund(cost)

    def observe(self, report: Round) -> Rates:
        return self.local.observe(report)

    def answered(self, throttled: bool, tokens: float, counted: bool) -> None:
        self.local.answered(throttled, tokens, counted)


def test_a_budget_that_suspends_keeps_the_bound_the_priorities_and_the_pace() -> None:
    async def main() -> tuple[int, list[int], list[float], int]:
        loop = asyncio.get_running_loop()
        settings = LimiterSettings(max_concurrency=4, initial_rate=100.0)
        budget = SuspendingBudget(settings, loop.time)
        limiter = AdaptiveLimiter(settings, clock=loop.time, budget=budget)
        peak, order, grants = 0, [], []

        async def call(i: int) -> None:
            nonlocal peak
            async with limiter.slot(0 if i % 10 == 9 else 1) as slot:
                peak = max(peak, limiter.in_flight)
                order.append(i)
                grants.append(loop.time())
                await asyncio.sleep(0.01)
                slot.mark("error")  # keep the rate fixed

        await asyncio.gather(*(call(i) for i in range(100)))
        assert limiter.idle
        return peak, order, grants, budget.calls

    peak, order, grants, calls = run_virtual(main)
    assert peak <= 4
    assert sorted(order) == list(range(100))
    # Queries (every tenth) all went before the last documents did.
    assert max(order.index(i) for i in range(9, 100, 10)) < 50
    assert grants[-1] == pytest.approx((100 - 3) / 100.0, abs=0.05)  # paced at 100/s
    assert calls >= 100


class FailingOnceBudget(SuspendingBudget):
    async def take(self, cost: Cost) -> float:
        if self.calls == 5:
            self.calls += 1
            raise ConnectionError("the store went away")
        return await super().take(cost)


def test_a_budget_that_raises_does_not_strand_the_waiters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        settings = LimiterSettings(max_concurrency=2, initial_rate=1_000.0)
        limiter = AdaptiveLimiter(
            settings, clock=loop.time, budget=FailingOnceBudget(settings, loop.time)
        )
        done = 0

        async def call() -> None:
            nonlocal done
            async with limiter.slot(1):
                await asyncio.sleep(0.01)
            done += 1

        # Two go on the fast path; the sixth take, the pump's, raises.
        await asyncio.wait_for(asyncio.gather(*(call() for _ in range(20))), timeout=5)
        assert limiter.idle
        return done

    assert run_virtual(main) == 20
    assert "rate budget failed" in caplog.text


# --- registry -------------------------------------------------------------------


def test_registry_returns_one_limiter_per_key() -> None:
    registry = LimiterRegistry()
    a = registry.get(("bedrock", "us-east-1", "m", "id1"))
    assert registry.get(("bedrock", "us-east-1", "m", "id1")) is a
    assert registry.get(("bedrock", "us-east-1", "m", "id2")) is not a


def test_registry_gives_each_target_the_factorys_budget() -> None:
    made: list[tuple[object, ...]] = []

    def factory(key: tuple[object, ...]) -> LocalBudget:
        made.append(key)
        return LocalBudget(LimiterSettings(initial_rate=7.0))

    registry = LimiterRegistry(budget_factory=factory)
    assert registry.get(("a",)).rate == 7.0
    registry.get(("a",))
    registry.get(("b",))
    assert made == [("a",), ("b",)]


def test_registry_drops_least_recently_used_idle_limiters_only() -> None:
    async def main() -> None:
        registry = LimiterRegistry(max_targets=3)
        busy = registry.get(("busy",))
        await busy.acquire(1)
        registry.get(("a",))
        registry.get(("b",))
        registry.get(("a",))  # now "b" is the least recently used idle one
        registry.get(("c",))
        assert ("b",) not in registry
        assert ("busy",) in registry and ("a",) in registry and ("c",) in registry
        assert len(registry) == 3
        for name in "defg":
            registry.get((name,))
        assert ("busy",) in registry and registry.get(("busy",)) is busy
        assert len(registry) == 3
        busy.release("ok")
        for name in "hij":
            registry.get((name,))
        assert ("busy",) not in registry

    run_virtual(main)
