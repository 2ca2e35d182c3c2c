"""The emulator's deterministic vectors: pure properties, no process."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.emulator import vectors
from vectorizer.emulator.vectors import (
    deterministic_vector,
    purposed_vector,
    rotate,
    text_vector,
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
    # Python's str hash differs per process; the vectors must not.
    code = (
        "from vectorizer.emulator.vectors import purposed_vector as p;"
        "print(repr([p('cross process check', d, q) for d, q in "
        "((64, None), (1024, None), (1024, 'search_query'), (3072, 'GENERIC_RETRIEVAL'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert eval(out) == [  # noqa: S307
        purposed_vector("cross process check", d, q)
        for d, q in ((64, None), (1024, None), (1024, "search_query"), (3072, "GENERIC_RETRIEVAL"))
    ]


REAL_DIMS = st.sampled_from([256, 384, 512, 1024, 1536, 3072])


@given(TEXT, REAL_DIMS, st.sampled_from([None, "search_query"]))
def test_dense_with_a_real_models_spread(text: str, dim: int, purpose: str | None) -> None:
    """Every component non-zero, spread as a real model's (about N(0, 1/dim)),
    however short the text: no sparse vector, no spike."""
    v = text_vector(text, dim, purpose).values
    assert v.dtype == np.float32 and (v != 0).all()
    z = np.sort(np.abs(v.astype(np.float64)) * math.sqrt(dim))
    assert z[-1] < 6.5  # a unit Gaussian's maximum over 3,072 draws is about 4
    assert (z < 0.05).mean() < 0.12  # 4 % for a Gaussian; nearly all for a sparse vector
    # The tenth of the components largest in size holds 44 % of a Gaussian's
    # squared norm, and all of a vector with fewer non-zeros than that.
    top = z[-(dim // 10) :]
    assert (top**2).sum() / (z**2).sum() < 0.6


def test_unnormalised_vectors_are_dense_too() -> None:
    raw = text_vector("an unnormalised titan answer", 1536, normalize=False).values
    assert (raw != 0).all()
    # The norm is the sketch's: its signed feature counts, about sqrt(features).
    sketch = vectors._sketch("an unnormalised titan answer", 1536)
    assert math.isclose(float(np.linalg.norm(raw)), float(np.linalg.norm(sketch)), rel_tol=1e-6)


@pytest.mark.parametrize("dim", [1, 2, 3, 8, 17, 64, 255])
def test_rotation_is_orthogonal(dim: int) -> None:
    matrix = np.stack([rotate(e) for e in np.eye(dim)])
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(dim), atol=1e-12)


@settings(max_examples=40)
@given(TEXT, TEXT, REAL_DIMS)
def test_cosines_are_the_sketches(a: str, b: str, dim: int) -> None:
    """The rotation keeps every angle: the lexical similarity is untouched."""
    sa, sb = vectors._sketch(a, dim), vectors._sketch(b, dim)
    want = float(sa @ sb / (np.linalg.norm(sa) * np.linalg.norm(sb)))
    assert abs(cosine(deterministic_vector(a, dim), deterministic_vector(b, dim)) - want) < 1e-6


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
