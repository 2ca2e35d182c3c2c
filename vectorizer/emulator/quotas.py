"""Quotas of the emulator: requests and tokens per second or minute, per target.

Parts:

- `QuotaBucket`: one quota as a continuously refilled token bucket. Its
  capacity is one period of the rate (`--rps`: 1 s of it, `--rpm` and
  `--tpm`: 1 min of it), so a quota that starts full allows a burst of that
  size and then paces, and one that starts empty throttles from the first
  call. A background client taking a share of the quota is modelled by
  refilling at `(1 - share) x rate`: what is left for us.
- `Quotas`: the buckets of every (service, model-or-endpoint) the emulator
  has seen, and `admit(service, target, tokens)`: all three quotas must hold
  the request (one request, `tokens` input tokens) or none is charged, and
  the request is throttled. Throttled requests cost nothing, as with AWS.

Each bucket is created at the first request that meets its quota switched
on, full or empty as `--quota-start` says; switching a quota off (rate 0)
forgets its bucket. A runtime change of a rate (`POST /_emulator/faults`)
keeps the level, capped at the new capacity, so "the quota halved mid-run"
is one POST. Time is injected (`clock`) so tests need no waiting.

A request needing more tokens than a token bucket can ever hold is
throttled every time, as an account's tokens-per-minute quota below one
request's size would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

START_FULL = "full"
START_EMPTY = "empty"
QUOTA_STARTS = (START_FULL, START_EMPTY)
# A level this close to the cost counts as enough: float drift must not throttle.
_EPSILON = 1e-9


class QuotaBucket:
    """A continuous token bucket holding `period` seconds of its rate."""

    __slots__ = ("level", "_stamp")

    def __init__(self, level: float, now: float):
        self.level = level
        self._stamp = now

    def refill(self, rate: float, capacity: float, share: float, now: float) -> None:
        if now > self._stamp:
            self.level = min(capacity, self.level + (now - self._stamp) * rate * (1.0 - share))
            self._stamp = now
        elif self.level > capacity:  # the rate was lowered at run time
            self.level = capacity


@dataclass(frozen=True)
class QuotaLimits:
    """The quota knobs in force (a view of `Faults`); 0 switches a quota off."""

    rps: float = 0.0
    rpm: float = 0.0
    tpm: float = 0.0
    start: str = START_FULL
    background: float = 0.0

    def dimensions(self) -> tuple[tuple[str, float, float], ...]:
        """(name, units per second, capacity) of every quota switched on."""
        out = []
        if self.rps > 0:
            out.append(("rps", self.rps, self.rps))
        if self.rpm > 0:
            out.append(("rpm", self.rpm / 60.0, self.rpm))
        if self.tpm > 0:
            out.append(("tpm", self.tpm / 60.0, self.tpm))
        return tuple(out)


class Quotas:
    """The quota buckets of every target; `admit` charges a request or refuses it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], QuotaBucket] = {}
        self._active: tuple[str, ...] = ()

    def clear(self) -> None:
        self._buckets.clear()
        self._active = ()

    def admit(self, limits: QuotaLimits, service: str, target: str, tokens: int) -> bool:
        dims = limits.dimensions()
        active = tuple(d[0] for d in dims)
        if active != self._active:  # a quota was switched on or off: forget the others
            self._buckets = {k: b for k, b in self._buckets.items() if k[2] in active}
            self._active = active
        if not dims:
            return True
        now = self._clock()
        share = limits.background
        charged = []
        fits = True
        for name, rate, capacity in dims:
            key = (service, target, name)
            bucket = self._buckets.get(key)
            if bucket is None:
                start = capacity if limits.start == START_FULL else 0.0
                bucket = self._buckets[key] = QuotaBucket(start, now)
            else:
                bucket.refill(rate, capacity, share, now)
            cost = float(tokens) if name == "tpm" else 1.0
            if bucket.level < cost - _EPSILON:
                fits = False
            charged.append((bucket, cost))
        if not fits:
            return False
        for bucket, cost in charged:
            bucket.level -= cost
        return True

    def levels(self, service: str, target: str) -> dict[str, float]:
        """Current levels of a target's buckets (for tests), as last refilled."""
        return {k[2]: b.level for k, b in self._buckets.items() if k[:2] == (service, target)}
