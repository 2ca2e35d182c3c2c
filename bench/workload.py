"""What is embedded and how the answers are checked.

- `Family`: a Bedrock model family as the bench uses it (defaults only).
- `make_texts(n, prefix, chars=None)`: `n` distinct, deterministic texts
  (about 150-250 characters, or exactly `chars`); the same arguments give the
  same texts in any process, so a worker and the orchestrator agree without
  shipping texts around.
- `Tally` / `verify`: every answer checked against
  `vectorizer.emulator.vectors.deterministic_vector`: missing, wrong, error.

Only numpy and the emulator's vector module are imported, so the peers'
venv can use this module without the product's dependencies.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from vectorizer.emulator.vectors import deterministic_vector

# gRPC carries float32: a float64 vector rounded to float32 (and maybe
# re-normalised) differs by ~1e-7 per component; a wrong vector by far more.
TOLERANCE = 1e-5

_WORDS = (
    "vector database import query index shard replica embedding model token "
    "quota latency batch throttle region account bedrock titan cohere search "
    "hybrid keyword semantic document passage answer product review price "
    "customer order shipping delivery warranty battery screen camera laptop "
    "phone kettle garden river mountain city museum recipe coffee travel "
    "winter summer history science music festival library student teacher"
).split()


@dataclass(frozen=True)
class Family:
    key: str
    model: str
    dim: int
    normalize: bool
    max_batch: int  # texts per upstream call the model accepts

    @property
    def batched(self) -> bool:
        return self.max_batch > 1


TITAN = Family("titan-v2", "amazon.titan-embed-text-v2:0", 1024, True, 1)
COHERE = Family("cohere-v3", "cohere.embed-english-v3", 1024, True, 96)
FAMILIES = {f.key: f for f in (TITAN, COHERE)}


def make_texts(n: int, prefix: str, chars: int | None = None) -> list[str]:
    """`n` distinct texts deterministic in `prefix`: about 150-250 characters, or,
    with `chars`, exactly that many (words drawn until the length is reached,
    the last one cut)."""
    rng = random.Random(prefix if chars is None else f"{prefix}/{chars}")
    texts = []
    for i in range(n):
        head = f"{prefix} {i}:"
        if chars is None:
            words = rng.choices(_WORDS, k=rng.randint(18, 30))
            texts.append(head + " " + " ".join(words))
            continue
        parts = [head]
        length = len(head)
        while length < chars:
            word = rng.choice(_WORDS)
            parts.append(word)
            length += len(word) + 1
        texts.append(" ".join(parts)[:chars])
    return texts


@dataclass
class Tally:
    total: int = 0
    ok: int = 0
    missing: int = 0  # no answer at all for the item
    wrong: int = 0  # a vector, but not the emulator's vector for the text
    errors: int = 0  # an error (item error, failed call) instead of a vector

    @property
    def lost(self) -> int:
        return self.missing + self.wrong + self.errors

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "lost": self.lost}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Tally:
        return cls(data["total"], data["ok"], data["missing"], data["wrong"], data["errors"])

    def __str__(self) -> str:
        return (
            f"{self.lost} lost of {self.total} (missing {self.missing}, wrong {self.wrong}, "
            f"errors {self.errors})"
        )


Answer = Sequence[float] | np.ndarray | BaseException | str | None


def verify(texts: Sequence[str], answers: Sequence[Answer], family: Family) -> Tally:
    """Check answer i against text i. An exception or string counts as an error."""
    tally = Tally(total=len(texts))
    for i, text in enumerate(texts):
        answer = answers[i] if i < len(answers) else None
        if answer is None:
            tally.missing += 1
        elif isinstance(answer, BaseException | str):
            tally.errors += 1
        elif _matches(answer, deterministic_vector(text, family.dim, family.normalize)):
            tally.ok += 1
        else:
            tally.wrong += 1
    return tally


def _matches(got: Sequence[float] | np.ndarray, expected: list[float]) -> bool:
    got_arr = np.asarray(got, dtype=np.float64)
    if got_arr.shape != (len(expected),):
        return False
    return bool(np.max(np.abs(got_arr - np.asarray(expected))) <= TOLERANCE)
