"""Every Bedrock embedding family through the real server against the real emulator.

What is checked for each family: the exact InvokeModel body the sidecar sent
(as the emulator recorded it) for documents and for queries, and that the
vectors are the emulator's (`purposed_vector`, which shifts non-document
purposes). Then batching, length policy, every model id form, option
validation and the error cases.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from tests.support import Emulator
from vectorizer.emulator.vectors import (
    deterministic_vector,
    purposed_vector,
    text_vector,
    token_count,
)
from vectorizer.emulator.wire import cut_words
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

REGION = "us-east-1"
ACCOUNT = "123456789012"
DOC, QUERY = pb.PURPOSE_DOCUMENT, pb.PURPOSE_QUERY


def config(model: str, **extra: Any) -> pb.CollectionConfig:
    return pb.CollectionConfig(region=REGION, model=model, **extra)


def embed(
    stub: pb_grpc.VectorizerStub, texts: list[str], cfg: pb.CollectionConfig, purpose: int = DOC
) -> pb.VectorizeResponse:
    return stub.Vectorize(pb.VectorizeRequest(texts=texts, config=cfg, purpose=purpose), timeout=30)


def calls(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["service"] == "bedrock"]


def bodies(emulator: Emulator) -> list[Any]:
    return [r["body"] for r in calls(emulator)]


def vectors(resp: pb.VectorizeResponse) -> list[list[float]]:
    assert all(r.HasField("vector") for r in resp.results), resp.results
    return [list(r.vector.values) for r in resp.results]


def assert_vector(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-6)


def unit(vec: list[float]) -> bool:
    return abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


def map_profile(emulator: Emulator, model: str, family: str) -> None:
    """Tell the emulator which family an ARN naming no model runs (as AWS knows)."""
    req = urllib.request.Request(
        emulator.url + "/_emulator/profiles",
        data=json.dumps({model: family}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# --- one golden case per family ------------------------------------------------


@dataclass(frozen=True)
class Family:
    name: str
    model: str
    dim: int
    body: Callable[[str, str], dict[str, Any]]  # (text, purpose value) -> wire body
    doc_purpose: str | None = None  # the purpose value the emulator sees
    query_purpose: str | None = None
    normalized: bool = True  # the emulator answers unit vectors
    batched: bool = False  # several texts per call


def _titan_v1(text: str, _: str) -> dict[str, Any]:
    return {"inputText": text}


def _titan_v2(text: str, _: str) -> dict[str, Any]:
    return {"inputText": text, "dimensions": 1024}


def _titan_mm(text: str, _: str) -> dict[str, Any]:
    return {"inputText": text, "embeddingConfig": {"outputEmbeddingLength": 1024}}


def _cohere_v3(texts: list[str], purpose: str) -> dict[str, Any]:
    return {"texts": texts, "input_type": purpose, "truncate": "NONE", "embedding_types": ["float"]}


def _cohere_v4(texts: list[str], purpose: str) -> dict[str, Any]:
    return {**_cohere_v3(texts, purpose), "output_dimension": 1536}


def _nova(text: str, purpose: str) -> dict[str, Any]:
    return {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": purpose,
            "embeddingDimension": 3072,
            "text": {"truncationMode": "END", "value": text},
        },
    }


def _marengo(text: str, _: str) -> dict[str, Any]:
    return {"inputType": "text", "inputText": text, "textTruncate": "end"}


def _marengo3(text: str, _: str) -> dict[str, Any]:
    return {"inputType": "text", "text": {"inputText": text}}


COHERE = ("search_document", "search_query")
NOVA = ("GENERIC_INDEX", "GENERIC_RETRIEVAL")
FAMILIES = [
    Family("titan-v1", "amazon.titan-embed-text-v1", 1536, _titan_v1, normalized=False),
    Family("titan-v2", "amazon.titan-embed-text-v2:0", 1024, _titan_v2),
    Family("titan-mm-g1", "amazon.titan-embed-image-v1", 1024, _titan_mm),
    Family("cohere-en-v3", "cohere.embed-english-v3", 1024, _cohere_v3, *COHERE, batched=True),
    Family("cohere-ml-v3", "cohere.embed-multilingual-v3", 1024, _cohere_v3, *COHERE, batched=True),
    Family("cohere-v4", "cohere.embed-v4:0", 1536, _cohere_v4, *COHERE, batched=True),
    Family("nova", "amazon.nova-2-multimodal-embeddings-v1:0", 3072, _nova, *NOVA),
    Family("marengo-2.7", "us.twelvelabs.marengo-embed-2-7-v1:0", 1024, _marengo),
    Family("marengo-3.0", "twelvelabs.marengo-embed-3-0-v1:0", 512, _marengo3),
]


@pytest.mark.parametrize("purpose", [DOC, QUERY], ids=["document", "query"])
@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_golden_request_and_vectors(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, family: Family, purpose: int
) -> None:
    tag = "doc" if purpose == DOC else "query"
    texts = [f"golden {family.name} {tag} one", f"golden {family.name} {tag} two words"]
    wire_purpose = family.doc_purpose if purpose == DOC else family.query_purpose
    resp = embed(stub, texts, config(family.model), purpose)

    assert resp.model == family.model and resp.dimensions == family.dim
    sent = bodies(emulator)
    if family.batched:
        assert sent == [family.body(texts, wire_purpose)]
    else:  # one call per text, sent concurrently: any arrival order
        want = [family.body(t, wire_purpose) for t in texts]
        assert sorted(sent, key=repr) == sorted(want, key=repr)
    for text, got in zip(texts, vectors(resp), strict=True):
        # Bit for bit: the emulator's float32 values survive its spelling,
        # the sidecar's parser and gRPC unchanged.
        want = text_vector(text, family.dim, wire_purpose, family.normalized)
        assert got == want.tolist()
        assert unit(got) == family.normalized
    # The emulator counts whitespace words as tokens, in the body or a header.
    assert resp.usage.input_tokens == sum(token_count(t) for t in texts)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.doc_purpose], ids=lambda f: f.name)
def test_purpose_aware_families_embed_queries_differently(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, family: Family
) -> None:
    text = f"same text both ways {family.name}"
    doc = vectors(embed(stub, [text], config(family.model), DOC))[0]
    query = vectors(embed(stub, [text], config(family.model), QUERY))[0]
    assert_vector(doc, deterministic_vector(text, family.dim))
    assert not np.allclose(doc, query, atol=1e-4)
    assert float(np.dot(doc, query)) > 0.9  # still the same text


def test_input_type_override_reaches_the_wire(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    cfg = config("cohere.embed-english-v3", input_type="clustering")
    embed(stub, ["override me cohere"], cfg, QUERY)
    assert bodies(emulator)[-1]["input_type"] == "clustering"
    cfg = config("amazon.nova-2-multimodal-embeddings-v1:0", input_type="text_retrieval")
    resp = embed(stub, ["override me nova"], cfg, QUERY)
    assert bodies(emulator)[-1]["singleEmbeddingParams"]["embeddingPurpose"] == "TEXT_RETRIEVAL"
    assert_vector(vectors(resp)[0], purposed_vector("override me nova", 3072, "TEXT_RETRIEVAL"))


# --- batching --------------------------------------------------------------------


def test_cohere_250_texts_take_three_calls_in_order(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = [f"cohere batch item {i} {'xy' * (i % 7)}" for i in range(250)]
    resp = embed(stub, texts, config("cohere.embed-english-v3"))
    sizes = sorted(len(b["texts"]) for b in bodies(emulator))
    assert sizes == [58, 96, 96]
    assert sorted(t for b in bodies(emulator) for t in b["texts"]) == sorted(texts)
    for text, got in zip(texts, vectors(resp), strict=True):
        assert_vector(got, deterministic_vector(text, 1024))


def test_titan_50_texts_are_50_concurrent_calls_in_order(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    latency = 0.3
    emulator.faults(latency_ms=latency * 1000)
    texts = [f"titan concurrent {i}" for i in range(50)]
    started = time.monotonic()
    resp = embed(stub, texts, config("amazon.titan-embed-text-v2:0", dimensions=256))
    elapsed = time.monotonic() - started
    seen = calls(emulator)
    assert len(seen) == 50 and all(len(r["body"]) and "inputText" in r["body"] for r in seen)
    # One after another would take 50 * 0.3 s = 15 s.
    assert elapsed < 5.0, elapsed
    first = min(r["time"] for r in seen)
    overlapping = sum(1 for r in seen if r["time"] < first + latency)
    assert overlapping >= 10, overlapping
    for text, got in zip(texts, vectors(resp), strict=True):
        assert_vector(got, deterministic_vector(text, 256))


# --- length policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "long_text", "limit"),
    [
        ("amazon.titan-embed-text-v2:0", "t" * 50_001, "50000"),
        ("amazon.titan-embed-text-v1", "u" * 50_001, "50000"),
        ("cohere.embed-english-v3", "c" * 2_049, "2048"),
        ("amazon.nova-2-multimodal-embeddings-v1:0", "n" * 40_000, "8192 tokens"),
        ("us.twelvelabs.marengo-embed-2-7-v1:0", "m" * 400, "77 tokens"),
        ("eu.twelvelabs.marengo-embed-3-0-v1:0", "m" * 2_001, "500 tokens"),
    ],
    ids=["titan-v2", "titan-v1", "cohere-v3", "nova", "marengo", "marengo-3"],
)
def test_over_long_item_with_truncate_none_fails_alone(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, model: str, long_text: str, limit: str
) -> None:
    texts = [f"short before {model}", long_text, f"short after {model}"]
    resp = embed(stub, texts, config(model, truncate="NONE"))
    assert resp.results[0].HasField("vector") and resp.results[2].HasField("vector")
    err = resp.results[1].error
    assert err.code == "TEXT_TOO_LONG" and not err.retryable
    assert limit in err.message and "START or END" in err.message
    sent = [
        t
        for b in bodies(emulator)
        for t in b.get("texts", [b.get("inputText") or b.get("text", {}).get("inputText")])
    ]
    assert long_text not in sent


def test_cohere_v3_truncate_start_and_end(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    long_text = "".join(f"{i:05d}" for i in range(600))  # 3000 characters, one word
    for policy, kept in (("START", long_text[-2048:]), ("END", long_text[:2048])):
        emulator.clear()
        resp = embed(
            stub,
            [long_text, "short cohere trunc"],
            config("cohere.embed-english-v3", truncate=policy),
        )
        (body,) = bodies(emulator)
        # Bedrock refuses over 2,048 characters even with truncate set: the
        # sidecar cuts to the cap and still names the model's own policy.
        assert body["truncate"] == policy and body["texts"][0] == kept
        assert_vector(vectors(resp)[0], deterministic_vector(kept, 1024))


def test_cohere_v4_truncate_values_are_left_and_right(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    for policy, wire in (("START", "LEFT"), ("END", "RIGHT"), ("NONE", "NONE")):
        embed(stub, [f"v4 truncate {policy}"], config("cohere.embed-v4:0", truncate=policy))
        assert bodies(emulator)[-1]["truncate"] == wire


def test_nova_truncates_natively(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    words = " ".join(f"w{i}" for i in range(9000))  # over 8,192 tokens, under the pass-through
    for policy, keep_start in (("START", False), ("END", True)):
        emulator.clear()
        model = "amazon.nova-2-multimodal-embeddings-v1:0"
        resp = embed(stub, [words], config(model, truncate=policy, dimensions=256))
        (body,) = bodies(emulator)
        assert body["singleEmbeddingParams"]["text"] == {"truncationMode": policy, "value": words}
        want = deterministic_vector(cut_words(words, 8192, keep_start=keep_start), 256)
        assert_vector(vectors(resp)[0], want)


def test_marengo_truncation(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    model = "us.twelvelabs.marengo-embed-2-7-v1:0"
    long_text = "".join(f"{i:04d}" for i in range(150))  # 600 characters, one word
    embed(stub, [long_text], config(model, truncate="END"))
    assert bodies(emulator)[-1] == {
        "inputType": "text",
        "inputText": long_text,
        "textTruncate": "end",
    }
    # The model only cuts the end: START is done by the sidecar, then sent as "end".
    resp = embed(stub, [long_text], config(model, truncate="START"))
    body = bodies(emulator)[-1]
    assert body["textTruncate"] == "end" and long_text.endswith(body["inputText"])
    assert len(body["inputText"]) == 77 * 4
    assert_vector(vectors(resp)[0], deterministic_vector(body["inputText"], 1024))


def test_marengo_3_truncation_is_done_by_the_sidecar(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # Marengo 3.0 has no truncation setting: the default is an item error
    # (tested above); START and END cut to the 500-token proxy, sent as is.
    model = "us.twelvelabs.marengo-embed-3-0-v1:0"
    long_text = "".join(f"{i:04d}" for i in range(600))  # 2,400 characters, one word
    for policy, kept in (("START", long_text[-2000:]), ("END", long_text[:2000])):
        resp = embed(stub, [long_text], config(model, truncate=policy))
        assert bodies(emulator)[-1] == {"inputType": "text", "text": {"inputText": kept}}
        assert_vector(vectors(resp)[0], deterministic_vector(kept, 512))


def test_titan_truncate_is_done_by_the_sidecar(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    long_text = "".join(f"{i:06d}" for i in range(10_000))  # 60,000 characters
    resp = embed(stub, [long_text], config("amazon.titan-embed-text-v2:0", truncate="START"))
    body = bodies(emulator)[-1]
    assert body == {"inputText": long_text[-50_000:], "dimensions": 1024}
    assert_vector(vectors(resp)[0], deterministic_vector(long_text[-50_000:], 1024))


# --- model id forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "dim", "purpose"),
    [
        ("amazon.titan-embed-text-v2:0", 1024, None),
        ("amazon.titan-embed-text-v1:2:8k", 1536, None),
        ("us.amazon.titan-embed-text-v2:0", 1024, None),
        ("eu.cohere.embed-multilingual-v3", 1024, "search_document"),
        ("apac.cohere.embed-english-v3", 1024, "search_document"),
        ("global.cohere.embed-v4:0", 1536, "search_document"),
        (f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-image-v1", 1024, None),
        (
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/"
            "us.amazon.nova-2-multimodal-embeddings-v1:0",
            3072,
            "GENERIC_INDEX",
        ),
    ],
)
def test_model_id_forms(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, model: str, dim: int, purpose: str | None
) -> None:
    text = f"id form {model}"
    resp = embed(stub, [text], config(model))
    (call,) = calls(emulator)
    assert call["model_or_endpoint"] == model  # percent-encoded on the way, decoded there
    assert resp.model == model and resp.dimensions == dim
    normalized = "text-v1" not in model
    assert_vector(vectors(resp)[0], purposed_vector(text, dim, purpose, normalized))


@pytest.mark.parametrize(
    ("model", "family", "emulator_family", "dim"),
    [
        (
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
            "cohere-v3",
            "cohere-v3",
            1024,
        ),
        (
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/pm7x9k2q1w3e",
            "titan-text-v2",
            "titan-text-v2",
            1024,
        ),
        (
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:imported-model/im0y8u7t6r5e",
            "titan-multimodal-g1",
            "amazon.titan-embed-image-v1",
            1024,
        ),
    ],
    ids=["application-profile", "provisioned", "imported"],
)
def test_arns_naming_no_model_need_family(
    stub: pb_grpc.VectorizerStub,
    emulator: Emulator,
    model: str,
    family: str,
    emulator_family: str,
    dim: int,
) -> None:
    map_profile(emulator, model, emulator_family)
    err = rpc_error(lambda: embed(stub, ["needs a family"], config(model)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "set family" in err.details() and family in err.details()
    assert calls(emulator) == []

    text = f"arn with family {family}"
    resp = embed(stub, [text], config(model, family=family))
    (call,) = calls(emulator)
    assert call["model_or_endpoint"] == model and resp.dimensions == dim
    assert_vector(vectors(resp)[0], deterministic_vector(text, dim))


def test_unknown_family_lists_the_known_ones(stub: pb_grpc.VectorizerStub) -> None:
    model = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/zz9"
    err = rpc_error(lambda: embed(stub, ["x"], config(model, family="word2vec")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    for name in (
        "titan-text-v1",
        "titan-text-v2",
        "titan-multimodal-g1",
        "cohere-v3",
        "cohere-v4",
        "nova-multimodal",
        "marengo-2.7",
        "marengo-3.0",
    ):
        assert name in err.details()
    err = rpc_error(lambda: embed(stub, ["x"], config("acme.embed-everything-v1")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "wrong model, available models are: [amazon.titan-embed-text-v1" in err.details()


def test_family_contradicting_the_model_is_refused(stub: pb_grpc.VectorizerStub) -> None:
    err = rpc_error(lambda: embed(stub, ["x"], config("cohere.embed-v4:0", family="cohere-v3")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cohere-v4" in err.details()


def test_marengo_base_id_needs_an_inference_profile(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    err = rpc_error(lambda: embed(stub, ["x"], config("twelvelabs.marengo-embed-2-7-v1:0")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "us.twelvelabs.marengo-embed-2-7-v1:0" in err.details()
    assert calls(emulator) == []


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "dims", "allowed"),
    [
        ("amazon.titan-embed-text-v2:0", 300, "[256, 512, 1024]"),
        ("amazon.titan-embed-image-v1", 512, "[256, 384, 1024]"),
        ("cohere.embed-v4:0", 768, "[256, 512, 1024, 1536]"),
        ("amazon.nova-2-multimodal-embeddings-v1:0", 512, "[256, 384, 1024, 3072]"),
        ("cohere.embed-english-v3", 512, "[1024]"),
    ],
)
def test_invalid_dimensions_name_the_allowed_values(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, model: str, dims: int, allowed: str
) -> None:
    err = rpc_error(lambda: embed(stub, ["x"], config(model, dimensions=dims)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert str(dims) in err.details() and allowed in err.details()
    assert calls(emulator) == []


@pytest.mark.parametrize(
    ("model", "dims", "wire"),
    [
        ("amazon.titan-embed-image-v1", 384, ("embeddingConfig", "outputEmbeddingLength")),
        ("cohere.embed-v4:0", 512, ("output_dimension",)),
        (
            "amazon.nova-2-multimodal-embeddings-v1:0",
            1024,
            ("singleEmbeddingParams", "embeddingDimension"),
        ),
    ],
)
def test_dimensions_reach_the_wire(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, model: str, dims: int, wire: tuple[str, ...]
) -> None:
    text = f"dims {dims} for {model}"
    resp = embed(stub, [text], config(model, dimensions=dims))
    value: Any = bodies(emulator)[-1]
    for key in wire:
        value = value[key]
    assert value == dims and resp.dimensions == dims
    purposes = {"cohere": "search_document", "nova": "GENERIC_INDEX"}
    purpose = next((p for key, p in purposes.items() if key in model), None)
    assert_vector(vectors(resp)[0], purposed_vector(text, dims, purpose))


def test_normalize_without_native_support_is_done_by_the_sidecar(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    text = "titan v1 raw counts normalised here"
    raw = vectors(embed(stub, [text], config("amazon.titan-embed-text-v1")))[0]
    assert not unit(raw)
    normed = vectors(
        embed(stub, [text + " "], config("amazon.titan-embed-text-v1", normalize=True))
    )[0]
    # v1 takes no normalize flag: the body stays bare and the sidecar scales.
    assert bodies(emulator)[-1] == {"inputText": text + " "}
    assert unit(normed)
    assert_vector(normed, deterministic_vector(text + " ", 1536, normalize=True))


def test_titan_v2_normalize_is_native(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    text = "titan v2 native normalise off"
    cfg = config("amazon.titan-embed-text-v2:0", normalize=False, dimensions=512)
    got = vectors(embed(stub, [text], cfg))[0]
    assert bodies(emulator)[-1] == {"inputText": text, "dimensions": 512, "normalize": False}
    assert_vector(got, deterministic_vector(text, 512, normalize=False))


# --- errors --------------------------------------------------------------------------------


def test_model_error_fails_only_the_bad_text_in_a_cohere_batch(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    emulator.faults(fail_texts=["POISON-7f3"])
    texts = [f"cohere isolate {i}" for i in range(10)]
    texts[6] = "cohere isolate POISON-7f3 here"
    resp = embed(stub, texts, config("cohere.embed-english-v3"))
    for i, (text, result) in enumerate(zip(texts, resp.results, strict=True)):
        if i == 6:
            assert result.error.code == "MODEL_ERROR" and not result.error.retryable
            assert "ModelErrorException" in result.error.message
        else:
            assert_vector(list(result.vector.values), deterministic_vector(text, 1024))
    sent = bodies(emulator)
    # Halving found the text: the first call held all ten, the last only it.
    assert len(sent[0]["texts"]) == 10 and 1 < len(sent) <= 2 * 4 + 1
    assert [texts[6]] in [b["texts"] for b in sent]


def test_model_error_on_single_text_family(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    emulator.faults(fail_texts=["POISON-titan"])
    texts = ["titan fine a", "titan POISON-titan b", "titan fine c"]
    resp = embed(stub, texts, config("amazon.titan-embed-text-v2:0"))
    assert [r.WhichOneof("outcome") for r in resp.results] == ["vector", "error", "vector"]
    assert resp.results[1].error.code == "MODEL_ERROR"
    assert len(calls(emulator)) == 3  # not retried


def test_unknown_model_version_is_not_found(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    model = "amazon.titan-embed-text-v2:9"  # a family we know, a version Bedrock does not
    err = rpc_error(lambda: embed(stub, ["not found a", "not found b"], config(model)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert model in err.details() and "ResourceNotFoundException" in err.details()
    assert len(calls(emulator)) <= 2  # not retried


def test_bedrock_validation_error_is_an_item_error(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # Under the sidecar's character proxy, over the model's token limit: the
    # model's own ValidationException comes back for that item only.
    many_words = " ".join(["w"] * 100)
    texts = ["marengo fine", many_words]
    resp = embed(stub, texts, config("us.twelvelabs.marengo-embed-2-7-v1:0", truncate="NONE"))
    assert resp.results[0].HasField("vector")
    err = resp.results[1].error
    assert err.code == "INVALID_ARGUMENT" and "Too many input tokens" in err.message


def test_get_meta_describes_every_family(stub: pb_grpc.VectorizerStub) -> None:
    meta = {f.name: f for f in stub.GetMeta(pb.GetMetaRequest()).families}
    assert set(meta) == {
        "titan-text-v1",
        "titan-text-v2",
        "titan-multimodal-g1",
        "cohere-v3",
        "cohere-v4",
        "nova-multimodal",
        "marengo-2.7",
        "marengo-3.0",
    }
    assert list(meta["cohere-v3"].model_ids) == [
        "cohere.embed-english-v3",
        "cohere.embed-multilingual-v3",
    ]
    assert meta["cohere-v4"].max_batch_size == 96 and meta["titan-text-v2"].max_batch_size == 1
    assert list(meta["nova-multimodal"].dimensions) == [256, 384, 1024, 3072]
    assert meta["nova-multimodal"].default_dimensions == 3072
    assert list(meta["titan-multimodal-g1"].dimensions) == [256, 384, 1024]
    assert [n for n, f in meta.items() if f.supports_purpose] == [
        "cohere-v3",
        "cohere-v4",
        "nova-multimodal",
    ]
    assert [n for n, f in meta.items() if f.native_normalize] == ["titan-text-v2"]
    assert meta["cohere-v3"].max_input == "512 tokens or 2048 characters"
    assert meta["marengo-2.7"].max_input == "77 tokens"
    assert list(meta["marengo-2.7"].truncate_modes) == ["END"]
    # Marengo 2.7 is Legacy on AWS's model card; 3.0 replaces it.
    assert [n for n, f in meta.items() if f.legacy] == ["marengo-2.7"]
    assert meta["marengo-2.7"].end_of_life == "2026-11-30"
    assert meta["marengo-2.7"].successor == "marengo-3.0"
    assert meta["marengo-3.0"].end_of_life == "" and meta["marengo-3.0"].successor == ""
    assert list(meta["marengo-3.0"].model_ids) == ["twelvelabs.marengo-embed-3-0-v1:0"]
    assert meta["marengo-3.0"].default_dimensions == 512
    assert meta["marengo-3.0"].max_input == "500 tokens"
    assert list(meta["marengo-3.0"].truncate_modes) == []
