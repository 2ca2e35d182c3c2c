"""Issue 13's benchmark scenarios: what each sets up, and the physical limit it implies.

- `Quota`: the emulator's quota knobs for one scenario (`--rps`, `--rpm`,
  `--tpm`, `--quota-start`, `--quota-background`; see
  notes/EMULATOR_QUOTA.md), as the JSON of `POST /_emulator/faults`.
- `Change`: a quota change made during the run (scenario c halves the rate).
- `Scenario`: model family, texts, emulator latency, quota, how the sidecar
  is called, and what the scenario measures (`QUOTA`: time against the
  limit; `CPU`: CPU per text).
- `scenarios(quick)`: (a) to (f) at full size or 1/20 of it. (g), the
  overhead over a direct call, is measured by the query phase of `python -m
  bench` and only reported here.
- `admit_time` / `physical_limit`: the least time in which the quota can
  admit the calls and tokens a scenario needs: a token bucket starting with
  `initial` units and refilled at a piecewise-constant rate, the background
  client's share taken off. No client can finish sooner; the targets are
  ratios to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from bench.workload import COHERE, TITAN, Family

QUOTA = "quota"  # measures wall time against the physical limit
CPU = "cpu"  # measures CPU per text (no quota)

# Seconds of refill a full bucket holds (the interface: 1 s for --rps, 1 min for the others).
CAPACITY_SECONDS = {"rps": 1.0, "rpm": 60.0, "tpm": 60.0}


@dataclass(frozen=True)
class Quota:
    rps: float = 0.0
    rpm: float = 0.0
    tpm: float = 0.0
    start: str = "empty"  # "empty" | "full"
    background: float = 0.0  # share of every quota a background client uses

    def knobs(self) -> dict[str, Any]:
        """The `POST /_emulator/faults` body that sets this quota."""
        out: dict[str, Any] = {"rps": self.rps, "rpm": self.rpm}
        if self.tpm:
            out["tpm"] = self.tpm
        out["quota_start"] = self.start
        if self.background:
            out["quota_background"] = self.background
        return out

    def per_second(self) -> dict[str, float]:
        """Refill rate per second of each quota that is on: calls/s or tokens/s."""
        rates = {"rps": self.rps, "rpm": self.rpm / 60.0, "tpm": self.tpm / 60.0}
        return {name: rate for name, rate in rates.items() if rate > 0}

    def describe(self, rates_only: bool = False) -> str:
        parts = []
        if self.rps:
            parts.append(f"{self.rps:g} calls/s")
        if self.rpm:
            parts.append(f"{self.rpm:,.0f} calls/min")
        if self.tpm:
            parts.append(f"{self.tpm:,.0f} tokens/min")
        text = " and ".join(parts)
        if rates_only:
            return text
        text += f", bucket starts {self.start}"
        if self.background:
            text += f", a background client uses {self.background:.0%} of it"
        return text


@dataclass(frozen=True)
class Change:
    """At `at` x the unchanged quota's limit into the run, the quota becomes `quota`."""

    at: float
    quota: Quota


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    kind: str  # QUOTA or CPU
    family: Family
    n: int
    latency_ms: float
    quota: Quota | None = None
    change: Change | None = None
    chars: int | None = None  # text length; None = the usual 150-250 characters
    callers: int = 12  # concurrent gRPC callers of the sidecar
    batch: int = 100  # texts per Vectorize request

    def knobs(self) -> dict[str, Any]:
        """Emulator knobs for the timed part: latency, and the quota (or none)."""
        # No quota: the emulator's command line sets none, and a reset restores that.
        quota = self.quota.knobs() if self.quota else {}
        return {"latency_ms": self.latency_ms, **quota}

    def change_seconds(self, calls: int, tokens: int) -> float | None:
        """When the change is due, from the start of the run."""
        if self.change is None or self.quota is None:
            return None
        return self.change.at * physical_limit(calls, tokens, self.quota)


def scenarios(quick: bool = False) -> list[Scenario]:
    """(a) is the issue's own (6,000 texts at 300 calls/s: 20 s); the others are sized
    so that the whole `make bench` stays near 15 minutes on 2 cores, each still
    long enough (15-25 s) for a limiter to find its quota and hold it."""
    div = 20 if quick else 1
    untold = Quota(rps=300, start="empty")
    return [
        Scenario(
            "a",
            "untold request quota, bucket starts empty",
            QUOTA,
            TITAN,
            6_000 // div,
            40,
            untold,
        ),
        Scenario(
            "b",
            "untold quota, a background client takes 30% of it",
            QUOTA,
            TITAN,
            4_500 // div,
            40,
            replace(untold, background=0.3),
        ),
        Scenario(
            "c",
            "quota halved mid-run",
            QUOTA,
            TITAN,
            4_500 // div,
            40,
            untold,
            Change(0.5, replace(untold, rps=untold.rps / 2)),
        ),
        # 2,000-character texts are ~270 tokens (the emulator counts words): 2,400 of
        # them take ~16 s at 40,000 tokens/s, while 1,000 calls/s never binds.
        Scenario(
            "d",
            "token-bound import of long texts against a tokens-per-minute quota",
            QUOTA,
            TITAN,
            2_400 // div,
            40,
            Quota(rps=1000, tpm=2_400_000, start="empty"),
            chars=2_000,
        ),
        Scenario(
            "e",
            "Cohere v3 96-text batches, CPU-bound",
            CPU,
            COHERE,
            20_000 // div,
            5,
            callers=8,
            batch=500,
        ),
        Scenario(
            "f", "Titan v2 with real-size answers, CPU per text", CPU, TITAN, 3_000 // div, 40
        ),
    ]


def calls_needed(family: Family, n: int) -> int:
    """Upstream calls for `n` texts at the model's largest batch."""
    return -(-n // family.max_batch)


def admit_time(need: float, segments: list[tuple[float, float]], initial: float = 0.0) -> float:
    """Seconds until a bucket holding `initial` units, refilled at the rates of
    `segments` ((start second, units per second), in time order, the first at
    0), has let `need` units through; infinity if it never does."""
    have = initial
    if have >= need:
        return 0.0
    for i, (start, rate) in enumerate(segments):
        end = segments[i + 1][0] if i + 1 < len(segments) else math.inf
        if rate > 0:
            done = start + (need - have) / rate
            if done <= end:
                return done
        have += rate * (end - start)
    return math.inf


def physical_limit(
    calls: int,
    tokens: int,
    quota: Quota,
    change_at: float | None = None,
    changed: Quota | None = None,
) -> float:
    """Least seconds for `calls` calls carrying `tokens` input tokens under
    `quota` (and `changed` from `change_at` seconds on): the slowest of its
    quotas decides."""
    need = {"rps": float(calls), "rpm": float(calls), "tpm": float(tokens)}
    before = quota.per_second()
    after = changed.per_second() if changed is not None and change_at is not None else None
    limit = 0.0
    for name, rate in before.items():
        ours = rate * (1.0 - quota.background)
        segments = [(0.0, ours)]
        if after is not None and changed is not None and change_at is not None:
            segments.append((change_at, after.get(name, 0.0) * (1.0 - changed.background)))
        # A full bucket holds a whole period of the rate; the background share only
        # slows its refill (vectorizer/emulator/quotas.py).
        initial = rate * CAPACITY_SECONDS[name] if quota.start == "full" else 0.0
        limit = max(limit, admit_time(need[name], segments, initial))
    return limit
