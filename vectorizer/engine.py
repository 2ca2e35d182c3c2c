"""The engine: texts (or images) in, one result per item out, in input order.

An item is a text or an `ImageInput`; both flow through the same steps, an
image keyed by the hash of its bytes. For one request it
1. checks each text (blank, length policy) and each image (the model's image
   limits) -> item errors where needed,
2. embeds identical texts once (dedupe),
3. serves what the cache holds,
4. splits the rest into upstream batches of the target's size (images in
   calls of their own, packed by the backend); for a target that takes many
   texts a call, texts of concurrent requests share batches
   (`batcher.Batcher`, one lane per target, purpose, options and credential),
5. runs them under the target's limiter (concurrency + adaptive rate,
   queries first), retrying classified errors with backoff within the
   deadline, isolating a bad item of a failed batch by halving it,
6. checks every answer (count, dimension, finite), normalises where the
   model cannot, fills the cache and reassembles results in input order.

Nothing is dropped: every text ends as a vector or an item error that says
why and whether a retry can help. Failures that would be identical for
every item (bad model, no access) are raised as request errors instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from vectorizer import metrics
from vectorizer.backends.base import Backend, Prepared
from vectorizer.batcher import DEFAULT_MAX_WAIT, Batch, Batcher
from vectorizer.cache import VectorCache, cache_key
from vectorizer.config import ResolvedConfig
from vectorizer.dimensions import DimensionMemory
from vectorizer.errors import Kind, UpstreamError, VectorizerError, transport_error
from vectorizer.lanes import Share, lane_key, split_tokens
from vectorizer.media import ImageInput
from vectorizer.ratelimit import AdaptiveLimiter, LimiterRegistry
from vectorizer.retry import RetryPolicy, backoff_delay
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.vectors import Matrix, Vector, all_finite, l2_normalize_rows

log = logging.getLogger(__name__)

# Time kept back from the caller's deadline to build and send the answer.
DEADLINE_MARGIN = 0.05
# A request in a shared batch stops waiting this long after the batch's own
# deadline handling would have answered for it alone (so that, alone, it gets
# the batch's precise deadline errors), still well inside DEADLINE_MARGIN.
SHARED_GRACE = 0.02
# Kinds that would fail every item the same way: raised, not itemised.
FATAL_KINDS = frozenset({Kind.NOT_FOUND, Kind.PERMISSION_DENIED, Kind.UNAUTHENTICATED})
# Kinds that a single bad text can cause inside a batch: bisect to find it.
ISOLATE_KINDS = frozenset({Kind.INVALID_ARGUMENT, Kind.MODEL_ERROR})
# A request whose every item failed with one of these answers with its status.
UNIFORM_STATUS = {
    "THROTTLED": Kind.THROTTLED,
    "UPSTREAM_UNAVAILABLE": Kind.UNAVAILABLE,
    "DEADLINE_EXCEEDED": Kind.DEADLINE_EXCEEDED,
}

BLANK = ItemError("BLANK_TEXT", "text is empty or only whitespace: nothing to embed", False)

Item = str | ImageInput


@dataclass
class EmbedOutcome:
    results: list[ItemResult]
    model: str
    dimensions: int
    input_tokens: int


class Engine:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        limiters: LimiterRegistry,
        cache: VectorCache | None,
        retry: RetryPolicy,
        label_values: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        batch_wait: float = DEFAULT_MAX_WAIT,
    ):
        self._backends = backends
        self._limiters = limiters
        self._cache = cache
        self._retry = retry
        self._labels = label_values
        self._clock = clock
        # Targets whose config names no dimension: what they answered so far.
        self._dimensions = DimensionMemory()
        self._batcher: Batcher[ItemResult, Share] = Batcher(batch_wait, clock)

    def prepare(self, config: ResolvedConfig) -> Prepared:
        """Validate `config` against its backend (raises ConfigError)."""
        return self._backends[config.service].prepare(config)

    def limiter(self, prepared: Prepared, credentials: AwsCredentials) -> AdaptiveLimiter:
        """The limiter of the target `prepared` names, as `credentials` see it
        (the quota belongs to the account behind them)."""
        return self._limiters.get(
            (prepared.service, prepared.region, prepared.target, credentials.identity)
        )

    def label(self, prepared: Prepared) -> str:
        """Bounded metric label: a configured or known target, the known model
        behind it (a profile id's base model), else 'other'."""
        if prepared.target in self._labels:
            return prepared.target
        return metrics.bounded(prepared.known_name, self._labels)

    async def embed(
        self,
        prepared: Prepared,
        texts: Sequence[Item],
        purpose: Purpose,
        credentials: AwsCredentials,
        deadline: float,
    ) -> EmbedOutcome:
        backend = self._backends[prepared.service]
        label = self.label(prepared)
        results: list[ItemResult | None] = [None] * len(texts)
        positions: dict[Item, list[int]] = {}
        for i, text in enumerate(texts):
            if isinstance(text, ImageInput):
                image, image_error = backend.check_image(prepared, text)
                if image_error is not None:
                    results[i] = ItemResult.fail(image_error)
                else:
                    positions.setdefault(image, []).append(i)
                continue
            if not text.strip():
                results[i] = ItemResult.fail(BLANK)
                continue
            fitted, error = backend.fit_text(prepared, text)
            if error is not None:
                results[i] = ItemResult.fail(error)
                continue
            positions.setdefault(fitted, []).append(i)

        keys = {
            text: cache_key(
                credentials.identity,
                prepared.service,
                prepared.region,
                prepared.cache_target,
                prepared.config.options,
                purpose,
                text if isinstance(text, str) else "",
                media=text.cache_text() if isinstance(text, ImageInput) else "",
            )
            for text in positions
            if isinstance(text, str) or text.cacheable
        }
        cached = await self._cache.get_many(list(keys.values())) if self._cache else {}
        found: dict[Item, ItemResult] = {
            t: ItemResult.ok(cached[k]) for t, k in keys.items() if k in cached
        }
        pending = [t for t in positions if t not in found]
        upstream, input_tokens = await self._upstream(
            backend, prepared, pending, purpose, credentials, deadline, label
        )

        fresh: dict[str, Vector] = {}
        for text, result in zip(pending, upstream, strict=True):
            found[text] = result
            if result.vector is not None and text in keys:
                fresh[keys[text]] = result.vector
        if fresh and self._cache:
            await self._cache.put_many(fresh)

        for text, idxs in positions.items():
            for i in idxs:
                results[i] = found[text]
        final = [r if r is not None else _lost() for r in results]
        _raise_if_uniform(final)
        _count_items(final, prepared.service, label, purpose)
        dims = next(
            (len(r.vector) for r in final if r.vector is not None), prepared.dimensions or 0
        )
        return EmbedOutcome(final, prepared.target, dims, input_tokens)

    async def _upstream(
        self,
        backend: Backend,
        prepared: Prepared,
        pending: list[Item],
        purpose: Purpose,
        credentials: AwsCredentials,
        deadline: float,
        label: str,
    ) -> tuple[list[ItemResult], int]:
        """Results for `pending`, in order, and the input tokens they cost.

        Texts for a target that takes several a call go through the batcher
        (shared with concurrent requests); other texts and the images (in
        calls the backend packs) are this request's own calls.
        """
        size = max(1, prepared.max_batch_size)
        texts = [t for t in pending if isinstance(t, str)]
        images = [t for t in pending if isinstance(t, ImageInput)]
        run = _Run(self, backend, prepared, purpose, credentials, deadline, label)
        share = Share(credentials, deadline) if size > 1 and texts else None
        batches: list[list[Item]] = []
        if share is None:
            batches = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
        if images:
            batches.extend(list(b) for b in backend.image_batches(prepared, images))
        work = [run.batch(b) for b in batches]
        if share is not None:
            work.append(
                self._batcher.run(
                    lane_key(prepared, purpose, credentials),
                    texts,
                    size=size,
                    send=functools.partial(self._send_shared, backend, prepared, purpose, label),
                    context=share,
                    give_up_at=deadline - DEADLINE_MARGIN + SHARED_GRACE,
                    expired=_expired,
                    urgent=purpose is Purpose.QUERY,
                )
            )
        outcomes = await _gather_or_raise(work)
        by_item: dict[Item, ItemResult] = {}
        if share is not None:
            by_item.update(zip(texts, outcomes.pop(), strict=True))
        for batch, outcome in zip(batches, outcomes, strict=True):
            by_item.update(zip(batch, outcome, strict=True))
        tokens = run.input_tokens + (share.input_tokens if share is not None else 0)
        return [by_item[item] for item in pending], tokens

    async def _send_shared(
        self,
        backend: Backend,
        prepared: Prepared,
        purpose: Purpose,
        label: str,
        batch: Batch[ItemResult, Share],
    ) -> list[ItemResult]:
        """One upstream batch of a lane, run until the latest deadline among its
        requests; the input tokens billed are shared out by text count."""
        shares = batch.contexts
        deadline = max(s.deadline for s in shares)
        run = _Run(self, backend, prepared, purpose, shares[0].credentials, deadline, label)
        results = await run.batch(list[Item](batch.texts))
        counts = [count for _, _, count in batch.shares]
        for share, tokens in zip(shares, split_tokens(run.input_tokens, counts), strict=True):
            share.input_tokens += tokens
        return results


def _expired(sent: bool) -> ItemResult:
    where = "while the upstream call was in flight" if sent else "before the call could start"
    return ItemResult.fail(_deadline_error(where))


class _Run:
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
                    error = _deadline_error("while the upstream call was in flight")
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
            raise _NoTime(_deadline_error("before the call could start"))
        queued = self.e._clock()
        # The limiter's token estimate (images: AWS's count corrects it after).
        chars = sum(len(t) for t in texts if isinstance(t, str))
        try:
            permit = await asyncio.wait_for(
                self.limiter.acquire(self.priority, chars), timeout=left
            )
        except asyncio.TimeoutError:
            raise _NoTime(_deadline_error("waiting for the target's rate limit")) from None
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


def _deadline_error(where: str) -> ItemError:
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


def _lost() -> ItemResult:  # pragma: no cover - a bug guard, never expected
    log.error("an item got no result; reporting it as an internal error")
    return ItemResult.fail(ItemError("INTERNAL", "internal error: item got no result", True))


def _raise_if_uniform(results: list[ItemResult]) -> None:
    """All items failed with one retryable cause: answer with its status."""
    if not results or any(r.error is None for r in results):
        return
    codes = {r.error.code for r in results if r.error is not None}
    if len(codes) == 1:
        code = codes.pop()
        kind = UNIFORM_STATUS.get(code)
        first = results[0].error
        assert first is not None
        if kind is not None:
            raise VectorizerError(kind, first.message, retryable=True, code=code)
        if code == Kind.INVALID_ARGUMENT.value and len(results) > 0:
            raise VectorizerError(Kind.INVALID_ARGUMENT, first.message, code=code)


def _count_items(results: list[ItemResult], service: str, label: str, purpose: Purpose) -> None:
    ok = sum(1 for r in results if r.vector is not None)
    if ok:
        metrics.ITEMS.labels(service, label, purpose.value, "vector").inc(ok)
    for r in results:
        if r.error is not None:
            metrics.ITEMS.labels(service, label, purpose.value, r.error.code.lower()).inc()


async def _gather_or_raise(coros: list) -> list:
    """Run all; on the first exception cancel the rest and raise it."""
    if not coros:
        return []
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        return [t.result() for t in tasks]
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
