"""OpenAI embeddings API on the side port, driven by the real `openai` package."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest

from tests.support import Emulator, Sidecar, http_json
from vectorizer.emulator.vectors import deterministic_vector


def client(sidecar: Sidecar, prefix: str = "", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="unused-by-the-sidecar",
        base_url=f"{sidecar.http_url}{prefix}/v1",
        max_retries=0,
        default_headers=headers or None,
    )


def raw(sidecar: Sidecar, body: dict, path: str = "/v1/embeddings") -> tuple[int, dict]:
    return http_json("POST", sidecar.http_url + path, body)


def test_float_embeddings_with_model_naming_a_collection(sidecar: Sidecar, emulator) -> None:
    texts = ["openai float one", "openai float two"]
    out = client(sidecar).embeddings.create(model="Articles", input=texts, encoding_format="float")
    assert out.object == "list" and out.model == "Articles"
    assert [d.index for d in out.data] == [0, 1]
    for text, d in zip(texts, out.data, strict=True):
        np.testing.assert_allclose(d.embedding, deterministic_vector(text, 512, True), atol=1e-6)
    assert out.usage.prompt_tokens == out.usage.total_tokens > 0


def test_base64_is_little_endian_float32(sidecar: Sidecar, emulator) -> None:
    # The openai package asks for base64 by default and decodes it itself.
    out = client(sidecar).embeddings.create(model="Articles", input="openai base64 default")
    np.testing.assert_allclose(
        out.data[0].embedding, deterministic_vector("openai base64 default", 512, True), atol=1e-6
    )
    status, body = raw(
        sidecar, {"model": "Articles", "input": "openai b64 raw", "encoding_format": "base64"}
    )
    assert status == 200
    decoded = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(
        decoded, deterministic_vector("openai b64 raw", 512, True), atol=1e-6
    )


def test_path_collection_and_dimensions(sidecar: Sidecar, emulator: Emulator) -> None:
    out = client(sidecar, "/collections/Articles").embeddings.create(
        model="text-embedding-3-small",
        input=["openai dims"],
        dimensions=256,
        encoding_format="float",
    )
    assert len(out.data[0].embedding) == 256 and out.model == "text-embedding-3-small"
    body = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"][-1]
    assert body["dimensions"] == 256


def test_header_collection_and_purpose(sidecar: Sidecar, emulator: Emulator) -> None:
    c = client(sidecar, **{"X-Vectorizer-Collection": "Reviews", "X-Vectorizer-Purpose": "query"})
    out = c.embeddings.create(
        model="anything", input="openai cohere query", encoding_format="float"
    )
    assert len(out.data[0].embedding) == 1024
    body = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"][-1]
    assert body["input_type"] == "search_query"


def test_errors_in_openai_shape(sidecar: Sidecar) -> None:
    c = client(sidecar)
    with pytest.raises(openai.NotFoundError) as nf:
        c.embeddings.create(model="NoSuchCollection", input="x")
    assert nf.value.status_code == 404
    assert nf.value.body["code"] == "collection_not_found" and nf.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        c.embeddings.create(model="Articles", input=[[1, 2, 3]])
    assert "token arrays are not supported" in bad.value.body["message"]
    assert bad.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as blank:
        c.embeddings.create(model="Articles", input=["  ", ""])
    assert blank.value.body["message"].startswith("input[0] failed: BLANK_TEXT")
    assert blank.value.body["code"] == "blank_text"
    status, body = raw(sidecar, {"model": "Articles", "input": "x", "encoding_format": "int8"})
    assert status == 400 and body["error"]["param"] == "encoding_format"


def test_a_bad_item_fails_alone(sidecar: Sidecar, emulator: Emulator) -> None:
    """One blank input among good ones: its entry carries the error (Weaviate
    fails that object alone), the others their vectors."""
    status, body = raw(
        sidecar,
        {"model": "Articles", "input": ["openai ok item", "  ", "openai ok two"]},
    )
    assert status == 200, body
    first, bad, last = body["data"]
    np.testing.assert_allclose(
        first["embedding"], deterministic_vector("openai ok item", 512, True), atol=1e-6
    )
    assert bad == {
        "object": "embedding",
        "index": 1,
        "embedding": [],
        "error": {
            "message": bad["error"]["message"],
            "type": "invalid_request_error",
            "param": "input",
            "code": "blank_text",
        },
    }
    assert bad["error"]["message"].startswith("BLANK_TEXT: ")
    assert len(last["embedding"]) == 512 and "error" not in last


def test_dimensions_the_target_cannot_give_are_ignored(sidecar: Sidecar, emulator) -> None:
    """Weaviate and the SDKs send their model's default size unasked (1536 for
    text-embedding-3-small): the target's own size answers, and says so."""
    c = client(sidecar, "/collections/Articles")
    answer = c.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["openai dims 1536"], dimensions=1536,
        encoding_format="float",
    )  # fmt: skip
    assert answer.headers["x-vectorizer-ignored-dimensions"] == "1536"
    assert len(answer.parse().data[0].embedding) == 512
    # The collection's own size reached the model.
    assert [r["body"] for r in emulator.requests()][-1]["dimensions"] == 512


def test_throttled_is_429_rate_limit_error(sidecar: Sidecar, emulator: Emulator) -> None:
    emulator.faults(throttle_rate=1.0)
    with pytest.raises(openai.RateLimitError) as info:
        client(sidecar).embeddings.create(model="Articles", input="openai throttled always")
    assert info.value.status_code == 429 and info.value.body["type"] == "rate_limit_error"


def test_per_request_credentials_headers(sidecar: Sidecar, emulator: Emulator) -> None:
    c = client(
        sidecar,
        **{"X-AWS-Access-Key": "AKIDOPENAIHDR0001", "X-AWS-Secret-Key": "openai-header-secret"},
    )
    c.embeddings.create(model="Articles", input="openai creds header", encoding_format="float")
    assert emulator.requests()[-1]["access_key_id"] == "AKIDOPENAIHDR0001"
    c = client(sidecar, **{"X-AWS-Access-Key": "AKIDONLYHALF"})
    with pytest.raises(openai.AuthenticationError):
        c.embeddings.create(model="Articles", input="openai half creds")
