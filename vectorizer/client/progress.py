"""The retry bookkeeping of one client call, shared by the sync and async clients.

`Progress` keeps, by input index, the vectors received so far, the items
still pending a retry and the last failure of each; it says how long to wait
before the next attempt and builds the call's answer (vectors, a float32
matrix, or an `EmbeddingError`).
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import numpy as np

from vectorizer.client.types import EmbeddingError, ItemFailure, Matrix, RequestError, RetryPolicy
from vectorizer.v1 import vectorizer_pb2 as pb

# CANCELLED too: it is what a server shutting down (a replica drained on
# SIGTERM, as an autoscaler removes it) answers calls that had reached it
# but not started (grpc-core cancels them). An embedding is idempotent, so
# sending it again, to another replica, is safe; a call this client cancels
# ends in asyncio.CancelledError (or a closed channel), never retried here.
RETRYABLE_STATUS = frozenset(
    {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
)


class Progress:
    """Where one call stands: vectors so far, items pending, failures, attempts."""

    def __init__(self, count: int, policy: RetryPolicy, timeout: float, packed: bool = False):
        self.packed = packed
        self.vectors: list[Any] = [None] * count  # lists of floats, or float32 bytes
        self.failures: dict[int, ItemFailure] = {}
        self.pending = list(range(count))
        self.policy = policy
        self.deadline = time.monotonic() + timeout
        self.attempts = 0

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def absorb(self, response: pb.VectorizeResponse) -> None:
        """Take one answer for the pending items; keep the retryable failures."""
        still = []
        for index, result in zip(self.pending, response.results, strict=True):
            if result.HasField("vector"):
                self.vectors[index] = self._vector(result.vector)
                self.failures.pop(index, None)
            else:
                e = result.error
                self.failures[index] = ItemFailure(index, e.code, e.message, e.retryable)
                if e.retryable:
                    still.append(index)
        self.pending = still

    def _vector(self, vector: pb.Vector) -> Any:
        if not self.packed:
            return list(vector.values)
        if vector.packed or not vector.values:
            return vector.packed
        # A server from before VectorFormat answers values whatever was asked.
        return np.asarray(vector.values, dtype="<f4").tobytes()

    def absorb_status(self, exc: grpc.RpcError) -> None:
        code = exc.code()
        if code not in RETRYABLE_STATUS:
            raise RequestError(code.name, exc.details() or "") from None
        for index in self.pending:
            self.failures[index] = ItemFailure(index, code.name, exc.details() or "", True)

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None: stop."""
        if not self.pending or self.attempts >= self.policy.max_attempts:
            return None
        delay = self.policy.delay(self.attempts - 1)
        return delay if delay < self.time_left() else None

    def _check(self) -> None:
        if self.failures:
            got = self.vectors
            if self.packed:  # the error's vectors are lists of floats either way
                got = [None if v is None else np.frombuffer(v, "<f4").tolist() for v in got]
            raise EmbeddingError(
                sorted(self.failures.values(), key=lambda f: f.index), self.attempts, got
            )

    def result(self) -> list[list[float]]:
        self._check()
        return [v for v in self.vectors if v is not None]

    def matrix(self) -> Matrix:
        """Every vector as a row of one float32 matrix (packed answers)."""
        self._check()
        blobs = [v for v in self.vectors if v is not None]
        if not blobs:
            return np.empty((0, 0), dtype=np.float32)
        if len({len(b) for b in blobs}) != 1:
            raise ValueError("the server answered vectors of different lengths")
        flat = np.frombuffer(b"".join(blobs), dtype="<f4")
        return flat.reshape(len(blobs), -1).astype(np.float32, copy=False)
