"""What the shared rate budget costs per call (`python -m bench.budget_overhead`).

A throwaway redis-server on loopback; one process, two `RedisLink`s (two
replicas). Measures, for the local budget and the shared one:
- unpaced: takes/s of one caller at a rate no quota binds (the cost of a
  take itself; leases serve most takes without a round trip);
- paced: two replicas taking one quota of 300 calls/s for 2 s: Redis round
  trips per granted call (every wait answered is a round trip too).
"""

from __future__ import annotations

import asyncio
import time

from tests.support import start_redis
from vectorizer.ratelimit import Cost, LimiterSettings, LocalBudget
from vectorizer.ratelimit.redis_budget import RedisBudget, SharedBudgets
from vectorizer.ratelimit.redis_link import RedisLink

KEY = ("bedrock", "us-east-1", "bench-model", "bench-identity")


async def unpaced(budget: LocalBudget | RedisBudget, seconds: float = 1.0) -> float:
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if await budget.take(Cost(1.0)) == 0.0:
            n += 1
    return n / seconds


async def paced(budget: RedisBudget, until: float) -> int:
    granted = 0
    while time.monotonic() < until:
        wait = await budget.take(Cost(1.0))
        if wait:
            await asyncio.sleep(wait)
        else:
            granted += 1
    return granted


async def main() -> None:
    store = start_redis()
    links = [RedisLink(store.url) for _ in range(2)]
    try:
        fast = LimiterSettings(initial_rate=1e6, max_rate=1e6, max_concurrency=10_000)
        local = await unpaced(LocalBudget(fast))
        shared_budget = SharedBudgets(links[0], fast)(KEY)
        shared = await unpaced(shared_budget)
        trips = shared_budget.round_trips
        print(f"unpaced takes/s: local {local:,.0f}; shared {shared:,.0f} ({trips:,} round "
              f"trips, {1e6 / max(1, trips):,.0f} us each with its takes)")  # fmt: skip
        quota = LimiterSettings(initial_rate=300.0, max_rate=300.0)
        budgets = [SharedBudgets(link, quota, 0.5)((*KEY[:2], "paced", KEY[3])) for link in links]
        start = time.monotonic()
        grants = await asyncio.gather(*(paced(b, start + 2.0) for b in budgets))
        trips = sum(b.round_trips for b in budgets)
        print(f"paced, 2 replicas, 300 calls/s for 2 s: {sum(grants)} granted {grants}, "
              f"{trips} round trips ({trips / max(1, sum(grants)):.2f} per call)")  # fmt: skip
    finally:
        for link in links:
            await link.close()
        store.kill()


if __name__ == "__main__":
    asyncio.run(main())
