"""The Redis cache tier against a real redis-server on 127.0.0.1.

Each test starts its own `redis-server` (no persistence) on a free port.
`scripts/test-deps.sh` installs the binary; without it these tests skip.
"""

from __future__ import annotations

import asyncio
import socket
import time

import numpy as np
import pytest
import redis.asyncio as aioredis

from tests.support import REDIS_SERVER, RedisServer, free_port
from vectorizer import metrics
from vectorizer.cache import REDIS_PREFIX, VectorCache, cache_key
from vectorizer.types import EmbedOptions, Purpose

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server not installed (scripts/test-deps.sh installs it with apt-get)",
)


def _key(text: str) -> str:
    return cache_key(
        "identity-hash", "bedrock", "us-east-1", "m", EmbedOptions(), Purpose.QUERY, text
    )


def _lists(found: dict) -> dict:
    """Cached vectors (float32 arrays) as lists, for comparing."""
    return {k: v.tolist() for k, v in found.items()}


def _f32(vector: list[float]) -> list[float]:
    return np.asarray(vector, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or None) or 0.0


async def test_round_trip_through_redis_only(redis_server: RedisServer) -> None:
    cache = VectorCache(max_bytes=0, redis_url=redis_server.url)
    items = {_key("a"): [0.1, 0.2, 0.3], _key("b"): [-1.5] * 1024}
    await cache.put_many(items)
    got = _lists(await cache.get_many([_key("a"), _key("b"), _key("missing")]))
    assert got == {k: _f32(v) for k, v in items.items()}
    await cache.close()


async def test_entries_are_prefixed_float32_with_ttl(redis_server: RedisServer) -> None:
    cache = VectorCache(max_bytes=0, redis_url=redis_server.url, ttl_seconds=120)
    await cache.put_many({_key("a"): [1.0, 2.0]})
    await cache.close()
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        stored = REDIS_PREFIX + _key("a")
        assert await raw.keys("*") == [stored.encode()]
        assert await raw.get(stored) == np.array([1.0, 2.0], dtype="<f4").tobytes()
        assert 0 < await raw.ttl(stored) <= 120
    finally:
        await raw.aclose()


async def test_two_replicas_share_the_redis_tier(redis_server: RedisServer) -> None:
    one = VectorCache(max_bytes=1 << 20, redis_url=redis_server.url)
    two = VectorCache(max_bytes=1 << 20, redis_url=redis_server.url)
    hits = _sample("vectorizer_cache_requests_total", tier="redis", result="hit")
    await one.put_many({_key("shared"): [0.5, 0.25]})
    assert two.memory is not None and _key("shared") not in two.memory
    assert _lists(await two.get_many([_key("shared")])) == {_key("shared"): [0.5, 0.25]}
    assert _sample("vectorizer_cache_requests_total", tier="redis", result="hit") == hits + 1
    assert _key("shared") in two.memory  # filled from Redis: next read stays local
    await one.close()
    await two.close()


async def test_redis_down_mid_test_means_misses_not_failures(redis_server: RedisServer) -> None:
    cache = VectorCache(max_bytes=0, redis_url=redis_server.url, redis_error_backoff=0.2)
    await cache.put_many({_key("a"): [1.0]})
    assert _lists(await cache.get_many([_key("a")])) == {_key("a"): [1.0]}
    errors = _sample("vectorizer_cache_errors_total", tier="redis", op="get")

    redis_server.stop()
    started = time.monotonic()
    assert _lists(await cache.get_many([_key("a")])) == {}
    await cache.put_many({_key("b"): [2.0]})  # dropped, not raised
    assert _lists(await cache.get_many([_key("a"), _key("b")])) == {}
    assert time.monotonic() - started < 2.0
    assert _sample("vectorizer_cache_errors_total", tier="redis", op="get") == errors + 1

    # Back after the error backoff: the tier serves again (the data is gone:
    # this server keeps nothing on disk).
    redis_server.start()
    await asyncio.sleep(0.25)
    await cache.put_many({_key("c"): [3.0]})
    assert _lists(await cache.get_many([_key("c")])) == {_key("c"): [3.0]}
    await cache.close()


async def test_unreachable_redis_at_start_is_not_fatal() -> None:
    cache = VectorCache(max_bytes=1 << 20, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    await cache.put_many({_key("a"): [1.0]})
    assert _lists(await cache.get_many([_key("a"), _key("b")])) == {_key("a"): [1.0]}
    await cache.close()


async def test_a_silent_redis_costs_a_short_timeout_then_is_skipped() -> None:
    # A listener that never answers: connections complete, replies never come.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        cache = VectorCache(max_bytes=0, redis_url=url, redis_socket_timeout=0.2)
        started = time.monotonic()
        assert _lists(await cache.get_many([_key("a")])) == {}
        first = time.monotonic() - started
        assert first < 1.5
        started = time.monotonic()
        assert _lists(await cache.get_many([_key("a")])) == {}  # inside the error backoff
        assert time.monotonic() - started < 0.05
        await cache.close()
