"""The shared rate budget (`vectorizer.ratelimit.redis_budget`) against a real
redis-server: the Lua scripts' arithmetic (two replicas, one quota), a
throttle seen by one replica lowering the rate of all through the one
pacer, only the pacer raising it, Redis killed (fallback, said once) and
back (rejoin).

Each "replica" is a `RedisLink` of its own (its own client and replica id),
as two processes would have."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support import REDIS_SERVER, RedisServer
from vectorizer import metrics
from vectorizer.ratelimit import Cost, LimiterSettings, Round
from vectorizer.ratelimit.budgets import IDLE_SECONDS, INITIAL_BURST_CALLS
from vectorizer.ratelimit.controller import HOLD_SECONDS, Mode
from vectorizer.ratelimit.redis_budget import BRAKE_SECONDS, RedisBudget, SharedBudgets
from vectorizer.ratelimit.redis_link import FALLBACK, SHARED, RedisLink, budget_key

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server not installed (scripts/test-deps.sh installs it with apt-get)",
)

KEY = ("bedrock", "us-east-1", "amazon.titan-embed-text-v2:0", "0123456789abcdef-identity")


@pytest.fixture()
async def links(redis_server: RedisServer) -> AsyncIterator[list[RedisLink]]:
    made = [RedisLink(redis_server.url, rejoin_first=0.05, rejoin_max=0.2) for _ in range(2)]
    yield made
    for link in made:
        await link.close()


def fleet(links: list[RedisLink], share: float = 0.5, **limits: float) -> list[RedisBudget]:
    settings = LimiterSettings(**limits)  # type: ignore[arg-type]
    return [SharedBudgets(link, settings, fallback_share=share)(KEY) for link in links]


async def pace(budget: RedisBudget, cost: Cost, until: float) -> int:
    """Takes `cost` as fast as the budget allows until `until`; the grants."""
    granted = 0
    while time.monotonic() < until:
        wait = await budget.take(cost)
        if wait == 0.0:
            granted += 1
        else:
            await asyncio.sleep(wait)
    return granted


async def test_two_replicas_share_one_request_quota(links: list[RedisLink]) -> None:
    budgets = fleet(links, initial_rate=400.0, max_rate=400.0)
    start = time.monotonic()
    grants = await asyncio.gather(*(pace(b, Cost(1.0), start + 1.0) for b in budgets))
    elapsed = time.monotonic() - start
    total = sum(grants)
    # The first burst (3 calls) plus 400 calls/s, whoever asks: never more.
    assert total <= 3 + 400 * elapsed + 1
    assert total >= 0.85 * 400 * 1.0, grants  # and the quota is used
    assert min(grants) >= 0.25 * total, grants  # both replicas got calls
    # Leases cut the round trips well below one per call.
    trips = sum(b.round_trips for b in budgets)
    assert trips < total, (trips, total)


async def test_two_replicas_share_one_token_quota(links: list[RedisLink]) -> None:
    # A told token rate: 2,000 tokens/s, calls of 100 tokens: 20 calls/s.
    budgets = fleet(links, initial_rate=1000.0, max_rate=1000.0, max_token_rate=2000.0)
    start = time.monotonic()
    grants = await asyncio.gather(*(pace(b, Cost(1.0, 100.0), start + 1.0) for b in budgets))
    elapsed = time.monotonic() - start
    total = sum(grants)
    # The first tokens (0.1 s worth) plus 2,000/s, in calls of 100.
    assert total * 100 <= 200 + 2000 * elapsed + 100
    assert total >= 0.8 * 20, grants


async def settle(*budgets: RedisBudget) -> None:
    """Until every budget's background writes (lease, rates) are done."""
    for _ in range(100):
        await asyncio.sleep(0.01)
        if all(not b.writing and b._trip is None for b in budgets):
            return


async def elect(a: RedisBudget, b: RedisBudget) -> tuple[RedisBudget, RedisBudget]:
    """Both send (a round each): exactly one takes the pacer lease."""
    sent = Round(0.1, 5, 5, 0)
    for budget in (a, b):
        budget.observe(sent)
    await settle(a, b)
    assert [a.probing, b.probing].count(True) == 1  # one pacer at a time
    return (a, b) if a.probing else (b, a)


async def paced_pair(links: list[RedisLink], rate: float) -> tuple[RedisBudget, RedisBudget]:
    """Two replicas with the shared state (b's grant may have to wait), one
    of them the pacer, which has sampled the fleet's counters once."""
    a, b = fleet(links, share=1.0, initial_rate=rate)
    assert await a.take(Cost(1.0)) == 0.0
    await b.take(Cost(1.0))
    pacer, other = await elect(a, b)
    await pacer.report()
    await asyncio.sleep(0.25)
    return pacer, other


async def test_a_throttle_seen_by_one_replica_lowers_the_rate_of_all(
    links: list[RedisLink],
) -> None:
    pacer, other = await paced_pair(links, 400.0)
    assert pacer.rates.requests == other.rates.requests == 400.0
    # The quota is clearly exceeded, and only the other replica sees it:
    # 10 calls accepted, 30 throttled, reported as they come.
    for k in range(40):
        other.answered(throttled=k >= 10, tokens=0.0, counted=False)
    await other.report()
    assert pacer.rates.requests == 400.0  # not yet: the pacer has not seen them
    await pacer.report()  # its next round trip brings them
    cut = pacer.rates.requests
    # 10 accepted over the fleet's round of about 0.25 s, less the margin.
    assert cut < 100.0, cut
    assert pacer.controller.requests.mode.value == "hold"
    await settle(pacer)  # published
    await asyncio.sleep(0.3)  # the other's lease expires
    await other.take(Cost(1.0))
    assert other.rates.requests == pytest.approx(cut)
    assert other.controller.requests.mode.value == "hold"  # as if it had been throttled
    assert other.controller.requests.estimate == pytest.approx(pacer.controller.requests.estimate)


async def test_only_the_pacer_raises_the_rate_and_the_others_follow(
    links: list[RedisLink],
) -> None:
    a, b = fleet(links, share=1.0, initial_rate=50.0)
    await a.take(Cost(1.0))
    await b.take(Cost(1.0))
    pacer, other = await elect(a, b)
    # A replica's own clean rounds in which our pacing bound move nothing:
    # only the fleet's rounds do, at the pacer.
    assert other.observe(Round(0.2, 10, 10, 0)).requests == 50.0
    assert pacer.observe(Round(0.2, 10, 10, 0)).requests == 50.0
    await pacer.report()
    start = time.monotonic()
    granted = await pace(pacer, Cost(1.0), start + 0.5)  # the fleet sends at the rate...
    for _ in range(granted):
        pacer.answered(throttled=False, tokens=0.0, counted=False)
    await pacer.report()  # ...and the pacer's round shows it: start-up doubling
    grown = pacer.rates.requests
    assert grown > 50.0
    assert other.rates.requests == 50.0
    await settle(pacer)
    await asyncio.sleep(0.3)
    await other.take(Cost(1.0))
    assert other.rates.requests == pytest.approx(grown)  # the others follow the pacer


async def fleet_rounds(pacer: RedisBudget, other: RedisBudget, seconds: float) -> None:
    """Answers come in (all accepted) and the pacer samples the counters,
    for `seconds`, as while an import runs."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pacer.observe(Round(0.1, 5, 5, 0))  # sending: it keeps the pacer lease
        for _ in range(20):
            other.answered(throttled=False, tokens=0.0, counted=False)
        await other.report()
        await asyncio.sleep(0.1)
        await pacer.report()


async def cut_by_the_pacer(pacer: RedisBudget, other: RedisBudget) -> float:
    """The quota clearly exceeded, seen by the other replica only: the cut."""
    for k in range(40):
        other.answered(throttled=k >= 10, tokens=0.0, counted=False)
    await other.report()
    await pacer.report()
    assert pacer.controller.requests.mode is Mode.HOLD
    await settle(pacer)
    return pacer.rates.requests


async def test_a_throttle_in_startup_brakes_a_replica_until_the_pacers_cut(
    links: list[RedisLink],
) -> None:
    pacer, other = await paced_pair(links, 400.0)
    # The first throttle the other replica sees in start-up: it stops taking
    # (the quota's bucket is empty and the fleet far above the quota)...
    other.answered(throttled=True, tokens=0.0, counted=False)
    wait = await other.take(Cost(1.0))
    assert 0.0 < wait <= BRAKE_SECONDS
    # ...until the pacer's cut reaches it, which lifts the brake.
    cut = await cut_by_the_pacer(pacer, other)
    await other.report()
    assert other.rates.requests == pytest.approx(cut)
    assert other._brake_until < time.monotonic()


async def test_the_brake_lasts_a_moment_and_comes_once_a_second(links: list[RedisLink]) -> None:
    a, _ = fleet(links, share=1.0, initial_rate=400.0)
    assert await a.take(Cost(1.0)) == 0.0
    a.answered(throttled=True, tokens=0.0, counted=False)
    wait = await a.take(Cost(1.0))
    assert 0.0 < wait <= BRAKE_SECONDS
    await asyncio.sleep(wait)
    assert await a.take(Cost(1.0)) == 0.0  # over, with no cut: start-up goes on
    a.answered(throttled=True, tokens=0.0, counted=False)  # within the second
    assert await a.take(Cost(1.0)) == 0.0
    assert a.controller.requests.mode is Mode.STARTUP


async def test_a_probing_pacer_cuts_on_the_first_throttle(links: list[RedisLink]) -> None:
    pacer, other = await paced_pair(links, 400.0)
    await cut_by_the_pacer(pacer, other)
    await fleet_rounds(pacer, other, HOLD_SECONDS + 0.5)  # the hold, then a probe
    assert pacer.controller.requests.mode is Mode.PROBE
    probe = pacer.rates.requests
    # One throttle, a few answers, a few hundredths of a second: a round of
    # its own all the same, and the cut.
    for k in range(4):
        other.answered(throttled=k == 0, tokens=0.0, counted=False)
    await other.report()
    await pacer.report()  # the round's base, if the last sample closed one
    await asyncio.sleep(0.05)
    await pacer.report()
    assert pacer.controller.requests.mode is Mode.HOLD
    assert pacer.rates.requests <= probe


async def test_after_idle_only_the_first_burst_is_there(links: list[RedisLink]) -> None:
    a, _ = fleet(links, share=1.0, initial_rate=400.0)
    assert await a.take(Cost(1.0)) == 0.0
    await asyncio.sleep(0.4)  # the bucket fills up (64 calls: max_concurrency)...
    assert await a.take(Cost(1.0)) == 0.0  # ...and is stored nearly full; a lease is out
    await asyncio.sleep(IDLE_SECONDS + 0.2)
    # Neither the full bucket nor the lease given back is a burst now.
    granted = 0
    while await a.take(Cost(1.0)) == 0.0:
        granted += 1
    assert granted <= INITIAL_BURST_CALLS + 2, granted


async def test_keys_hold_a_hash_not_the_credentials_or_target(
    redis_server: RedisServer, links: list[RedisLink]
) -> None:
    (a, _) = fleet(links)
    await a.take(Cost(1.0))
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() for k in await raw.keys("*")]
    finally:
        await raw.aclose()
    assert keys and all(budget_key(KEY) in k for k in keys)
    assert not any(part in k for k in keys for part in KEY)


async def test_redis_killed_falls_back_and_rejoins(
    redis_server: RedisServer, links: list[RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vectorizer.ratelimit.redis_budget")
    a, b = fleet(links, initial_rate=100.0, max_rate=100.0)
    start = time.monotonic()
    await asyncio.gather(pace(a, Cost(1.0), start + 0.3), pace(b, Cost(1.0), start + 0.3))
    assert a.live_replicas == 2
    assert metrics.REGISTRY.get_sample_value("vectorizer_rate_budget_shared") == 1.0

    redis_server.kill()
    start = time.monotonic()
    granted = await pace(a, Cost(1.0), start + 1.0)
    elapsed = time.monotonic() - start
    assert links[0].state == FALLBACK and a.fallback
    assert metrics.REGISTRY.get_sample_value("vectorizer_rate_budget_shared") == 0.0
    # Half the last shared rate (two replicas were live): 50 calls/s.
    assert 0.6 * 50 * elapsed <= granted <= 50 * elapsed + 2
    said = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(said) == 1  # once, not per call
    assert "redis://" not in said[0].getMessage()

    redis_server.start()  # same port, empty: no state, no scripts loaded
    deadline = time.monotonic() + 5.0
    while links[0].state != SHARED and time.monotonic() < deadline:
        await a.take(Cost(1.0))
        await asyncio.sleep(0.05)
    assert links[0].state == SHARED
    trips = a.round_trips
    await asyncio.sleep(0.3)
    await a.take(Cost(1.0))
    assert not a.fallback and a.round_trips > trips  # served through Redis again
    assert metrics.REGISTRY.get_sample_value("vectorizer_rate_budget_shared") == 1.0
    assert len([r for r in caplog.records if "reachable again" in r.getMessage()]) == 1


async def test_a_take_cancelled_mid_round_trip_takes_nothing(links: list[RedisLink]) -> None:
    (a, _) = fleet(links, share=1.0, initial_rate=1000.0, max_rate=1000.0)
    task = asyncio.create_task(a.take(Cost(1.0)))
    await asyncio.sleep(0)  # the round trip is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # the round trip ends in its own task
    trips = a.round_trips
    assert trips == 1
    # What it was granted waits in the lease: the next take needs no round trip.
    assert await a.take(Cost(1.0)) == 0.0
    assert a.round_trips == trips
