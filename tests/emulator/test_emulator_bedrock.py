"""Bedrock InvokeModel against the real emulator process, through real boto3."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import PROFILE_ARN, as_float32, client
from tests.support import Emulator
from vectorizer.emulator import bedrock as bedrock_models
from vectorizer.emulator.auth import check_auth
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector
from vectorizer.emulator.wire import AwsError


def invoke(bedrock: Any, model_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    answer = bedrock.invoke_model(
        modelId=model_id,
        body=json.dumps(body),
        contentType="application/json",
        accept="application/json",
    )
    return json.loads(answer["body"].read()), answer["ResponseMetadata"]["HTTPHeaders"]


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


def test_titan_v1_raw_vector_of_1536(bedrock: Any) -> None:
    body, headers = invoke(bedrock, "amazon.titan-embed-text-v1", {"inputText": "hello world"})
    assert set(body) == {"embedding", "inputTextTokenCount"}
    assert body["embedding"] == deterministic_vector("hello world", 1536, normalize=False)
    assert body["inputTextTokenCount"] == 2
    assert headers["x-amzn-bedrock-input-token-count"] == "2"
    assert headers["x-amzn-requestid"]


def test_titan_v1_rejects_v2_fields(bedrock: Any) -> None:
    code, status, message = error_of(
        lambda: invoke(bedrock, "amazon.titan-embed-text-v1", {"inputText": "x", "dimensions": 256})
    )
    assert (code, status) == ("ValidationException", 400)
    assert "extraneous key [dimensions]" in message


@pytest.mark.parametrize("dim", [256, 512, 1024])
def test_titan_v2_dimensions(bedrock: Any, dim: int) -> None:
    body, _ = invoke(
        bedrock, "amazon.titan-embed-text-v2:0", {"inputText": "some text", "dimensions": dim}
    )
    assert len(body["embedding"]) == dim
    assert abs(norm(body["embedding"]) - 1) < 1e-6
    # AWS: embeddingsByType always appears, with "float" when no types were asked.
    assert body["embeddingsByType"] == {"float": body["embedding"]}
    assert set(body) == {"embedding", "embeddingsByType", "inputTextTokenCount"}


def test_titan_v2_default_and_types(bedrock: Any) -> None:
    body, _ = invoke(
        bedrock,
        "us.amazon.titan-embed-text-v2:0",
        {"inputText": "a b c", "normalize": False, "embeddingTypes": ["float", "binary"]},
    )
    assert len(body["embedding"]) == 1024
    assert body["embedding"] == deterministic_vector("a b c", 1024, normalize=False)
    assert body["embeddingsByType"]["float"] == body["embedding"]
    assert body["embeddingsByType"]["binary"] == [int(x > 0) for x in body["embedding"]]
    assert body["inputTextTokenCount"] == 3


def test_titan_v2_binary_only_has_no_float_vector(bedrock: Any) -> None:
    # AWS: "the embedding field is not in the response if embeddingTypes only contains binary".
    body, _ = invoke(
        bedrock, "amazon.titan-embed-text-v2:0", {"inputText": "a b", "embeddingTypes": ["binary"]}
    )
    assert set(body) == {"embeddingsByType", "inputTextTokenCount"}
    assert set(body["embeddingsByType"]) == {"binary"}
    assert len(body["embeddingsByType"]["binary"]) == 1024


def test_titan_v2_bad_dimensions(bedrock: Any) -> None:
    code, status, message = error_of(
        lambda: invoke(
            bedrock, "amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 300}
        )
    )
    assert (code, status) == ("ValidationException", 400)
    assert "#/dimensions: 300 is not a valid enum value" in message


@pytest.mark.parametrize("dim", [None, 256, 384, 1024])
def test_titan_multimodal(bedrock: Any, dim: int | None) -> None:
    request: dict[str, Any] = {"inputText": "a photo of a cat"}
    if dim:
        request["embeddingConfig"] = {"outputEmbeddingLength": dim}
    body, _ = invoke(bedrock, "amazon.titan-embed-image-v1", request)
    assert set(body) == {"embedding", "inputTextTokenCount", "message"}
    assert body["message"] is None
    assert len(body["embedding"]) == (dim or 1024)


@pytest.mark.parametrize("model", ["cohere.embed-english-v3", "eu.cohere.embed-multilingual-v3"])
def test_cohere_v3_floats(bedrock: Any, model: str) -> None:
    texts = ["first text", "second text", "third"]
    body, headers = invoke(bedrock, model, {"texts": texts, "input_type": "search_document"})
    assert body["response_type"] == "embeddings_floats"
    assert body["texts"] == texts
    assert body["id"]
    assert [len(v) for v in body["embeddings"]] == [1024] * 3
    # Cohere spells float32 values short: equal as float32, as a client reads them.
    assert as_float32(body["embeddings"][0]) == deterministic_vector("first text", 1024)
    assert headers["x-amzn-bedrock-input-token-count"] == "5"


def test_cohere_v3_by_type(bedrock: Any) -> None:
    body, _ = invoke(
        bedrock,
        "cohere.embed-english-v3",
        {"texts": ["x y"], "input_type": "search_query", "embedding_types": ["float", "int8"]},
    )
    assert body["response_type"] == "embeddings_by_type"
    assert set(body["embeddings"]) == {"float", "int8"}
    assert len(body["embeddings"]["float"][0]) == 1024
    assert all(-128 <= x <= 127 for x in body["embeddings"]["int8"][0])


def test_cohere_purpose_changes_the_vector_a_little(bedrock: Any) -> None:
    def vec(input_type: str) -> list[float]:
        request = {"texts": ["the same words"], "input_type": input_type}
        return invoke(bedrock, "cohere.embed-english-v3", request)[0]["embeddings"][0]

    doc, query = vec("search_document"), vec("search_query")
    assert doc != query
    assert as_float32(query) == purposed_vector("the same words", 1024, "search_query")
    assert cosine(doc, query) > 0.9


def test_cohere_97_texts_is_a_validation_error(bedrock: Any) -> None:
    request = {"texts": ["t"] * 97, "input_type": "search_document"}
    code, status, message = error_of(lambda: invoke(bedrock, "cohere.embed-english-v3", request))
    assert (code, status) == ("ValidationException", 400)
    assert "#/texts" in message and "96" in message and "97" in message


def test_cohere_missing_input_type(bedrock: Any) -> None:
    code, status, message = error_of(
        lambda: invoke(bedrock, "cohere.embed-english-v3", {"texts": ["t"]})
    )
    assert (code, status) == ("ValidationException", 400)
    assert "required key [input_type]" in message


def test_cohere_v3_long_text_needs_truncate(bedrock: Any) -> None:
    long_text = "word " * 500 + "x" * 100  # 2,600 characters
    request = {"texts": [long_text], "input_type": "search_document"}
    for truncate in ("NONE", "END"):  # the 2,048-character cap holds whatever truncate says
        call = {**request, "truncate": truncate}
        code, status, msg = error_of(lambda c=call: invoke(bedrock, "cohere.embed-english-v3", c))
        assert (code, status) == ("ValidationException", 400) and "maxLength: 2048" in msg
    many_words = "w " * 1000  # 2,000 characters, 1,000 tokens: truncate applies
    body, _ = invoke(
        bedrock, "cohere.embed-english-v3", {**request, "texts": [many_words], "truncate": "END"}
    )
    kept = " ".join(["w"] * 512)
    assert body["texts"] == [kept]
    assert as_float32(body["embeddings"][0]) == deterministic_vector(kept, 1024)


@pytest.mark.parametrize("dim", [None, 256, 512, 1024, 1536])
def test_cohere_v4_always_by_type(bedrock: Any, dim: int | None) -> None:
    request: dict[str, Any] = {"texts": ["a", "b"], "input_type": "search_document"}
    if dim:
        request["output_dimension"] = dim
    body, _ = invoke(bedrock, "global.cohere.embed-v4:0", request)
    assert body["response_type"] == "embeddings_by_type"
    assert [len(v) for v in body["embeddings"]["float"]] == [dim or 1536] * 2


def test_cohere_v4_bad_truncate_value(bedrock: Any) -> None:
    request = {"texts": ["a"], "input_type": "search_query", "truncate": "END"}
    code, status, _ = error_of(lambda: invoke(bedrock, "cohere.embed-v4:0", request))
    assert (code, status) == ("ValidationException", 400)


def nova_request(text: str, purpose: str | None, dim: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"text": {"truncationMode": "END", "value": text}}
    if purpose:
        params["embeddingPurpose"] = purpose
    if dim:
        params["embeddingDimension"] = dim
    return {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": params,
    }


NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"


@pytest.mark.parametrize("dim", [None, 256, 384, 1024, 3072])
def test_nova_shape_and_dimensions(bedrock: Any, dim: int | None) -> None:
    body, _ = invoke(bedrock, NOVA, nova_request("hello nova", "GENERIC_INDEX", dim))
    assert list(body) == ["embeddings"]
    (item,) = body["embeddings"]
    assert item["embeddingType"] == "TEXT"
    assert len(item["embedding"]) == (dim or 3072)
    assert item["embedding"] == deterministic_vector("hello nova", dim or 3072)


def test_nova_query_purpose_differs(bedrock: Any) -> None:
    index, _ = invoke(bedrock, NOVA, nova_request("q", "GENERIC_INDEX", 256))
    retrieval, _ = invoke(bedrock, NOVA, nova_request("q", "GENERIC_RETRIEVAL", 256))
    assert index["embeddings"][0]["embedding"] != retrieval["embeddings"][0]["embedding"]


def test_nova_without_purpose_is_a_validation_error(bedrock: Any) -> None:
    code, status, message = error_of(lambda: invoke(bedrock, NOVA, nova_request("q", None)))
    assert (code, status) == ("ValidationException", 400)
    assert "embeddingPurpose" in message


def test_marengo_through_a_profile(bedrock: Any) -> None:
    request = {"inputType": "text", "inputText": "a short clip description"}
    body, _ = invoke(bedrock, "us.twelvelabs.marengo-embed-2-7-v1:0", request)
    assert len(body["data"][0]["embedding"]) == 1024
    code, status, message = error_of(
        lambda: invoke(bedrock, "twelvelabs.marengo-embed-2-7-v1:0", request)
    )
    assert (code, status) == ("ValidationException", 400)
    assert "inference profile" in message


def test_marengo_truncates_at_77_words(bedrock: Any) -> None:
    text = " ".join(f"w{i}" for i in range(100))
    request = {"inputType": "text", "inputText": text}
    body, headers = invoke(bedrock, "us.twelvelabs.marengo-embed-2-7-v1:0", request)
    kept = " ".join(f"w{i}" for i in range(77))
    assert body["data"][0]["embedding"] == deterministic_vector(kept, 1024)
    assert headers["x-amzn-bedrock-input-token-count"] == "77"
    with pytest.raises(ClientError):
        invoke(bedrock, "us.twelvelabs.marengo-embed-2-7-v1:0", {**request, "textTruncate": "none"})


MARENGO3 = "twelvelabs.marengo-embed-3-0-v1:0"


@pytest.mark.parametrize("model_id", [MARENGO3, "us." + MARENGO3, "eu." + MARENGO3])
def test_marengo_3_answers_the_documented_shape(bedrock: Any, model_id: str) -> None:
    request = {"inputType": "text", "text": {"inputText": "man walking a dog"}}
    body, headers = invoke(bedrock, model_id, request)
    # AWS's Marengo 3 page: one vector -> "data" is the object, 512 floats, no metadata.
    assert set(body) == {"data"} and set(body["data"]) == {"embedding"}
    assert body["data"]["embedding"] == deterministic_vector("man walking a dog", 512)
    assert headers["x-amzn-bedrock-input-token-count"] == "4"


@pytest.mark.parametrize(
    "request_body,complaint",
    [
        ({"inputType": "text", "inputText": "flat 2.7 body"}, "extraneous key [inputText]"),
        (
            {"inputType": "text", "text": {"inputText": "x"}, "textTruncate": "end"},
            "extraneous key [textTruncate]",
        ),
        ({"inputType": "text", "text": {"inputText": "x", "textTruncate": "end"}}, "textTruncate"),
        ({"inputType": "text"}, "required key [text]"),
        ({"inputType": "text", "text": {}}, "required key [inputText]"),
        ({"text": {"inputText": "x"}}, "required key [inputType]"),
    ],
)
def test_marengo_3_rejects_other_bodies(bedrock: Any, request_body: Any, complaint: str) -> None:
    code, status, message = error_of(lambda: invoke(bedrock, MARENGO3, request_body))
    assert (code, status) == ("ValidationException", 400)
    assert complaint in message


def test_marengo_3_refuses_over_500_tokens(bedrock: Any) -> None:
    words = " ".join(f"w{i}" for i in range(501))
    request = {"inputType": "text", "text": {"inputText": words}}
    code, status, message = error_of(lambda: invoke(bedrock, MARENGO3, request))
    assert (code, status) == ("ValidationException", 400)
    assert "Max input tokens: 500" in message


@pytest.mark.parametrize(
    "model_id",
    [
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.titan-embed-text-v2:0",
        PROFILE_ARN,
        "amazon.titan-embed-text-v2:0:8k",
    ],
)
def test_model_id_forms(bedrock: Any, emu: Emulator, model_id: str) -> None:
    body, _ = invoke(bedrock, model_id, {"inputText": "id forms", "dimensions": 256})
    assert len(body["embedding"]) == 256
    assert emu.requests()[-1]["model_or_endpoint"] == model_id


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.titan-embed-text-v9",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/unmapped",
    ],
)
def test_unknown_model(bedrock: Any, model_id: str) -> None:
    code, status, _ = error_of(lambda: invoke(bedrock, model_id, {"inputText": "x"}))
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_throttling_is_429_without_retry(bedrock: Any, emu: Emulator) -> None:
    emu.faults(throttle_rate=1.0)
    code, status, _ = error_of(
        lambda: invoke(bedrock, "amazon.titan-embed-text-v1", {"inputText": "x"})
    )
    assert (code, status) == ("ThrottlingException", 429)
    assert len(emu.requests()) == 1  # retries off: one attempt only
    assert emu.stats()["throttled"] == 1


def test_records_redact_secrets_and_note_caller(emu: Emulator) -> None:
    bedrock = client("bedrock-runtime", emu.url, key="AKIDRECORD01", token="session-token-1")
    invoke(bedrock, "amazon.titan-embed-text-v1", {"inputText": "recorded"})
    (record,) = emu.requests()
    assert record["service"] == "bedrock"
    assert record["access_key_id"] == "AKIDRECORD01"
    assert record["region"] == "us-east-1"
    assert record["has_session_token"] is True
    assert record["headers"]["authorization"] == "REDACTED"
    assert record["headers"]["x-amz-security-token"] == "REDACTED"
    assert "session-token-1" not in json.dumps(record)
    assert record["body"] == {"inputText": "recorded"}
    assert record["status"] == 200


@pytest.mark.parametrize(
    ("key", "token", "code"),
    [
        ("AKIDBADKEY", None, "UnrecognizedClientException"),
        ("AKIDDENIED01", None, "AccessDeniedException"),
        ("AKIDOK", "EXPIRED", "ExpiredTokenException"),
    ],
)
def test_access_errors(emu: Emulator, key: str, token: str | None, code: str) -> None:
    bedrock = client("bedrock-runtime", emu.url, key=key, token=token)
    got, status, _ = error_of(
        lambda: invoke(bedrock, "amazon.titan-embed-text-v1", {"inputText": "x"})
    )
    assert (got, status) == (code, 403)


# --- pure parts: model ids and the SigV4 header form ---------------------------


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("amazon.titan-embed-text-v1", "titan-text-v1"),
        ("amazon.titan-embed-text-v1:2:8k", "titan-text-v1"),
        ("apac.amazon.titan-embed-text-v2:0", "titan-text-v2"),
        ("us-gov.cohere.embed-english-v3", "cohere-v3"),
        ("arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/cohere.embed-v4:0", "cohere-v4"),
        (
            "arn:aws:bedrock:eu-west-1:1:inference-profile/eu.amazon.nova-2-multimodal-embeddings-v1:0",
            "nova",
        ),
        ("arn:aws:bedrock:us-east-1:1:provisioned-model/pm1", "cohere-v3"),
    ],
)
def test_resolve_model(model_id: str, family: str) -> None:
    profiles = {"pm1": "cohere.embed-english-v3"}
    assert bedrock_models.resolve_model(model_id, profiles).key == family


@pytest.mark.parametrize(
    "model_id",
    ["cohere.embed-english-v9", "us.example.model", "arn:aws:bedrock:us-east-1:1:imported-model/x"],
)
def test_resolve_unknown_model(model_id: str) -> None:
    with pytest.raises(AwsError) as info:
        bedrock_models.resolve_model(model_id, {})
    assert (info.value.status, info.value.code) == (404, "ResourceNotFoundException")


GOOD_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDX/20240101/eu-west-1/bedrock/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


def test_check_auth_accepts_the_sigv4_form() -> None:
    caller = check_auth({"Authorization": GOOD_AUTH, "X-Amz-Date": "20240101T000000Z"}, "bedrock")
    assert (caller.access_key_id, caller.region, caller.has_session_token) == (
        "AKIDX",
        "eu-west-1",
        False,
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MissingAuthenticationTokenException"),
        ({"Authorization": GOOD_AUTH}, "IncompleteSignatureException"),
        (
            {"Authorization": GOOD_AUTH.replace(", Signature=", ", Sig="), "X-Amz-Date": "x"},
            "IncompleteSignatureException",
        ),
        ({"Authorization": GOOD_AUTH[:-1] + "Z", "X-Amz-Date": "x"}, "InvalidSignatureException"),
        ({"Authorization": "Bearer abc", "X-Amz-Date": "x"}, "IncompleteSignatureException"),
    ],
)
def test_check_auth_rejects(headers: dict[str, str], code: str) -> None:
    with pytest.raises(AwsError) as info:
        check_auth(headers, "bedrock")
    assert (info.value.status, info.value.code) == (403, code)


def test_check_auth_wants_the_right_service() -> None:
    with pytest.raises(AwsError) as info:
        check_auth({"Authorization": GOOD_AUTH, "X-Amz-Date": "x"}, "sagemaker")
    assert info.value.code == "InvalidSignatureException"
