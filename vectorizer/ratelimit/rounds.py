"""Measurement rounds: what the controller learns the rates from.

- `Round`: what one round saw: calls and tokens sent, answered ok, throttled,
  and the accepted rate measured where the quota was saturated.
- `RoundMeter`: cuts the stream of sends and answers into rounds (pure,
  every method takes the time).

A round closes at the first answer after at least `ROUND_SECONDS` and
`ROUND_MIN_ANSWERS` answers, or after `ROUND_MAX_SECONDS` with any answer;
or early, once it holds `EARLY_CLOSE_THROTTLES` throttles and its saturated
part (below) can be measured: a quota clearly exceeded is acted on
within a few tens of milliseconds, not at the end of a round.

The accepted rate of a throttled round (`Round.delivered_calls`) is counted
from its first throttled answer on: the quota's bucket was empty then, so
every call accepted after it is the quota refilling. Counted over the whole
round it would include the calls a full bucket let through before, and
overstate the quota right when a start-up drains that bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

ROUND_SECONDS = 0.1
ROUND_MIN_ANSWERS = 8
ROUND_MAX_SECONDS = 1.0
EARLY_CLOSE_THROTTLES = 4
# The saturated part of a round is measured on its own once it lasts
# SATURATED_SECONDS and holds SATURATED_ANSWERS answers.
SATURATED_SECONDS = 0.01
SATURATED_ANSWERS = 8


@dataclass(frozen=True)
class Round:
    """One measurement round. Tokens of answered calls are AWS's counts where
    AWS gave one (`tokens_counted`), else the estimate."""

    duration: float
    calls_sent: int
    calls_ok: int
    calls_throttled: int
    tokens_sent: float = 0.0
    tokens_ok: float = 0.0
    tokens_counted: bool = False
    # From the first throttled answer to the end: seconds, answers, calls and
    # tokens ok.
    saturated: float = 0.0
    saturated_answers: int = 0
    saturated_calls_ok: int = 0
    saturated_tokens_ok: float = 0.0

    @property
    def measured_saturated(self) -> bool:
        return self.saturated >= SATURATED_SECONDS and self.saturated_answers >= SATURATED_ANSWERS

    @property
    def answers(self) -> int:
        return self.calls_ok + self.calls_throttled

    def delivered_calls(self) -> float:
        """Calls/s accepted: while saturated if that was measurable, else overall."""
        if self.measured_saturated:
            return self.saturated_calls_ok / self.saturated
        return self.calls_ok / self.duration

    def delivered_tokens(self) -> float:
        if self.measured_saturated:
            return self.saturated_tokens_ok / self.saturated
        return self.tokens_ok / self.duration


class RoundMeter:
    """Counts sends and answers; hands back a `Round` when one closes."""

    def __init__(self, now: float):
        self._restart(now)

    def _restart(self, now: float) -> None:
        self._start = self._last = now
        self._sent = 0
        self._ok = 0
        self._throttled = 0
        self._tokens_sent = 0.0
        self._tokens_ok = 0.0
        self._counted = False
        self._first_throttle: float | None = None
        self._sat_answers = 0
        self._sat_ok = 0
        self._sat_tokens = 0.0

    def on_send(self, tokens: float, now: float, idle: bool) -> None:
        if idle and now - self._last > ROUND_MAX_SECONDS:
            # A long idle gap is no part of a rate: start afresh.
            self._restart(now)
        self._last = now
        self._sent += 1
        self._tokens_sent += tokens

    def on_answer(self, throttled: bool, tokens: float, counted: bool, now: float) -> Round | None:
        self._last = now
        if throttled:
            self._throttled += 1
            if self._first_throttle is None:
                self._first_throttle = now
            else:
                self._sat_answers += 1
        else:
            self._ok += 1
            self._tokens_ok += tokens
            self._counted = self._counted or counted
            if self._first_throttle is not None:
                self._sat_answers += 1
                self._sat_ok += 1
                self._sat_tokens += tokens
        elapsed = now - self._start
        saturated = now - self._first_throttle if self._first_throttle is not None else 0.0
        answers = self._ok + self._throttled
        closes = (elapsed >= ROUND_SECONDS and answers >= ROUND_MIN_ANSWERS) or (
            elapsed >= ROUND_MAX_SECONDS
        )
        early = (
            self._throttled >= EARLY_CLOSE_THROTTLES
            and saturated >= SATURATED_SECONDS
            and self._sat_answers >= SATURATED_ANSWERS
        )
        if not (closes or early) or elapsed <= 0:
            return None
        done = Round(
            elapsed,
            self._sent,
            self._ok,
            self._throttled,
            self._tokens_sent,
            self._tokens_ok,
            self._counted,
            saturated,
            self._sat_answers,
            self._sat_ok,
            self._sat_tokens,
        )
        self._restart(now)
        return done
