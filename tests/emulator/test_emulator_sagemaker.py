"""SageMaker InvokeEndpoint against the real emulator process, through real boto3."""

from __future__ import annotations

import base64
import json
import re
import struct
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import as_float32
from tests.support import Emulator
from vectorizer.emulator.sagemaker import endpoint_from_dict
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector

TEXTS = ["the first document", "a second one"]


def invoke(sagemaker: Any, endpoint: str, body: Any, **kwargs: str) -> tuple[Any, dict]:
    answer = sagemaker.invoke_endpoint(
        EndpointName=endpoint,
        Body=json.dumps(body),
        ContentType="application/json",
        Accept="application/json",
        **kwargs,
    )
    return json.loads(answer["Body"].read()), answer


def client_error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def expected(dim: int = 384) -> list[list[float]]:
    return [deterministic_vector(t, dim) for t in TEXTS]


def test_tei(sagemaker: Any) -> None:
    body, answer = invoke(sagemaker, "tei-small", {"inputs": TEXTS, "normalize": True})
    # TEI (Rust, f32) spells values short: equal as float32, as a client reads them.
    assert as_float32(body) == expected()
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"] == "application/json"


def test_tei_unnormalized_and_single_string(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "tei-small", {"inputs": "one text", "normalize": False})
    assert as_float32(body) == [deterministic_vector("one text", 384, normalize=False)]


def test_jumpstart_and_text2vec_aws(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "jumpstart-gte", {"text_inputs": TEXTS, "mode": "embedding"})
    assert body == {"embedding": expected()}
    body, _ = invoke(sagemaker, "weaviate-t2v", {"text_inputs": TEXTS})
    assert body == {"embedding": expected()}


def test_hf_sentence_level(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "hf-feature", {"inputs": TEXTS})
    assert body == expected()


def test_hf_token_level_mean_pools_to_the_text_vector(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "hf-token", {"inputs": TEXTS})
    assert [len(tokens) for tokens in body] == [len(t.split()) for t in TEXTS]
    for tokens, want in zip(body, expected(), strict=True):
        assert all(len(tok) == 384 for tok in tokens)
        np.testing.assert_allclose(np.mean(tokens, axis=0), want, atol=1e-7)
        assert tokens[0] != tokens[1]


def test_sentence_transformers(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "st-custom", {"inputs": TEXTS})
    assert body == {"embeddings": expected()}


def test_openai(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "openai-vllm", {"input": TEXTS, "model": "gte"})
    assert body["object"] == "list"
    assert body["model"] == "gte"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert [d["embedding"] for d in body["data"]] == expected()
    assert body["usage"]["prompt_tokens"] == 6


def test_openai_base64(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "openai-vllm", {"input": "x y", "encoding_format": "base64"})
    raw = base64.b64decode(body["data"][0]["embedding"])
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert list(values) == deterministic_vector("x y", 384)


def test_cohere_on_sagemaker(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "cohere-sm", {"texts": TEXTS, "input_type": "search_query"})
    want = [purposed_vector(t, 1024, "search_query") for t in TEXTS]
    assert as_float32(body["embeddings"]) == want
    assert body["response_type"] == "embeddings_floats"


def test_endpoint_from_file(sagemaker: Any) -> None:
    body, _ = invoke(sagemaker, "tiny-tei", {"inputs": ["a"]})
    assert len(body[0]) == 16


def test_target_headers_are_recorded(sagemaker: Any, emu: Emulator) -> None:
    _, answer = invoke(
        sagemaker,
        "tei-small",
        {"inputs": ["x"]},
        TargetModel="model-a.tar.gz",
        TargetVariant="variant-b",
        InferenceComponentName="component-c",
        CustomAttributes="trace=42",
    )
    assert answer["InvokedProductionVariant"] == "variant-b"
    (record,) = emu.requests()
    assert record["service"] == "sagemaker"
    assert record["model_or_endpoint"] == "tei-small"
    headers = record["headers"]
    assert headers["x-amzn-sagemaker-target-model"] == "model-a.tar.gz"
    assert headers["x-amzn-sagemaker-target-variant"] == "variant-b"
    assert headers["x-amzn-sagemaker-inference-component"] == "component-c"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=42"
    assert record["body"] == {"inputs": ["x"]}


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("tei-small", {"text_inputs": ["x"]}),
        ("jumpstart-gte", {"inputs": ["x"]}),
        ("openai-vllm", {"inputs": ["x"]}),
        ("cohere-sm", {"texts": ["x"]}),
    ],
)
def test_wrong_dialect_is_a_model_error(sagemaker: Any, endpoint: str, body: Any) -> None:
    err = client_error(lambda: invoke(sagemaker, endpoint, body))
    assert err["Error"]["Code"] == "ModelError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["OriginalStatusCode"] == 400
    assert err["OriginalMessage"]
    assert err["LogStreamArn"].endswith(f"/aws/sagemaker/Endpoints/{endpoint}")


def test_batch_over_the_limit(sagemaker: Any) -> None:
    err = client_error(lambda: invoke(sagemaker, "tiny-tei", {"inputs": ["a"] * 5}))
    assert err["Error"]["Code"] == "ModelError"
    assert err["OriginalStatusCode"] == 413


def test_tei_long_text_follows_truncate_then_auto_truncate(sagemaker: Any) -> None:
    long_text = " ".join(f"w{i}" for i in range(600))
    kept_start = " ".join(f"w{i}" for i in range(512))
    kept_end = " ".join(f"w{i}" for i in range(88, 600))
    # TEI >= 1.9: --auto-truncate is on by default, so an unset truncate cuts.
    body, _ = invoke(sagemaker, "tei-small", {"inputs": [long_text]})
    assert as_float32(body) == [deterministic_vector(kept_start, 384)]
    # An explicit false overrides the server: TEI's 422 Validation error.
    err = client_error(
        lambda: invoke(sagemaker, "tei-small", {"inputs": [long_text], "truncate": False})
    )
    assert err["OriginalStatusCode"] == 422
    assert "must have less than 512 tokens. Given: 600" in err["OriginalMessage"]
    request = {"inputs": [long_text], "truncate": True, "truncation_direction": "Left"}
    body, _ = invoke(sagemaker, "tei-small", request)
    assert as_float32(body) == [deterministic_vector(kept_end, 384)]
    # A server started without auto-truncate fails an unset truncate.
    err = client_error(lambda: invoke(sagemaker, "strict-tei", {"inputs": [long_text]}))
    assert err["OriginalStatusCode"] == 422


@pytest.mark.parametrize("dim", [1, 128, 384])
def test_tei_dimensions_cut_the_vector(sagemaker: Any, dim: int) -> None:
    body, _ = invoke(sagemaker, "tei-small", {"inputs": ["mrl text", "two"], "dimensions": dim})
    assert [len(v) for v in body] == [dim, dim]
    assert as_float32(body[0]) == deterministic_vector("mrl text", dim)


@pytest.mark.parametrize(
    "dim,message",
    [(0, "should be positive"), (385, "smaller than the maximum"), ("8", "invalid type")],
)
def test_tei_bad_dimensions(sagemaker: Any, dim: Any, message: str) -> None:
    err = client_error(lambda: invoke(sagemaker, "tei-small", {"inputs": ["x"], "dimensions": dim}))
    assert err["OriginalStatusCode"] == 422 and message in err["OriginalMessage"]


def test_serverless_endpoint_refuses_a_body_over_4_mb(sagemaker: Any) -> None:
    fits = {"inputs": ["x" * 3_999_000]}
    body, _ = invoke(sagemaker, "serverless-tei", fits)
    assert len(body) == 1
    # What SageMaker answers a serverless endpoint's oversize body (aws/sagemaker-python-sdk#4271).
    err = client_error(lambda: invoke(sagemaker, "serverless-tei", {"inputs": ["x" * 4_000_001]}))
    assert err["Error"]["Code"] == "ValidationError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    request_id = err["ResponseMetadata"]["RequestId"]
    assert err["Error"]["Message"] == f"Request {request_id} has oversize body."
    # The same body is fine for a real-time endpoint (6 MiB limit).
    assert len(invoke(sagemaker, "tei-small", {"inputs": ["x" * 4_000_001]})[0]) == 1


def test_endpoint_with_its_own_body_limit(sagemaker: Any) -> None:
    assert len(invoke(sagemaker, "small-body-tei", {"inputs": ["y" * 1900]})[0]) == 1
    err = client_error(lambda: invoke(sagemaker, "small-body-tei", {"inputs": ["y" * 2000]}))
    assert err["Error"]["Code"] == "ValidationError"
    assert err["Error"]["Message"].endswith("has oversize body.")


def test_unknown_endpoint(sagemaker: Any) -> None:
    err = client_error(lambda: invoke(sagemaker, "no-such-endpoint", {"inputs": ["x"]}))
    assert err["Error"]["Code"] == "ValidationError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_body_over_6_mib(sagemaker: Any) -> None:
    err = client_error(lambda: invoke(sagemaker, "tei-small", {"inputs": ["x" * 6_300_000]}))
    assert err["Error"]["Code"] == "ValidationError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_throttling_is_400(sagemaker: Any, emu: Emulator) -> None:
    emu.faults(throttle_rate=1.0)
    err = client_error(lambda: invoke(sagemaker, "tei-small", {"inputs": ["x"]}))
    assert err["Error"]["Code"] == "ThrottlingException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_fail_texts_give_model_error(sagemaker: Any, emu: Emulator) -> None:
    emu.faults(fail_texts=["poison"])
    invoke(sagemaker, "tei-small", {"inputs": ["fine"]})
    err = client_error(lambda: invoke(sagemaker, "tei-small", {"inputs": ["ok", "poison pill"]}))
    assert err["Error"]["Code"] == "ModelError"
    assert err["OriginalStatusCode"] == 400


def raw_post(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(url, data=b'{"inputs": ["x"]}', method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_request_without_authorization_is_403(emu: Emulator) -> None:
    status, headers, body = raw_post(f"{emu.url}/endpoints/tei-small/invocations", {})
    assert status == 403
    assert headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException:")
    assert body["Message"] == "Missing Authentication Token"


def test_signature_scoped_to_the_wrong_service_is_403(emu: Emulator) -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIDX/20240101/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "a" * 64
    )
    status, headers, _ = raw_post(
        f"{emu.url}/endpoints/tei-small/invocations",
        {"Authorization": auth, "X-Amz-Date": "20240101T000000Z"},
    )
    assert status == 403
    assert headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")


@pytest.mark.parametrize(
    "spec,complaint",
    [
        ({"dialect": "tei", "serverless": "yes"}, "serverless must be true or false"),
        ({"dialect": "tei", "auto_truncate": 1}, "auto_truncate must be true or false"),
        ({"dialect": "tei", "max_payload_bytes": 0}, "max_payload_bytes must be a positive"),
        ({"dialect": "tei", "payload": 1}, "unknown keys ['payload']"),
    ],
)
def test_endpoint_specs_are_validated(spec: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        endpoint_from_dict("e1", spec)


def test_endpoints_added_at_run_time_keep_their_limits(sagemaker: Any, emu: Emulator) -> None:
    req = urllib.request.Request(
        f"{emu.url}/_emulator/endpoints",
        data=json.dumps({"late-serverless": {"dialect": "hf", "serverless": True}}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        listed = json.loads(resp.read())
    assert listed["late-serverless"]["serverless"] is True
    err = client_error(lambda: invoke(sagemaker, "late-serverless", {"inputs": ["z" * 4_100_000]}))
    assert err["Error"]["Message"].endswith("has oversize body.")
