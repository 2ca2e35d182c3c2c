"""Fault injection for the emulator: what can go wrong, and when it does.

Parts:

- `Faults`: the knobs (a dataclass), set from the command line and changed at
  run time through `POST /_emulator/faults`. `Faults.updated` validates a
  partial update and returns a new value; nothing mutates in place.
- `Fault`: the names of the faults a request can draw.
- `QuotaWindow`: a sliding 60-second window of admitted requests, the
  requests-per-minute quota of one service. Throttled requests do not count
  against it, as with AWS.
- `RateBucket`: a requests-per-second quota as a token bucket (one second's
  worth of burst), the shape that makes a client's rate control visible:
  above the rate, throttles start within a second, not after a minute.
- `FaultInjector`: draws the faults of one request from a seeded RNG, in a
  fixed order so that a seed gives the same sequence for the same requests.
  Time and chance are injected (`clock`, `seed`) so tests need no waiting.

Before a request is served: quota, throttle, model-not-ready, server error,
connection reset and truncated answer are drawn (the first hit wins). After a
good answer is built: malformed JSON, one vector too few, one component too
few. `fail_texts` is checked by the services against each input text.
"""

from __future__ import annotations

import enum
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

WINDOW_SECONDS = 60.0
ERROR_STATUSES = (408, 500, 503, 530)
_RATES = (
    "throttle_rate",
    "error_rate",
    "model_not_ready_rate",
    "reset_rate",
    "truncate_rate",
    "malformed_rate",
    "wrong_count_rate",
    "wrong_dim_rate",
)


class Fault(str, enum.Enum):
    QUOTA = "quota"
    THROTTLE = "throttle"
    NOT_READY = "model_not_ready"
    ERROR = "error"
    RESET = "reset"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    WRONG_COUNT = "wrong_count"
    WRONG_DIM = "wrong_dim"


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    throttle_rate: float = 0.0
    rpm: int = 0  # 0 = no quota
    rps: float = 0.0  # 0 = no per-second quota
    error_rate: float = 0.0
    error_status: int = 500
    model_not_ready_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    wrong_count_rate: float = 0.0
    wrong_dim_rate: float = 0.0
    fail_texts: tuple[str, ...] = field(default_factory=tuple)

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; ValueError names the first bad knob."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault knobs {unknown}; known: {sorted(known)}")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            clean[name] = _check(name, value)
        return replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fail_texts"] = list(self.fail_texts)
        return data


def _check(name: str, value: Any) -> Any:
    if name == "fail_texts":
        if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
            raise ValueError("fail_texts must be a list of strings")
        return tuple(s for s in value if s)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if name in _RATES:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
        return float(value)
    if name == "error_status":
        if value not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {list(ERROR_STATUSES)}, got {value}")
        return int(value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return int(value) if name == "rpm" else float(value)


class QuotaWindow:
    """Admits at most `limit` requests in any `WINDOW_SECONDS` span."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._admitted: deque[float] = deque()

    def admit(self, limit: int) -> bool:
        if limit <= 0:
            return True
        now = self._clock()
        while self._admitted and now - self._admitted[0] >= WINDOW_SECONDS:
            self._admitted.popleft()
        if len(self._admitted) >= limit:
            return False
        self._admitted.append(now)
        return True


class RateBucket:
    """Admits requests at `rate` per second on average, bursting to one second's worth."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._tokens: float | None = None
        self._last = 0.0

    def admit(self, rate: float) -> bool:
        if rate <= 0:
            return True
        now = self._clock()
        capacity = max(1.0, rate)
        if self._tokens is None:
            self._tokens = capacity
        else:
            self._tokens = min(capacity, self._tokens + (now - self._last) * rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class FaultInjector:
    """Draws faults for requests from the current `Faults`."""

    def __init__(
        self,
        faults: Faults,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.faults = faults
        self._seed = seed
        self._clock = clock
        self._rng = random.Random(seed)
        self._windows: dict[str, QuotaWindow] = {}
        self._buckets: dict[str, RateBucket] = {}

    def reset(self, faults: Faults) -> None:
        """Back to `faults`, empty quota windows and a freshly seeded RNG."""
        self.faults = faults
        self._rng = random.Random(self._seed)
        self._windows.clear()
        self._buckets.clear()

    def _hit(self, rate: float) -> bool:
        # Always draw, so the sequence for a seed does not depend on which knobs are on.
        return self._rng.random() < rate

    def latency_seconds(self) -> float:
        f = self.faults
        jitter = self._rng.uniform(-f.latency_jitter_ms, f.latency_jitter_ms)
        return max(0.0, f.latency_ms + jitter) / 1000.0

    def before(self, service: str) -> Fault | None:
        """The fault that replaces this request's answer, if any."""
        f = self.faults
        draws = [
            (Fault.THROTTLE, self._hit(f.throttle_rate)),
            (Fault.NOT_READY, self._hit(f.model_not_ready_rate)),
            (Fault.ERROR, self._hit(f.error_rate)),
            (Fault.RESET, self._hit(f.reset_rate)),
            (Fault.TRUNCATE, self._hit(f.truncate_rate)),
        ]
        window = self._windows.setdefault(service, QuotaWindow(self._clock))
        chosen = next((fault for fault, hit in draws if hit), None)
        if chosen is Fault.THROTTLE:
            return chosen
        bucket = self._buckets.setdefault(service, RateBucket(self._clock))
        if not bucket.admit(f.rps) or not window.admit(f.rpm):
            return Fault.QUOTA
        return chosen

    def after(self) -> set[Fault]:
        """Corruptions to apply to a good answer."""
        f = self.faults
        draws = [
            (Fault.MALFORMED, self._hit(f.malformed_rate)),
            (Fault.WRONG_COUNT, self._hit(f.wrong_count_rate)),
            (Fault.WRONG_DIM, self._hit(f.wrong_dim_rate)),
        ]
        return {fault for fault, hit in draws if hit}

    def failing_text(self, texts: list[str]) -> str | None:
        """The first of `texts` that contains a `fail_texts` substring."""
        for text in texts:
            if any(marker in text for marker in self.faults.fail_texts):
                return text
        return None
