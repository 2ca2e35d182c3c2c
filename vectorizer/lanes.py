"""Which requests may share upstream calls, and how they share what a call costs.

- `lane_key`: requests with equal keys may have their texts in one upstream
  call (`batcher.Batcher` lanes): the same call config (the text-building
  settings of VectorizeObjects aside), purpose and credential.
- `Share`: one request's part in shared calls: its credential and deadline,
  and the input tokens billed to it.
- `split_tokens`: a call's billed tokens shared out by text count.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

from vectorizer.backends.base import Prepared
from vectorizer.transport import AwsCredentials
from vectorizer.types import Purpose


@dataclass(eq=False)
class Share:
    """One request's part in shared batches."""

    credentials: AwsCredentials
    deadline: float
    input_tokens: int = 0


def lane_key(prepared: Prepared, purpose: Purpose, credentials: AwsCredentials) -> Hashable:
    """Requests that may share upstream calls: same call config (text-building
    settings aside), purpose and credential, session token included (hashed)."""
    call = dataclasses.replace(
        prepared.config, vectorize_class_name=False, properties=(), lowercase=True
    )
    token = hashlib.sha256(credentials.token.encode()).hexdigest() if credentials.token else ""
    return (call, purpose, credentials.identity, token)


def split_tokens(total: int, counts: list[int]) -> list[int]:
    """`total` in integer parts proportional to `counts`, adding up to `total`."""
    whole = sum(counts)
    if not total or not whole:
        return [0] * len(counts)
    parts = [total * c // whole for c in counts]
    # What flooring left over goes to the largest remainders, one each.
    by_remainder = sorted(range(len(counts)), key=lambda i: -(total * counts[i] % whole))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts
