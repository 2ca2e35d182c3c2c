"""Tests for vectorizer.cache: keys and the in-memory tier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer import metrics
from vectorizer.cache import (
    ENTRY_OVERHEAD_BYTES,
    MemoryLRU,
    VectorCache,
    cache_key,
    decode_vector,
    encode_vector,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

BASE = dict(
    identity="id-hash-1",
    service="bedrock",
    region="us-east-1",
    target="amazon.titan-embed-text-v2:0",
    options=EmbedOptions(),
    purpose=Purpose.DOCUMENT,
    text="hello world",
)


def key(**changes: object) -> str:
    return cache_key(**{**BASE, **changes})  # type: ignore[arg-type]


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or None) or 0.0


# --- keys -------------------------------------------------------------------------


def test_key_is_hex_sha256_and_deterministic() -> None:
    k = key()
    assert len(k) == 64 and int(k, 16) >= 0
    assert key() == k
    assert "hello" not in k and "id-hash-1" not in k


@pytest.mark.parametrize(
    "change",
    [
        {"identity": "id-hash-2"},
        {"service": "sagemaker"},
        {"region": "eu-west-1"},
        {"target": "amazon.titan-embed-text-v1"},
        {"options": EmbedOptions(dimensions=256)},
        {"options": EmbedOptions(normalize=True)},
        {"options": EmbedOptions(normalize=False)},
        {"options": EmbedOptions(truncate=Truncate.END)},
        {"options": EmbedOptions(input_type="classification")},
        {"purpose": Purpose.QUERY},
        {"text": "hello world "},
        {"text": "Hello world"},
    ],
)
def test_key_changes_with_every_field(change: dict[str, object]) -> None:
    assert key(**change) != key()


def test_every_option_field_is_part_of_the_key() -> None:
    # A new EmbedOptions field must change keys without touching cache_key.
    values = {"dimensions": 1024, "normalize": True, "truncate": Truncate.START, "input_type": "x"}
    for f in dataclasses.fields(EmbedOptions):
        assert f.name in values, f"add a value for new option {f.name!r} to this test"
        assert key(options=EmbedOptions(**{f.name: values[f.name]})) != key()


def test_two_identities_never_share_a_key() -> None:
    texts = ["a", "b", "same text", ""]
    one = {key(identity="alice-hash", text=t) for t in texts}
    two = {key(identity="bob-hash", text=t) for t in texts}
    assert one.isdisjoint(two)


def test_option_types_are_not_conflated() -> None:
    assert key(options=EmbedOptions(input_type="1")) != key(options=EmbedOptions(dimensions=1))
    assert key(options=EmbedOptions(normalize=True)) != key(options=EmbedOptions(dimensions=1))


def test_unencodable_option_is_refused() -> None:
    with pytest.raises(TypeError):
        key(options=EmbedOptions(input_type=["not", "a", "scalar"]))  # type: ignore[arg-type]


_text = st.text(max_size=6)
_fields = st.tuples(_text, _text, _text, _text, _text)


@settings(max_examples=300)
@given(a=_fields, b=_fields)
def test_key_is_injective_over_field_splits(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    def k(fields: tuple[str, ...]) -> str:
        identity, service, region, target, text = fields
        return cache_key(identity, service, region, target, EmbedOptions(), Purpose.QUERY, text)

    assert (k(a) == k(b)) == (a == b)


def test_key_split_boundaries_differ() -> None:
    assert key(identity="ab", service="c") != key(identity="a", service="bc")
    assert key(target="x", text="y z") != key(target="x y", text="z")
    assert key(text='a","b') != key(text="a")
    assert key(text="\ud800") != key(text="\ud801")  # lone surrogates encode too


# --- vector encoding ----------------------------------------------------------------


def test_vectors_round_trip_as_float32() -> None:
    vector = [0.1, -2.5, 3.0e-8, 1.0]
    blob = encode_vector(vector)
    assert len(blob) == 16
    assert blob == np.array(vector, dtype="<f4").tobytes()
    decoded = decode_vector(blob)
    assert decoded is not None and decoded.dtype == np.float32
    assert decoded.tolist() == np.array(vector, dtype=np.float32).tolist()
    assert decode_vector(b"") is None
    assert decode_vector(b"\x00\x00\x00") is None


# --- MemoryLRU ------------------------------------------------------------------------

KEY_LEN = 64


def k_(i: int) -> str:
    return f"{i:064d}"


def entry_cost(dims: int) -> int:
    return KEY_LEN + 4 * dims + ENTRY_OVERHEAD_BYTES


def test_lru_order_and_eviction_count() -> None:
    lru = MemoryLRU(max_bytes=3 * entry_cost(4))
    for i in range(3):
        lru.put(k_(i), [float(i)] * 4)
    assert len(lru) == 3 and lru.evictions == 0
    assert _listed(lru.get(k_(0))) == [0.0] * 4  # 0 is now the most recently used
    lru.put(k_(3), [3.0] * 4)
    assert k_(1) not in lru and lru.get(k_(1)) is None
    assert [k in lru for k in map(k_, (0, 2, 3))] == [True, True, True]
    assert lru.evictions == 1
    lru.put(k_(4), [4.0] * 4)
    assert k_(2) not in lru and lru.evictions == 2
    assert lru.bytes_used == 3 * entry_cost(4)


def test_replacing_a_key_adjusts_bytes() -> None:
    lru = MemoryLRU(max_bytes=10_000)
    lru.put(k_(1), [1.0] * 4)
    lru.put(k_(1), [1.0] * 8)
    assert len(lru) == 1 and lru.bytes_used == entry_cost(8)
    assert _listed(lru.get(k_(1))) == [1.0] * 8


def test_an_entry_larger_than_the_bound_is_not_stored() -> None:
    lru = MemoryLRU(max_bytes=entry_cost(4))
    lru.put(k_(1), [1.0] * 4)
    lru.put(k_(2), [1.0] * 5)
    assert k_(2) not in lru and k_(1) in lru and lru.evictions == 0


@settings(max_examples=100, deadline=None)
@given(
    max_bytes=st.integers(0, 4000),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.integers(1, 64)), max_size=80),
)
def test_bytes_never_exceed_the_bound(max_bytes: int, ops: list[tuple[bool, int, int]]) -> None:
    lru = MemoryLRU(max_bytes=max_bytes)
    sizes: dict[str, int] = {}  # what the cache should hold, by key
    for is_put, i, dims in ops:
        if is_put:
            lru.put(k_(i), [float(i)] * dims)
            sizes[k_(i)] = dims
        else:
            got = lru.get(k_(i))
            assert got is None or got.tolist() == [float(i)] * sizes[k_(i)]
        assert lru.bytes_used <= max_bytes
        held = [k for k in sizes if k in lru]
        assert lru.bytes_used == sum(entry_cost(sizes[k]) for k in held)
        assert len(lru) == len(held)


def test_memory_metrics_move() -> None:
    hits = sample("vectorizer_cache_requests_total", tier="memory", result="hit")
    misses = sample("vectorizer_cache_requests_total", tier="memory", result="miss")
    evictions = sample("vectorizer_cache_evictions_total")
    entries = sample("vectorizer_cache_entries")
    used = sample("vectorizer_cache_bytes")
    lru = MemoryLRU(max_bytes=entry_cost(2))
    lru.get(k_(1))
    lru.put(k_(1), [1.0, 2.0])
    lru.get(k_(1))
    lru.put(k_(2), [1.0, 2.0])
    assert sample("vectorizer_cache_requests_total", tier="memory", result="hit") == hits + 1
    assert sample("vectorizer_cache_requests_total", tier="memory", result="miss") == misses + 1
    assert sample("vectorizer_cache_evictions_total") == evictions + 1
    assert sample("vectorizer_cache_entries") == entries + 1
    assert sample("vectorizer_cache_bytes") == used + entry_cost(2)
    lru.clear()
    assert sample("vectorizer_cache_entries") == entries
    assert sample("vectorizer_cache_bytes") == used


# --- VectorCache without Redis ------------------------------------------------------


async def test_vector_cache_memory_only() -> None:
    cache = VectorCache(max_bytes=1 << 20)
    await cache.put_many({k_(1): np.array([0.5, 0.25], "f4"), k_(2): np.array([1.0], "f4")})
    got = await cache.get_many([k_(1), k_(2), k_(3), k_(1)])
    assert {k: v.tolist() for k, v in got.items()} == {k_(1): [0.5, 0.25], k_(2): [1.0]}
    await cache.close()


async def test_zero_bytes_disables_memory_caching() -> None:
    cache = VectorCache(max_bytes=0)
    assert cache.memory is None
    await cache.put_many({k_(1): np.array([0.5], "f4")})
    assert await cache.get_many([k_(1)]) == {}
    await cache.close()


def _listed(vector: object) -> object:
    """A cached vector (a float32 array) as a list, for comparing; None stays None."""
    return None if vector is None else vector.tolist()  # type: ignore[attr-defined]
