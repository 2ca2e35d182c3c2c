"""Media jobs in Redis: shared by every replica that names the same --redis-url.

Keys (prefix `vectorizer:mediajob:`):

- `{id}`: the record's JSON; `unfinished`: a set of the ids not yet
  COMPLETED or FAILED (what a starting replica resumes);
- `token:{identity-hash}:{client token}`: the id a caller's idempotency
  token already made;
- `{id}:segments`: a list, one JSON entry per segment, the vector as base64
  of little-endian float32;
- `{id}:lease`: which replica polls the job, set with NX and a TTL and
  renewed by its holder, so replicas do not all poll every job.

Records and segments never expire on their own: a job is kept until an
operator removes it (its vectors are the caller's data).
"""

from __future__ import annotations

import base64
import json

import redis.asyncio as aioredis

from vectorizer.backends.async_output import Segment
from vectorizer.jobs.model import JobRecord
from vectorizer.jobs.store import pack_vector, unpack_vector
from vectorizer.types import ItemError

PREFIX = "vectorizer:mediajob:"
UNFINISHED = PREFIX + "unfinished"


def _segment_json(s: Segment) -> str:
    entry: dict[str, object] = {
        "i": s.index,
        "s": s.start_seconds,
        "e": s.end_seconds,
        "o": s.option,
        "c": s.scope,
    }
    if s.vector is not None:
        entry["v"] = base64.b64encode(pack_vector(s.vector)).decode("ascii")
    if s.error is not None:
        entry["err"] = [s.error.code, s.error.message, s.error.retryable]
    return json.dumps(entry, separators=(",", ":"))


def _segment_from(raw: bytes | str) -> Segment:
    d = json.loads(raw)
    err = d.get("err")
    return Segment(
        d["i"],
        d["s"],
        d["e"],
        d["o"],
        d["c"],
        vector=unpack_vector(base64.b64decode(d["v"])) if "v" in d else None,
        error=ItemError(err[0], err[1], bool(err[2])) if err else None,
    )


class RedisJobStore:
    def __init__(self, url: str):
        self._redis = aioredis.Redis.from_url(url)

    async def put(self, record: JobRecord) -> None:
        key = PREFIX + record.job_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, record.to_json())
            if record.state.terminal:
                pipe.srem(UNFINISHED, record.job_id)
            else:
                pipe.sadd(UNFINISHED, record.job_id)
            if record.client_token:
                tkey = f"{PREFIX}token:{record.credential_identity}:{record.client_token}"
                pipe.set(tkey, record.job_id, nx=True)
            await pipe.execute()

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await self._redis.get(PREFIX + job_id)
        return JobRecord.from_json(raw) if raw else None

    async def by_token(self, identity: str, token: str) -> JobRecord | None:
        if not token:
            return None
        job_id = await self._redis.get(f"{PREFIX}token:{identity}:{token}")
        return await self.get(job_id.decode()) if job_id else None

    async def unfinished(self) -> list[JobRecord]:
        ids = await self._redis.smembers(UNFINISHED)
        records = [await self.get(i.decode()) for i in ids]
        return [r for r in records if r is not None and not r.state.terminal]

    async def put_segments(self, job_id: str, segments: list[Segment]) -> None:
        key = f"{PREFIX}{job_id}:segments"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if segments:
                pipe.rpush(key, *[_segment_json(s) for s in segments])
            await pipe.execute()

    async def segments(self, job_id: str, offset: int, limit: int) -> list[Segment]:
        raw = await self._redis.lrange(f"{PREFIX}{job_id}:segments", offset, offset + limit - 1)
        return [_segment_from(r) for r in raw]

    async def claim(self, job_id: str, owner: str, ttl: float) -> bool:
        key = f"{PREFIX}{job_id}:lease"
        ms = max(1, int(ttl * 1000))
        if await self._redis.set(key, owner, nx=True, px=ms):
            return True
        holder = await self._redis.get(key)
        if holder is not None and holder.decode() == owner:
            await self._redis.pexpire(key, ms)
            return True
        return False

    async def close(self) -> None:
        await self._redis.aclose()
