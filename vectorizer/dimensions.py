"""The vector length a target answers, learned for targets whose config names none.

A SageMaker endpoint's dimension is whatever its container answers, and a
config need not state it. Within one answer the engine compares the vectors
with each other, but an answer holding a single vector (a query) has nothing
to be compared with: a vector one component short would pass, and a
collection would get vectors of two lengths. `DimensionMemory` closes that
gap across answers:

- the first answer of a target sets its expected dimension;
- a later answer of another length is refused (`check` returns the expected
  dimension; the engine turns that into a retryable bad response);
- only `SWITCH_STREAK` refused answers in a row, all of one new length,
  replace the learned dimension: an endpoint redeployed with another model is
  adopted after a few retries, a stray short vector never is, and a wrong
  first answer does not poison the target for good.

Bounded (least recently used targets are forgotten); one event loop, not
thread-safe.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

# At a 10% rate of wrong answers, 8 in a row happen once in 10^8 answers.
SWITCH_STREAK = 8
MAX_TARGETS = 4096


@dataclass
class _Learned:
    dimension: int
    other: int = 0  # the length of the refused answers in the current streak
    streak: int = 0


class DimensionMemory:
    def __init__(self, max_targets: int = MAX_TARGETS, switch_streak: int = SWITCH_STREAK):
        self._max = max_targets
        self._switch = switch_streak
        self._known: OrderedDict[Hashable, _Learned] = OrderedDict()

    def check(self, target: Hashable, dimension: int) -> int | None:
        """None if an answer of `dimension` is acceptable for `target`, else the
        dimension expected instead. Learns from every call."""
        learned = self._known.get(target)
        if learned is None or learned.dimension == dimension:
            self._known[target] = _Learned(dimension)
            self._known.move_to_end(target)
            while len(self._known) > self._max:
                self._known.popitem(last=False)
            return None
        if learned.other == dimension:
            learned.streak += 1
        else:
            learned.other, learned.streak = dimension, 1
        if learned.streak >= self._switch:
            self._known[target] = _Learned(dimension)
            return None
        return learned.dimension
