"""A quota nobody told the limiter, simulated on virtual time.

`simulate(...)` runs the real `AdaptiveLimiter` on `VirtualTimeLoop` against
`Upstream`: AWS's quota as token buckets in pure Python (calls/s and,
optionally, input tokens/s; one second of capacity, starting empty or full;
a background client's share taken off the refill; a chance of a throttle
whatever the quota, for storms). Callers behave like the engine: requests
of `batch` single-text calls run concurrently, each call retried after a
throttle with the engine's backoff (full jitter, 50 ms doubling, 5 s cap).
`Scenario.events` change the upstream at given times (quota halved, ...).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.unit.virtual_time import run_virtual
from vectorizer.ratelimit import AdaptiveLimiter, LimiterSettings


@dataclass
class Upstream:
    rate: float  # calls/s
    token_rate: float = 0.0  # tokens/s, 0: no token quota
    full: bool = False
    background: float = 0.0  # share of each quota another client uses
    storm: float = 0.0  # chance of a throttle whatever the quota
    _calls: float = 0.0
    _tokens: float = 0.0
    _stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.full:
            self._calls, self._tokens = self.rate, self.token_rate

    def admit(self, tokens: int, now: float, rng: random.Random) -> bool:
        dt, self._stamp = now - self._stamp, now
        share = 1.0 - self.background
        self._calls = min(self.rate, self._calls + dt * self.rate * share)
        self._tokens = min(self.token_rate, self._tokens + dt * self.token_rate * share)
        if rng.random() < self.storm or self._calls < 1.0:
            return False
        if self.token_rate and self._tokens < tokens:
            return False
        self._calls -= 1.0
        self._tokens -= tokens
        return True


@dataclass
class Scenario:
    texts: int
    upstream: Upstream
    callers: int = 12
    batch: int = 250
    latency: float = 0.04
    chars: Callable[[int], int] = lambda i: 100  # characters of text number i
    chars_per_token: float = 5.0  # how the upstream counts tokens
    events: list[tuple[float, Callable[[Upstream], None]]] = field(default_factory=list)
    settings: LimiterSettings = field(default_factory=LimiterSettings)
    seed: int = 1


@dataclass
class Outcome:
    wall: float
    calls: int
    throttled: int
    accepted_at: list[float]  # when each accepted call was admitted
    rates: list[tuple[float, float]]  # (time, limiter.rate) every 0.1 s
    limiter: AdaptiveLimiter

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.calls

    def accepted_rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.accepted_at) / (end - start)


def simulate(s: Scenario) -> Outcome:
    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        rng = random.Random(s.seed)
        limiter = AdaptiveLimiter(s.settings, clock=loop.time)
        up = s.upstream
        todo = list(range(s.texts))
        accepted: list[float] = []
        rates: list[tuple[float, float]] = []
        counts = {"calls": 0, "throttled": 0}

        async def one(i: int) -> None:
            chars = s.chars(i)
            tokens = max(1, round(chars / s.chars_per_token))
            attempt = 0
            while True:
                permit = await limiter.acquire(1, chars)
                counts["calls"] += 1
                now = loop.time()
                ok = up.admit(tokens, now, rng)
                await asyncio.sleep(s.latency * rng.uniform(0.9, 1.1))
                if ok:
                    accepted.append(now)
                    limiter.release("ok", permit, tokens)
                    return
                counts["throttled"] += 1
                limiter.release("throttled", permit)
                await asyncio.sleep(rng.random() * min(5.0, 0.05 * 2**attempt))
                attempt += 1

        async def caller() -> None:
            while todo:
                mine = todo[: s.batch]
                del todo[: s.batch]
                await asyncio.gather(*(one(i) for i in mine))

        async def events() -> None:
            for at, change in s.events:
                await asyncio.sleep(max(0.0, at - loop.time()))
                change(up)

        async def sample() -> None:
            while True:
                rates.append((loop.time(), limiter.rate))
                await asyncio.sleep(0.1)

        side = [asyncio.ensure_future(events()), asyncio.ensure_future(sample())]
        await asyncio.gather(*(caller() for _ in range(s.callers)))
        for task in side:
            task.cancel()
        return Outcome(loop.time(), counts["calls"], counts["throttled"], accepted, rates, limiter)

    return run_virtual(main)
