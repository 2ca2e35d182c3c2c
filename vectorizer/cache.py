"""The vector cache: a bounded in-process LRU and an optional shared Redis tier.

- `cache_key`: SHA-256 over a canonical encoding of everything that changes a
  vector (caller identity, service, region, target, options, purpose, text).
  Nothing is stored in clear: the key is only a hash.
- `MemoryLRU`: in-process, bounded by bytes, vectors held as float32 bytes
  (a hit is a read-only numpy view of them: no copy, no Python floats).
- `RedisTier`: the shared tier replicas have in common. Any Redis failure is
  logged, counted and treated as a miss: a cache never fails a request.
- `VectorCache`: the façade the engine uses: memory first, then Redis for the
  misses (filling memory), and writes to both.

Vectors are kept as little-endian float32 (4 bytes a value), the precision
the gRPC contract (`repeated float`) carries anyway. Everything runs on one
event loop; nothing here is thread-safe.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from vectorizer import metrics
from vectorizer.types import EmbedOptions, Purpose
from vectorizer.vectors import Vector

log = logging.getLogger(__name__)

# Changing what goes into a key, or how, must change this: old entries then
# simply stop matching instead of answering for the wrong input.
KEY_SCHEMA = "vectorizer.cache_key.v1"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TTL_SECONDS = 86_400
REDIS_PREFIX = "vectorizer:v1:"
# Per-entry bookkeeping besides the key and vector bytes: the OrderedDict
# node and the headers of the key and value objects (measured ~150 on CPython
# 3.11, rounded up). An estimate; it keeps the byte bound honest for small vectors.
ENTRY_OVERHEAD_BYTES = 160
# A cache read must cost far less than the embedding call it saves.
REDIS_SOCKET_TIMEOUT = 0.25
# After a Redis failure the tier is skipped for this long, so a dead or hung
# Redis costs one timeout per window rather than one per request.
REDIS_ERROR_BACKOFF = 1.0
# At most one warning per this many seconds while Redis keeps failing.
REDIS_LOG_INTERVAL = 30.0

_DTYPE = np.dtype("<f4")


def cache_key(
    identity: str,
    service: str,
    region: str,
    target: str,
    options: EmbedOptions,
    purpose: Purpose,
    text: str,
    *,
    media: str = "",
) -> str:
    """Hex SHA-256 naming one (caller, target, options, purpose, text) vector.

    The fields go through a JSON list, which quotes and escapes every string:
    ("ab", "c") and ("a", "bc") cannot encode alike. Every field of
    `EmbedOptions` is included by name, so a new option changes keys by itself.
    """
    document = [
        KEY_SCHEMA,
        identity,
        service,
        region,
        target,
        [[f.name, _plain(getattr(options, f.name))] for f in dataclasses.fields(options)],
        purpose.value,
        text,
    ]
    if media:
        # An image's digest and settings (`ImageInput.cache_text`), never its
        # bytes; the extra element keeps it apart from any text's key.
        document.append(media)
    # ensure_ascii: lone surrogates and any other code point encode safely.
    encoded = json.dumps(document, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cache_key cannot encode an option of type {type(value).__name__}")


def encode_vector(vector: Sequence[float] | Vector) -> bytes:
    return np.asarray(vector, dtype=_DTYPE).tobytes()


def decode_vector(blob: bytes) -> Vector | None:
    """The vector in `blob` (a read-only view), or None when it cannot be one."""
    if not blob or len(blob) % _DTYPE.itemsize:
        return None
    return np.frombuffer(blob, dtype=_DTYPE)


_MEMORY_HIT = metrics.CACHE_REQUESTS.labels("memory", "hit")
_MEMORY_MISS = metrics.CACHE_REQUESTS.labels("memory", "miss")
_REDIS_HIT = metrics.CACHE_REQUESTS.labels("redis", "hit")
_REDIS_MISS = metrics.CACHE_REQUESTS.labels("redis", "miss")


class MemoryLRU:
    """Least-recently-used vectors within `max_bytes`; every operation is O(1).

    An entry costs len(key) + 4 * dimensions + ENTRY_OVERHEAD_BYTES. The
    process-wide gauges move by deltas, so several instances add up.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self.evictions = 0

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> Vector | None:
        blob = self._entries.get(key)
        if blob is None:
            _MEMORY_MISS.inc()
            return None
        self._entries.move_to_end(key)
        _MEMORY_HIT.inc()
        return np.frombuffer(blob, dtype=_DTYPE)

    def put(self, key: str, vector: Sequence[float] | Vector) -> None:
        blob = encode_vector(vector)
        size = self._cost(key, blob)
        self._drop(key)
        if size > self.max_bytes:
            return  # could never fit; storing it would only flush the rest
        self._entries[key] = blob
        self._bytes += size
        metrics.CACHE_BYTES.inc(size)
        metrics.CACHE_ENTRIES.inc()
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
            metrics.CACHE_EVICTIONS.inc()

    def clear(self) -> None:
        for key in list(self._entries):
            self._drop(key)

    @staticmethod
    def _cost(key: str, blob: bytes) -> int:
        return len(key) + len(blob) + ENTRY_OVERHEAD_BYTES

    def _drop(self, key: str) -> None:
        blob = self._entries.pop(key, None)
        if blob is not None:
            size = self._cost(key, blob)
            self._bytes -= size
            metrics.CACHE_BYTES.dec(size)
            metrics.CACHE_ENTRIES.dec()


class RedisTier:
    """Vectors in Redis under `REDIS_PREFIX`, as float32 little-endian bytes.

    Never raises for a Redis or network failure: reads come back as misses,
    writes are dropped, both logged (rate-limited) and counted in
    `vectorizer_cache_errors_total`.
    """

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = REDIS_SOCKET_TIMEOUT,
        error_backoff: float = REDIS_ERROR_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ):
        # redis-py 6 retries 3 times with up to 10 s of backoff by default;
        # here one immediate retry (a pooled connection gone stale) is enough.
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._error_backoff = error_backoff
        self._clock = clock
        self._skip_until = -1.0
        self._last_log = -REDIS_LOG_INTERVAL

    @property
    def available(self) -> bool:
        """False while the tier is skipped after a failure."""
        return self._clock() >= self._skip_until

    async def get_many(self, keys: Iterable[str]) -> dict[str, Vector]:
        wanted = list(dict.fromkeys(keys))
        if not wanted or not self.available:
            return {}
        try:
            blobs = await self._client.mget([REDIS_PREFIX + k for k in wanted])
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return {}
        found: dict[str, Vector] = {}
        for key, blob in zip(wanted, blobs, strict=True):
            vector = decode_vector(blob) if blob is not None else None
            if vector is None:
                _REDIS_MISS.inc()
            else:
                _REDIS_HIT.inc()
                found[key] = vector
        return found

    async def put_many(self, items: Mapping[str, Vector], ttl_seconds: int | None) -> None:
        """Store `items`; a `ttl_seconds` of None or <= 0 stores without expiry."""
        if not items or not self.available:
            return
        expire = int(ttl_seconds) if ttl_seconds and ttl_seconds > 0 else None
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, vector in items.items():
                    pipe.set(REDIS_PREFIX + key, encode_vector(vector), ex=expire)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("put", exc)

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, op: str, exc: BaseException) -> None:
        metrics.CACHE_ERRORS.labels("redis", op).inc()
        now = self._clock()
        self._skip_until = now + self._error_backoff
        if now - self._last_log >= REDIS_LOG_INTERVAL:
            self._last_log = now
            # The exception names host and port, never the URL's password.
            log.warning(
                "redis cache tier %s failed, serving without it for %.1fs: %s: %s",
                op,
                self._error_backoff,
                type(exc).__name__,
                exc,
            )


class VectorCache:
    """Memory first, then Redis; `max_bytes=0` turns the memory tier off."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        redis_url: str | None = None,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        *,
        redis_socket_timeout: float = REDIS_SOCKET_TIMEOUT,
        redis_error_backoff: float = REDIS_ERROR_BACKOFF,
    ):
        self.memory = MemoryLRU(max_bytes) if max_bytes > 0 else None
        self.redis = (
            RedisTier(
                redis_url, socket_timeout=redis_socket_timeout, error_backoff=redis_error_backoff
            )
            if redis_url
            else None
        )
        self.ttl_seconds = ttl_seconds

    async def get_many(self, keys: list[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        misses: list[str] = []
        for key in dict.fromkeys(keys):
            vector = self.memory.get(key) if self.memory is not None else None
            if vector is None:
                misses.append(key)
            else:
                found[key] = vector
        if misses and self.redis is not None:
            shared = await self.redis.get_many(misses)
            if self.memory is not None:
                for key, vector in shared.items():
                    self.memory.put(key, vector)
            found.update(shared)
        return found

    async def put_many(self, items: Mapping[str, Vector]) -> None:
        if self.memory is not None:
            for key, vector in items.items():
                self.memory.put(key, vector)
        if self.redis is not None:
            await self.redis.put_many(items, self.ttl_seconds)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()
