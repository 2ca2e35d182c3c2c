"""OpenAI `x-ratelimit-*` headers, derived from the target's adaptive limiter.

Weaviate's text2vec-openai sends one object per request until an answer
carries all six headers; from then on it batches (up to 2000 inputs and
300,000 estimated tokens per request) and paces itself by them. So the
headers are what makes an import fast, and they must be true: Weaviate
sleeps, splits or waits on what they say.

Per minute, as OpenAI counts:
- `limit-requests` = rate x 60: the upstream calls the target's limiter
  allows now (AIMD-learned, calls per second). A request costs at least one
  upstream call, so no more requests than this are served in a minute.
- `limit-tokens` = limit-requests x texts per call x tokens per text: the
  text those calls carry. Tokens per text is this answer's own measure (the
  model's token count over its texts), or UTF-8 bytes / 4 when the model
  reports no count (OpenAI's rule of thumb for English). Once the limiter
  paces tokens (a token quota was learned or told), never above its token
  rate x 60.
- `remaining-*` = the limit less the calls already in flight or queued on the
  target (never below 0).
- `reset-*` = the time the limiter needs to work off that backlog, as a Go
  duration ("0s", "20ms", "1.5s"): OpenAI's format, read by Weaviate with
  time.ParseDuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vectorizer.compat.common import TargetLoad

BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class RateLimits:
    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        reset = go_duration(self.reset_seconds)
        return {
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(self.remaining_requests),
            "x-ratelimit-remaining-tokens": str(self.remaining_tokens),
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-reset-tokens": reset,
        }


def tokens_per_text(texts: Sequence[str], input_tokens: int) -> float:
    """The mean tokens per text of this answer; estimated from bytes when unknown."""
    if not texts:
        return 1.0
    if input_tokens > 0:
        return max(1.0, input_tokens / len(texts))
    size = sum(len(t.encode("utf-8", "replace")) for t in texts)
    return max(1.0, size / BYTES_PER_TOKEN / len(texts))


def rate_limits(load: TargetLoad, per_text: float) -> RateLimits:
    calls_per_minute = max(0.0, load.rate) * 60.0
    tokens_per_call = load.texts_per_call * per_text
    limit_requests = max(1, math.floor(calls_per_minute))
    tokens_per_minute = calls_per_minute * tokens_per_call
    if load.token_rate is not None:
        tokens_per_minute = min(tokens_per_minute, max(0.0, load.token_rate) * 60.0)
    limit_tokens = max(1, math.floor(tokens_per_minute))
    backlog = max(0, load.backlog)
    return RateLimits(
        limit_requests=limit_requests,
        limit_tokens=limit_tokens,
        remaining_requests=max(0, limit_requests - backlog),
        remaining_tokens=max(0, limit_tokens - math.ceil(backlog * tokens_per_call)),
        reset_seconds=backlog / load.rate if load.rate > 0 else 60.0,
    )


def go_duration(seconds: float) -> str:
    """`seconds` as Go's time.ParseDuration reads it: "0s", "250ms", "1.5s", "2m5s"."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60.0)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text
