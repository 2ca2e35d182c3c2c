"""Cutting a SageMaker request into upstream calls.

- `encode_body`: the exact bytes sent (compact UTF-8 JSON).
- `split_batches` -> `BatchPlan`: consecutive index ranges that respect both
  the batch size and InvokeEndpoint's 6 MiB body limit, in input order, plus
  the texts too large for any call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_REQUEST_BYTES = 6_291_456  # InvokeEndpoint body limit (botocore service model)


def encode_body(body: Any) -> bytes:
    """The bytes to send. Compact and UTF-8, so `split_batches`'s sizes are exact."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _inputs_body(texts: Sequence[str]) -> Any:
    return {"inputs": list(texts)}


@dataclass
class BatchPlan:
    """Upstream calls for a request: `batches` in order; `oversized` texts fit no call."""

    batches: list[range]
    oversized: list[int]


def split_batches(
    texts: Sequence[str],
    batch_size: int,
    max_bytes: int = MAX_REQUEST_BYTES,
    build: Callable[[Sequence[str]], Any] = _inputs_body,
    encode: Callable[[Any], bytes] = encode_body,
) -> BatchPlan:
    """Consecutive index ranges of at most `batch_size` texts whose body
    `encode(build(batch))` is at most `max_bytes`, in input order.

    Sizes are estimated additively (empty body + each JSON-encoded text + a
    comma), then every batch is encoded once for real and halved if the
    estimate was short, so any `build`/`encode` pair is honoured. A text too
    large even alone lands in `oversized` (give it an item error).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    plan = BatchPlan([], [])
    overhead = len(encode(build([])))

    def settle(start: int, stop: int) -> None:
        if len(encode(build(texts[start:stop]))) <= max_bytes:
            plan.batches.append(range(start, stop))
        elif stop - start == 1:
            plan.oversized.append(start)
        else:
            mid = (start + stop) // 2
            settle(start, mid)
            settle(mid, stop)

    start, size = 0, overhead
    for i, text in enumerate(texts):
        cost = len(encode(text)) + (1 if i > start else 0)
        if i > start and (i - start >= batch_size or size + cost > max_bytes):
            settle(start, i)
            start, size, cost = i, overhead, cost - 1
        size += cost
    if start < len(texts):
        settle(start, len(texts))
    return plan
