"""The emulator's deterministic vectors: pure properties, no process."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.emulator.vectors import (
    deterministic_vector,
    purposed_vector,
    token_count,
    token_vectors,
)
from vectorizer.emulator.wire import cut_words

DIMS = st.sampled_from([8, 256, 384, 1024, 1536, 3072])
TEXT = st.text(min_size=1, max_size=300)


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@given(TEXT, DIMS)
def test_deterministic_and_unit_norm(text: str, dim: int) -> None:
    v = deterministic_vector(text, dim)
    assert len(v) == dim
    assert v == deterministic_vector(text, dim)
    assert abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-6


@given(TEXT, DIMS)
def test_unnormalised_is_nonzero_and_parallel(text: str, dim: int) -> None:
    raw = deterministic_vector(text, dim, normalize=False)
    assert any(raw)
    assert cosine(raw, deterministic_vector(text, dim)) > 1 - 1e-6


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10)


@settings(max_examples=60)
@given(st.lists(WORD, min_size=6, max_size=20), WORD, st.lists(WORD, min_size=6, max_size=20))
def test_similar_texts_are_closer_than_dissimilar(
    words: list[str], extra: str, other: list[str]
) -> None:
    text = " ".join(words)
    similar = text + " " + extra
    unrelated = " ".join(w.upper() for w in other)  # shares no n-gram with the lower-case text
    base = deterministic_vector(text, 1024)
    assert cosine(base, deterministic_vector(similar, 1024)) > cosine(
        base, deterministic_vector(unrelated, 1024)
    )


def test_same_vector_in_another_process() -> None:
    code = (
        "from vectorizer.emulator.vectors import deterministic_vector as d;"
        "print(repr(d('cross process check', 64)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert eval(out) == deterministic_vector("cross process check", 64)  # noqa: S307


@given(TEXT, st.sampled_from(["search_query", "GENERIC_RETRIEVAL", "clustering"]))
def test_purpose_shifts_a_little(text: str, purpose: str) -> None:
    doc = purposed_vector(text, 1024, "search_document")
    assert doc == deterministic_vector(text, 1024)
    query = purposed_vector(text, 1024, purpose)
    assert query != doc
    assert cosine(query, doc) > 0.95


@given(st.lists(WORD, min_size=1, max_size=12))
def test_token_vectors_mean_pool_to_the_text_vector(words: list[str]) -> None:
    text = " ".join(words)
    tokens = token_vectors(text, 64)
    assert len(tokens) == len(words) == token_count(text)
    np.testing.assert_allclose(np.mean(tokens, axis=0), deterministic_vector(text, 64), atol=1e-7)


def test_cut_words_keeps_either_end() -> None:
    assert cut_words("a  b c d", 2, keep_start=True) == "a  b"
    assert cut_words("a b  c d", 2, keep_start=False) == "c d"
    assert cut_words("a b", 5, keep_start=True) == "a b"
