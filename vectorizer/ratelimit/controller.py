"""Rate arithmetic: find a quota nobody told us, one dimension at a time.

Pure: every method takes the current time, nothing here sleeps or awaits.

- `Sample`: one measurement round (rounds.py) as one dimension sees it.
- `RateController`: the rate of one dimension (requests/s or tokens/s).

Both dimensions of a target, and which one a throttle is blamed on, are
pacing.py's `PacingController`.

Why this design. An upstream quota behaves like a token bucket: while we
send faster than it refills, every call that finds a token is accepted and
the rest are throttled. So the rate of *accepted* calls while throttles
happen is the quota (minus whatever another client takes): measured, not
guessed. Better still, between two throttled rounds the quota's bucket was
empty at both ends, so the calls accepted in between, over the time in
between, are exactly its refill rate (see CYCLE_*). A throttle therefore
sets the rate to that measure less `MARGIN`, never a fixed-factor cut below
it: the old AIMD controller cut 30 % per throttle and grew back by about 3 %
of the quota per second, leaving seconds of quota unused after every
throttle. Throttled calls cost no quota, so running a little over it only
costs retries; running under it while its bucket is full wastes it. Hence
this cycle, per dimension, in the spirit of BBR's probing and CUBIC's
growth curve:

- STARTUP: no limit known; the rate doubles every `STARTUP_DOUBLING_SECONDS`
  of rounds in which our own pacing was the bottleneck, until the quota is
  clearly below it (STARTUP_EXIT_*). A few throttles of the very first
  calls, which an empty quota bucket gives any client, do not end it: they
  must not leave the rate far below a quota not found yet. They do start a
  cycle (below): what the quota admits from then on is at most the quota,
  so the ramp grows to a few times that at most (STARTUP_CYCLE_CAP), and a
  handful of throttles with the cycle far below the rate end it. A quota
  bucket that starts empty fills while the ramp is below the quota and
  hides it until drained, by then far above it; every call sent above the
  quota until the first throttle comes back is one more throttle.
- HOLD (`HOLD_SECONDS`, doubled for each probe in a row that found the
  quota where the last one did, up to `MAX_HOLD_DOUBLINGS` times) after a
  cut: no growth; a throttled round cuts again
  only if it shows clearly less than the estimate (the quota dropped
  again). Throttles of calls sent before a cut are no signal at all: the
  scheduler leaves them out of the rounds, and a cut empties our own
  bucket, as the quota's is empty then.
- PROBE: the rate leaves the estimate slowly, then ever faster,
  rate = base * (1 + PROBE_GAIN * (2 ** (t / PROBE_DOUBLING_SECONDS) - 1)),
  t counting rounds our pacing bound. At an unchanged quota it crosses it
  within a fraction of a second by a few percent (spending what the quota's
  bucket saved during HOLD), a few calls are throttled and the cut measures
  the quota again; a doubled quota is reached in about two seconds.
- RECOVER: after a HOLD, if a clearly higher quota was measured in the last
  `RECOVERY_WINDOW_SECONDS` (a throttle storm cut us far down), the rate
  grows at start-up speed back to it, then probes from there. If that fails
  (the quota really did drop) the memory is dropped: one overshoot, a few
  throttles, after a real drop.

After a pause (rounds more than `rounds.ROUND_MAX_SECONDS` apart) no cycle
spans the gap, the first round's throttles are no signal (the first calls
meeting a bucket that may be empty) and a probe's rate gives way to a HOLD
at the estimate.

Throttles that come whatever the rate (AWS overloaded rather than a quota)
look like a quota that falls with every cut: the accepted rate is a share of
what is sent. No cut goes below `STORM_FLOOR` of the rate proven lately, so
such a storm slows us down but not to a crawl; a quota that truly fell below
that share is reached once the memory of the old rate has expired.

The rate only grows in rounds where our own pacing was the bottleneck (the
calls sent reached `BINDING_UTILISATION` of the rate): a target whose callers
send less, or whose concurrency bound binds first, keeps the rate it proved.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from vectorizer.ratelimit.rounds import ROUND_MAX_SECONDS

# Start-up (and recovery) growth: rate' = rate * 2 ** (dt / STARTUP_DOUBLING_SECONDS),
# at most doubling in one round.
STARTUP_DOUBLING_SECONDS = 0.5
# A throttled round in start-up that still accepted calls at our rate or
# faster is a burst meeting an empty bucket and is let pass. Otherwise
# start-up ends on a round with STARTUP_EXIT_SHARE of its answers or more
# throttled and either STARTUP_EXIT_THROTTLES of them with its saturated part
# measurable (calls kept being throttled while others were accepted: the
# quota is clearly below the rate) or STARTUP_EXIT_MANY of them; else on the
# STARTUP_EXIT_ROUNDS-th throttled round in a row. The first calls of a new
# target, a few that an empty quota bucket throttles all at once (the first
# burst is budgets.INITIAL_BURST_CALLS, then the start rate), end start-up
# neither way.
STARTUP_EXIT_THROTTLES = 4
STARTUP_EXIT_MANY = 16
STARTUP_EXIT_SHARE = 0.15
STARTUP_EXIT_ROUNDS = 2
# A cycle measure (see CYCLE_*) at most this share of the rate ends start-up
# on the first round with STARTUP_EXIT_THROTTLES throttles, however few of
# its answers they are: the quota's bucket, empty at both ends of the cycle,
# shows the quota far below the rate, and the calls a ramp sends until its
# rounds fill with throttles cost as many throttles.
STARTUP_EXIT_CYCLE = 0.75
# Once a cycle runs (a throttle showed the quota's bucket empty), start-up
# grows to at most STARTUP_CYCLE_CAP x the cycle's accepted rate: an empty
# bucket admits the quota and no more, so that rate is at most the quota,
# and a ramp that has run past its unseen limit for a while has saved the
# bucket up and drains it at a rate far above: every call above the quota
# sent before the first throttle comes back is one more throttle. A few
# times the rate accepted leaves quotas up to about 20 x the start rate
# reached as fast; higher ones are reached more slowly.
STARTUP_CYCLE_CAP = 3.0
# After a throttled round: rate = MARGIN below the accepted rate it measured.
MARGIN = 0.02
HOLD_SECONDS = 1.0
# A probe whose cut measures the quota within CONFIRM_TOLERANCE of the last
# estimate confirms it: the next HOLD is twice as long (at most
# 2 ** MAX_HOLD_DOUBLINGS x HOLD_SECONDS). Every probe costs a few throttles;
# a quota that stays put needs probing less often, and a few percent below
# it for a few seconds cost less than that.
CONFIRM_TOLERANCE = 0.05
MAX_HOLD_DOUBLINGS = 3
# In HOLD, a throttled round cuts again only if it delivered less than
# (1 - HOLD_TOLERANCE) x the estimate: the quota dropped again. Less is
# noise around the quota's empty bucket (a tenth of a second holds a few
# dozen calls), and PROBE will measure it anew.
HOLD_TOLERANCE = 0.2
# ...unless this many rounds in a row were throttled, each accepting less
# than the rate in force: then the rate is above the quota, and cut to it.
HOLD_PERSISTENT_ROUNDS = 3
# The quota a throttled round shows. Between two throttled rounds the quota's
# bucket was empty at both ends, so what was accepted in between, over the
# time in between, is the quota's refill rate, precisely: nothing refilled
# was left unused and nothing else came through. That cycle's rate is the
# measure when it spans CYCLE_MIN_SECONDS to CYCLE_MAX_SECONDS (longer, the
# bucket may have filled up and overflowed); the round's own saturated-part
# rate (rounds.py), noisier, when it does not, or when it is more than
# CYCLE_DROP below the cycle's (the quota dropped within the cycle).
CYCLE_MIN_SECONDS = 0.5
CYCLE_MAX_SECONDS = 10.0
CYCLE_DROP = 0.25
PROBE_GAIN = 0.05
PROBE_DOUBLING_SECONDS = 0.5
# The rate grows only when calls sent reached this share of rate x duration.
BINDING_UTILISATION = 0.8
# RECOVER's target: the highest quota measured over a cycle (above) in the
# last RECOVERY_WINDOW_SECONDS, when it is more than RECOVERY_GAP above the
# estimate.
RECOVERY_WINDOW_SECONDS = 10.0
RECOVERY_GAP = 0.25
# No cut goes below STORM_FLOOR x the highest rate proven lately (within
# RECOVERY_WINDOW_SECONDS): the start rate, a quota measured over a cycle,
# the estimate a first cut measured, a rate our pacing held through a clean
# round out of start-up (whose rates may be a full bucket draining).
# Throttles that come whatever the rate (AWS overloaded, not a quota) would
# otherwise take the rate down cut after cut, to a crawl.
STORM_FLOOR = 0.25
# Blame looks back this far for the best rate delivered in a clean round.
BLAME_WINDOW_SECONDS = 10.0


class Mode(str, enum.Enum):
    UNLIMITED = "unlimited"  # tokens before any throttle was blamed on them
    STARTUP = "startup"
    HOLD = "hold"
    RECOVER = "recover"
    PROBE = "probe"


@dataclass(frozen=True)
class Sample:
    """One round as one dimension sees it: `sent` units in `duration` s,
    `delivered` units/s accepted (over the saturated part when `saturated`),
    `throttles` of the round's `answers` throttled (calls sent before the
    last cut not counted)."""

    duration: float
    sent: float
    delivered: float
    throttles: int = 0
    answers: int = 0
    saturated: bool = False
    accepted: float | None = None  # units accepted in the whole round, if not delivered x duration

    @property
    def accepted_units(self) -> float:
        return self.accepted if self.accepted is not None else self.delivered * self.duration


class RateController:
    """The adaptive rate of one dimension. `rate` is math.inf while UNLIMITED."""

    def __init__(self, initial: float | None, floor: float, ceiling: float, now: float):
        self.floor = floor
        self.ceiling = ceiling
        if initial is None:
            self.mode = Mode.UNLIMITED
            self.rate = math.inf
        else:
            self.mode = Mode.STARTUP
            self.rate = self._clamp(initial)
        self.estimate = self.rate  # the quota as last measured (or the start rate)
        self._throttled_rounds = 0
        self._cut_at = now
        self._last_round = now  # when the last round ended
        self._hold = HOLD_SECONDS
        self._confirmed = 0  # probes in a row that found the quota unchanged
        self._probe_time = 0.0
        self._best = 0.0  # best rate delivered in a clean round...
        self._best_at = -math.inf  # ...and when
        self._recall = 0.0  # the highest quota measured over a cycle...
        self._recall_at = -math.inf  # ...and when
        # The highest rate proven lately (see STORM_FLOOR), and when; the
        # configured start rate counts as proven at first, so that throttles
        # of the very first calls cannot collapse it.
        self._proven = self.rate if initial is not None else 0.0
        self._proven_at = now if initial is not None else -math.inf
        # Since the last throttled round: seconds and units accepted (None:
        # no throttled round yet, so no cycle to measure).
        self._cycle: tuple[float, float] | None = None

    def _clamp(self, rate: float) -> float:
        return min(self.ceiling, max(self.floor, rate))

    def best(self, now: float) -> float:
        """The best rate delivered in a clean round lately (0 if none)."""
        return self._best if now - self._best_at <= BLAME_WINDOW_SECONDS else 0.0

    def proven(self, now: float) -> float:
        """The highest rate proven lately (see STORM_FLOOR), 0 if none."""
        fresh = now - self._proven_at <= RECOVERY_WINDOW_SECONDS
        return max(self._proven if fresh else 0.0, self.recall(now))

    def _prove(self, rate: float, now: float) -> None:
        if rate >= self.proven(now):
            self._proven, self._proven_at = rate, now

    def recall(self, now: float) -> float:
        """The highest quota measured over a cycle lately (0 if none)."""
        return self._recall if now - self._recall_at <= RECOVERY_WINDOW_SECONDS else 0.0

    def utilisation(self, sent: float, duration: float) -> float:
        if math.isinf(self.rate) or duration <= 0:
            return 0.0
        return sent / (self.rate * duration)

    def on_round(self, s: Sample, blamed: bool, now: float) -> float:
        """Apply one round; `blamed`: its throttles are this dimension's."""
        # Rounds further apart than the longest one have a pause between them.
        resumed = now - s.duration - self._last_round > ROUND_MAX_SECONDS
        if resumed:
            self._after_gap(now)
        self._last_round = now
        throttles = s.throttles
        if self._cycle is not None:
            seconds, units = self._cycle
            self._cycle = (seconds + s.duration, units + s.accepted_units)
        if self.mode is Mode.HOLD and now - self._cut_at >= self._hold:
            # HOLD is over. RECOVER starts only in a clean round: a round
            # still throttled would end it at once, and forget the target.
            self._probe_time = 0.0
            if not throttles and self.recall(now) > self.estimate * (1 + RECOVERY_GAP):
                self.mode = Mode.RECOVER
            else:
                self.mode = Mode.PROBE
        if not throttles:
            self._on_clean(s.duration, s.sent, s.delivered, now)
        elif resumed:
            # The first calls after a pause meeting an empty bucket: no signal.
            self._cycle_from(s)
        elif blamed:
            self._on_throttled(s, now)
        # Throttled but blamed on the other dimension: this one holds.
        return self.rate

    def _after_gap(self, now: float) -> None:
        """Calls resume after a pause. What the quota's bucket did meanwhile
        is unknown: no cycle spans the gap. Resuming at the quota measured
        before, the first calls may meet an empty bucket (a few throttles,
        no signal): a probe's rate is dropped, and a HOLD starts."""
        self._cycle = None
        if self.mode in (Mode.HOLD, Mode.PROBE, Mode.RECOVER):
            self.rate = self._clamp(min(self.rate, self.estimate * (1 - MARGIN)))
            self.mode = Mode.HOLD
            self._cut_at = now

    def _on_clean(self, duration: float, sent: float, delivered: float, now: float) -> None:
        self._throttled_rounds = 0
        if delivered >= self.best(now):
            self._best, self._best_at = delivered, now
        if self.mode is Mode.UNLIMITED:
            return
        if self.utilisation(sent, duration) < BINDING_UTILISATION:
            return  # our pacing was not the bottleneck: growing would be a guess
        if self.mode is not Mode.STARTUP:
            self._prove(self.rate, now)
        if self.mode is Mode.STARTUP:
            grown = self.rate * _growth(duration)
            cycle = self._cycle
            if cycle is not None and cycle[0] >= CYCLE_MIN_SECONDS:
                # Since a throttle the quota's bucket admitted at most the
                # quota: more than a few times what came through is a guess.
                grown = min(grown, max(self.rate, STARTUP_CYCLE_CAP * cycle[1] / cycle[0]))
            self.rate = self._clamp(grown)
            return
        if self.mode is Mode.RECOVER:
            recall = self.recall(now)
            grown = self.rate * 2 ** (duration / STARTUP_DOUBLING_SECONDS)
            if grown < recall * (1 - MARGIN):
                self.rate = self._clamp(grown)
                return
            self.mode = Mode.PROBE  # back where we were: probe from there
            self.estimate = max(self.estimate, recall)
        if self.mode is Mode.PROBE:
            self._probe_time += duration
            lift = PROBE_GAIN * (2 ** (self._probe_time / PROBE_DOUBLING_SECONDS) - 1)
            self.rate = self._clamp(self.estimate * (1 - MARGIN) * (1 + lift))

    def adopt(self, rate: float, now: float, estimate: float | None = None) -> None:
        """Take a rate set elsewhere (the pacer of a shared budget, or a share
        of the last shared rate): below ours it is a cut, as our own (HOLD);
        above, growth continues from it. `estimate`: the quota as measured
        where the rate was set (a probe's rate is above it); otherwise the
        rate is taken for one MARGIN below the quota."""
        if math.isinf(rate) or rate == self.rate:
            return
        measured = max(estimate or self._clamp(rate) / (1 - MARGIN), self.floor)
        if rate < self.rate:
            self.rate = self._clamp(rate)
            self.estimate = measured
            self.mode = Mode.HOLD
            self._cut_at = now
            return
        self.rate = self._clamp(rate)
        if self.mode in (Mode.HOLD, Mode.PROBE, Mode.RECOVER):
            # PROBE sets the rate from the estimate: it must be this one's.
            if self.mode is not Mode.HOLD:
                self.mode = Mode.PROBE
            self.estimate = measured
            self._probe_time = 0.0

    def _measure(self, s: Sample, now: float) -> tuple[float, bool]:
        """The quota a throttled round shows, and whether a cycle measured
        it; see CYCLE_* above. A cycle's measure is remembered as RECOVER's
        target."""
        cycle, self._cycle = self._cycle, (0.0, 0.0)
        if cycle is None or not CYCLE_MIN_SECONDS <= cycle[0] <= CYCLE_MAX_SECONDS:
            return s.delivered, False
        over_cycle = cycle[1] / cycle[0]
        if s.delivered < over_cycle * (1 - CYCLE_DROP):
            return s.delivered, False  # the quota dropped within the cycle
        if over_cycle >= self.recall(now):
            self._recall, self._recall_at = over_cycle, now
        return over_cycle, True

    def _cycle_from(self, s: Sample) -> None:
        """The next cycle starts where this round did: its throttles, let
        pass, were the first calls (of a ramp, or after a pause) meeting an
        empty bucket, which then saved what the round did not take."""
        self._cycle = (s.duration, s.accepted_units)

    def _clearly_over(self, s: Sample, delivered: float, by_cycle: bool) -> bool:
        """Whether a throttled start-up round shows the quota clearly below
        the rate (STARTUP_EXIT_*)."""
        if by_cycle and delivered <= self.rate * STARTUP_EXIT_CYCLE:
            return s.throttles >= STARTUP_EXIT_THROTTLES
        if s.throttles < STARTUP_EXIT_SHARE * s.answers:
            return False
        return s.throttles >= (STARTUP_EXIT_THROTTLES if s.saturated else STARTUP_EXIT_MANY)

    def _on_throttled(self, s: Sample, now: float) -> None:
        unmeasured = self._cycle is None  # no throttle since the start or a pause
        delivered, by_cycle = self._measure(s, now)
        self._throttled_rounds += 1
        if self.mode is Mode.STARTUP:
            if delivered >= self.rate:
                # Accepted at our pace or faster: the throttles were a burst
                # (the first calls meeting an empty bucket), not the quota.
                self._throttled_rounds = 0
                self._cycle_from(s)
                return
            over = self._clearly_over(s, delivered, by_cycle)
            if not over and self._throttled_rounds < STARTUP_EXIT_ROUNDS:
                self._cycle_from(s)
                return  # hold: maybe only the first calls met an empty bucket
        elif self.mode is Mode.HOLD and delivered >= self.estimate * (1 - HOLD_TOLERANCE):
            # Noise around the quota, or throttles of calls sent before the
            # cut; but throttled round after round while sending more than
            # is accepted, the cut was too shallow (a measure too high).
            if self._throttled_rounds < HOLD_PERSISTENT_ROUNDS or delivered >= self.rate:
                return
        if self.mode is Mode.RECOVER:
            self._recall = 0.0  # that rate is gone
        if unmeasured and self.mode in (Mode.PROBE, Mode.RECOVER):
            # The first probe after a pause has no cycle to measure the quota
            # over, and a short round (closed on its first throttle) is a poor
            # measure: back to the estimate it left from; the cycle starts here.
            delivered = min(delivered, self.estimate)
        floor = STORM_FLOOR * self.proven(now)
        floored = delivered < floor
        delivered = max(delivered, floor)
        # A throttle never raises the rate: a short round can show more
        # accepted than we send when our sends come in bursts.
        self.rate = self._clamp(min(self.rate, delivered * (1 - MARGIN)))
        estimate = max(self.rate / (1 - MARGIN), self.floor)
        confirms = abs(estimate - self.estimate) <= CONFIRM_TOLERANCE * self.estimate
        if self.mode is Mode.PROBE and confirms and not floored:
            self._confirmed = min(self._confirmed + 1, MAX_HOLD_DOUBLINGS)
        else:  # a first cut, a quota that moved, or a storm
            self._confirmed = 0
        self._hold = HOLD_SECONDS * 2**self._confirmed
        self.estimate = estimate
        if self.mode is not Mode.HOLD:  # a first cut: what it measured is proven
            self._prove(self.estimate, now)
        self.mode = Mode.HOLD
        self._cut_at = now


def _growth(duration: float) -> float:
    return min(2.0, 2 ** (duration / STARTUP_DOUBLING_SECONDS))
