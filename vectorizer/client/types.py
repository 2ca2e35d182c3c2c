"""What the client takes and gives back besides vectors.

- `Credentials`: per-request AWS keys, sent as the text2vec-aws metadata.
- `RetryPolicy`: how often and how long apart failed items are sent again.
- `ItemFailure` / `EmbeddingError`: items still failing at the end, by input index.
- `RequestError`: the server refused the whole request; `code` is the gRPC status name.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from vectorizer.v1 import vectorizer_pb2 as pb

PurposeName = Literal["document", "query"]
Matrix = npt.NDArray[np.float32]
Config = Mapping[str, Any] | pb.CollectionConfig


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def metadata(self) -> list[tuple[str, str]]:
        md = [("x-aws-access-key", self.access_key), ("x-aws-secret-key", self.secret_key)]
        if self.session_token:
            md.append(("x-aws-session-token", self.session_token))
        return md


@dataclass(frozen=True)
class ItemFailure:
    index: int
    code: str
    message: str
    retryable: bool


class EmbeddingError(Exception):
    """Some items have no vector after every allowed attempt.

    `vectors` holds, by input index, the vectors the other items did get
    (None where an item failed), so nothing already embedded is lost.
    """

    def __init__(
        self,
        failures: Sequence[ItemFailure],
        attempts: int,
        vectors: Sequence[list[float] | None] = (),
    ):
        self.failures = list(failures)
        self.attempts = attempts
        self.vectors = list(vectors)
        shown = "; ".join(f"[{f.index}] {f.code}: {f.message}" for f in self.failures[:5])
        more = f"; and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} item(s) failed after {attempts} attempt(s): {shown}{more}"
        )


class RequestError(Exception):
    """The server refused the whole request."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))
