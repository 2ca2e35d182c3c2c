"""Tests for vectorizer.ratelimit.

Most tests run on `VirtualTimeLoop`: a real asyncio event loop whose clock
jumps to the next timer instead of waiting for it, so a minute of simulated
traffic takes well under a second and timings are exact.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.ratelimit import (
    AdaptiveLimiter,
    AimdRate,
    LimiterRegistry,
    LimiterSettings,
)

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Never blocks: a wait for `timeout` seconds advances the virtual clock."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None):  # type: ignore[no-untyped-def]
        events = super().select(0)
        if events or (timeout is not None and timeout <= 0):
            return events
        if timeout is None:
            raise RuntimeError("simulation deadlock: nothing is scheduled")
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def make_limiter(**overrides: float) -> AdaptiveLimiter:
    """A limiter on the running (virtual) loop's clock."""
    loop = asyncio.get_running_loop()
    return AdaptiveLimiter(LimiterSettings(**overrides), clock=loop.time)  # type: ignore[arg-type]


# --- steady state under a quota ----------------------------------------------


class QuotaUpstream:
    """An upstream that admits `quota` calls/s (token bucket, `burst` deep)
    and throttles the rest, deciding when each call arrives."""

    def __init__(self, quota: float, burst: float):
        self.quota = quota
        self.burst = burst
        self.tokens = burst
        self.stamp = 0.0

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.quota)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


async def _simulate(quota: float, duration: float, workers: int, latency: float):
    loop = asyncio.get_running_loop()
    limiter = AdaptiveLimiter(LimiterSettings(), clock=loop.time)
    upstream = QuotaUpstream(quota, burst=quota * 0.5)
    calls: list[tuple[float, bool]] = []
    peak_in_flight = 0

    async def worker() -> None:
        nonlocal peak_in_flight
        while loop.time() < duration:
            async with limiter.slot(1) as slot:
                peak_in_flight = max(peak_in_flight, limiter.in_flight)
                started = loop.time()
                admitted = upstream.admit(started)
                calls.append((started, admitted))
                await asyncio.sleep(latency)
                if not admitted:
                    slot.mark("throttled")

    await asyncio.gather(*(worker() for _ in range(workers)))
    return limiter, calls, peak_in_flight


@pytest.mark.parametrize("quota", [10.0, 300.0])
def test_steady_state_sits_just_under_the_quota(quota: float) -> None:
    duration, settle = 90.0, 30.0
    limiter, calls, peak = run_virtual(lambda: _simulate(quota, duration, 120, 0.05))
    window = [ok for started, ok in calls if settle <= started < duration]
    achieved = sum(window) / (duration - settle)
    throttled = window.count(False) / len(window)
    # The upstream's burst (half a second's worth) may be spent once in the window.
    assert 0.8 * quota <= achieved <= quota * (1 + 0.5 / (duration - settle)), achieved
    assert throttled < 0.05, throttled
    assert peak <= limiter.settings.max_concurrency
    assert limiter.in_flight == 0 and limiter.waiting == 0


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
        else:  # burst of 1 token, then one call per second
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
    # A burst of one second's worth (100), then one every 10 ms.
    assert grants[:100] == [0.0] * 100
    gaps = [b - a for a, b in zip(grants[100:-1], grants[101:], strict=True)]
    assert all(abs(g - 0.01) < 1e-6 for g in gaps)
    assert grants[-1] == pytest.approx(2.0)
    assert sleeps <= 201  # one timer wake-up per paced token, no polling


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
        limiter.release("ok")  # grants `first`, which has not run yet
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


def test_slot_outcomes() -> None:
    async def main() -> None:
        limiter = make_limiter(decrease_factor=0.5, initial_rate=100.0)
        with pytest.raises(KeyError):
            async with limiter.slot(0):
                raise KeyError("boom")  # escaped exception: released as "error"
        assert limiter.in_flight == 0 and limiter.rate == 100.0

        with pytest.raises(KeyError):
            async with limiter.slot(0) as slot:
                slot.mark("throttled")
                raise KeyError("throttled, then raised")
        assert limiter.in_flight == 0 and limiter.rate == 50.0

        async with limiter.slot(1):
            pass
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


# --- the rate controller ------------------------------------------------------


def _drive_sends(aimd: AimdRate, start: float, seconds: float, per_second: float) -> float:
    """Send and succeed at `per_second` for `seconds`; returns the end time."""
    now, step = start, 1.0 / per_second
    while now < start + seconds:
        aimd.on_send(now)
        aimd.on_success(now)
        now += step
    return now


def test_rate_decreases_once_per_cooldown_and_floors_at_min() -> None:
    s = LimiterSettings(
        initial_rate=100.0, min_rate=5.0, decrease_factor=0.5, decrease_cooldown=1.0
    )
    aimd = AimdRate(s, 0.0)
    assert aimd.on_throttle(0.0) == 50.0
    assert aimd.on_throttle(0.5) == 50.0  # same burst of throttles
    assert aimd.on_throttle(1.0) == 25.0
    for t in range(2, 12):
        aimd.on_throttle(float(t))
    assert aimd.rate == 5.0


def test_rate_increases_on_success_linearly_after_a_throttle() -> None:
    s = LimiterSettings(initial_rate=100.0, increase_per_second=10.0)
    aimd = AimdRate(s, 0.0)
    now = _drive_sends(aimd, 0.0, 2.0, 100.0)
    assert aimd.rate > 100.0  # slow start
    aimd.on_throttle(now)
    after_throttle = aimd.rate
    end = _drive_sends(aimd, now, 3.0, after_throttle)
    growth = aimd.rate - after_throttle
    # Frozen during the decrease's cooldown, then +10 calls/s per second.
    assert growth == pytest.approx(10.0 * (end - now - s.decrease_cooldown), rel=0.05)


def test_rate_does_not_grow_past_twice_the_demand() -> None:
    aimd = AimdRate(LimiterSettings(initial_rate=10.0), 0.0)
    _drive_sends(aimd, 0.0, 30.0, 8.0)  # demand of 8 calls/s, all succeed
    assert 10.0 <= aimd.rate <= 2.0 * 8.0 * 1.05


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["send", "ok", "throttle"]), st.floats(0.0, 3.0)),
        max_size=300,
    ),
    initial=st.floats(0.1, 50_000.0),
)
def test_rate_stays_within_bounds(events: list[tuple[str, float]], initial: float) -> None:
    s = LimiterSettings(initial_rate=initial, min_rate=2.0, max_rate=500.0)
    aimd = AimdRate(s, 0.0)
    now = 0.0
    for kind, dt in events:
        now += dt
        if kind == "send":
            for _ in range(50):
                aimd.on_send(now)
        elif kind == "ok":
            aimd.on_success(now)
        else:
            aimd.on_throttle(now)
        assert s.min_rate <= aimd.rate <= s.max_rate


def test_limiter_rate_follows_outcomes_within_bounds() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        limiter = make_limiter(initial_rate=50.0, min_rate=10.0, max_rate=80.0)

        async def calls(outcome: str, seconds: float) -> None:
            end = loop.time() + seconds
            while loop.time() < end:
                await limiter.acquire(1)
                await asyncio.sleep(0.001)
                limiter.release(outcome)

        await calls("ok", 5.0)
        assert limiter.rate == 80.0
        await calls("throttled", 10.0)
        assert limiter.rate == 10.0
        before = limiter.rate
        await calls("error", 1.0)
        assert limiter.rate == before

    run_virtual(main)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        LimiterSettings(max_concurrency=0)
    with pytest.raises(ValueError):
        LimiterSettings(min_rate=10.0, max_rate=5.0)
    with pytest.raises(ValueError):
        LimiterSettings(decrease_factor=1.0)


# --- registry -------------------------------------------------------------------


def test_registry_returns_one_limiter_per_key() -> None:
    registry = LimiterRegistry()
    a = registry.get(("bedrock", "us-east-1", "m", "id1"))
    assert registry.get(("bedrock", "us-east-1", "m", "id1")) is a
    assert registry.get(("bedrock", "us-east-1", "m", "id2")) is not a


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


async def test_paces_on_the_real_event_loop() -> None:
    limiter = AdaptiveLimiter(LimiterSettings(max_concurrency=10, initial_rate=100.0))
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def call() -> None:
        async with limiter.slot(1) as slot:
            slot.mark("error")  # keep the rate fixed

    await asyncio.gather(*(call() for _ in range(30)))
    # 10 from the burst, then 20 more at 100/s.
    assert 0.15 <= loop.time() - started < 1.0
    assert limiter.idle
