"""Measurement rounds: what the controller learns the rates from.

- `Round`: what one round saw: calls and tokens sent, answered ok, throttled,
  and the accepted rate measured where the quota was saturated.
- `RoundMeter`: cuts the stream of sends and answers into rounds (pure,
  every method takes the time).

A round closes at the first answer after at least `ROUND_SECONDS` and
`ROUND_MIN_ANSWERS` answers (or a throttle, if nothing else is in flight:
a lone caller), or after `ROUND_MAX_SECONDS` with any answer;
or early, once it holds `EARLY_CLOSE_THROTTLES` throttles and its saturated
part (below) can be measured: a quota clearly exceeded is acted on within a
few tens of milliseconds, not at the end of a round.

The accepted rate of a throttled round (`Round.delivered_calls`) is measured
over its saturated part: the calls *sent* from the first throttled one on.
The quota's bucket was empty when that call arrived, so every call accepted
after it is the quota refilling. Counted over the whole round, the rate
would include the calls a full bucket let through before, and overstate the
quota right when a start-up drains that bucket. It goes by send times, not
answer times, because answers overtake each other: an answer to a call the
full bucket accepted can come after the first throttle. Two measures of it:

- by time: the calls accepted, sent in a window from the first throttled
  call to a latency spread (slowest answer - fastest, in the round) before
  the last call answered, so that every call sent inside it has answered,
  over the window's length;
- by count: our send rate in the round times the share of the calls sent
  in that window that were accepted.

Under a loaded event loop the window's length is the noisier figure and the
first measure runs low; the count needs no length. The higher of the two is
taken: a quota measured too high costs a few throttles until the next round
measures it again, one measured too low leaves quota unused. Both count the
window only: answers arrive in no fair order (a throttle is answered faster
than a vector), so the first answers after a throttle are mostly throttles.
"""

from __future__ import annotations

from dataclasses import dataclass

ROUND_SECONDS = 0.1
ROUND_MIN_ANSWERS = 8
ROUND_MAX_SECONDS = 1.0
EARLY_CLOSE_THROTTLES = 4
# The saturated part of a round is measured on its own, by time once its
# window spans SATURATED_SECONDS and holds SATURATED_OK accepted calls, by
# count once SATURATED_ANSWERS calls sent in it answered (fewer would make
# either too coarse a measure).
SATURATED_SECONDS = 0.01
SATURATED_OK = 8
SATURATED_ANSWERS = 16
# A window's measure never goes below this share of what the whole round
# accepted: a window is a few dozen calls, and a bad one must not cut the
# rate to a small fraction of what was just accepted.
WINDOW_FLOOR = 0.5


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
    # The saturated part (a window of send times, see the module docstring):
    # its seconds, calls and tokens accepted in it; for the count, the
    # answers to calls sent in it, how many were accepted, with what tokens.
    saturated: float = 0.0
    saturated_calls_ok: int = 0
    saturated_tokens_ok: float = 0.0
    saturated_answers: int = 0

    @property
    def by_time(self) -> bool:
        return self.saturated >= SATURATED_SECONDS and self.saturated_calls_ok >= SATURATED_OK

    @property
    def by_count(self) -> bool:
        return self.saturated_answers >= SATURATED_ANSWERS

    @property
    def measured_saturated(self) -> bool:
        return self.by_time or self.by_count

    @property
    def answers(self) -> int:
        return self.calls_ok + self.calls_throttled

    def delivered_calls(self) -> float:
        """Calls/s accepted: while saturated if that was measurable, else overall."""
        overall = self.calls_ok / self.duration
        if not self.measured_saturated:
            return overall
        best = WINDOW_FLOOR * overall
        if self.by_time:
            best = max(best, self.saturated_calls_ok / self.saturated)
        if self.by_count:
            share = self.saturated_calls_ok / self.saturated_answers
            best = max(best, self.calls_sent / self.duration * share)
        return best

    def delivered_tokens(self) -> float:
        """Tokens/s accepted, as for calls; by count, the calls' rate times the
        tokens AWS counted per accepted call (sent tokens are only estimates)."""
        overall = self.tokens_ok / self.duration
        if not self.measured_saturated:
            return overall
        best = WINDOW_FLOOR * overall
        if self.by_time:
            best = max(best, self.saturated_tokens_ok / self.saturated)
        if self.by_count and self.saturated_calls_ok:
            per_call = self.saturated_tokens_ok / self.saturated_calls_ok
            best = max(best, self.delivered_calls() * per_call)
        return best


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
        # Answers by send time, (sent_at, accepted, tokens), kept for the
        # saturated part; the earliest send time of a throttled call.
        self._answers: list[tuple[float, bool, float]] = []
        self._first_throttled = float("inf")
        self._fastest = float("inf")
        self._slowest = 0.0

    def on_send(self, tokens: float, now: float) -> Round | None:
        """One call granted. After a gap of more than ROUND_MAX_SECONDS with
        no send and no answer (idle, whatever is still in flight) the round
        so far closes where its last event was (the gap is no part of a
        rate: counted in, it would read as a quota near 0) and, if it holds
        throttles, is handed back: a lone caller's throttled calls, spaced
        by their backoff, still count."""
        done = None
        if now - self._last > ROUND_MAX_SECONDS:
            if self._throttled and self._last > self._start:
                done = self._close(self._last - self._start)
            self._restart(now)
        self._last = now
        self._sent += 1
        self._tokens_sent += tokens
        return done

    def on_answer(
        self,
        throttled: bool,
        tokens: float,
        counted: bool,
        now: float,
        sent_at: float | None = None,
        idle: bool = False,
    ) -> Round | None:
        """One answer; `sent_at` is when its call was granted (now if unknown),
        `idle`: no other call is in flight."""
        self._last = now
        sent = now if sent_at is None else sent_at
        latency = now - sent
        self._fastest = min(self._fastest, latency)
        self._slowest = max(self._slowest, latency)
        self._answers.append((sent, not throttled, tokens))
        if throttled:
            self._throttled += 1
            self._first_throttled = min(self._first_throttled, sent)
        else:
            self._ok += 1
            self._tokens_ok += tokens
            self._counted = self._counted or counted
        elapsed = now - self._start
        answers = self._ok + self._throttled
        closes = (
            (elapsed >= ROUND_SECONDS and answers >= ROUND_MIN_ANSWERS)
            or elapsed >= ROUND_MAX_SECONDS
            # A lone caller's throttled calls: no more answers are coming soon.
            or (elapsed >= ROUND_SECONDS and idle and self._throttled > 0)
        )
        saturated: tuple[float, int, float, int] = (0.0, 0, 0.0, 0)
        if self._throttled and (closes or self._throttled >= EARLY_CLOSE_THROTTLES):
            saturated = self._saturated()
        early = self._throttled >= EARLY_CLOSE_THROTTLES and (
            (saturated[0] >= SATURATED_SECONDS and saturated[1] >= SATURATED_OK)
            or saturated[3] >= SATURATED_ANSWERS
        )
        if not (closes or early) or elapsed <= 0:
            return None
        done = self._close(elapsed, saturated)
        self._restart(now)
        return done

    def _close(
        self, elapsed: float, saturated: tuple[float, int, float, int] | None = None
    ) -> Round:
        if saturated is None:
            saturated = self._saturated() if self._throttled else (0.0, 0, 0.0, 0)
        return Round(
            elapsed,
            self._sent,
            self._ok,
            self._throttled,
            self._tokens_sent,
            self._tokens_ok,
            self._counted,
            *saturated,
        )

    def _saturated(self) -> tuple[float, int, float, int]:
        """The saturated part, by send time: (window seconds, calls and tokens
        accepted in it, calls answered in it)."""
        start = self._first_throttled
        end = max(sent for sent, _, _ in self._answers) - (self._slowest - self._fastest)
        ok = answers = 0
        tokens = 0.0
        for sent, accepted, used in self._answers:
            if start <= sent <= end:
                answers += 1
                if accepted:
                    ok += 1
                    tokens += used
        return (max(0.0, end - start), ok, tokens, answers)
