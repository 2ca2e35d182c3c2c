"""Bedrock family codecs: exact request bodies, response parsing, option checks,
the registry and normalisation helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.backends.families import (
    FAMILIES,
    known_model_ids,
    l2_normalize,
    needs_client_normalize,
    resolve_family,
)
from vectorizer.errors import ConfigError
from vectorizer.types import EmbedOptions, Purpose, Truncate

DOC, QUERY = Purpose.DOCUMENT, Purpose.QUERY
NO_OPTIONS = EmbedOptions()


def codec(name: str):
    return FAMILIES[name]


# ---- golden request bodies -------------------------------------------------

GOLDEN = [
    # (family, texts, purpose, options, body)
    ("titan-text-v1", ["a b"], DOC, NO_OPTIONS, {"inputText": "a b"}),
    ("titan-text-v1", ["q"], QUERY, NO_OPTIONS, {"inputText": "q"}),
    ("titan-text-v2", ["a b"], DOC, NO_OPTIONS, {"inputText": "a b", "dimensions": 1024}),
    (
        "titan-text-v2",
        ["q"],
        QUERY,
        EmbedOptions(dimensions=256, normalize=False),
        {"inputText": "q", "dimensions": 256, "normalize": False},
    ),
    (
        "titan-multimodal-g1",
        ["a"],
        DOC,
        NO_OPTIONS,
        {"inputText": "a", "embeddingConfig": {"outputEmbeddingLength": 1024}},
    ),
    (
        "titan-multimodal-g1",
        ["q"],
        QUERY,
        EmbedOptions(dimensions=384),
        {"inputText": "q", "embeddingConfig": {"outputEmbeddingLength": 384}},
    ),
    (
        "cohere-v3",
        ["a", "b"],
        DOC,
        NO_OPTIONS,
        {
            "texts": ["a", "b"],
            "input_type": "search_document",
            "truncate": "NONE",
            "embedding_types": ["float"],
        },
    ),
    (
        "cohere-v3",
        ["q"],
        QUERY,
        EmbedOptions(truncate=Truncate.START),
        {
            "texts": ["q"],
            "input_type": "search_query",
            "truncate": "START",
            "embedding_types": ["float"],
        },
    ),
    (
        "cohere-v4",
        ["a", "b"],
        DOC,
        EmbedOptions(truncate=Truncate.END),
        {
            "texts": ["a", "b"],
            "input_type": "search_document",
            "truncate": "RIGHT",
            "embedding_types": ["float"],
            "output_dimension": 1536,
        },
    ),
    (
        "cohere-v4",
        ["q"],
        QUERY,
        EmbedOptions(dimensions=512, truncate=Truncate.START),
        {
            "texts": ["q"],
            "input_type": "search_query",
            "truncate": "LEFT",
            "embedding_types": ["float"],
            "output_dimension": 512,
        },
    ),
    (
        "nova-multimodal",
        ["a"],
        DOC,
        NO_OPTIONS,
        {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_INDEX",
                "embeddingDimension": 3072,
                "text": {"truncationMode": "END", "value": "a"},
            },
        },
    ),
    (
        "nova-multimodal",
        ["q"],
        QUERY,
        EmbedOptions(dimensions=1024, truncate=Truncate.NONE),
        {
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_RETRIEVAL",
                "embeddingDimension": 1024,
                "text": {"truncationMode": "NONE", "value": "q"},
            },
        },
    ),
    (
        "marengo-2.7",
        ["a"],
        DOC,
        NO_OPTIONS,
        {"inputType": "text", "inputText": "a", "textTruncate": "end"},
    ),
    (
        "marengo-2.7",
        ["q"],
        QUERY,
        EmbedOptions(truncate=Truncate.NONE),
        {"inputType": "text", "inputText": "q", "textTruncate": "none"},
    ),
    (
        "marengo-2.7",
        ["q"],
        QUERY,
        EmbedOptions(truncate=Truncate.START),
        {"inputType": "text", "inputText": "q", "textTruncate": "end"},
    ),
    # Marengo 3.0 (AWS's model-parameters-marengo-3 page): the text nested
    # under "text", no truncation setting whatever the policy.
    ("marengo-3.0", ["a"], DOC, NO_OPTIONS, {"inputType": "text", "text": {"inputText": "a"}}),
    (
        "marengo-3.0",
        ["q"],
        QUERY,
        EmbedOptions(truncate=Truncate.END),
        {"inputType": "text", "text": {"inputText": "q"}},
    ),
]


@pytest.mark.parametrize("family,texts,purpose,options,body", GOLDEN)
def test_request_body_is_exact(family, texts, purpose, options, body):
    assert codec(family).build_request(texts, purpose, options) == body


def test_every_family_has_golden_bodies_for_both_purposes():
    covered = {(g[0], g[2]) for g in GOLDEN}
    assert covered == {(name, p) for name in FAMILIES for p in (DOC, QUERY)}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_batch_size_is_enforced(name):
    c = codec(name)
    with pytest.raises(ValueError, match="texts per call"):
        c.build_request(["x"] * (c.spec.max_batch_size + 1), DOC, NO_OPTIONS)
    with pytest.raises(ValueError, match="texts per call"):
        c.build_request([], DOC, NO_OPTIONS)


def test_cohere_takes_96_texts():
    body = codec("cohere-v3").build_request([str(i) for i in range(96)], DOC, NO_OPTIONS)
    assert len(body["texts"]) == 96


# ---- purpose mapping and input type override -------------------------------


@pytest.mark.parametrize(
    "family,doc,query",
    [
        ("cohere-v3", "search_document", "search_query"),
        ("cohere-v4", "search_document", "search_query"),
        ("nova-multimodal", "GENERIC_INDEX", "GENERIC_RETRIEVAL"),
    ],
)
def test_purpose_mapping(family, doc, query):
    spec = codec(family).spec
    assert spec.supports_purpose
    assert (spec.document_input_type, spec.query_input_type) == (doc, query)


def _purpose_value(family: str, body: dict) -> str:
    if family == "nova-multimodal":
        return body["singleEmbeddingParams"]["embeddingPurpose"]
    return body["input_type"]


@pytest.mark.parametrize(
    "family,override,sent",
    [
        ("cohere-v3", "classification", "classification"),
        ("cohere-v4", "CLUSTERING", "clustering"),
        ("nova-multimodal", "text_retrieval", "TEXT_RETRIEVAL"),
    ],
)
def test_input_type_overrides_purpose(family, override, sent):
    c = codec(family)
    options = EmbedOptions(input_type=override)
    assert c.validate(options) == []
    for purpose in (DOC, QUERY):
        assert _purpose_value(family, c.build_request(["t"], purpose, options)) == sent


@pytest.mark.parametrize("family", ["cohere-v3", "cohere-v4", "nova-multimodal"])
def test_unknown_input_type_is_rejected_with_allowed_values(family):
    c = codec(family)
    (problem,) = c.validate(EmbedOptions(input_type="bogus"))
    assert "'bogus'" in problem and family in problem
    assert c.spec.input_types[0] in problem
    with pytest.raises(ValueError):
        c.build_request(["t"], DOC, EmbedOptions(input_type="bogus"))


@pytest.mark.parametrize(
    "family",
    ["titan-text-v1", "titan-text-v2", "titan-multimodal-g1", "marengo-2.7", "marengo-3.0"],
)
def test_input_type_on_family_without_purpose_names_the_family(family):
    c = codec(family)
    assert not c.spec.supports_purpose
    (problem,) = c.validate(EmbedOptions(input_type="search_query"))
    assert family in problem and "not supported" in problem


def test_supports_purpose_agrees_with_input_types():
    for c in FAMILIES.values():
        assert c.spec.supports_purpose == bool(c.spec.input_types)


# ---- dimensions ------------------------------------------------------------


@pytest.mark.parametrize(
    "family,good,bad,allowed",
    [
        ("titan-text-v1", 1536, 1024, "[1536]"),
        ("titan-text-v2", 512, 768, "[256, 512, 1024]"),
        ("titan-multimodal-g1", 384, 512, "[256, 384, 1024]"),
        ("cohere-v3", 1024, 512, "[1024]"),
        ("cohere-v4", 256, 3072, "[256, 512, 1024, 1536]"),
        ("nova-multimodal", 384, 512, "[256, 384, 1024, 3072]"),
        ("marengo-2.7", 1024, 512, "[1024]"),
        ("marengo-3.0", 512, 1024, "[512]"),
    ],
)
def test_dimensions(family, good, bad, allowed):
    c = codec(family)
    assert c.validate(EmbedOptions(dimensions=good)) == []
    assert c.dimensions_for(EmbedOptions(dimensions=good)) == good
    assert c.dimensions_for(NO_OPTIONS) == c.spec.default_dimensions
    assert c.validate(EmbedOptions(dimensions=bad)) == [
        f"dimensions {bad} not supported by {family}, allowed values are: {allowed}"
    ]


# ---- response parsing -------------------------------------------------------

V = [0.5, -1, 2.25]


@pytest.mark.parametrize(
    "family,body,count,tokens",
    [
        ("titan-text-v1", {"embedding": V, "inputTextTokenCount": 3}, 1, 3),
        (
            "titan-text-v2",
            {"embedding": V, "embeddingsByType": {"float": V}, "inputTextTokenCount": 4},
            1,
            4,
        ),
        ("titan-text-v2", {"embeddingsByType": {"float": V}}, 1, None),
        ("titan-multimodal-g1", {"embedding": V, "inputTextTokenCount": 2, "message": None}, 1, 2),
        (
            "cohere-v3",
            {
                "id": "x",
                "embeddings": [V, V],
                "texts": ["a", "b"],
                "response_type": "embeddings_floats",
            },
            2,
            None,
        ),
        (
            "cohere-v3",
            {"id": "x", "embeddings": {"float": [V, V]}, "response_type": "embeddings_by_type"},
            2,
            None,
        ),
        (
            "cohere-v4",
            {
                "id": "x",
                "embeddings": {"float": [V]},
                "texts": ["a"],
                "response_type": "embeddings_by_type",
            },
            1,
            None,
        ),
        (
            "cohere-v4",
            {"embeddings": {"float": [V]}, "meta": {"billed_units": {"input_tokens": 7}}},
            1,
            7,
        ),
        ("cohere-v4", {"embeddings": [V, V, V]}, 3, None),
        (
            "nova-multimodal",
            {"embeddings": [{"embeddingType": "TEXT", "embedding": V, "truncatedCharLength": 10}]},
            1,
            None,
        ),
        ("nova-multimodal", {"embeddings": [{"embedding": V}]}, 1, None),
        ("marengo-2.7", {"data": [{"embedding": V}]}, 1, None),
        ("marengo-2.7", {"data": {"embedding": V}}, 1, None),
        ("marengo-2.7", {"embedding": V}, 1, None),
        # AWS's Marengo 3 page: `data` is the object itself for one vector.
        ("marengo-3.0", {"data": {"embedding": V}}, 1, None),
        ("marengo-3.0", {"data": [{"embedding": V}]}, 1, None),
    ],
)
def test_parse_documented_shapes(family, body, count, tokens):
    parsed = codec(family).parse_response(body, count)
    assert parsed.vectors.dtype == np.float32 and parsed.vectors.shape == (count, 3)
    assert parsed.vectors.tolist() == [[0.5, -1.0, 2.25]] * count
    assert parsed.input_tokens == tokens


BAD = [
    ("titan-text-v1", [V], 1, "JSON object"),
    ("titan-text-v1", {"embedding": V}, 2, "one text"),
    ("titan-text-v1", {"inputTextTokenCount": 1}, 1, "no 'embedding'"),
    ("titan-text-v2", {"embedding": ["1", 2]}, 1, "numbers"),
    ("titan-text-v2", {"embedding": [True, 1.0]}, 1, "numbers"),
    ("titan-text-v2", {"embedding": []}, 1, "non-empty"),
    ("titan-multimodal-g1", {"embedding": None, "message": "bad image"}, 1, "bad image"),
    ("cohere-v3", {"embeddings": [V]}, 2, "expected 2 vectors, got 1"),
    ("cohere-v3", {"embeddings": [V, V, V]}, 2, "expected 2 vectors, got 3"),
    ("cohere-v3", {"embeddings": {"int8": [[1, 2]]}}, 1, "no 'float'"),
    ("cohere-v3", {"texts": ["a"]}, 1, "no 'embeddings'"),
    ("cohere-v4", {"embeddings": {"float": "nope"}}, 1, "list of vectors"),
    ("cohere-v4", {"embeddings": {"float": [V, [1.0]]}}, 2, "different lengths"),
    ("cohere-v4", {"embeddings": {"float": [[None, 1.0]]}}, 1, "numbers"),
    ("nova-multimodal", {"embeddings": []}, 1, "one entry"),
    ("nova-multimodal", {"embeddings": [{"embedding": V}, {"embedding": V}]}, 1, "one entry"),
    ("nova-multimodal", {"embeddings": [{"embeddingType": "IMAGE", "embedding": V}]}, 1, "TEXT"),
    ("nova-multimodal", {"embedding": V}, 1, "one entry"),
    ("marengo-2.7", {"data": []}, 1, "one entry"),
    ("marengo-2.7", {"data": [{"embedding": V}, {"embedding": V}]}, 1, "one entry"),
    ("marengo-2.7", {"data": ["x"]}, 1, "JSON object"),
    ("marengo-2.7", {"vector": V}, 1, "no 'embedding'"),
    ("marengo-2.7", {"embedding": {"a": 1}}, 1, "numbers"),
    ("marengo-3.0", {"data": {"embedding": V}}, 2, "one text"),
    ("marengo-3.0", {"data": [{"embedding": V}, {"embedding": V}]}, 1, "one entry"),
    ("marengo-3.0", {"data": {"vector": V}}, 1, "no 'embedding'"),
    ("marengo-3.0", {"data": "x"}, 1, "one entry"),
]


@pytest.mark.parametrize("family,body,count,message", BAD)
def test_bad_shapes_raise_value_error(family, body, count, message):
    with pytest.raises(ValueError, match=message):
        codec(family).parse_response(body, count)


@given(st.integers(min_value=1, max_value=96), st.integers(min_value=0, max_value=100))
def test_cohere_returns_exactly_count_vectors_or_raises(count, returned):
    body = {"embeddings": {"float": [[1.0, 2.0]] * returned}}
    try:
        parsed = FAMILIES["cohere-v4"].parse_response(body, count)
    except ValueError:
        assert returned != count
    else:
        assert returned == count and len(parsed.vectors) == count


# ---- normalisation ----------------------------------------------------------


def test_native_normalize_only_on_titan_v2():
    assert [n for n, c in FAMILIES.items() if c.spec.native_normalize] == ["titan-text-v2"]


@pytest.mark.parametrize(
    "family,normalize,expected",
    [
        ("titan-text-v2", True, False),
        ("titan-text-v1", True, True),
        ("cohere-v4", True, True),
        ("cohere-v4", False, False),
        ("cohere-v4", None, False),
    ],
)
def test_needs_client_normalize(family, normalize, expected):
    options = EmbedOptions(normalize=normalize)
    assert needs_client_normalize(FAMILIES[family].spec, options) is expected


def test_l2_normalize_examples():
    # float32 out: the precision the contract carries.
    assert l2_normalize([3.0, 4.0]).tolist() == np.array([0.6, 0.8], "f4").tolist()
    assert l2_normalize([0.0, 0.0, 0.0]).tolist() == [0.0, 0.0, 0.0]


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=64))
def test_l2_normalize_gives_unit_or_zero_vectors(vector):
    out = l2_normalize(vector)
    assert len(out) == len(vector)
    assert out.dtype == np.float32
    norm = math.sqrt(sum(float(x) ** 2 for x in out))
    if any(vector):
        # float32 components: unit length to float32 precision.
        assert norm == pytest.approx(1.0, rel=1e-6)
    else:
        assert norm == 0.0


# ---- registry ----------------------------------------------------------------


def test_family_names():
    assert sorted(FAMILIES) == sorted(
        [
            "titan-text-v1",
            "titan-text-v2",
            "titan-multimodal-g1",
            "cohere-v3",
            "cohere-v4",
            "nova-multimodal",
            "marengo-2.7",
            "marengo-3.0",
        ]
    )


def test_known_model_ids_include_text2vec_aws_ids():
    ids = known_model_ids()
    for mid in [
        "amazon.titan-embed-text-v1",
        "amazon.titan-embed-text-v2:0",
        "cohere.embed-english-v3",
        "cohere.embed-multilingual-v3",
    ]:
        assert mid in ids
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "model,family",
    [
        ("amazon.titan-embed-text-v1", "titan-text-v1"),
        ("amazon.titan-embed-text-v1:2:8k", "titan-text-v1"),
        ("amazon.titan-embed-text-v2:0", "titan-text-v2"),
        ("amazon.titan-embed-image-v1", "titan-multimodal-g1"),
        ("cohere.embed-english-v3", "cohere-v3"),
        ("eu.cohere.embed-multilingual-v3", "cohere-v3"),
        ("us.cohere.embed-v4:0", "cohere-v4"),
        ("global.cohere.embed-v4:0", "cohere-v4"),
        ("amazon.nova-2-multimodal-embeddings-v1:0", "nova-multimodal"),
        ("us.twelvelabs.marengo-embed-2-7-v1:0", "marengo-2.7"),
        ("twelvelabs.marengo-embed-3-0-v1:0", "marengo-3.0"),
        ("us.twelvelabs.marengo-embed-3-0-v1:0", "marengo-3.0"),
        ("eu.twelvelabs.marengo-embed-3-0-v1:0", "marengo-3.0"),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/"
            "eu.twelvelabs.marengo-embed-3-0-v1:0",
            "marengo-3.0",
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3", "cohere-v3"),
        (
            "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/"
            "us-gov.amazon.titan-embed-text-v2:0",
            "titan-text-v2",
        ),
    ],
)
def test_resolve_family_from_model(model, family):
    assert resolve_family(model).spec.name == family


def test_explicit_family_serves_ids_naming_no_model():
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    assert resolve_family(arn, "cohere-v4").spec.name == "cohere-v4"
    assert resolve_family("amazon.titan-embed-text-v3:0", "titan-text-v2").spec.name == (
        "titan-text-v2"
    )


def test_unknown_family_lists_known_ones():
    with pytest.raises(ConfigError) as exc:
        resolve_family("amazon.titan-embed-text-v1", "titan-v9")
    assert "unknown family 'titan-v9'" in exc.value.message
    for name in FAMILIES:
        assert name in exc.value.message


def test_family_contradicting_model_is_an_error():
    with pytest.raises(ConfigError, match="remove family or set it to cohere-v4"):
        resolve_family("us.cohere.embed-v4:0", "titan-text-v2")


@pytest.mark.parametrize(
    "model",
    [
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
        "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-embed-text-v1:2:8k/x1",
        "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123",
    ],
)
def test_id_naming_no_model_asks_for_family(model):
    with pytest.raises(ConfigError) as exc:
        resolve_family(model)
    message = exc.value.message
    assert "set family to one of:" in message
    assert all(name in message for name in FAMILIES)


@pytest.mark.parametrize("model", ["amazon.titan-embed-text-v9", "meta.llama3-8b", "", "gpt-4"])
def test_unknown_model_uses_text2vec_aws_wording(model):
    with pytest.raises(ConfigError) as exc:
        resolve_family(model)
    message = exc.value.message
    assert message.startswith(
        "wrong model, available models are: [" + " ".join(known_model_ids()) + "]"
    )
    assert "set family" in message


# ---- lifecycle ----------------------------------------------------------------


def test_only_marengo_27_is_legacy_and_names_its_successor():
    legacy = {n: c.spec for n, c in FAMILIES.items() if c.spec.legacy}
    assert list(legacy) == ["marengo-2.7"]
    spec = legacy["marengo-2.7"]
    assert spec.end_of_life == "2026-11-30"  # AWS's model card for Marengo Embed v2.7
    assert spec.successor == "marengo-3.0" and spec.successor in FAMILIES


def test_legacy_notice_says_what_to_move_to():
    from vectorizer.backends.families import legacy_notice

    notice = legacy_notice(FAMILIES["marengo-2.7"].spec)
    assert "2026-11-30" in notice and "twelvelabs.marengo-embed-3-0-v1:0" in notice
    assert "re-embed" in notice
    assert legacy_notice(FAMILIES["marengo-3.0"].spec) == ""


def test_marengo_3_needs_no_inference_profile():
    # On demand in us-east-1 and ap-northeast-2 by its base id (AWS's Marengo 3 page).
    assert not FAMILIES["marengo-3.0"].spec.profile_only
    assert FAMILIES["marengo-2.7"].spec.profile_only
