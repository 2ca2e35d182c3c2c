"""Both dimensions of a target's limit: requests and input tokens.

- `LimiterSettings`: the tunables of one target's limiter.
- `Rates`: the rates in force (tokens None while no token limit is known).
- `PacingController`: a `controller.RateController` per dimension, and
  which one a throttled round is blamed on.

Tokens. The token rate is untold too and learned the same way, starting
unlimited. A throttle does not say which quota it hit, so it is blamed on
one dimension: if one of them fell clearly further below what it delivered
in recent clean rounds than the other (texts got longer: fewer calls, as
many tokens), it cannot be the limit and the other one is blamed; otherwise
the dimension our own pacing was closer to is (requests while no token
limit is known). With texts of even length the two move together and
requests are blamed: pacing on requests then gives the same result, and the
token limit is learned when text lengths change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vectorizer.ratelimit.controller import Mode, RateController, Sample
from vectorizer.ratelimit.rounds import Round

# Blame: one dimension's accepted rate, as a share of its best lately, must
# be BLAME_GAP below the other's to clear it (text lengths vary call to call).
BLAME_GAP = 0.3
# The slowest token rate the controller sets (tokens/s).
MIN_TOKEN_RATE = 1.0


@dataclass(frozen=True)
class LimiterSettings:
    """One target's limits: requests in calls/s, tokens in input tokens/s.

    `max_token_rate` 0 means untold: no token limit until throttles teach one.
    `chars_per_token` is the starting estimate of the token counter, learned
    per target from the counts AWS returns.
    """

    max_concurrency: int = 64
    initial_rate: float = 50.0
    min_rate: float = 1.0
    max_rate: float = 10_000.0
    max_token_rate: float = 0.0
    chars_per_token: float = 4.0

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not 0 < self.min_rate <= self.max_rate:
            raise ValueError("rates must satisfy 0 < min_rate <= max_rate")
        if self.initial_rate <= 0:
            raise ValueError("initial_rate must be positive")
        if self.max_token_rate < 0:
            raise ValueError("max_token_rate must be >= 0 (0: untold)")
        if self.chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")


@dataclass(frozen=True)
class Rates:
    """The rates in force: calls/s, and tokens/s or None (not limited)."""

    requests: float
    tokens: float | None = None


class PacingController:
    """Requests and tokens of one target, and the blame for each throttled round."""

    def __init__(self, settings: LimiterSettings, now: float):
        self.requests = RateController(
            min(settings.max_rate, max(settings.min_rate, settings.initial_rate)),
            settings.min_rate,
            settings.max_rate,
            now,
        )
        told = settings.max_token_rate
        self.tokens = RateController(
            told or None, min(MIN_TOKEN_RATE, told or MIN_TOKEN_RATE), told or math.inf, now
        )
        if told:
            self.tokens.mode = Mode.PROBE  # told: start at the ceiling

    @property
    def rates(self) -> Rates:
        tokens = self.tokens.rate
        return Rates(self.requests.rate, None if math.isinf(tokens) else tokens)

    def on_round(self, r: Round, now: float) -> Rates:
        """Apply one round."""
        throttles, answers, saturated = r.calls_throttled, r.answers, r.measured_saturated
        on_tokens = throttles > 0 and self.blame_tokens(r, now)
        calls = Sample(r.duration, r.calls_sent, r.delivered_calls(), throttles, answers, saturated)
        self.requests.on_round(calls, not on_tokens, now)
        if r.tokens_counted:
            tokens = Sample(
                r.duration,
                r.tokens_sent,
                r.delivered_tokens(),
                throttles,
                answers,
                saturated,
                r.tokens_ok,
            )
            self.tokens.on_round(tokens, on_tokens, now)
        return self.rates

    def blame_tokens(self, r: Round, now: float) -> bool:
        """Whether a throttled round is blamed on the token quota."""
        if not r.tokens_counted:
            return False  # AWS reports no tokens for this target: requests it is
        # Each dimension's accepted rate against its best lately: the one that
        # fell clearly further cannot be the limit (texts got longer: fewer
        # calls, as many tokens).
        requests = _share_of_best(self.requests, r.delivered_calls(), now)
        tokens = _share_of_best(self.tokens, r.delivered_tokens(), now)
        if requests < tokens * (1 - BLAME_GAP):
            return True
        if tokens < requests * (1 - BLAME_GAP):
            return False
        req_use = self.requests.utilisation(r.calls_sent, r.duration)
        tok_use = self.tokens.utilisation(r.tokens_sent, r.duration)
        return tok_use > req_use


def _share_of_best(controller: RateController, delivered: float, now: float) -> float:
    best = controller.best(now)
    return delivered / best if best > 0 else 1.0
