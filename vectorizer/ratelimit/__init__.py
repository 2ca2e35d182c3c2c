"""Adaptive per-target limiting: a concurrency bound plus paced rates that
find the account's quota in requests and in tokens.

- `controller`: the rate arithmetic (pure, time injected), and why it works.
- `rounds`: measurement rounds, what the controller learns from.
- `tokens`: the per-target characters-per-token estimate.
- `budgets`: the `RateBudget` protocol and the local budget behind it.
- `scheduler`: `AdaptiveLimiter`, `Slot` and `LimiterRegistry`.
"""

from vectorizer.ratelimit.budgets import Cost, LocalBudget, RateBudget, TokenBucket
from vectorizer.ratelimit.controller import (
    LimiterSettings,
    PacingController,
    RateController,
    Rates,
)
from vectorizer.ratelimit.rounds import Round, RoundMeter
from vectorizer.ratelimit.scheduler import (
    ERROR,
    OK,
    THROTTLED,
    AdaptiveLimiter,
    LimiterRegistry,
    Permit,
    Slot,
)
from vectorizer.ratelimit.tokens import TokenEstimator

__all__ = [
    "ERROR",
    "OK",
    "THROTTLED",
    "AdaptiveLimiter",
    "Cost",
    "LimiterRegistry",
    "LimiterSettings",
    "LocalBudget",
    "PacingController",
    "Permit",
    "RateBudget",
    "RateController",
    "Rates",
    "Round",
    "RoundMeter",
    "Slot",
    "TokenBucket",
    "TokenEstimator",
]
