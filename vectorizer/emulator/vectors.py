"""Deterministic embeddings for the emulator: honest lexical similarity, no model.

Parts:

- `text_vector(text, dim, purpose, normalize)`: the `wire.Vector` every
  family and dialect answers with, cached (values and their JSON text).
  Built in three steps:

  1. a count sketch: the text's character 3-grams (the text padded with one
     space each side) and its whitespace words, each hashed (3-grams by a
     fixed integer mix, words by blake2b: stable across processes, unlike
     Python's `hash`) to a position and a sign. Texts that share many
     n-grams share many positions, so similar strings get similar
     sketches; the similarity is lexical, not semantic;
  2. a fixed rotation (`rotate`): random signs, an orthonormal real Fourier
     transform, random signs, the transform again, seeded per dimension. A
     rotation keeps every dot product, so cosines between vectors are exactly
     the sketches' ones, while each feature is spread over every component:
     the vector is dense, its components about N(0, 1/dim) once normalised,
     as a real model's are, and a real answer's size on the wire;
  3. float32, as the services compute and answer them.

- `deterministic_vector(text, dim, normalize)`: `text_vector`'s values as a
  list of floats (each exactly its float32): what tests compare answers to.
- `purposed_vector(text, dim, purpose, normalize)`: the vector of a
  purpose-aware model (Cohere `input_type`, Nova `embeddingPurpose`). The
  document/index purposes (`BASE_PURPOSES`) give exactly
  `deterministic_vector`; any other purpose adds one extra hashed feature
  named after the purpose, weighted `PURPOSE_WEIGHT` of the base norm. A
  query vector is then close to its document vector (cosine about 0.98) but
  not equal, so a test can tell which purpose the caller sent.
- `token_vectors(text, dim)`: per-whitespace-token vectors whose mean is the
  text's normalised vector (to float32 rounding; the token-level HF dialect).
- `token_count(text)`: the emulator's token estimate, the number of
  whitespace-separated words.

What a function returns is exactly what goes on the wire: the float32
values, which every `wire.Spelling` carries bit for bit.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache

import numpy as np

from vectorizer.emulator.wire import Vector

PURPOSE_WEIGHT = 0.2
BASE_PURPOSES = frozenset({"search_document", "GENERIC_INDEX"})
SEED = 20_241_126
# Vectors kept with their JSON (about 40 KB each at 1,024 dimensions, so some
# 170 MB when full): a text answered again costs no work.
CACHE_SIZE = 4096
# Feature hashes, for the same text at another size or purpose, and words.
HASH_CACHE_SIZE = 1024
_SIGN_BIT = np.uint64(1 << 63)
_EMPTY_FEATURE = "\x00empty"


def token_count(text: str) -> int:
    """Approximate tokens: whitespace-separated words (real tokenizers give more)."""
    return len(text.split())


# splitmix64's finaliser: a bijection of 64-bit integers that spreads every input bit.
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_CODE_BITS = np.uint64(21)  # a code point fits in 21 bits: three fit in one uint64


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> _SHIFTS[0])
    x = x * _MIX[0]
    x = x ^ (x >> _SHIFTS[1])
    x = x * _MIX[1]
    return x ^ (x >> _SHIFTS[2])  # type: ignore[no-any-return]


def _gram_hashes(text: str) -> np.ndarray:
    """One hash per character 3-gram of the padded text, all at once in numpy:
    the three code points packed side by side (distinct 3-grams, distinct
    keys), then mixed."""
    padded = f" {text} ".encode("utf-32-le", "surrogatepass")
    codes = np.frombuffer(padded, dtype="<u4").astype(np.uint64)
    keys = (codes[:-2] << (_CODE_BITS * np.uint64(2))) | (codes[1:-1] << _CODE_BITS) | codes[2:]
    return _mix(keys)


def _blake(feature: str) -> bytes:
    return hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest()


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(hash, count) of the text's features: its character 3-grams and its
    whitespace words (each distinct word hashed once with blake2b)."""
    if not text:
        return np.frombuffer(_blake(_EMPTY_FEATURE), dtype="<u8"), np.ones(1)
    grams = _gram_hashes(text)
    words = Counter(text.split())
    # The \x01 prefix keeps a word's hash apart from the 3-grams'.
    digests = b"".join(_blake("\x01" + word) for word in words)
    hashes = np.concatenate([grams, np.frombuffer(digests, dtype="<u8")])
    counts = np.concatenate(
        [np.ones(len(grams)), np.fromiter(words.values(), dtype=np.float64, count=len(words))]
    )
    return hashes, counts


def _sketch(text: str, dim: int) -> np.ndarray:
    """The count sketch: signed feature counts per position."""
    hashes, counts = _hashes(text)
    index = (hashes % np.uint64(dim)).astype(np.intp)
    signs = np.where(hashes & _SIGN_BIT, -1.0, 1.0)
    vec = np.bincount(index, weights=signs * counts, minlength=dim)
    if not vec.any():
        # Opposite signs cancelled in every bucket (tiny dims): keep it non-zero.
        vec[index[0]] = 1.0
    return vec


@lru_cache(maxsize=64)
def _signs(dim: int) -> np.ndarray:
    rng = np.random.default_rng(SEED + dim)
    return rng.choice(np.array([-1.0, 1.0]), size=(2, dim))


def _real_fourier(x: np.ndarray) -> np.ndarray:
    """The orthonormal real DFT: the real part of each frequency, then its
    imaginary part (both scaled by sqrt 2 so that the norm is kept)."""
    n = len(x)
    spectrum = np.fft.rfft(x, norm="ortho")
    pairs = (n - 1) // 2
    out = np.empty(n)
    out[0] = spectrum[0].real
    out[1 : 2 * pairs + 1 : 2] = spectrum[1 : pairs + 1].real * np.sqrt(2.0)
    out[2 : 2 * pairs + 2 : 2] = spectrum[1 : pairs + 1].imag * np.sqrt(2.0)
    if n % 2 == 0:
        out[n - 1] = spectrum[n // 2].real
    return out


def rotate(x: np.ndarray) -> np.ndarray:
    """The fixed rotation of `dim`-vectors (orthogonal: norms and dot products kept).

    One transform alone leaves a one-feature sketch half zero (its imaginary
    parts); the second, after fresh random signs, fills every component.
    """
    signs = _signs(len(x))
    return _real_fourier(signs[1] * _real_fourier(signs[0] * x))


def _check_dim(dim: int) -> None:
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")


@lru_cache(maxsize=CACHE_SIZE)
def _cached(text: str, dim: int, normalize: bool, purpose: str | None) -> Vector:
    vec = _sketch(text, dim)
    if purpose is not None:
        extra = _sketch("\x02purpose=" + purpose, dim)
        norm = float(np.linalg.norm(vec)) or 1.0
        vec = vec + extra * (PURPOSE_WEIGHT * norm / float(np.linalg.norm(extra)))
    vec = rotate(vec)
    if normalize:
        vec = vec / np.linalg.norm(vec)
    return Vector(vec)


def text_vector(text: str, dim: int, purpose: str | None = None, normalize: bool = True) -> Vector:
    """The emulator's answer for `text`: same input, same output, in any process.

    With `normalize` the vector has unit L2 norm; without it, the rotated
    signed feature counts (never all zero for a non-empty text, and the empty
    text has a fixed non-zero vector too). A non-document `purpose` shifts it
    a little.
    """
    _check_dim(dim)
    if purpose in BASE_PURPOSES:
        purpose = None
    return _cached(text, dim, normalize, purpose)


def deterministic_vector(text: str, dim: int, normalize: bool = True) -> list[float]:
    """`text_vector`'s values, as a list of floats (each exactly a float32)."""
    return text_vector(text, dim, None, normalize).tolist()


def purposed_vector(
    text: str, dim: int, purpose: str | None, normalize: bool = True
) -> list[float]:
    """`deterministic_vector` shifted a little by a non-document `purpose`."""
    return text_vector(text, dim, purpose, normalize).tolist()


def token_vectors(text: str, dim: int) -> list[list[float]]:
    """One vector per whitespace token; their mean is `deterministic_vector(text, dim)`.

    Token i gets `base + d_i - mean(d)`, where `d_i` is the normalised vector
    of the token alone: tokens differ from each other, yet mean pooling gives
    back the text's own vector (to float32 rounding, about 1e-9 a component).
    """
    base = text_vector(text, dim).values.astype(np.float64)
    words = text.split() or [text]
    own = np.array([text_vector(w, dim).values for w in words], dtype=np.float64)
    tokens = base + (own - own.mean(axis=0))
    return tokens.astype(np.float32).tolist()  # type: ignore[no-any-return]
