"""The limiter against quotas it was not told, on virtual time
(tests/unit/quota_sim.py): the real `AdaptiveLimiter`, an upstream of token
buckets in pure Python, 12 callers of 250-text requests of single-text calls
(Titan-like), 40 ms latency, throttled calls retried with the engine's
backoff. The targets are the issue's: an import within 1.05x of texts /
quota, at most 3 % of calls throttled; recovery within seconds. The
simulation is deterministic (seeded); the bounds hold for other seeds too
(1 to 8 checked)."""

from __future__ import annotations

import pytest

from tests.unit.quota_sim import Scenario, Upstream, simulate


def halve(up: Upstream) -> None:
    up.rate /= 2


def double(up: Upstream) -> None:
    up.rate *= 2


@pytest.mark.parametrize(("quota", "seed"), [(300.0, 1), (400.0, 2)])
def test_cold_start_against_an_empty_bucket(quota: float, seed: int) -> None:
    texts = int(quota * 15)
    out = simulate(Scenario(texts, Upstream(quota), seed=seed))
    assert out.wall <= 1.05 * texts / quota
    assert out.throttled_share <= 0.03
    # Within 5 % of the quota from the third second on.
    assert out.accepted_rate(3.0, out.wall - 1.0) >= 0.95 * quota
    assert out.limiter.idle


def test_a_background_client_taking_30_percent() -> None:
    out = simulate(Scenario(6_000, Upstream(400.0, background=0.3)))
    assert out.wall <= 1.05 * 6_000 / 280.0
    assert out.throttled_share <= 0.03


def test_the_quota_halved_mid_run() -> None:
    out = simulate(Scenario(6_000, Upstream(400.0), events=[(5.0, halve)]))
    bound = 5.0 + (6_000 - 5.0 * 400.0) / 200.0
    assert out.wall <= 1.05 * bound
    assert out.throttled_share <= 0.03
    # Cut to the new quota (as measured, within 5 %) within a second.
    assert min(rate for t, rate in out.rates if 5.0 <= t <= 6.0) <= 1.05 * 200.0


def test_the_quota_doubled_mid_run() -> None:
    out = simulate(Scenario(8_000, Upstream(200.0), events=[(5.0, double)]))
    bound = 5.0 + (8_000 - 5.0 * 200.0) / 400.0
    assert out.wall <= 1.05 * bound
    assert out.throttled_share <= 0.03
    assert out.accepted_rate(9.0, out.wall - 1.0) >= 0.95 * 400.0  # found within 4 s


def test_back_near_the_quota_within_seconds_after_a_throttle_storm() -> None:
    def storm(up: Upstream) -> None:
        up.storm = 0.6

    def calm(up: Upstream) -> None:
        up.storm = 0.0

    out = simulate(Scenario(8_000, Upstream(400.0), events=[(4.0, storm), (6.0, calm)]))
    assert out.accepted_rate(10.0, 14.0) >= 0.95 * 400.0


def test_a_token_quota_with_text_lengths_changing_mid_run() -> None:
    # 100,000 tokens/s; 6,000 texts of 100 tokens, then 3,000 of 800 tokens:
    # 3,000,000 tokens, 30 s. Requests (2,000/s) never bind.
    def chars(i: int) -> int:
        return 500 if i < 6_000 else 4_000

    out = simulate(Scenario(9_000, Upstream(2_000.0, token_rate=100_000.0), chars=chars))
    assert out.wall <= 1.05 * 30.0
    assert out.throttled_share <= 0.03
    assert out.limiter.token_rate is not None  # learned from throttles
    assert out.limiter.chars_per_token == pytest.approx(5.0, rel=0.05)


def test_a_token_quota_with_long_texts_of_one_length() -> None:
    # 2,000-character texts, 400 tokens: 100,000 tokens/s is 250 calls/s.
    out = simulate(Scenario(5_000, Upstream(1_000.0, token_rate=100_000.0), chars=lambda i: 2_000))
    assert out.wall <= 1.05 * 20.0
    assert out.throttled_share <= 0.03
