"""A replica's share of a shared budget (`redis_budget`), the parts that need no Redis.

- `ShareMeter`: this replica's share of the calls Redis granted.
- `scale_round(round, k)`: a round as the whole fleet would have seen it.
- `FallbackBuckets`: the local buckets of a replica without Redis, at its
  share of the shared rates.
- `lowered`, `token_rate`: reading `Rates`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from vectorizer.ratelimit.budgets import BURST_SECONDS, Cost, TokenBucket
from vectorizer.ratelimit.pacing import Rates
from vectorizer.ratelimit.rounds import Round

SHARE_WINDOW_SECONDS = 2.0
SHARE_MIN_CALLS = 8.0
MIN_SHARE = 0.02


class ShareMeter:
    """This replica's share of the calls: its own grants against the growth
    of the shared `sent` counter (every replica's grants) over the last
    SHARE_WINDOW_SECONDS. It sizes the leases, and the local share if Redis
    goes away."""

    def __init__(self, start: float):
        self.share = start
        self._own = 0.0
        self._history: deque[tuple[float, float, float]] = deque()

    def clear(self) -> None:
        self._history.clear()

    def granted(self, own: float, sent: float, now: float) -> bool:
        """One round trip's grant to us and the `sent` counter after it;
        False if the counter went back (Redis came back empty)."""
        self._own += own
        history = self._history
        restarted = bool(history) and sent < history[-1][2]
        if restarted:
            history.clear()
        history.append((now, self._own, sent))
        while len(history) > 2 and now - history[1][0] >= SHARE_WINDOW_SECONDS:
            history.popleft()
        start = history[0]
        for entry in reversed(history):
            if entry[0] <= now - SHARE_WINDOW_SECONDS:
                start = entry
                break
        _, own0, total0 = start
        _, own1, total1 = history[-1]
        if total1 - total0 >= SHARE_MIN_CALLS:
            self.share = min(1.0, max(MIN_SHARE, (own1 - own0) / (total1 - total0)))
        return not restarted


@dataclass(frozen=True)
class ScaledRound(Round):
    """A round as the whole fleet would have seen it: what it sent and the
    rates it measured times `scale` (1 / this replica's share of the calls).
    The counts that are sample sizes (answers, throttles, the saturated
    part's) stay this replica's: scaled, a handful of answers would pass
    for a measure (a saturated part of 6 answers, none accepted, would read
    as a quota of 0)."""

    raw: Round | None = None
    scale: float = 1.0

    def delivered_calls(self) -> float:
        if self.raw is None:
            return super().delivered_calls()
        return self.raw.delivered_calls() * self.scale

    def delivered_tokens(self) -> float:
        if self.raw is None:
            return super().delivered_tokens()
        return self.raw.delivered_tokens() * self.scale


def scale_round(r: Round, k: float) -> Round:
    """`r` as the whole fleet would have seen it (see `ScaledRound`)."""
    if k == 1.0:
        return r
    return ScaledRound(
        r.duration,
        round(r.calls_sent * k),
        r.calls_ok,
        r.calls_throttled,
        r.tokens_sent * k,
        r.tokens_ok * k,
        r.tokens_counted,
        r.saturated,
        r.saturated_calls_ok,
        r.saturated_tokens_ok,
        r.saturated_answers,
        raw=r,
        scale=k,
    )


class FallbackBuckets:
    """The local buckets of a replica without Redis, at `share` of the rates."""

    def __init__(self, rates: Rates, share: float, now: float):
        self.share = share
        self.requests = TokenBucket(0.0, 1.0, 0.0, now)
        self.tokens = TokenBucket(math.inf, math.inf, 0.0, now)
        self.set(rates, now, cut=True)

    def set(self, rates: Rates, now: float, cut: bool) -> None:
        r = rates.requests * self.share
        self.requests.set_rate(r, max(1.0, r * BURST_SECONDS), now)
        t = rates.tokens * self.share if rates.tokens is not None else math.inf
        self.tokens.set_rate(t, math.inf if math.isinf(t) else max(1.0, t * BURST_SECONDS), now)
        if cut:
            self.requests.level = min(self.requests.level, 0.0)
            if not math.isinf(t):
                self.tokens.level = min(self.tokens.level, 0.0)

    def take(self, cost: Cost, now: float) -> float:
        wait = max(self.requests.delay(cost.requests, now), self.tokens.delay(cost.tokens, now))
        if wait > 0.0:
            return wait
        self.requests.add(-cost.requests, now)
        self.tokens.add(-cost.tokens, now)
        return 0.0

    def refund(self, cost: Cost, now: float) -> None:
        self.requests.add(cost.requests, now)
        self.tokens.add(cost.tokens, now)


def token_rate(value: float) -> float | None:
    return None if value < 0 else value


def lowered(before: Rates, after: Rates) -> bool:
    if after.requests < before.requests:
        return True
    if after.tokens is None:
        return False
    return before.tokens is None or after.tokens < before.tokens
