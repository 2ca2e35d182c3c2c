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

from vectorizer import metrics
from vectorizer.backends.base import Backend, Prepared
from vectorizer.batcher import DEFAULT_MAX_WAIT, Batch, Batcher
from vectorizer.cache import VectorCache, cache_key
from vectorizer.config import ResolvedConfig
from vectorizer.dimensions import DimensionMemory
from vectorizer.errors import Kind, VectorizerError
from vectorizer.lanes import Share, lane_key, split_tokens
from vectorizer.media import ImageInput
from vectorizer.ratelimit import AdaptiveLimiter, LimiterRegistry
from vectorizer.retry import RetryPolicy
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.upstream import DEADLINE_MARGIN, Item, UpstreamRun, deadline_error
from vectorizer.vectors import Vector

log = logging.getLogger(__name__)

# A request in a shared batch stops waiting this long after the batch's own
# deadline handling would have answered for it alone (so that, alone, it gets
# the batch's precise deadline errors), still well inside DEADLINE_MARGIN.
SHARED_GRACE = 0.02
# A request whose every item failed with one of these answers with its status.
UNIFORM_STATUS = {
    "THROTTLED": Kind.THROTTLED,
    "UPSTREAM_UNAVAILABLE": Kind.UNAVAILABLE,
    "DEADLINE_EXCEEDED": Kind.DEADLINE_EXCEEDED,
}

BLANK = ItemError("BLANK_TEXT", "text is empty or only whitespace: nothing to embed", False)


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
        run = UpstreamRun(self, backend, prepared, purpose, credentials, deadline, label)
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
        run = UpstreamRun(self, backend, prepared, purpose, shares[0].credentials, deadline, label)
        results = await run.batch(list[Item](batch.texts))
        counts = [count for _, _, count in batch.shares]
        for share, tokens in zip(shares, split_tokens(run.input_tokens, counts), strict=True):
            share.input_tokens += tokens
        return results


def _expired(sent: bool) -> ItemResult:
    where = "while the upstream call was in flight" if sent else "before the call could start"
    return ItemResult.fail(deadline_error(where))


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
