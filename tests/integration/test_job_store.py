"""Media-job stores: what one process stores, a new one reads (a SQLite file, a real
redis-server on loopback; without the binary the Redis test skips)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import REDIS_SERVER, start_redis
from vectorizer.backends.async_output import Segment
from vectorizer.jobs.model import REQUEST, JobRecord, JobState
from vectorizer.jobs.store import JobStore, SqliteJobStore, open_store
from vectorizer.types import ItemError


def _record(job_id: str, state: JobState = JobState.IN_PROGRESS, token: str = "") -> JobRecord:
    return JobRecord(
        job_id=job_id,
        state=state,
        family="nova-multimodal",
        model="amazon.nova-2-multimodal-embeddings-v1:0",
        region="us-east-1",
        kind="audio",
        format="wav",
        source_uri="s3://media/a.wav",
        bucket_owner="",
        output_uri="s3://out/",
        start_body='{"modelId":"m"}',
        credential_identity="id-hash",
        credential_source=REQUEST,
        client_token=token,
        invocation_arn="arn:aws:bedrock:us-east-1:123456789012:async-invoke/abcdefghijkl",
        created=1.5,
        updated=2.5,
    )


SEGMENTS = [
    Segment(0, 0.0, 5.0, "AUDIO", vector=[0.25, -0.5, 1.0]),
    Segment(1, 5.0, 9.5, "AUDIO", error=ItemError("INVALID_CONTENT", "segment 1 failed", False)),
    Segment(2, 9.5, 12.0, "AUDIO", vector=[0.125, 0.0, -1.0]),
]


async def _exercise(store: JobStore) -> None:
    await store.put(_record("j1", token="tok"))
    await store.put(_record("j2", JobState.COMPLETED))
    assert [r.job_id for r in await store.unfinished()] == ["j1"]
    assert (await store.by_token("id-hash", "tok")).job_id == "j1"  # type: ignore[union-attr]
    assert await store.by_token("other-identity", "tok") is None
    await store.put_segments("j2", SEGMENTS)
    assert await store.segments("j2", 0, 10) == SEGMENTS
    assert await store.segments("j2", 1, 1) == SEGMENTS[1:2]
    assert await store.get("nope") is None


async def test_sqlite_file_outlives_the_process_that_wrote_it(tmp_path: Path) -> None:
    first = open_store(str(tmp_path), "")
    await _exercise(first)
    record = await first.get("j1")
    assert record is not None
    record.state, record.polls = JobState.READING_OUTPUT, 7
    await first.put(record)
    await first.close()
    second = SqliteJobStore(str(tmp_path / "media-jobs.sqlite3"))
    again = await second.get("j1")
    assert again == record
    assert await second.segments("j2", 0, 10) == SEGMENTS
    await second.close()


@pytest.fixture()
async def redis_store() -> AsyncIterator[JobStore]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed (scripts/test-deps.sh installs it)")
    server = start_redis()
    store = open_store("", server.url)
    try:
        yield store
    finally:
        await store.close()
        server.stop()


async def test_redis_store_and_polling_lease(redis_store: JobStore) -> None:
    await _exercise(redis_store)
    assert await redis_store.claim("j1", "replica-a", 5.0)
    assert await redis_store.claim("j1", "replica-a", 5.0)  # renewed by its holder
    assert not await redis_store.claim("j1", "replica-b", 5.0)
    finished = await redis_store.get("j1")
    assert finished is not None
    finished.state = JobState.FAILED
    await redis_store.put(finished)
    assert await redis_store.unfinished() == []


async def test_sqlite_lease_shared_by_processes_of_one_file(tmp_path: Path) -> None:
    # Two connections to one file stand for two --workers processes.
    path = str(tmp_path / "jobs.sqlite3")
    a, b = SqliteJobStore(path), SqliteJobStore(path)
    assert await a.claim("j1", "worker-a", 0.2)
    assert await a.claim("j1", "worker-a", 0.2)  # its holder renews it
    assert not await b.claim("j1", "worker-b", 0.2)
    import asyncio

    await asyncio.sleep(0.3)  # the holder died: the lease lapses
    assert await b.claim("j1", "worker-b", 5.0)
    assert not await a.claim("j1", "worker-a", 5.0)
    await a.close()
    await b.close()
