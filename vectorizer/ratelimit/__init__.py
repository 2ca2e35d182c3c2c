"""Adaptive per-target limiting: a concurrency bound plus paced rates that
find the account's quota in requests and in tokens.

- `controller`: the rate arithmetic of one dimension (pure, time injected),
  and why it works; `pacing`: requests and tokens together, and the blame.
- `rounds`: measurement rounds, what the controller learns from.
- `tokens`: the per-target characters-per-token estimate.
- `budgets`: the `RateBudget` protocol and the local budget behind it.
- `scheduler`: `AdaptiveLimiter`, `Slot` and `LimiterRegistry`.
"""

from vectorizer.ratelimit.budgets import Cost, LocalBudget, RateBudget, TokenBucket
from vectorizer.ratelimit.controller import RateController
from vectorizer.ratelimit.pacing import LimiterSettings, PacingController, Rates
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
