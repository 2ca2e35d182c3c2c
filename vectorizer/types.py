"""Domain types shared by every layer below the gRPC service.

- `Purpose`: document (import) or query (search).
- `EmbedOptions`: the per-collection knobs that change a vector.
- `ItemError` / `ItemResult`: the outcome of one input item.
- `BatchResult`: what a backend returns for one upstream call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from vectorizer.vectors import Matrix, Vector


class Purpose(enum.Enum):
    DOCUMENT = "document"
    QUERY = "query"


class Truncate(enum.Enum):
    """Over-long input policy. NONE: item error naming the limit."""

    NONE = "NONE"
    START = "START"  # drop text from the start, keep the end
    END = "END"  # drop text from the end, keep the start


@dataclass(frozen=True)
class EmbedOptions:
    """Everything in a collection config that changes the vector for a text."""

    dimensions: int | None = None
    normalize: bool | None = None
    truncate: Truncate | None = None
    # Overrides the purpose mapping with the model's own value
    # (e.g. Cohere "classification", Nova "CLUSTERING").
    input_type: str | None = None


@dataclass(frozen=True)
class ItemError:
    """Why one item got no vector. `code` is stable and machine readable."""

    code: str
    message: str
    retryable: bool


@dataclass
class ItemResult:
    """Exactly one of `vector` (float32) / `error` is set."""

    vector: Vector | None = None
    error: ItemError | None = None

    @staticmethod
    def ok(vector: Vector) -> ItemResult:
        return ItemResult(vector=vector)

    @staticmethod
    def fail(error: ItemError) -> ItemResult:
        return ItemResult(error=error)


@dataclass
class BatchResult:
    """One upstream call's outcome: one float32 row per input text, in order."""

    vectors: Matrix
    input_tokens: int | None = None
    # Per-text errors reported by the upstream inside a successful call.
    errors: dict[int, ItemError] = field(default_factory=dict)
