"""Deterministic embeddings for the emulator: honest lexical similarity, no model.

Parts:

- `deterministic_vector(text, dim, normalize)`: the vector every family and
  dialect answers with. Features are the text's character 3-grams (the text
  padded with one space each side) and its whitespace words, each hashed with
  blake2b (stable across processes, unlike Python's `hash`) to a position and
  a sign, count-sketch style. Texts that share many n-grams share many
  positions, so similar strings get similar vectors; the similarity is
  lexical, not semantic.
- `purposed_vector(text, dim, purpose, normalize)`: the vector of a
  purpose-aware model (Cohere `input_type`, Nova `embeddingPurpose`). The
  document/index purposes (`BASE_PURPOSES`) give exactly
  `deterministic_vector`; any other purpose adds one extra hashed feature
  named after the purpose, weighted `PURPOSE_WEIGHT` of the base norm. A
  query vector is then close to its document vector (cosine about 0.98) but
  not equal, so a test can tell which purpose the caller sent.
- `token_vectors(text, dim)`: per-whitespace-token vectors whose mean is
  exactly the text's normalised vector (used by the token-level HF dialect).
- `token_count(text)`: the emulator's token estimate, the number of
  whitespace-separated words.

Values are rounded to `DECIMALS` places so that what a function returns is
exactly what goes on the wire.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache

import numpy as np

NGRAM = 3
DECIMALS = 8
PURPOSE_WEIGHT = 0.2
BASE_PURPOSES = frozenset({"search_document", "GENERIC_INDEX"})
_SIGN_BIT = np.uint64(1 << 63)
_EMPTY_FEATURE = "\x00empty"


def token_count(text: str) -> int:
    """Approximate tokens: whitespace-separated words (real tokenizers give more)."""
    return len(text.split())


def _features(text: str) -> list[str]:
    if not text:
        return [_EMPTY_FEATURE]
    padded = f" {text} "
    grams = [padded[i : i + NGRAM] for i in range(max(1, len(padded) - NGRAM + 1))]
    # The \x01 prefix keeps a word from colliding with the identical 3-gram.
    return grams + ["\x01" + word for word in text.split()]


@lru_cache(maxsize=16384)
def _hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(hash, count) of each distinct feature, in order of first appearance.

    Each distinct feature is hashed once: a long repetitive text (a payload
    size test's) costs its distinct n-grams, not its length in hashes.
    """
    counts = Counter(_features(text))
    digests = b"".join(
        hashlib.blake2b(f.encode("utf-8", "surrogatepass"), digest_size=8).digest() for f in counts
    )
    weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    return np.frombuffer(digests, dtype="<u8"), weights


def _raw(text: str, dim: int) -> np.ndarray:
    """The un-normalised sketch: signed feature counts per position."""
    hashes, counts = _hashes(text)
    index = (hashes % np.uint64(dim)).astype(np.intp)
    signs = np.where(hashes & _SIGN_BIT, -1.0, 1.0)
    vec = np.bincount(index, weights=signs * counts, minlength=dim)
    if not vec.any():
        # Opposite signs cancelled in every bucket (tiny dims): keep it non-zero.
        vec[index[0]] = 1.0
    return vec


def _finish(vec: np.ndarray, normalize: bool) -> tuple[float, ...]:
    if normalize:
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec = vec / norm
    return tuple(np.round(vec, DECIMALS).tolist())


def _check_dim(dim: int) -> None:
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")


@lru_cache(maxsize=8192)
def _cached(text: str, dim: int, normalize: bool, purpose: str | None) -> tuple[float, ...]:
    vec = _raw(text, dim)
    if purpose is not None and purpose not in BASE_PURPOSES:
        extra = _raw("\x02purpose=" + purpose, dim)
        norm = float(np.linalg.norm(vec)) or 1.0
        vec = vec + extra * (PURPOSE_WEIGHT * norm / float(np.linalg.norm(extra)))
    return _finish(vec, normalize)


def deterministic_vector(text: str, dim: int, normalize: bool = True) -> list[float]:
    """The emulator's vector for `text`: same input, same output, in any process.

    With `normalize` the vector has unit L2 norm; without it, the raw signed
    feature counts (never all zero for a non-empty text, and the empty text
    has a fixed non-zero vector too).
    """
    _check_dim(dim)
    return list(_cached(text, dim, normalize, None))


def purposed_vector(
    text: str, dim: int, purpose: str | None, normalize: bool = True
) -> list[float]:
    """`deterministic_vector` shifted a little by a non-document `purpose`."""
    _check_dim(dim)
    return list(_cached(text, dim, normalize, purpose))


def token_vectors(text: str, dim: int) -> list[list[float]]:
    """One vector per whitespace token; their mean is `deterministic_vector(text, dim)`.

    Token i gets `base + d_i - mean(d)`, where `d_i` is the normalised vector
    of the token alone: tokens differ from each other, yet mean pooling gives
    back the text's own vector (to rounding, about 1e-8 per component).
    """
    _check_dim(dim)
    base = np.asarray(_cached(text, dim, True, None))
    words = text.split() or [text]
    own = np.array([_cached(w, dim, True, None) for w in words])
    tokens = base + (own - own.mean(axis=0))
    return np.round(tokens, DECIMALS).tolist()
