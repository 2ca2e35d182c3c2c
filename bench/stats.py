"""Numbers: latency percentiles and CPU time of a process.

- `Latency`: p50 / p99 / mean of samples, in seconds.
- `cpu_seconds(pid)`: user + system CPU time of a process from /proc/<pid>/stat.
- `machine_busy_seconds()`: CPU time all processes of the machine used so far.
- `CpuMeter`: CPU used by a few processes between `start` and `stop`, and by
  everything else on the machine ("others": jobs that are not the bench's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile `q` (0..100) of `samples`."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Latency:
    n: int
    p50: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Latency:
        mean = sum(samples) / len(samples) if samples else float("nan")
        return cls(len(samples), percentile(samples, 50), percentile(samples, 99), mean)

    def ms(self) -> str:
        return f"p50 {self.p50 * 1e3:.2f} ms, p99 {self.p99 * 1e3:.2f} ms (n={self.n})"


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (its threads included), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine (all cores) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


class CpuMeter:
    """CPU seconds spent by named processes over an interval, plus "others":
    what the rest of the machine used meanwhile (about 0 when the bench ran alone)."""

    def __init__(self, pids: Mapping[str, int]):
        self._pids = dict(pids)
        self._start: dict[str, float] = {}
        self._busy = 0.0

    def start(self) -> CpuMeter:
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._busy = machine_busy_seconds()
        return self

    def stop(self) -> dict[str, float]:
        used = {name: cpu_seconds(pid) - self._start[name] for name, pid in self._pids.items()}
        others = machine_busy_seconds() - self._busy - sum(used.values())
        return {**used, "others": max(0.0, others)}
