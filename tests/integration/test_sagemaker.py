"""SageMaker endpoints through the real server against the real emulator.

Each payload dialect against the emulator's built-in endpoints (golden
request bodies, vectors, order), `auto` detection and its memory, endpoint
names and URLs, target headers, batching and the 6 MiB split, and each error
kind (ModelError details, retried throttling and ModelNotReady, missing
endpoints that are not retried).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from tests.support import Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

REGION = "us-east-1"
DIM = 384  # the emulator's default endpoint dimension
DOC, QUERY = pb.PURPOSE_DOCUMENT, pb.PURPOSE_QUERY
AWS_URL = "https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations"


def config(endpoint: str, payload_format: str = "", **extra: Any) -> pb.CollectionConfig:
    return pb.CollectionConfig(
        service="sagemaker",
        region=REGION,
        endpoint=endpoint,
        payload_format=payload_format,
        **extra,
    )


def embed(
    stub: pb_grpc.VectorizerStub, texts: list[str], cfg: pb.CollectionConfig, purpose: int = DOC
) -> pb.VectorizeResponse:
    return stub.Vectorize(pb.VectorizeRequest(texts=texts, config=cfg, purpose=purpose), timeout=30)


def calls(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["service"] == "sagemaker"]


def vectors(resp: pb.VectorizeResponse) -> list[list[float]]:
    assert all(r.HasField("vector") for r in resp.results), resp.results
    return [list(r.vector.values) for r in resp.results]


def assert_vectors(resp: pb.VectorizeResponse, texts: list[str], dim: int = DIM, **kw: Any) -> None:
    got = vectors(resp)
    assert len(got) == len(texts) and resp.dimensions == dim
    for text, vec in zip(texts, got, strict=True):
        want = purposed_vector(text, dim, kw.get("purpose"), kw.get("normalize", True))
        np.testing.assert_allclose(vec, want, atol=2e-6)


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# --- dialects ------------------------------------------------------------------

# (payloadFormat, endpoint, expected body for texts, response dimension)
DIALECT_CASES = [
    ("tei", "tei-small", lambda t: {"inputs": t, "normalize": True}),
    ("jumpstart", "jumpstart-gte", lambda t: {"text_inputs": t, "mode": "embedding"}),
    ("hf", "hf-feature", lambda t: {"inputs": t}),
    ("hf", "hf-token", lambda t: {"inputs": t}),
    ("hf", "st-custom", lambda t: {"inputs": t}),
    ("openai", "openai-vllm", lambda t: {"input": t, "model": "default"}),
    ("text2vec-aws", "weaviate-t2v", lambda t: {"text_inputs": t}),
]


@pytest.mark.parametrize(
    ("fmt", "endpoint", "body"), DIALECT_CASES, ids=[c[1] for c in DIALECT_CASES]
)
def test_dialect_golden_body_and_vectors(
    stub: pb_grpc.VectorizerStub,
    emulator: Emulator,
    fmt: str,
    endpoint: str,
    body: Callable[[list[str]], Any],
) -> None:
    texts = [f"dialect {endpoint} first text", f"dialect {endpoint} second", "third one here"]
    texts[2] += f" {endpoint}"
    resp = embed(stub, texts, config(endpoint, fmt))
    (call,) = calls(emulator)
    assert call["body"] == body(texts) and call["model_or_endpoint"] == endpoint
    assert call["headers"]["content-type"] == "application/json"
    assert resp.model == endpoint
    assert_vectors(resp, texts)


def test_hf_token_level_output_is_mean_pooled(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = ["pool these several tokens please", "and these ones too", "single"]
    resp = embed(stub, texts, config("hf-token", "hf"))
    # The emulator's token vectors differ from each other; their mean is the text's vector.
    assert_vectors(resp, texts)
    resp = embed(stub, texts, config("hf-token", "hf", normalize=True))
    for vec in vectors(resp):
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


def test_cohere_dialect_purpose(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    texts = ["cohere on sagemaker a", "cohere on sagemaker b"]
    doc = embed(stub, texts, config("cohere-sm", "cohere"), DOC)
    query = embed(stub, texts, config("cohere-sm", "cohere"), QUERY)
    sent = [c["body"] for c in calls(emulator)]
    assert sent == [
        {"texts": texts, "input_type": "search_document"},
        {"texts": texts, "input_type": "search_query"},
    ]
    assert_vectors(doc, texts, 1024, purpose="search_document")
    assert_vectors(query, texts, 1024, purpose="search_query")
    assert not np.allclose(vectors(doc)[0], vectors(query)[0], atol=1e-4)


def test_tei_options_reach_the_wire(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    texts = ["tei options raw vector"]
    resp = embed(stub, texts, config("tei-small", "tei", normalize=False, truncate="START"))
    body = calls(emulator)[-1]["body"]
    assert body == {
        "inputs": texts,
        "normalize": False,
        "truncate": True,
        "truncation_direction": "Left",
    }
    assert_vectors(resp, texts, normalize=False)


def test_tei_leaves_truncation_to_the_server_unless_configured(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # tei-small runs with --auto-truncate (TEI's default since 1.9): a text over
    # its 512 tokens is cut by the server when the config says nothing...
    long_text = " ".join(f"t{i}" for i in range(600))
    resp = embed(stub, [long_text], config("tei-small", "tei"))
    assert "truncate" not in calls(emulator)[-1]["body"]
    want = deterministic_vector(" ".join(f"t{i}" for i in range(512)), 384)
    np.testing.assert_allclose(vectors(resp)[0], want, atol=2e-6)
    # ...and refused, as an item error naming TEI's answer, when it says NONE.
    resp = embed(stub, [long_text, "short one"], config("tei-small", "tei", truncate="NONE"))
    assert calls(emulator)[-1]["body"]["truncate"] is False
    err = resp.results[0].error
    assert err.code == "MODEL_ERROR" and "must have less than 512 tokens" in err.message
    assert resp.results[1].HasField("vector")


def test_tei_dimensions_reach_the_wire(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    texts = ["matryoshka one", "matryoshka two"]
    resp = embed(stub, texts, config("tei-small", "tei", dimensions=128))
    assert calls(emulator)[-1]["body"] == {"inputs": texts, "normalize": True, "dimensions": 128}
    assert resp.dimensions == 128
    assert_vectors(resp, texts, 128)


# The request shape `auto` lands on for each built-in endpoint, after refusals.
AUTO_CASES = [
    ("tei-small", ["hf"]),
    ("hf-feature", ["hf"]),
    ("hf-token", ["hf"]),
    ("st-custom", ["hf"]),
    ("jumpstart-gte", ["hf", "jumpstart"]),
    ("weaviate-t2v", ["hf", "jumpstart"]),
    ("openai-vllm", ["hf", "jumpstart", "openai"]),
    ("cohere-sm", ["hf", "jumpstart", "openai", "cohere"]),
]


def shape(body: dict[str, Any]) -> str:
    for key, name in (
        ("inputs", "hf"),
        ("text_inputs", "jumpstart"),
        ("input", "openai"),
        ("texts", "cohere"),
    ):
        if key in body:
            return name
    raise AssertionError(f"unknown request shape {body}")


@pytest.mark.parametrize(("endpoint", "tried"), AUTO_CASES, ids=[c[0] for c in AUTO_CASES])
def test_auto_finds_the_dialect_and_remembers_it(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, endpoint: str, tried: list[str]
) -> None:
    # A custom attribute keys the memory apart from other tests' use of the endpoint.
    cfg = config(endpoint, custom_attributes=f"auto-memory-test={endpoint}")
    texts = [f"auto {endpoint} one", f"auto {endpoint} two"]
    dim = 1024 if endpoint == "cohere-sm" else DIM
    purpose = "search_document" if endpoint == "cohere-sm" else None
    assert_vectors(embed(stub, texts, cfg), texts, dim, purpose=purpose)
    first = calls(emulator)
    assert [shape(c["body"]) for c in first] == tried
    assert [c["status"] for c in first] == [424] * (len(tried) - 1) + [200]
    assert all(c["error_code"] == "ModelError" for c in first[:-1])

    emulator.clear()
    texts = [f"auto {endpoint} again", f"auto {endpoint} and again"]
    assert_vectors(embed(stub, texts, cfg), texts, dim, purpose=purpose)
    (again,) = calls(emulator)
    assert shape(again["body"]) == tried[-1] and again["status"] == 200


# --- endpoint forms -----------------------------------------------------------------


def test_endpoint_by_aws_url_goes_to_the_override(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    url = AWS_URL.format(region=REGION, name="tei-small")
    texts = ["endpoint given as its aws url"]
    resp = embed(stub, texts, config(url, "tei"))
    (call,) = calls(emulator)
    assert call["model_or_endpoint"] == "tei-small" and call["region"] == REGION
    assert call["path"] == "/endpoints/tei-small/invocations"
    assert_vectors(resp, texts)


def test_endpoint_by_allowlisted_url(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    url = f"{emulator.url}/endpoints/jumpstart-gte/invocations"
    texts = ["endpoint given as an allowlisted url"]
    resp = embed(stub, texts, config(url, "jumpstart"))
    (call,) = calls(emulator)
    assert call["model_or_endpoint"] == "jumpstart-gte" and call["region"] == REGION
    assert_vectors(resp, texts)


def test_region_mismatch_names_both(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    url = AWS_URL.format(region="eu-west-1", name="tei-small")
    err = rpc_error(lambda: embed(stub, ["x"], config(url, "tei")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "eu-west-1" in err.details() and REGION in err.details()
    assert calls(emulator) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://embeddings.example.com/endpoints/tei-small/invocations",
        "http://127.0.0.1:1/endpoints/tei-small/invocations",
    ],
)
def test_host_not_allowlisted_is_refused(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, url: str
) -> None:
    err = rpc_error(lambda: embed(stub, ["x"], config(url, "tei")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not allowlisted" in err.details() and "--endpoint-allowlist" in err.details()
    assert calls(emulator) == []


def test_invalid_endpoint_name(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    err = rpc_error(lambda: embed(stub, ["x"], config("bad_name!", "tei")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid SageMaker endpoint name 'bad_name!'" in err.details()
    assert calls(emulator) == []


# --- headers and batching -------------------------------------------------------------


def test_target_headers_reach_the_endpoint(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    cfg = config(
        "openai-vllm",
        "openai",
        target_model="model-b.tar.gz",
        target_variant="VariantB",
        inference_component="ic-embed-1",
        custom_attributes="trace_id=abc123,tenant=t1",
    )
    texts = ["headers travel"]
    resp = embed(stub, texts, cfg)
    (call,) = calls(emulator)
    headers = call["headers"]
    assert headers["x-amzn-sagemaker-target-model"] == "model-b.tar.gz"
    assert headers["x-amzn-sagemaker-target-variant"] == "VariantB"
    assert headers["x-amzn-sagemaker-inference-component"] == "ic-embed-1"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace_id=abc123,tenant=t1"
    # Signed like the rest: the SigV4 header names them.
    assert call["headers"]["authorization"] == "REDACTED"
    assert call["body"] == {"input": texts, "model": "model-b.tar.gz"}
    assert_vectors(resp, texts)


def test_no_target_headers_without_config(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    embed(stub, ["no headers please"], config("tei-small", "tei"))
    headers = calls(emulator)[-1]["headers"]
    assert not [h for h in headers if h.startswith("x-amzn-sagemaker-")]


def test_batch_size_is_respected_and_order_kept(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = [f"batched text number {i} {'z' * (i % 5)}" for i in range(100)]
    resp = embed(stub, texts, config("hf-feature", "hf", batch_size=16))
    sizes = sorted(len(c["body"]["inputs"]) for c in calls(emulator))
    assert sizes == [4, 16, 16, 16, 16, 16, 16]
    assert_vectors(resp, texts)


def test_default_batch_size(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    texts = [f"default batch {i}" for i in range(40)]
    embed(stub, texts, config("tei-small", "tei"))
    assert sorted(len(c["body"]["inputs"]) for c in calls(emulator)) == [8, 32]


def test_bodies_over_6_mib_are_split_in_order(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # Control characters are 6 bytes each as JSON ("\u0001"): 200,000 of them
    # make a 1.2 MB text that is only 200 KB over gRPC. Six need two calls.
    texts = [f"big{i} " + "\x01" * 200_000 for i in range(6)]
    resp = embed(stub, texts, config("tei-small", "tei"))
    seen = calls(emulator)
    assert [c["status"] for c in seen] == [200, 200]
    assert [len(c["body"]["inputs"]) for c in seen] == [5, 1]
    assert [t for c in seen for t in c["body"]["inputs"]] == texts
    assert_vectors(resp, texts)


# --- errors ---------------------------------------------------------------------------------


def test_model_error_for_a_malformed_body_has_the_details(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = ["wrong dialect for tei a", "wrong dialect for tei b"]
    resp = embed(stub, texts, config("tei-small", "jumpstart"))
    for result in resp.results:
        err = result.error
        assert err.code == "MODEL_ERROR" and not err.retryable
        assert "424" in err.message and "container answered 400" in err.message
        assert "missing field `inputs`" in err.message
        assert "arn:aws:logs:us-east-1:" in err.message
        assert "/aws/sagemaker/Endpoints/tei-small" in err.message


def test_model_error_fails_only_the_bad_text(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    emulator.faults(fail_texts=["BADTEXT-91"])
    texts = [f"isolate sm {i}" for i in range(8)]
    texts[3] = "isolate sm BADTEXT-91"
    resp = embed(stub, texts, config("tei-small", "tei"))
    outcomes = [r.WhichOneof("outcome") for r in resp.results]
    assert outcomes == ["vector"] * 3 + ["error"] + ["vector"] * 4
    err = resp.results[3].error
    assert err.code == "MODEL_ERROR" and "container answered 400" in err.message
    assert "the model failed on an input text" in err.message and "arn:aws:logs:" in err.message
    good = [t for i, t in enumerate(texts) if i != 3]
    got = [list(r.vector.values) for i, r in enumerate(resp.results) if i != 3]
    for text, vec in zip(good, got, strict=True):
        np.testing.assert_allclose(vec, deterministic_vector(text, DIM), atol=2e-6)


def test_model_error_under_auto_keeps_the_learned_shape(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    cfg = config("jumpstart-gte", custom_attributes="auto-bad-input-test")
    embed(stub, ["learn the jumpstart shape"], cfg)
    emulator.faults(fail_texts=["BADTEXT-auto"])
    resp = embed(stub, ["bad BADTEXT-auto input"], cfg)
    err = resp.results[0].error
    assert err.code == "MODEL_ERROR" and "the model failed on an input text" in err.message
    assert "refused every request shape" not in err.message
    emulator.reset()
    embed(stub, ["after the bad input"], cfg)
    (call,) = calls(emulator)
    assert shape(call["body"]) == "jumpstart" and call["status"] == 200


def test_auto_says_what_each_shape_got_when_all_are_refused(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    emulator.faults(fail_texts=["BADTEXT-all"])
    cfg = config("cohere-sm", custom_attributes="auto-all-refused-test")
    err = embed(stub, ["BADTEXT-all never learned"], cfg).results[0].error
    assert err.code == "MODEL_ERROR" and not err.retryable
    assert "refused every request shape" in err.message and "payloadFormat" in err.message
    for name in ("hf:", "jumpstart:", "openai:", "cohere:"):
        assert name in err.message
    assert "texts is required" in err.message  # what the cohere container said to the others
    assert "the model failed on an input text" in err.message
    assert "arn:aws:logs:us-east-1:" in err.message
    assert len(calls(emulator)) == 4


@pytest.mark.parametrize("fmt", ["tei", "auto"])
def test_missing_endpoint_is_not_found_and_not_retried(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, fmt: str
) -> None:
    err = rpc_error(lambda: embed(stub, ["a", "b", "c"], config("no-such-endpoint", fmt)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-endpoint" in err.details() and "ValidationError" in err.details()
    assert len(calls(emulator)) == 1


# --- retried faults (own emulator: a seeded fault sequence) ----------------------------


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Emulator, Sidecar]]:
    emu = start_emulator("--seed", "20240611")
    side = start_sidecar(emu, "--endpoint-allowlist", emu.host_port, "--cache-max-bytes", "0")
    yield emu, side
    side.terminate()
    emu.stop()


@pytest.mark.parametrize(
    ("knob", "code"),
    [("throttle_rate", "ThrottlingException"), ("model_not_ready_rate", "ModelNotReadyException")],
)
def test_throttling_and_model_not_ready_are_retried(
    seeded: tuple[Emulator, Sidecar], knob: str, code: str
) -> None:
    emu, side = seeded
    emu.reset()
    emu.faults(**{knob: 0.5})
    texts = [f"retry me {knob} {i}" for i in range(24)]
    with grpc.insecure_channel(side.grpc_address) as channel:
        resp = embed(
            pb_grpc.VectorizerStub(channel), texts, config("tei-small", "tei", batch_size=4)
        )
    assert_vectors(resp, texts)
    seen = calls(emu)
    refused = [c for c in seen if c["status"] != 200]
    assert refused and {c["error_code"] for c in refused} == {code}
    expected_status = 400 if code == "ThrottlingException" else 429
    assert {c["status"] for c in refused} == {expected_status}
    assert sum(c["status"] == 200 for c in seen) == 6


def test_cache_keeps_models_behind_one_endpoint_apart(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # A multi-model endpoint serves a different model per target model (and
    # variant, inference component): one model's vector must not answer for another.
    text = ["one text, several models behind one endpoint"]
    settings = [
        {},
        {"target_model": "model-a.tar.gz"},
        {"target_model": "model-b.tar.gz"},
        {"target_model": "model-b.tar.gz", "target_variant": "Canary"},
        {"inference_component": "ic-other"},
    ]
    for extra in settings:
        embed(stub, text, config("openai-vllm", "openai", **extra))
    assert len(calls(emulator)) == len(settings)
    embed(stub, text, config("openai-vllm", "openai", target_model="model-a.tar.gz"))
    assert len(calls(emulator)) == len(settings)  # a repeat is still served from the cache


def test_container_batch_limit_below_batch_size_still_embeds_everything(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # tei-small takes at most 64 inputs; its 413 ModelError makes the engine halve.
    texts = [f"over the container batch limit {i}" for i in range(100)]
    resp = embed(stub, texts, config("tei-small", "tei", batch_size=100))
    assert_vectors(resp, texts)
    statuses = [c["status"] for c in calls(emulator)]
    assert statuses.count(424) == 1 and statuses.count(200) == 2


def test_configured_dimensions_that_the_endpoint_contradicts_fail_at_once(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # The hf dialect cannot ask the container for a size (TEI's can, tested above).
    cfg = config("hf-feature", "hf", dimensions=5)
    err = rpc_error(lambda: embed(stub, ["dims wrong one", "dims wrong two"], cfg))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "384-dimensional" in err.details() and "dimensions 5" in err.details()
    assert len(calls(emulator)) == 1  # a config mistake is not retried
    ok = embed(
        stub, ["dims right one", "dims right two"], config("hf-feature", "hf", dimensions=DIM)
    )
    assert_vectors(ok, ["dims right one", "dims right two"])
