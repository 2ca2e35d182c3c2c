"""DimensionMemory: learned vector lengths refuse stray answers, adopt redeploys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vectorizer.dimensions import SWITCH_STREAK, DimensionMemory


def test_first_answer_sets_the_dimension_and_others_are_refused() -> None:
    memory = DimensionMemory()
    assert memory.check("t", 384) is None
    assert memory.check("t", 383) == 384
    assert memory.check("t", 384) is None
    assert memory.check("other", 1024) is None  # per target


def test_a_streak_of_one_new_length_is_adopted() -> None:
    memory = DimensionMemory(switch_streak=3)
    memory.check("t", 384)
    assert memory.check("t", 768) == 384
    assert memory.check("t", 768) == 384
    assert memory.check("t", 768) is None  # the endpoint was redeployed
    assert memory.check("t", 384) == 768


def test_a_match_or_another_length_restarts_the_streak() -> None:
    memory = DimensionMemory(switch_streak=3)
    memory.check("t", 384)
    for wrong in (768, 768, 384, 768, 768, 383, 768, 768):
        if wrong != 384:
            assert memory.check("t", wrong) == 384
        else:
            assert memory.check("t", wrong) is None


def test_least_recently_used_targets_are_forgotten() -> None:
    memory = DimensionMemory(max_targets=2)
    memory.check("a", 1)
    memory.check("b", 2)
    memory.check("a", 1)
    memory.check("c", 3)  # evicts b, the least recently used
    assert memory.check("a", 9) == 1
    assert memory.check("b", 5) is None


@given(st.lists(st.sampled_from([383, 384, 385]), max_size=200))
def test_a_wrong_length_is_never_accepted_without_a_full_streak(answers: list[int]) -> None:
    memory = DimensionMemory()
    memory.check("t", 384)
    expected, run_value, run = 384, 0, 0
    for dim in answers:
        run = run + 1 if dim == run_value and dim != expected else (0 if dim == expected else 1)
        run_value = dim
        accepted = memory.check("t", dim) is None
        if dim == expected:
            assert accepted
        elif run >= SWITCH_STREAK:
            assert accepted
            expected, run = dim, 0
        else:
            assert not accepted
