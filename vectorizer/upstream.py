"""One upstream batch of a request: the target's limiter, the call, retries.

`UpstreamRun` holds what a request's batches share (backend, prepared target,
purpose, credentials, deadline, limiter) and embeds one batch at a time:
it waits for the target's limiter, makes the call, checks the answer (count,
dimension, finite values, the dimension this target answered before),
retries classified errors with backoff inside the deadline, and halves a
batch that failed on one bad item until only that item fails. The engine
(`vectorizer.engine`) orchestrates requests around it: dedupe, cache,
batching and reassembly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from vectorizer import metrics
from vectorizer.backends.base import Backend, Prepared
from vectorizer.errors import Kind, UpstreamError, transport_error
from vectorizer.media import ImageInput
from vectorizer.retry import backoff_delay
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.vectors import Matrix, all_finite, l2_normalize_rows

if TYPE_CHECKING:
    from vectorizer.engine import Engine

Item = str | ImageInput

# Time kept back from the caller's deadline to build and send the answer.
DEADLINE_MARGIN = 0.05
# Kinds that would fail every item the same way: raised, not itemised.
FATAL_KINDS = frozenset({Kind.NOT_FOUND, Kind.PERMISSION_DENIED, Kind.UNAUTHENTICATED})
# Kinds that a single bad text can cause inside a batch: bisect to find it.
ISOLATE_KINDS = frozenset({Kind.INVALID_ARGUMENT, Kind.MODEL_ERROR})


class UpstreamRun:
    """One request's upstream work: batches, retries, limiter, metrics."""

    def __init__(
        self,
        engine: Engine,
        backend: Backend,
        prepared: Prepared,
        purpose: Purpose,
        credentials: AwsCredentials,
        deadline: float,
        label: str,
    ):
        self.e = engine
        self.backend = backend
        self.prepared = prepared
        self.purpose = purpose
        self.credentials = credentials
        self.deadline = deadline
        self.label = label
        self.input_tokens = 0
        self.priority = 0 if purpose is Purpose.QUERY else 1
        self.limiter = engine.limiter(prepared, credentials)

    def time_left(self) -> float:
        return self.deadline - self.e._clock() - DEADLINE_MARGIN

    async def batch(self, texts: list[Item]) -> list[ItemResult]:
        attempt = 0
        throttled: UpstreamError | None = None  # the last throttle, if any
        service, label = self.prepared.service, self.label
        while True:
            try:
                vectors = await self._call(texts)
                return list(map(ItemResult.ok, vectors))
            except UpstreamError as exc:
                if exc.kind in FATAL_KINDS:
                    raise
                if not exc.retryable:
                    if exc.kind in ISOLATE_KINDS and len(texts) > 1:
                        half = len(texts) // 2
                        left, right = await asyncio.gather(
                            self.batch(texts[:half]), self.batch(texts[half:])
                        )
                        return left + right
                    return [ItemResult.fail(exc.item_error())] * len(texts)
                delay = backoff_delay(attempt, self.e._retry)
                attempt += 1
                if exc.retry_reason == "timeout" and self.time_left() <= 0:
                    # The call was cut short by the caller's deadline, not by AWS.
                    error = deadline_error("while the upstream call was in flight")
                    return [ItemResult.fail(error)] * len(texts)
                if attempt >= self.e._retry.max_attempts or delay >= self.time_left():
                    return [ItemResult.fail(_gave_up(exc, attempt))] * len(texts)
                if exc.kind is Kind.THROTTLED:
                    throttled = exc
                metrics.RETRIES.labels(service, label, exc.retry_reason or "other").inc()
                await asyncio.sleep(delay)
            except _NoTime as exc:
                # Out of time after throttles (the limiter slowed down because
                # of them): the cause the caller can act on is the quota.
                error = _gave_up(throttled, attempt) if throttled else exc.error
                return [ItemResult.fail(error)] * len(texts)

    async def _call(self, texts: list[Item]) -> Matrix:
        service, label = self.prepared.service, self.label
        region = metrics.region_label(self.prepared.region)
        left = self.time_left()
        if left <= 0:
            raise _NoTime(deadline_error("before the call could start"))
        queued = self.e._clock()
        # The limiter's token estimate (images: AWS's count corrects it after).
        chars = sum(len(t) for t in texts if isinstance(t, str))
        try:
            permit = await asyncio.wait_for(
                self.limiter.acquire(self.priority, chars), timeout=left
            )
        except asyncio.TimeoutError:
            raise _NoTime(deadline_error("waiting for the target's rate limit")) from None
        finally:
            metrics.LIMITER_WAIT.labels(service, label).observe(self.e._clock() - queued)
        in_flight = metrics.UPSTREAM_IN_FLIGHT.labels(service, label)
        in_flight.inc()
        started = self.e._clock()
        outcome = "error"
        tokens: int | None = None
        try:
            # A batch is all texts or all images (`Engine.embed` builds them so).
            batch = cast("Sequence[str] | Sequence[ImageInput]", texts)
            result = await self.backend.embed(
                self.prepared, batch, self.purpose, self.credentials, max(0.001, self.time_left())
            )
            vectors = _checked(result.vectors, len(texts), self.prepared)
            self._check_learned_dimension(vectors)
            outcome = "ok"
            tokens = result.input_tokens
            if result.input_tokens:
                self.input_tokens += result.input_tokens
                metrics.INPUT_TOKENS.labels(service, label).inc(result.input_tokens)
            return vectors
        except UpstreamError as exc:
            outcome = "throttled" if exc.kind is Kind.THROTTLED else exc.kind.value.lower()
            if exc.kind is Kind.THROTTLED:
                metrics.THROTTLES.labels(service, label).inc()
            raise
        finally:
            self.limiter.release(
                outcome if outcome in ("ok", "throttled") else "error", permit, tokens
            )
            in_flight.dec()
            metrics.UPSTREAM_CALLS.labels(service, label, region, outcome).inc()
            metrics.UPSTREAM_LATENCY.labels(service, label, region, outcome).observe(
                self.e._clock() - started
            )
            metrics.BATCH_SIZE.labels(service, label).observe(len(texts))
            metrics.RATE_LIMIT.labels(service, label).set(self.limiter.rate)
            token_rate = self.limiter.token_rate
            if token_rate is not None:
                metrics.TOKEN_RATE_LIMIT.labels(service, label).set(token_rate)

    def _check_learned_dimension(self, vectors: Matrix) -> None:
        """Without a configured dimension, the target must answer the length it
        answered before: a single-vector answer has nothing else to agree with."""
        p = self.prepared
        if p.dimensions or not len(vectors):
            return
        key = (p.service, p.region, p.cache_target, p.config.options)
        got = vectors.shape[1]
        expected = self.e._dimensions.check(key, got)
        if expected is not None:
            raise transport_error(
                "bad_response",
                f"expected dimension {expected} (as this target answered before), got {got}",
                target=p.target,
            )


class _NoTime(Exception):
    def __init__(self, error: ItemError):
        self.error = error


def _checked(vectors: Matrix, count: int, prepared: Prepared) -> Matrix:
    """Refuse a wrong answer rather than store a wrong vector (whole batch at once)."""
    if vectors.ndim != 2 or len(vectors) != count:
        raise transport_error(
            "bad_response", f"expected {count} vectors, got {len(vectors)}", target=prepared.target
        )
    got = vectors.shape[1]
    expected = prepared.dimensions or got
    if got != expected:
        raise transport_error(
            "bad_response", f"expected dimension {expected}, got {got}", target=prepared.target
        )
    if not all_finite(vectors):
        raise transport_error(
            "bad_response", "vector has NaN or infinite values", target=prepared.target
        )
    if prepared.client_normalize:
        return l2_normalize_rows(vectors)
    return vectors


def deadline_error(where: str) -> ItemError:
    return ItemError(
        "DEADLINE_EXCEEDED",
        f"deadline reached {where}; send the item again (or with a longer deadline)",
        True,
    )


def _gave_up(exc: UpstreamError, attempts: int) -> ItemError:
    code = "THROTTLED" if exc.kind is Kind.THROTTLED else "UPSTREAM_UNAVAILABLE"
    return ItemError(
        code,
        f"gave up after {attempts} attempt(s) within the deadline: {exc.message}; "
        "retrying later can succeed",
        True,
    )
