"""The Redis side of the shared rate budget (`redis_budget`).

- `RedisLink`: the process's one Redis client for every shared budget (the
  scripts of redis_lua registered on it), and whether Redis is reachable:
  on the first failure it says so once (a log line, the gauge
  `vectorizer_rate_budget_shared` 0, GetMeta's `rate_budget` "fallback"),
  then pings with a doubling backoff (REJOIN_*) until Redis answers, and
  says that once too.
- `budget_key`: the hash naming one target in Redis: of the credentials'
  identity hash, the service, the Region and the target; nothing in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Hashable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vectorizer import metrics
from vectorizer.ratelimit import redis_lua

log = logging.getLogger("vectorizer.ratelimit.redis_budget")

KEY_SCHEMA = "vectorizer.rate_budget.v1"
# A budget's Redis call must cost far less than the upstream call it paces.
SOCKET_TIMEOUT = 0.25
REJOIN_FIRST_SECONDS = 0.5
REJOIN_MAX_SECONDS = 10.0
# What a Redis that is down or hung raises through redis-py.
REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

SHARED = "shared"
FALLBACK = "fallback"


class RedisLink:
    """The Redis client of every shared budget, and whether Redis is up."""

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = SOCKET_TIMEOUT,
        rejoin_first: float = REJOIN_FIRST_SECONDS,
        rejoin_max: float = REJOIN_MAX_SECONDS,
    ):
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),  # one retry: a pooled connection gone stale
        )
        self.take = self.client.register_script(redis_lua.TAKE)
        self.set = self.client.register_script(redis_lua.SET)
        self.lease = self.client.register_script(redis_lua.LEASE)
        self.replica = uuid.uuid4().hex
        self.up = True
        self.failures = 0
        self._rejoin_first = rejoin_first
        self._rejoin_max = rejoin_max
        self._rejoin: asyncio.Task[None] | None = None
        metrics.RATE_BUDGET_SHARED.set(1)

    @property
    def state(self) -> str:
        return SHARED if self.up else FALLBACK

    def failed(self, exc: BaseException) -> None:
        """A Redis call failed: fall back (said once) and start trying to rejoin."""
        if not self.up:
            return
        self.up = False
        self.failures += 1
        metrics.RATE_BUDGET_SHARED.set(0)
        # The exception names host and port, never the URL's password.
        log.warning(
            "shared rate budget: Redis unreachable (%s: %s); each target paced locally at "
            "this replica's share until Redis answers again",
            type(exc).__name__,
            exc,
        )
        if self._rejoin is None:
            self._rejoin = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        delay = self._rejoin_first
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    await self.client.ping()
                except REDIS_ERRORS:
                    delay = min(self._rejoin_max, delay * 2)
                    continue
                self.up = True
                metrics.RATE_BUDGET_SHARED.set(1)
                log.warning("shared rate budget: Redis reachable again; budgets shared again")
                return
        finally:
            self._rejoin = None

    async def close(self) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()
        await self.client.aclose()


def budget_key(key: tuple[Hashable, ...]) -> str:
    """The Redis hash tag of one target: `key` is the registry's (service,
    Region, target, credential identity hash); only a hash of it is stored."""
    encoded = json.dumps([KEY_SCHEMA, *map(str, key)], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()[:32]
