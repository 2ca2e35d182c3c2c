"""Fleet rounds: the whole fleet's calls, as Redis counts them, cut into rounds.

The replica holding the pacer lease of a shared budget (`redis_budget`) runs
the one `PacingController` of the fleet on these rounds. Redis counts every
call granted to any replica (`sent`, `tsent`) and every answer the replicas
report (`ok`, `thr`, `tok`), on its own clock; each of the pacer's round
trips brings the totals back (`FleetCounts`), and `FleetMeter` hands back a
`rounds.Round` of their growth once one closes. The counts are exact: no
replica's share of the calls has to be guessed and scaled up, which made
each replica's own view of the quota too noisy to act on.

A fleet round has no saturated part (that needs each call's send time): a
throttled round's accepted rate is its calls accepted over its length, and
the controller's cycle measure (accepted between two throttled rounds) is
exact. A gap of more than `rounds.ROUND_MAX_SECONDS` between samples is idle
time, not part of any rate: the round restarts after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vectorizer.ratelimit.rounds import EARLY_CLOSE_THROTTLES, ROUND_MAX_SECONDS, Round

# Longer than a process's own rounds (rounds.ROUND_SECONDS): answers reach
# the counters in clumps, with each replica's report, and a tenth of a
# second of them is too noisy a measure.
FLEET_ROUND_SECONDS = 0.2
FLEET_ROUND_MIN_ANSWERS = 16
# A round closes early, on a few throttles (`feed`'s `early`), once it is this long.
EARLY_CLOSE_SECONDS = 0.03


@dataclass(frozen=True)
class FleetCounts:
    """The fleet's totals at `now` (Redis's clock, seconds)."""

    now: float
    sent: float
    tokens_sent: float
    ok: float
    throttled: float
    tokens_ok: float
    counted: bool
    born: float = -math.inf  # when every counter was 0


def _zero(at: float) -> FleetCounts:
    return FleetCounts(at, 0.0, 0.0, 0.0, 0.0, 0.0, False)


class FleetMeter:
    """Cuts the growth of `FleetCounts` into rounds."""

    def __init__(self) -> None:
        self._base: FleetCounts | None = None

    def reset(self) -> None:
        self._base = None

    def restart(self, c: FleetCounts) -> None:
        """The next round starts at `c`: what was counted so far belongs to none."""
        self._base = c

    def feed(self, c: FleetCounts, early: int | None = EARLY_CLOSE_THROTTLES) -> Round | None:
        """The round that `c` closes, if any; `early`: this many throttles
        close it at once (None while the rate holds after a cut: short
        rounds are noisy measures)."""
        base = self._base
        if base is None and c.now - c.born <= ROUND_MAX_SECONDS:
            # A state made moments ago: its first calls (the first ones an
            # empty quota throttles) belong in the first round.
            base = _zero(c.born)
        if base is None or _restarted(base, c) or c.now - base.now > ROUND_MAX_SECONDS:
            # First sample, Redis restarted empty, or an idle gap: start over.
            self._base = c
            return None
        elapsed = c.now - base.now
        throttled = c.throttled - base.throttled
        answers = c.ok - base.ok + throttled
        closes = (elapsed >= FLEET_ROUND_SECONDS and answers >= FLEET_ROUND_MIN_ANSWERS) or (
            early is not None and elapsed >= EARLY_CLOSE_SECONDS and throttled >= early
        )
        if not closes:
            return None
        self._base = c
        return Round(
            elapsed,
            round(c.sent - base.sent),
            round(c.ok - base.ok),
            round(throttled),
            c.tokens_sent - base.tokens_sent,
            c.tokens_ok - base.tokens_ok,
            c.counted,
        )


def _restarted(base: FleetCounts, c: FleetCounts) -> bool:
    return c.now < base.now or c.sent < base.sent or c.ok < base.ok or c.throttled < base.throttled
