"""Fault injection for the emulator: what can go wrong, and when it does.

Parts:

- `Faults`: the knobs (a dataclass), set from the command line and changed at
  run time through `POST /_emulator/faults`. `Faults.updated` validates a
  partial update and returns a new value; nothing mutates in place.
- `Fault`: the names of the faults a request can draw.
- `FaultInjector`: draws the faults of one request from a seeded RNG, in a
  fixed order so that a seed gives the same sequence for the same requests,
  and admits requests against the quotas (`quotas.py`: `--rps`, `--rpm`,
  `--tpm` per service and target). Time and chance are injected (`clock`,
  `seed`) so tests need no waiting.

Before a request is served: throttle, model-not-ready, server error,
connection reset and truncated answer are drawn (the first hit wins). A
request that drew none of them (or a truncation) is then validated and
admitted against the quotas with its input tokens (`admit`); over a quota it
gets the same ThrottlingException as a drawn throttle. After a good answer is
built: malformed JSON, one vector too few, one component too few.
`fail_texts` is checked by the services against each input text.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from vectorizer.emulator.quotas import QUOTA_STARTS, START_FULL, QuotaLimits, Quotas

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
    rpm: float = 0.0  # requests per minute, per service and target; 0 = no quota
    rps: float = 0.0  # requests per second, per service and target; 0 = no quota
    tpm: float = 0.0  # input tokens per minute, per service and target; 0 = no quota
    quota_start: str = START_FULL  # every quota bucket starts "full" or "empty"
    quota_background: float = 0.0  # share of every quota a background client uses
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
    if name == "quota_start":
        if value not in QUOTA_STARTS:
            raise ValueError(f"quota_start must be one of {list(QUOTA_STARTS)}, got {value!r}")
        return value
    if name == "fail_texts":
        if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
            raise ValueError("fail_texts must be a list of strings")
        return tuple(s for s in value if s)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if name in _RATES or name == "quota_background":
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
        return float(value)
    if name == "error_status":
        if value not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {list(ERROR_STATUSES)}, got {value}")
        return int(value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return float(value)


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
        self.quotas = Quotas(clock)
        self._limits = QuotaLimits()
        self._limits_of: Faults | None = None

    def reset(self, faults: Faults) -> None:
        """Back to `faults`, new quota buckets and a freshly seeded RNG."""
        self.faults = faults
        self._rng = random.Random(self._seed)
        self.quotas.clear()

    def _hit(self, rate: float) -> bool:
        # Always draw, so the sequence for a seed does not depend on which knobs are on.
        return self._rng.random() < rate

    def latency_seconds(self) -> float:
        f = self.faults
        jitter = self._rng.uniform(-f.latency_jitter_ms, f.latency_jitter_ms)
        return max(0.0, f.latency_ms + jitter) / 1000.0

    def before(self) -> Fault | None:
        """The drawn fault that replaces this request's answer, if any."""
        f = self.faults
        draws = [
            (Fault.THROTTLE, self._hit(f.throttle_rate)),
            (Fault.NOT_READY, self._hit(f.model_not_ready_rate)),
            (Fault.ERROR, self._hit(f.error_rate)),
            (Fault.RESET, self._hit(f.reset_rate)),
            (Fault.TRUNCATE, self._hit(f.truncate_rate)),
        ]
        return next((fault for fault, hit in draws if hit), None)

    def admit(self, service: str, target: str, tokens: int) -> bool:
        """Charge one request of `tokens` input tokens to the target's quotas,
        or refuse it (then nothing is charged)."""
        f = self.faults
        if f is not self._limits_of:  # knobs are replaced, never mutated
            self._limits = QuotaLimits(f.rps, f.rpm, f.tpm, f.quota_start, f.quota_background)
            self._limits_of = f
        return self.quotas.admit(self._limits, service, target, tokens)

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
