"""SageMaker payload dialects, response shapes, auto memory and batch splitting."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.backends.sagemaker_batching import encode_body, split_batches
from vectorizer.backends.sagemaker_dialects import (
    ALL_SHAPES,
    AUTO_REQUEST_ORDER,
    DIALECTS,
    EMBEDDING_KEY,
    EMBEDDINGS_KEY,
    OPENAI_DATA,
    TOKEN_VECTORS,
    VECTOR_LIST,
    VECTORS_KEY,
    AutoDialect,
    AutoMemory,
    describe_shape,
    detect_response_shape,
    get_dialect,
)
from vectorizer.errors import ConfigError
from vectorizer.types import EmbedOptions, Purpose, Truncate

TEXTS = ["first text", "second"]
DOC, QUERY = Purpose.DOCUMENT, Purpose.QUERY
PLAIN = EmbedOptions()
V = [[1.0, 2.0, 2.0], [0.0, 3.0, 4.0]]


# --- golden requests ----------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "purpose", "options", "golden"),
    [
        # No truncate unless configured: TEI's own --auto-truncate decides.
        ("tei", DOC, PLAIN, {"inputs": TEXTS, "normalize": True}),
        ("tei", QUERY, PLAIN, {"inputs": TEXTS, "normalize": True}),
        (
            "tei",
            DOC,
            EmbedOptions(truncate=Truncate.NONE),
            {"inputs": TEXTS, "normalize": True, "truncate": False},
        ),
        (
            "tei",
            DOC,
            EmbedOptions(dimensions=256),
            {"inputs": TEXTS, "normalize": True, "dimensions": 256},
        ),
        (
            "tei",
            DOC,
            EmbedOptions(normalize=False, truncate=Truncate.END),
            {"inputs": TEXTS, "normalize": False, "truncate": True},
        ),
        (
            "tei",
            DOC,
            EmbedOptions(truncate=Truncate.START),
            {"inputs": TEXTS, "normalize": True, "truncate": True, "truncation_direction": "Left"},
        ),
        ("jumpstart", DOC, PLAIN, {"text_inputs": TEXTS, "mode": "embedding"}),
        ("jumpstart", QUERY, PLAIN, {"text_inputs": TEXTS, "mode": "embedding"}),
        ("hf", DOC, PLAIN, {"inputs": TEXTS}),
        ("hf", QUERY, PLAIN, {"inputs": TEXTS}),
        ("openai", DOC, PLAIN, {"input": TEXTS, "model": "default"}),
        ("openai", QUERY, PLAIN, {"input": TEXTS, "model": "default"}),
        ("cohere", DOC, PLAIN, {"texts": TEXTS, "input_type": "search_document"}),
        ("cohere", QUERY, PLAIN, {"texts": TEXTS, "input_type": "search_query"}),
        (
            "cohere",
            QUERY,
            EmbedOptions(input_type="classification", truncate=Truncate.END),
            {"texts": TEXTS, "input_type": "classification", "truncate": "END"},
        ),
        ("text2vec-aws", DOC, PLAIN, {"text_inputs": TEXTS}),
        ("text2vec-aws", QUERY, PLAIN, {"text_inputs": TEXTS}),
        ("auto", DOC, PLAIN, {"inputs": TEXTS}),
        ("auto", QUERY, PLAIN, {"inputs": TEXTS}),
    ],
)
def test_golden_requests(dialect, purpose, options, golden):
    body = get_dialect(dialect).build_request(TEXTS, purpose, options)
    assert json.loads(encode_body(body)) == golden


def test_openai_model_comes_from_target_model():
    body = get_dialect("openai", target_model="bge-m3").build_request(TEXTS, DOC, PLAIN)
    assert body == {"input": TEXTS, "model": "bge-m3"}


@pytest.mark.parametrize(
    ("request_name", "golden"),
    [
        ("hf", {"inputs": TEXTS}),
        ("jumpstart", {"text_inputs": TEXTS, "mode": "embedding"}),
        ("openai", {"input": TEXTS, "model": "m"}),
        ("cohere", {"texts": TEXTS, "input_type": "search_query"}),
    ],
)
def test_auto_fallback_requests(request_name, golden):
    auto = get_dialect("auto", target_model="m")
    assert isinstance(auto, AutoDialect)
    assert auto.with_request(request_name).build_request(TEXTS, QUERY, PLAIN) == golden


def test_auto_refuses_an_unknown_request_shape():
    with pytest.raises(ValueError):
        AutoDialect(request="tei")


def test_get_dialect_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        get_dialect("bert")
    message = info.value.message
    for name in ("auto", "tei", "jumpstart", "hf", "openai", "cohere", "text2vec-aws"):
        assert name in message
    assert get_dialect("").name == "auto"
    assert get_dialect(" TEI ").name == "tei"


def test_registry_names_match_keys():
    assert all(d.name == k for k, d in DIALECTS.items())


# --- response parsing -----------------------------------------------------------

# One response per dialect (and per variant), for the same two vectors V.
RESPONSES = {
    "tei": [V],
    "jumpstart": [{"embedding": V}],
    "hf": [V, {"embeddings": V}, {"vectors": V}],
    "openai": [
        {
            "object": "list",
            "data": [{"embedding": V[1], "index": 1}, {"embedding": V[0], "index": 0}],
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }
    ],
    "cohere": [
        {"embeddings": V, "meta": {"billed_units": {"input_tokens": 5}}},
        {"embeddings": {"float": V, "int8": [[1, 2, 3], [4, 5, 6]]}},
    ],
    "text2vec-aws": [{"embedding": V}],
}
CASES = [(name, body) for name, bodies in RESPONSES.items() for body in bodies]


@pytest.mark.parametrize(("dialect", "body"), CASES)
def test_each_dialect_parses_its_responses(dialect, body):
    parsed = get_dialect(dialect).parse_response(body, 2)
    assert parsed.vectors.tolist() == V


@pytest.mark.parametrize(("dialect", "body"), CASES)
def test_auto_reads_every_dialects_response(dialect, body):
    assert detect_response_shape(body) in ALL_SHAPES
    assert get_dialect("auto").parse_response(body, 2).vectors.tolist() == V


def test_token_usage():
    assert get_dialect("openai").parse_response(RESPONSES["openai"][0], 2).input_tokens == 7
    assert get_dialect("cohere").parse_response(RESPONSES["cohere"][0], 2).input_tokens == 5
    assert get_dialect("tei").parse_response(V, 2).input_tokens is None


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        (V, VECTOR_LIST),
        ([], VECTOR_LIST),
        ([[[1.0, 2.0]]], TOKEN_VECTORS),
        ([[[[1.0, 2.0]]]], TOKEN_VECTORS),
        ({"embedding": V}, EMBEDDING_KEY),
        ({"embeddings": V}, EMBEDDINGS_KEY),
        ({"vectors": V}, VECTORS_KEY),
        ({"data": []}, OPENAI_DATA),
        ({"error": "boom"}, None),
        ("text", None),
        (None, None),
        ([["a"]], None),
        ([{"x": 1}], None),
        (3, None),
    ],
)
def test_detect_response_shape(body, shape):
    assert detect_response_shape(body) == shape


def test_single_flat_vector_counts_as_one():
    parsed = get_dialect("jumpstart").parse_response({"embedding": [1, 2]}, 1)
    assert parsed.vectors.tolist() == [[1.0, 2.0]]


def test_openai_base64_embeddings():
    raw = np.asarray(V[0], dtype="<f4").tobytes()
    body = {"data": [{"embedding": base64.b64encode(raw).decode(), "index": 0}]}
    assert get_dialect("openai").parse_response(body, 1).vectors.tolist() == [V[0]]


# --- token-level pooling --------------------------------------------------------


def test_token_level_mean_pooling_matches_numpy():
    rng = np.random.default_rng(7)
    texts = [rng.normal(size=(n, 8)) for n in (3, 1, 6)]
    body = [t.tolist() for t in texts]
    parsed = get_dialect("hf").parse_response(body, 3)
    for got, tokens in zip(parsed.vectors, texts, strict=True):
        # float32 out: the precision the contract carries.
        np.testing.assert_allclose(got, tokens.mean(axis=0), rtol=1e-6)


def test_token_level_with_pipeline_batch_axis():
    tokens = [[1.0, 0.0], [3.0, 4.0]]
    parsed = get_dialect("hf").parse_response([[tokens], [tokens[:1]]], 2)
    assert parsed.vectors.tolist() == [[2.0, 2.0], [1.0, 0.0]]


def test_normalize_pools_then_normalises():
    tokens = [[1.0, 0.0], [3.0, 4.0]]  # mean (2, 2)
    parsed = get_dialect("hf").parse_response([tokens], 1, EmbedOptions(normalize=True))
    np.testing.assert_allclose(parsed.vectors[0], [2**-0.5, 2**-0.5])
    np.testing.assert_allclose(np.linalg.norm(parsed.vectors[0]), 1.0)


@pytest.mark.parametrize("dialect", ["hf", "jumpstart", "cohere", "auto"])
def test_client_side_normalisation_when_the_request_cannot_ask(dialect):
    body = {"hf": V, "auto": V, "jumpstart": {"embedding": V}, "cohere": {"embeddings": V}}
    parsed = get_dialect(dialect).parse_response(body[dialect], 2, EmbedOptions(normalize=True))
    np.testing.assert_allclose(parsed.vectors, [[1 / 3, 2 / 3, 2 / 3], [0.0, 0.6, 0.8]])


def test_tei_leaves_normalisation_to_the_container():
    parsed = get_dialect("tei").parse_response(V, 2, EmbedOptions(normalize=True))
    assert parsed.vectors.tolist() == V


def test_zero_vector_survives_normalisation():
    parsed = get_dialect("hf").parse_response([[0.0, 0.0]], 1, EmbedOptions(normalize=True))
    assert parsed.vectors.tolist() == [[0.0, 0.0]]


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(("dialect", "body"), CASES)
def test_wrong_count_is_a_clear_error(dialect, body):
    with pytest.raises(ValueError, match="holds 2 vectors for 3 texts"):
        get_dialect(dialect).parse_response(body, 3)


def test_garbage_names_type_and_keys_but_not_values():
    body = {"message": "token sk-SECRET-123 rejected", "code": 500}
    with pytest.raises(ValueError) as info:
        get_dialect("auto").parse_response(body, 1)
    text = str(info.value)
    assert "unrecognised SageMaker response" in text
    assert "'message'" in text and "'code'" in text
    assert "SECRET" not in text


def test_describe_shape_is_short():
    huge = {f"key{i}": "x" * 10_000 for i in range(100)}
    assert len(describe_shape(huge)) <= 200
    assert "x" * 20 not in describe_shape(huge)
    assert describe_shape([[1.0]]) == "list of 1 (first: list of 1 (first: float))"
    assert describe_shape("secret") == "string of 6 characters"


def test_strict_dialect_points_at_auto():
    with pytest.raises(ValueError, match="set payloadFormat to auto"):
        get_dialect("tei").parse_response({"embedding": V}, 2)


@pytest.mark.parametrize(
    "body",
    [
        [[1.0, "2"]],
        [[1.0, True]],
        [[]],
        [[1.0, 2.0], [1.0]],
        [[float("nan"), 1.0]],
        {"embedding": "abc"},
        {"embeddings": {"int8": [[1]]}},
        {"data": [{"embedding": [1.0], "index": 5}]},
        {"data": [{"embedding": [1.0], "index": 0}, {"embedding": [1.0], "index": 0}]},
        {"data": [{"vector": [1.0]}]},
        {"data": [{"embedding": "not base64!", "index": 0}]},
        [[[]]],
    ],
)
def test_malformed_vectors_raise_value_error(body):
    count = len(body["data"]) if isinstance(body, dict) and "data" in body else len(body)
    with pytest.raises(ValueError):
        get_dialect("auto").parse_response(body, max(count, 1))


# --- auto memory ----------------------------------------------------------------


def test_auto_memory_candidates_and_remember():
    memory = AutoMemory(max_entries=2)
    assert memory.candidates("a") == AUTO_REQUEST_ORDER
    memory.remember("a", "openai")
    assert memory.candidates("a") == ("openai", "hf", "jumpstart", "cohere")
    memory.forget("a")
    assert memory.get("a") is None
    with pytest.raises(ValueError):
        memory.remember("a", "tei")


def test_auto_memory_is_bounded_and_drops_least_recently_used():
    memory = AutoMemory(max_entries=2)
    memory.remember("a", "hf")
    memory.remember("b", "cohere")
    assert memory.get("a") == "hf"  # "b" is now the least recently used
    memory.remember("c", "jumpstart")
    assert len(memory) == 2
    assert memory.get("b") is None
    assert (memory.get("a"), memory.get("c")) == ("hf", "jumpstart")


# --- split_batches --------------------------------------------------------------


def test_split_by_count():
    plan = split_batches([f"t{i}" for i in range(7)], 3)
    assert plan.batches == [range(0, 3), range(3, 6), range(6, 7)]
    assert plan.oversized == []


def test_split_by_bytes_and_oversized_item():
    texts = ["aaaa", "bbbb", "x" * 50, "cccc"]
    build = get_dialect("tei").build_request
    plan = split_batches(texts, 10, max_bytes=60, build=lambda t: build(t, DOC, PLAIN))
    assert plan.oversized == [2]
    assert plan.batches == [range(0, 2), range(3, 4)]


def test_split_uses_real_encoded_size_for_unusual_builders():
    # The body holds every text twice: the additive estimate is short, and
    # the real-size check must still keep each body within the limit.
    def build(texts):
        return {"a": list(texts), "b": list(texts)}

    plan = split_batches(["x" * 10] * 6, 6, max_bytes=60, build=build)
    assert all(len(encode_body(build(["x" * 10] * len(r)))) <= 60 for r in plan.batches)
    assert [i for r in plan.batches for i in r] == list(range(6))


def test_split_rejects_zero_batch_size():
    with pytest.raises(ValueError):
        split_batches(["a"], 0)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.text(max_size=30), max_size=40),
    batch_size=st.integers(min_value=1, max_value=8),
    max_bytes=st.integers(min_value=10, max_value=200),
    dialect=st.sampled_from(["tei", "jumpstart", "openai", "cohere", "hf"]),
)
def test_split_property(texts, batch_size, max_bytes, dialect):
    d = get_dialect(dialect)

    def build(batch):
        return d.build_request(batch, QUERY, PLAIN)

    plan = split_batches(texts, batch_size, max_bytes=max_bytes, build=build)
    # Every index exactly once, in order, batches or oversized.
    seen = sorted([i for r in plan.batches for i in r] + plan.oversized)
    assert seen == list(range(len(texts)))
    flat = [i for r in plan.batches for i in r]
    assert flat == sorted(flat)
    for r in plan.batches:
        assert r.step == 1 and 1 <= len(r) <= batch_size
        assert len(encode_body(build([texts[i] for i in r]))) <= max_bytes
    for i in plan.oversized:
        assert len(encode_body(build([texts[i]]))) > max_bytes
