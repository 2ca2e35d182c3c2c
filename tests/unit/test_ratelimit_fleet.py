"""Tests for the fleet's rounds (vectorizer.ratelimit.fleet): the growth of
the counters Redis keeps, cut into rounds for the pacer. Pure: counts and
times are given."""

from __future__ import annotations

import pytest

from vectorizer.ratelimit import fleet as f
from vectorizer.ratelimit.fleet import FleetCounts, FleetMeter
from vectorizer.ratelimit.rounds import ROUND_MAX_SECONDS


def counts(now: float, sent: float, ok: float, thr: float = 0.0, born: float = -1e9) -> FleetCounts:
    return FleetCounts(now, sent, sent * 10.0, ok, thr, ok * 10.0, True, born)


def test_a_round_is_the_growth_of_the_counters_between_two_samples() -> None:
    m = FleetMeter()
    assert m.feed(counts(100.0, 500, 480, 5)) is None  # the first sample is the base
    assert m.feed(counts(100.1, 530, 495, 5)) is None  # too short to close
    done = m.feed(counts(100.25, 575, 540, 7))
    assert done is not None
    assert done.duration == pytest.approx(0.25)
    assert (done.calls_sent, done.calls_ok, done.calls_throttled) == (75, 60, 2)
    assert done.tokens_sent == pytest.approx(750.0) and done.tokens_ok == pytest.approx(600.0)
    assert done.tokens_counted
    # No saturated part: the fleet's accepted rate is its calls accepted over the round.
    assert not done.measured_saturated and done.delivered_calls() == pytest.approx(240.0)
    # The next round starts where this one ended.
    nxt = m.feed(counts(100.5, 650, 600, 7))
    assert nxt is not None and nxt.calls_sent == 75 and nxt.duration == pytest.approx(0.25)


def test_a_few_throttles_close_a_round_early_unless_told_not_to() -> None:
    m = FleetMeter()
    m.feed(counts(10.0, 100, 90))
    late = counts(10.0 + f.EARLY_CLOSE_SECONDS + 0.001, 115, 95, 4)
    held = FleetMeter()
    held.feed(counts(10.0, 100, 90))
    assert held.feed(late, early=None) is None  # a rate holding after a cut: no hurry
    done = m.feed(late)
    assert done is not None and done.calls_throttled == 4


def test_the_first_calls_of_a_new_state_belong_to_the_first_round() -> None:
    m = FleetMeter()
    # The state was made 0.1 s before the pacer's first sample; its first
    # calls, the ones an empty quota throttles, are in the counters already.
    m.feed(counts(50.1, 8, 3, 3, born=50.0))
    done = m.feed(counts(50.3, 60, 40, 3, born=50.0))
    assert done is not None
    assert done.duration == pytest.approx(0.3) and done.calls_throttled == 3


def test_an_idle_gap_or_a_restarted_redis_starts_over() -> None:
    m = FleetMeter()
    m.feed(counts(10.0, 100, 90))
    # A gap longer than a round may last is idle time, not part of a rate.
    assert m.feed(counts(10.0 + ROUND_MAX_SECONDS + 0.5, 120, 100)) is None
    done = m.feed(counts(11.8, 160, 140))
    assert done is not None and done.duration == pytest.approx(0.3)
    # Redis came back empty: its counters restart below ours.
    assert m.feed(counts(12.5, 10, 5)) is None
    assert m.feed(counts(12.8, 60, 50)) is not None


def test_one_throttle_closes_a_probes_round() -> None:
    m = FleetMeter()
    m.feed(counts(10.0, 100, 90))
    one = counts(10.0 + f.EARLY_CLOSE_SECONDS + 0.001, 110, 95, 1)
    assert m.feed(one) is None  # start-up's few throttles are not there yet
    m = FleetMeter()
    m.feed(counts(10.0, 100, 90))
    done = m.feed(one, early=1)
    assert done is not None and done.calls_throttled == 1


def test_a_restarted_meter_counts_nothing_from_before() -> None:
    m = FleetMeter()
    m.feed(counts(10.0, 100, 90))
    m.restart(counts(10.1, 130, 100, 20))  # a cut settling: its throttles belong to no round
    done = m.feed(counts(10.4, 200, 160, 21))
    assert done is not None
    assert (done.calls_sent, done.calls_ok, done.calls_throttled) == (70, 60, 1)
