"""When to retry an upstream call, and how long to wait first.

- `RetryPolicy`: the attempt budget and the backoff bounds.
- `backoff_delay`: exponential backoff with full jitter,
  delay = rand() * min(max_delay, base_delay * 2 ** attempt), so that callers
  throttled together spread out instead of returning in lockstep.
- `should_retry`: whether a failed attempt is worth another, from the error's
  classification (`VectorizerError.retryable`), the attempts left and the
  caller's remaining time.

Chance is injected (`rand`) so tests pin the jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from vectorizer.errors import VectorizerError

# 2 ** attempt is capped here: max_delay bounds the result long before, and an
# unbounded power would overflow a float for absurd attempt numbers.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts every attempt, the first included."""

    max_attempts: int = 8
    base_delay: float = 0.05  # seconds
    max_delay: float = 5.0  # seconds

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")


def backoff_delay(
    attempt: int, policy: RetryPolicy, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number `attempt` (0 for the first)."""
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** min(max(attempt, 0), _MAX_EXPONENT))
    return rand() * ceiling


def should_retry(
    error: BaseException, attempt: int, policy: RetryPolicy, time_left: float | None
) -> bool:
    """Whether to try again after `error` ended attempt number `attempt` (0-based).

    Only errors classified as retryable qualify; anything unclassified (a bug,
    a cancellation) is final. `time_left` is the caller's remaining time in
    seconds, or None without a deadline.
    """
    if not isinstance(error, VectorizerError) or not error.retryable:
        return False
    if attempt + 1 >= policy.max_attempts:
        return False
    return time_left is None or time_left > 0
