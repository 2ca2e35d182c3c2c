"""Tests for the rate arithmetic (vectorizer.ratelimit.controller and
rounds): pure functions of rounds and an injected time, no event loop."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.ratelimit import controller as c
from vectorizer.ratelimit import rounds as r
from vectorizer.ratelimit.controller import Mode, RateController, Sample
from vectorizer.ratelimit.pacing import LimiterSettings, PacingController
from vectorizer.ratelimit.rounds import Round, RoundMeter

DT = 0.1  # seconds per round


class Drive:
    """Feeds rounds of DT seconds to one RateController and keeps the time."""

    def __init__(self, initial: float | None = 50.0, floor: float = 1.0, ceiling: float = 1e4):
        self.now = 0.0
        self.c = RateController(initial, floor, ceiling, self.now)

    def clean(self, seconds: float = DT, use: float = 1.0) -> float:
        """Rounds without throttles in which we sent `use` x the rate."""
        end = self.now + seconds - 1e-9
        while self.now < end:
            self.now += DT
            sent = self.c.rate * DT * use
            self.c.on_round(Sample(DT, sent, sent / DT, 0, round(sent)), True, self.now)
        return self.c.rate

    def throttled(
        self, delivered: float, throttles: int = 10, answers: int = 40, saturated: bool = True
    ) -> float:
        self.now += DT
        sent = self.c.rate * DT
        sample = Sample(DT, sent, delivered, throttles, answers, saturated)
        self.c.on_round(sample, True, self.now)
        return self.c.rate


# --- start-up -----------------------------------------------------------------


def test_startup_doubles_every_doubling_time_while_our_pacing_binds() -> None:
    d = Drive(50.0)
    assert d.clean(1.0) == pytest.approx(50.0 * 2 ** (1.0 / c.STARTUP_DOUBLING_SECONDS))
    assert d.c.mode is Mode.STARTUP


def test_the_rate_does_not_grow_while_callers_send_less() -> None:
    d = Drive(50.0)
    assert d.clean(5.0, use=0.5) == 50.0


def test_a_lone_weak_throttled_round_in_startup_does_not_cut() -> None:
    d = Drive(50.0)
    d.clean(0.3)
    before = d.c.rate
    # What an empty quota bucket does to the very first calls: a few
    # throttles, none once the first ones have passed.
    assert d.throttled(delivered=40.0, throttles=5, answers=10, saturated=False) == before
    assert d.c.mode is Mode.STARTUP
    assert d.clean() > before  # and start-up goes on


def test_a_throttled_round_accepting_our_pace_or_more_does_not_end_startup() -> None:
    d = Drive(50.0)
    d.clean(0.5)
    rate = d.c.rate
    for _ in range(3):  # a burst met an empty bucket, yet the quota took our pace
        assert d.throttled(delivered=rate * 1.1, throttles=9, answers=20) == rate
    assert d.c.mode is Mode.STARTUP


def test_two_weak_throttled_rounds_in_a_row_end_startup() -> None:
    d = Drive(50.0)
    d.clean(0.5)
    d.throttled(delivered=60.0, throttles=1, answers=20)
    assert d.throttled(delivered=60.0, throttles=1, answers=20) == pytest.approx(60 * 0.98)
    assert d.c.mode is Mode.HOLD and d.c.estimate == 60.0


def test_a_strong_throttled_round_ends_startup_at_the_accepted_rate() -> None:
    d = Drive(50.0)
    d.clean(1.5)
    assert d.throttled(delivered=300.0, throttles=30, answers=60) == pytest.approx(294.0)
    assert d.c.mode is Mode.HOLD


def first_calls_throttled(d: Drive) -> None:
    """What an empty quota bucket does to the first calls of a ramp: a few
    throttles, let pass; the cycle (controller.CYCLE_*) starts there."""
    d.throttled(delivered=d.c.rate * 0.8, throttles=2, answers=5, saturated=False)
    assert d.c.mode is Mode.STARTUP


def test_startup_grows_to_at_most_a_few_times_what_came_through_since_a_throttle() -> None:
    d = Drive(50.0)
    first_calls_throttled(d)
    accepted, seconds = d.c.rate * DT * 0.8, DT
    for _ in range(30):  # three seconds of clean rounds in which our pacing binds
        sent = d.c.rate * DT
        d.clean()
        accepted, seconds = accepted + sent, seconds + DT
        # Never above the cap by more than one round's growth.
        assert d.c.rate <= c.STARTUP_CYCLE_CAP * accepted / seconds * 2 ** (DT / 0.5) + 1e-6
    assert d.c.mode is Mode.STARTUP
    # Without a throttle to start a cycle the ramp doubles on: twice as high.
    free = Drive(50.0)
    assert free.clean(3.1) > 2 * d.c.rate


def test_a_cycle_far_below_the_rate_ends_startup_on_a_few_throttles() -> None:
    d = Drive(50.0)
    first_calls_throttled(d)
    start, accepted = d.now - DT, d.c.rate * DT * 0.8
    for _ in range(15):
        accepted += d.c.rate * DT
        d.clean()
    rate = d.c.rate
    # The quota's bucket ran dry: a handful of throttles among a hundred
    # answers, too few a share to end start-up on the round alone.
    assert c.STARTUP_EXIT_THROTTLES / 100 < c.STARTUP_EXIT_SHARE
    d.throttled(delivered=rate, throttles=c.STARTUP_EXIT_THROTTLES, answers=100, saturated=False)
    accepted += rate * DT
    quota = accepted / (d.now - start)  # what came through over the cycle
    assert quota <= rate * c.STARTUP_EXIT_CYCLE
    assert d.c.mode is Mode.HOLD
    assert d.c.rate == pytest.approx(quota * (1 - c.MARGIN))


def test_fewer_throttles_than_that_do_not_end_startup_on_the_cycle() -> None:
    d = Drive(50.0)
    first_calls_throttled(d)
    d.clean(1.5)
    rate = d.c.rate
    d.throttled(delivered=rate, throttles=c.STARTUP_EXIT_THROTTLES - 1, answers=100)
    assert d.c.mode is Mode.STARTUP and d.c.rate == rate


def test_a_pause_drops_a_probe_to_the_estimate_and_holds() -> None:
    d = started(400.0)
    while d.c.rate < 430.0:
        d.clean()
    assert d.c.mode is Mode.PROBE
    d.now += 5.0  # the callers pause
    # The first calls after it meet an empty bucket: no signal, but the
    # probe's rate is gone and a hold starts.
    assert d.throttled(delivered=100.0, throttles=6) == pytest.approx(400.0 * (1 - c.MARGIN))
    assert d.c.mode is Mode.HOLD and d.c.estimate == 400.0
    d.clean(c.HOLD_SECONDS - 2 * DT)
    assert d.c.mode is Mode.HOLD


def test_a_probe_with_no_cycle_goes_back_to_its_estimate() -> None:
    d = started(400.0)
    d.clean(2.0)  # past the hold, probing
    d.now += 5.0
    d.clean(c.HOLD_SECONDS + 0.5)  # resumed without a throttle: held, then probing
    assert d.c.mode is Mode.PROBE and d.c.rate > 400.0
    # A short round closed on its first throttle shows more than the quota
    # (the bucket saved during the hold): not a measure to cut to.
    assert d.throttled(delivered=470.0, throttles=1) == pytest.approx(400.0 * (1 - c.MARGIN))
    assert d.c.mode is Mode.HOLD and d.c.estimate == pytest.approx(400.0)


def test_no_cycle_spans_a_pause() -> None:
    d = started(400.0)
    d.clean(2.0)  # past the hold, probing
    d.now += 5.0
    d.clean(0.5)  # resumed
    # Throttled once the probe is above the quota: measured on the round
    # itself, not over a cycle from before the pause.
    d.clean(c.HOLD_SECONDS)
    d.throttled(delivered=380.0, throttles=6)
    assert d.c.estimate == pytest.approx(380.0)


# --- hold, probe, cuts ------------------------------------------------------------


def started(estimate: float = 400.0) -> Drive:
    """A controller just out of start-up with `estimate` measured."""
    d = Drive(50.0)
    d.clean(2.0)  # well above `estimate`
    d.throttled(delivered=estimate, throttles=20, answers=80)
    return d


def test_hold_keeps_the_rate_then_probe_follows_its_curve() -> None:
    d = started(400.0)
    base = 400.0 * (1 - c.MARGIN)
    assert d.clean(c.HOLD_SECONDS - DT) == pytest.approx(base)
    d.clean(DT)  # HOLD is over: the first probe round
    probe_time = DT
    for _ in range(10):
        expected = base * (1 + c.PROBE_GAIN * (2 ** (probe_time / c.PROBE_DOUBLING_SECONDS) - 1))
        assert d.c.rate == pytest.approx(expected)
        assert d.c.mode is Mode.PROBE
        d.clean()
        probe_time += DT


def test_a_doubled_quota_is_reached_within_three_seconds_of_probing() -> None:
    d = started(400.0)
    d.clean(c.HOLD_SECONDS)
    assert d.clean(3.0) >= 800.0


def test_a_throttle_in_probe_cuts_to_the_rate_accepted_since_the_last_throttle() -> None:
    d = started(400.0)
    cut_at = d.now
    accepted = 0.0
    for _ in range(int((c.HOLD_SECONDS + 0.5) / DT)):
        accepted += d.c.rate * DT  # what the round delivers: the rate it runs at
        d.clean()
    assert d.c.rate > 400.0 * (1 - c.MARGIN)
    # The quota's bucket was empty at both throttled rounds: what came through
    # in between, this round included, over the time in between, is the quota.
    cycle = (accepted + 395.0 * DT) / (d.now + DT - cut_at)
    assert d.throttled(delivered=395.0, throttles=2, answers=40) == pytest.approx(cycle * 0.98)
    assert d.c.mode is Mode.HOLD


def test_a_sharp_drop_is_measured_on_the_round_itself() -> None:
    d = started(400.0)
    d.clean(c.HOLD_SECONDS + 0.5)
    assert d.throttled(delivered=200.0, throttles=20, answers=40) == pytest.approx(196.0)


def test_a_throttle_never_raises_the_rate() -> None:
    d = started(400.0)
    d.clean(c.HOLD_SECONDS + DT)
    rate = d.c.rate
    assert d.throttled(delivered=600.0, throttles=2, answers=40) == rate


def test_hold_ignores_jitter_and_cuts_again_on_a_drop() -> None:
    d = started(400.0)
    assert d.throttled(delivered=399.0, throttles=1, answers=40) == pytest.approx(392.0)
    assert d.throttled(delivered=200.0, throttles=20, answers=40) == pytest.approx(196.0)
    assert d.c.mode is Mode.HOLD


def test_cuts_stop_at_a_share_of_the_rate_proven_lately() -> None:
    d = started(400.0)  # start-up's cut measured 400
    floor = c.STORM_FLOOR * 400.0 * (1 - c.MARGIN)
    for _ in range(5):  # throttles whatever the rate: a storm
        assert d.throttled(delivered=d.c.rate * 0.3, throttles=30, answers=40) >= floor
    assert d.c.rate == pytest.approx(floor)
    d.clean(c.RECOVERY_WINDOW_SECONDS + DT, use=0.5)  # the memory expires...
    assert d.throttled(delivered=0.0, throttles=40, answers=40) == 1.0  # ...then min_rate


def test_throttles_of_the_first_calls_do_not_collapse_the_start_rate() -> None:
    d = Drive(50.0)
    d.throttled(delivered=0.0, throttles=10, answers=10, saturated=False)
    floor = c.STORM_FLOOR * 50.0 * (1 - c.MARGIN)
    assert d.throttled(delivered=0.0, throttles=10, answers=10, saturated=False) == floor


def test_with_nothing_proven_cuts_stop_at_the_minimum_rate() -> None:
    d = Drive(50.0)
    d.now += c.RECOVERY_WINDOW_SECONDS  # the start rate is proven no more
    # The first round after that pause is no signal; two weak ones end start-up.
    for _ in range(2):
        d.throttled(delivered=0.0, throttles=10, answers=10, saturated=False)
    assert d.throttled(delivered=0.0, throttles=10, answers=10, saturated=False) == 1.0


# --- recovery -----------------------------------------------------------------------


def test_recover_returns_to_the_measured_quota_at_startup_speed() -> None:
    d = started(400.0)
    d.clean(c.HOLD_SECONDS + 0.5)  # probing above 392
    d.throttled(delivered=400.0, throttles=2)  # the probe's cut: a cycle measured
    sustained = d.c.recall(d.now)
    assert sustained > 390.0
    for _ in range(5):  # a storm: most calls throttled, whatever the rate
        d.throttled(delivered=d.c.rate * 0.2, throttles=30, answers=40)
    low = d.c.rate
    # Cut after cut, but not below a share of the rate proven before.
    assert low == pytest.approx(c.STORM_FLOOR * d.c.proven(d.now) * (1 - c.MARGIN))
    assert d.c.proven(d.now) >= sustained
    d.clean(c.HOLD_SECONDS + DT)  # HOLD after the last cut, then one round
    assert d.c.mode is Mode.RECOVER
    seconds = DT
    while d.c.mode is Mode.RECOVER:
        d.clean()
        seconds += DT
    # Back from `low` in as many doubling times as it takes, not minutes.
    assert seconds <= math.log2(sustained / low) * c.STARTUP_DOUBLING_SECONDS + 2 * DT
    assert d.c.rate >= sustained * (1 - c.MARGIN)


def test_a_failed_recovery_forgets_the_old_rate() -> None:
    d = started(400.0)
    d.clean(c.HOLD_SECONDS + 0.5)
    d.throttled(delivered=400.0, throttles=2)  # a cycle measured: about 400
    d.clean(c.HOLD_SECONDS + 0.5)
    d.throttled(delivered=200.0, throttles=20)  # the quota halved
    d.clean(c.HOLD_SECONDS + DT)
    assert d.c.mode is Mode.RECOVER
    d.clean(0.2)
    d.throttled(delivered=200.0, throttles=10)  # no: it really is 200
    assert d.c.recall(d.now) == 0.0
    d.clean(c.HOLD_SECONDS + DT)
    assert d.c.mode is Mode.PROBE


@settings(max_examples=200, deadline=None)
@given(
    rounds=st.lists(
        st.tuples(
            st.floats(0.001, 2.0),  # duration
            st.floats(0.0, 3.0),  # sent, as a share of rate x duration
            st.floats(0.0, 2.0),  # delivered, as a share of the rate
            st.integers(0, 50),  # throttles
        ),
        max_size=200,
    ),
    initial=st.floats(0.1, 50_000.0),
)
def test_the_rate_stays_within_its_bounds(
    rounds: list[tuple[float, float, float, int]], initial: float
) -> None:
    ctl = RateController(min(500.0, max(2.0, initial)), 2.0, 500.0, 0.0)
    now = 0.0
    for duration, use, share, throttles in rounds:
        now += duration
        sent = ctl.rate * duration * use
        sample = Sample(duration, sent, ctl.rate * share, throttles, throttles + 10, True)
        ctl.on_round(sample, True, now)
        assert 2.0 <= ctl.rate <= 500.0


# --- requests and tokens: the blame -------------------------------------------------


def pacing(**settings: float) -> PacingController:
    return PacingController(LimiterSettings(**settings), 0.0)  # type: ignore[arg-type]


def feed(p: PacingController, now: float, calls: int, tokens: float, throttled: int = 0) -> None:
    """A round of DT seconds ending at `now`: `calls` ok carrying `tokens`."""
    p.on_round(Round(DT, calls + throttled, calls, throttled, tokens, tokens, True), now)


def test_without_token_counts_requests_take_the_blame() -> None:
    p = pacing(initial_rate=100.0)
    for i in range(5):
        p.on_round(Round(DT, 10, 10, 0), 0.1 * (i + 1))
    p.on_round(Round(DT, 10, 5, 5), 0.6)
    p.on_round(Round(DT, 10, 5, 5), 0.7)
    assert p.rates.requests == pytest.approx(49.0) and p.rates.tokens is None


def test_a_throttle_at_fewer_calls_than_accepted_before_is_blamed_on_tokens() -> None:
    p = pacing(initial_rate=100.0)
    for i in range(5):  # short texts: 10 calls of 100 tokens per round, clean
        feed(p, 0.1 * (i + 1), calls=10, tokens=1_000.0)
    # Long texts now: fewer calls than before, as many tokens, and throttles.
    feed(p, 0.6, calls=2, tokens=1_000.0, throttled=5)
    assert p.rates.tokens == pytest.approx(10_000.0 * (1 - c.MARGIN))
    assert p.tokens.mode is Mode.HOLD and p.requests.mode is Mode.STARTUP


def test_a_throttle_at_fewer_tokens_than_accepted_before_is_blamed_on_requests() -> None:
    p = pacing(initial_rate=100.0)
    for i in range(5):
        feed(p, 0.1 * (i + 1), calls=10, tokens=1_000.0)
    feed(p, 0.6, calls=10, tokens=200.0, throttled=8)  # short texts, throttled
    feed(p, 0.7, calls=10, tokens=200.0, throttled=8)
    assert p.rates.requests == pytest.approx(100.0 * (1 - c.MARGIN))
    assert p.rates.tokens is None


def test_a_told_token_rate_is_the_ceiling_from_the_start() -> None:
    p = pacing(max_token_rate=5_000.0)
    assert p.rates.tokens == 5_000.0


# --- measurement rounds --------------------------------------------------------------


def test_a_round_closes_after_its_time_and_answers() -> None:
    m = RoundMeter(0.0)
    for i in range(20):
        m.on_send(10.0, 0.005 * i)
    closed = [m.on_answer(False, 10.0, True, 0.01 * (i + 1)) for i in range(12)]
    done = [x for x in closed if x is not None]
    assert len(done) == 1 and closed.index(done[0]) == 9  # at 0.1 s, 10 answers
    assert done[0].calls_ok == 10 and done[0].calls_sent == 20
    assert done[0].delivered_calls() == pytest.approx(100.0)
    assert done[0].tokens_counted and done[0].tokens_ok == 100.0


def test_a_slow_round_closes_at_its_longest() -> None:
    m = RoundMeter(0.0)
    m.on_send(0.0, 0.0)
    assert m.on_answer(False, 0.0, False, 0.5) is None
    done = m.on_answer(False, 0.0, False, r.ROUND_MAX_SECONDS)
    assert done is not None and done.calls_ok == 2 and not done.tokens_counted


def test_a_saturated_round_closes_early_and_measures_from_the_first_throttle() -> None:
    # 1,000 calls/s sent; the quota's bucket lets the first 30 through (it was
    # full), then one in four: 250/s. Answers come 40 ms later, +-3 ms.
    m = RoundMeter(0.0)
    rng = random.Random(3)
    events = []  # (time, kind, accepted, sent_at)
    for i in range(200):
        sent = i * 0.001
        events.append((sent, "send", True, sent))
        latency = 0.04 + rng.uniform(-0.003, 0.003)
        events.append((sent + latency, "answer", i < 30 or i % 4 == 0, sent))
    done = None
    for at, kind, accepted, sent in sorted(events):
        if kind == "send":
            m.on_send(0.0, at)
        else:
            done = m.on_answer(not accepted, 0.0, False, at, sent)
            if done is not None:
                break
    assert done is not None and done.duration < r.ROUND_SECONDS
    assert done.calls_throttled >= r.EARLY_CLOSE_THROTTLES
    assert done.delivered_calls() == pytest.approx(250.0, rel=0.2)
    assert done.calls_ok / done.duration > 1.4 * 250.0  # what the whole round would say


def test_an_idle_gap_starts_a_fresh_round() -> None:
    m = RoundMeter(0.0)
    m.on_send(0.0, 0.0)
    m.on_answer(False, 0.0, False, 0.04)
    m.on_send(0.0, 100.0)  # a hundred seconds later
    for i in range(r.ROUND_MIN_ANSWERS):
        done = m.on_answer(False, 0.0, False, 100.0 + r.ROUND_SECONDS + 0.001 * i)
    assert done is not None and done.duration < 1.0 and done.calls_sent == 1


def test_an_idle_gap_closes_a_round_holding_throttles() -> None:
    m = RoundMeter(0.0)
    m.on_send(0.0, 0.0)
    assert m.on_answer(True, 0.0, False, 0.04, 0.0) is None
    done = m.on_send(0.0, 2.0)  # retried after a two-second backoff
    assert done is not None and done.calls_throttled == 1
    assert done.duration == pytest.approx(0.04)  # the gap is no part of it


def test_a_lone_callers_throttle_closes_the_round_once_nothing_is_in_flight() -> None:
    m = RoundMeter(0.0)
    m.on_send(0.0, 0.0)
    assert m.on_answer(True, 0.0, False, 0.04, 0.0, idle=True) is None  # too soon
    m.on_send(0.0, 0.06)
    done = m.on_answer(True, 0.0, False, 0.11, 0.06, idle=True)
    assert done is not None and done.calls_throttled == 2
    m.on_send(0.0, 0.2)
    assert m.on_answer(True, 0.0, False, 0.35, 0.2, idle=False) is None  # more to come


def test_a_bad_window_does_not_cut_below_half_of_what_the_round_accepted() -> None:
    # 30 accepted in 0.1 s, but the window caught a clump of throttles.
    done = Round(0.1, 40, 30, 10, saturated=0.02, saturated_calls_ok=1, saturated_answers=16)
    assert done.measured_saturated
    assert done.delivered_calls() == pytest.approx(0.5 * 300.0)


# --- hold length, persistent throttles, adopting a pacer's rate -------------------


def probe_until_throttled(d: Drive, quota: float) -> None:
    """PROBE rounds until the rate crosses `quota`, then the round that shows it."""
    while d.c.mode is not Mode.PROBE:
        d.clean()
    while d.c.rate <= quota:
        d.clean()
    d.throttled(delivered=quota, throttles=6, answers=40)


def test_probes_that_find_the_quota_unchanged_hold_longer_each_time() -> None:
    d = started(300.0)
    holds = []
    for _ in range(c.MAX_HOLD_DOUBLINGS + 2):
        probe_until_throttled(d, 300.0)
        cut_at = d.now
        while d.c.mode is Mode.HOLD:
            d.clean()
        holds.append(d.now - cut_at)
    longest = c.HOLD_SECONDS * 2**c.MAX_HOLD_DOUBLINGS
    expected = [c.HOLD_SECONDS * 2**k for k in range(1, c.MAX_HOLD_DOUBLINGS + 1)]
    assert holds == pytest.approx([*expected, longest, longest], abs=DT + 1e-6)


def test_a_quota_that_moved_brings_the_short_hold_back() -> None:
    d = started(300.0)
    probe_until_throttled(d, 300.0)  # confirmed: the next hold is doubled
    while d.c.mode is Mode.HOLD:
        d.clean()
    probe_until_throttled(d, 420.0)  # the quota rose: measured anew
    cut_at = d.now
    while d.c.mode is Mode.HOLD:
        d.clean()
    assert d.now - cut_at == pytest.approx(c.HOLD_SECONDS, abs=DT + 1e-6)


def test_throttles_round_after_round_in_hold_cut_a_rate_above_the_quota() -> None:
    d = started(340.0)  # a measure too high: the quota is 300
    rate = d.c.rate
    # Within the tolerance of the estimate, so not a drop; but persistent.
    for _ in range(c.HOLD_PERSISTENT_ROUNDS - 2):
        assert d.throttled(delivered=300.0, throttles=5) == rate
    assert d.throttled(delivered=300.0, throttles=5) == pytest.approx(300.0 * (1 - c.MARGIN))
    assert d.c.mode is Mode.HOLD


def test_stray_throttles_in_hold_below_the_rate_do_not_cut() -> None:
    d = started(300.0)
    rate = d.c.rate
    for _ in range(2 * c.HOLD_PERSISTENT_ROUNDS):
        assert d.throttled(delivered=rate * 1.01, throttles=1) == rate


def test_adopting_a_pacers_probe_keeps_its_estimate() -> None:
    d = started(300.0)
    while d.c.mode is not Mode.PROBE:
        d.clean()
    d.c.adopt(330.0, d.now, estimate=300.0)  # the pacer probes 10 % above its measure
    assert d.c.rate == 330.0 and d.c.estimate == 300.0
    # Taking over as pacer, the probe starts again from the estimate.
    assert d.clean() == pytest.approx(300.0 * (1 - c.MARGIN), rel=0.01)
    d.c.adopt(250.0, d.now, estimate=255.0)  # the pacer cut
    assert d.c.mode is Mode.HOLD and d.c.estimate == 255.0


def test_a_gap_starts_a_fresh_round_even_with_calls_in_flight() -> None:
    m = RoundMeter(0.0)
    m.on_send(0.0, 0.0)
    m.on_send(0.0, 0.01)  # never answered (still in flight, or hung)
    m.on_answer(False, 0.0, False, 0.05, 0.0)
    m.on_send(0.0, 5.0)  # five seconds later, the next import
    for i in range(r.ROUND_MIN_ANSWERS):
        done = m.on_answer(False, 0.0, False, 5.0 + r.ROUND_SECONDS + 0.001 * i, 5.0)
    assert done is not None and done.duration < 1.0 and done.calls_sent == 1
