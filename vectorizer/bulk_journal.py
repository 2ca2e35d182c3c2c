"""The journal of a bulk embedding job: what is done, kept next to the output.

- `Journal.open(path, job)`: start a journal, or reopen the one an
  interrupted run left (it must describe the same `job`: target, purpose,
  fields), and return what it holds as a `JournalState`.
- `Journal.add_vector` / `add_failure`: append one item's outcome. Records
  are flushed after every batch (`flush`) and synced to disk every
  `FSYNC_SECONDS`, so a killed run loses at most the batches in flight.
- `JournalState`: per item id, where its vector is (`vector(key)` reads it
  back) or why it failed; the last record of an id wins, so a failure that
  a later run retried successfully is gone. `load_state(path)` reads it
  again (offsets included) once a run has written its records.

The file is JSON lines: a header `{"vectorizer_journal": 1, "job": {...}}`,
then `{"id": ID, "v": base64 float32}` or `{"id": ID, "error": {...}}`. A
run killed mid-write leaves a torn last line, which reopening cuts off; any
other damage is a `JournalError` that says to delete the journal.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from vectorizer.bulk_io import Id

VERSION = 1
FSYNC_SECONDS = 2.0


class JournalError(Exception):
    """The journal cannot be used (damaged, or written for another job)."""


def id_key(item_id: Id) -> str:
    """A journal key that keeps 1 and "1" apart."""
    return json.dumps(item_id)


@dataclass
class JournalState:
    path: Path
    vectors: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (offset, size)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    dim: int | None = None

    def done(self) -> set[str]:
        """Keys of the items that have a vector (failed ones are tried again)."""
        return set(self.vectors)

    def vector(self, key: str, fh: IO[bytes]) -> np.ndarray:
        offset, size = self.vectors[key]
        fh.seek(offset)
        record = json.loads(fh.read(size))
        return np.frombuffer(base64.b64decode(record["v"]), dtype="<f4")


class Journal:
    def __init__(self, path: Path, fh: IO[bytes], clock: Callable[[], float] = time.monotonic):
        self.path = path
        self._fh = fh
        self._clock = clock
        self._synced = clock()

    @classmethod
    def open(cls, path: Path, job: dict[str, Any]) -> tuple[Journal, JournalState]:
        state = JournalState(path)
        fh: IO[bytes]
        if path.exists():
            good = _read(path, job, state)
            fh = path.open("r+b")
            fh.truncate(good)  # drop a torn last line
            fh.seek(good)
        else:
            fh = path.open("wb")
            fh.write(_line({"vectorizer_journal": VERSION, "job": job}))
            fh.flush()
        return cls(path, fh), state

    def add_vector(self, item_id: Id, vector: Sequence[float]) -> None:
        packed = np.asarray(vector, dtype="<f4").tobytes()
        self._fh.write(_line({"id": item_id, "v": base64.b64encode(packed).decode("ascii")}))

    def add_failure(self, item_id: Id, code: str, message: str, retryable: bool) -> None:
        error = {"code": code, "message": message, "retryable": retryable}
        self._fh.write(_line({"id": item_id, "error": error}))

    def flush(self) -> None:
        self._fh.flush()
        if self._clock() - self._synced >= FSYNC_SECONDS:
            os.fsync(self._fh.fileno())
            self._synced = self._clock()

    def close(self) -> None:
        if self._fh.closed:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()


def load_state(path: Path) -> JournalState:
    """What the journal at `path` holds now, whatever job wrote it."""
    state = JournalState(path)
    _read(path, None, state)
    return state


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _read(path: Path, job: dict[str, Any] | None, state: JournalState) -> int:
    """Fill `state` from the journal at `path`; returns the end of its last whole line."""
    offset = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                break  # torn by an interruption mid-write: that item is not done
            try:
                record = json.loads(raw)
            except ValueError:
                raise JournalError(
                    f"journal {path} is damaged at line {number}; delete it to start over"
                ) from None
            if number == 1:
                _check_header(path, record, job)
            else:
                _take(record, offset, len(raw), state, path, number)
            offset += len(raw)
    if offset == 0:
        raise JournalError(f"journal {path} is empty or torn; delete it to start over")
    return offset


def _check_header(path: Path, header: Any, job: dict[str, Any] | None) -> None:
    if not isinstance(header, dict) or header.get("vectorizer_journal") != VERSION:
        raise JournalError(f"{path} is not a vectorizer journal; move it away")
    if job is not None and header.get("job") != job:
        before = header.get("job") or {}
        changed = sorted(k for k in set(before) | set(job) if before.get(k) != job.get(k))
        raise JournalError(
            f"journal {path} was written for another job (different {', '.join(changed)}); "
            "run with the same settings to resume, or pass --restart to start over"
        )


def _take(
    record: Any, offset: int, size: int, state: JournalState, path: Path, number: int
) -> None:
    if not isinstance(record, dict) or "id" not in record:
        raise JournalError(f"journal {path} is damaged at line {number}; delete it to start over")
    key = id_key(record["id"])
    if "v" in record:
        dim = len(base64.b64decode(record["v"])) // 4
        if state.dim is None:
            state.dim = dim
        elif dim != state.dim:
            raise JournalError(
                f"journal {path} holds vectors of {state.dim} and {dim} dimensions "
                f"(line {number}); delete it to start over"
            )
        state.vectors[key] = (offset, size)
        state.failures.pop(key, None)
    else:
        state.failures[key] = {"id": record["id"], **(record.get("error") or {})}
        state.vectors.pop(key, None)
