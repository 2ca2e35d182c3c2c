"""Where media jobs are kept, so that a restart loses none.

- `JobStore`: the interface the manager uses: records (`put`, `get`,
  `by_token`, `unfinished`), their segments (`put_segments`, `segments`) and
  a polling lease (`claim`) so that replicas sharing a store do not all poll
  the same job.
- `SqliteJobStore`: one SQLite file (WAL mode) in --jobs-dir, or memory when
  no directory is set (then jobs live only as long as the process). Calls run
  in a thread: SQLite blocks. A vector is stored as little-endian float32
  bytes, exactly what the gRPC answer carries. The polling lease is a row
  per job, so the processes of `--workers N` sharing the file poll each job
  once between them.
- `pack_vector` / `unpack_vector`: that encoding.
- `open_store(jobs_dir, redis_url)`: Redis when a URL is given, else SQLite.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from array import array
from collections.abc import Callable
from typing import Protocol, TypeVar

from vectorizer.backends.async_output import Segment
from vectorizer.jobs.model import JobRecord
from vectorizer.types import ItemError

T = TypeVar("T")

DB_FILE = "media-jobs.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  token_key TEXT,
  record TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_token ON jobs(token_key) WHERE token_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS segments (
  job_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  start_s REAL NOT NULL,
  end_s REAL NOT NULL,
  option TEXT NOT NULL,
  scope TEXT NOT NULL,
  vector BLOB,
  error_code TEXT,
  error_message TEXT,
  error_retryable INTEGER,
  PRIMARY KEY (job_id, position)
);
CREATE TABLE IF NOT EXISTS leases (
  job_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires REAL NOT NULL
);
"""


def pack_vector(vector: list[float]) -> bytes:
    data = array("f", vector)
    if sys.byteorder != "little":  # pragma: no cover - every supported platform is
        data.byteswap()
    return data.tobytes()


def unpack_vector(blob: bytes) -> list[float]:
    data = array("f")
    data.frombytes(blob)
    if sys.byteorder != "little":  # pragma: no cover
        data.byteswap()
    return data.tolist()


def token_key(identity: str, token: str) -> str | None:
    return f"{identity}\n{token}" if token else None


class JobStore(Protocol):
    async def put(self, record: JobRecord) -> None: ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def by_token(self, identity: str, token: str) -> JobRecord | None: ...

    async def unfinished(self) -> list[JobRecord]: ...

    async def put_segments(self, job_id: str, segments: list[Segment]) -> None: ...

    async def segments(self, job_id: str, offset: int, limit: int) -> list[Segment]: ...

    async def claim(self, job_id: str, owner: str, ttl: float) -> bool: ...

    async def close(self) -> None: ...


class SqliteJobStore:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        # timeout: another worker process may hold the write lock a moment.
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._lock = threading.Lock()
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a job acknowledged is on disk
        self._db.executescript(_SCHEMA)

    async def _run(self, fn: Callable[[], T]) -> T:
        """`fn` on a worker thread, one at a time (the connection is shared)."""

        def locked() -> T:
            with self._lock:
                return fn()

        return await asyncio.to_thread(locked)

    async def put(self, record: JobRecord) -> None:
        def write() -> None:
            self._db.execute(
                "INSERT INTO jobs(job_id, state, token_key, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET state=excluded.state, record=excluded.record",
                (
                    record.job_id,
                    record.state.value,
                    token_key(record.credential_identity, record.client_token),
                    record.to_json(),
                ),
            )

        await self._run(write)

    async def get(self, job_id: str) -> JobRecord | None:
        def read() -> JobRecord | None:
            row = self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return JobRecord.from_json(row[0]) if row else None

        return await self._run(read)

    async def by_token(self, identity: str, token: str) -> JobRecord | None:
        key = token_key(identity, token)
        if key is None:
            return None

        def read() -> JobRecord | None:
            row = self._db.execute("SELECT record FROM jobs WHERE token_key = ?", (key,)).fetchone()
            return JobRecord.from_json(row[0]) if row else None

        return await self._run(read)

    async def unfinished(self) -> list[JobRecord]:
        def read() -> list[JobRecord]:
            rows = self._db.execute(
                "SELECT record FROM jobs WHERE state NOT IN ('COMPLETED', 'FAILED')"
            ).fetchall()
            return [JobRecord.from_json(r[0]) for r in rows]

        return await self._run(read)

    async def put_segments(self, job_id: str, segments: list[Segment]) -> None:
        rows = [
            (
                job_id,
                pos,
                s.index,
                s.start_seconds,
                s.end_seconds,
                s.option,
                s.scope,
                pack_vector(s.vector) if s.vector is not None else None,
                s.error.code if s.error else None,
                s.error.message if s.error else None,
                int(s.error.retryable) if s.error else None,
            )
            for pos, s in enumerate(segments)
        ]

        def write() -> None:
            with self._db:  # one transaction: all segments or none
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM segments WHERE job_id = ?", (job_id,))
                self._db.executemany(
                    "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )

        await self._run(write)

    async def segments(self, job_id: str, offset: int, limit: int) -> list[Segment]:
        def read() -> list[Segment]:
            rows = self._db.execute(
                "SELECT idx, start_s, end_s, option, scope, vector, error_code, error_message, "
                "error_retryable FROM segments WHERE job_id = ? ORDER BY position "
                "LIMIT ? OFFSET ?",
                (job_id, limit, offset),
            ).fetchall()
            return [_segment(*row) for row in rows]

        return await self._run(read)

    async def claim(self, job_id: str, owner: str, ttl: float) -> bool:
        def take() -> bool:
            now = time.time()
            cur = self._db.execute(
                "INSERT INTO leases(job_id, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET owner=excluded.owner, "
                "expires=excluded.expires WHERE leases.owner = excluded.owner "
                "OR leases.expires < ?",
                (job_id, owner, now + ttl, now),
            )
            return cur.rowcount == 1

        return bool(await self._run(take))

    async def close(self) -> None:
        await self._run(self._db.close)


def _segment(
    idx: int,
    start: float,
    end: float,
    option: str,
    scope: str,
    vector: bytes | None,
    code: str | None,
    message: str | None,
    retryable: int | None,
) -> Segment:
    error = ItemError(code, message or "", bool(retryable)) if code else None
    return Segment(
        idx,
        start,
        end,
        option,
        scope,
        vector=unpack_vector(vector) if vector is not None else None,
        error=error,
    )


def open_store(jobs_dir: str, redis_url: str) -> JobStore:
    if redis_url:
        from vectorizer.jobs.redis_store import RedisJobStore

        return RedisJobStore(redis_url)
    if jobs_dir:
        os.makedirs(jobs_dir, exist_ok=True)
        return SqliteJobStore(os.path.join(jobs_dir, DB_FILE))
    return SqliteJobStore()
