"""Answers of real size, floats spelled as each service spells them, read as raw bytes.

Real Titan v2 answers weigh about 43 KB at 1,024 dimensions (dense float32
values written as doubles, twice); a Cohere answer writes the shortest
float32 text. Each spelling must read back as the emulator's float32 vector
bit for bit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from bench.workload import make_texts
from vectorizer.emulator.vectors import text_vector

NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
KIB = 1024


def invoke_raw(bedrock: Any, model_id: str, body: dict[str, Any]) -> bytes:
    answer = bedrock.invoke_model(
        modelId=model_id, body=json.dumps(body), contentType="application/json"
    )
    return answer["body"].read()  # type: ignore[no-any-return]


def endpoint_raw(sagemaker: Any, endpoint: str, body: dict[str, Any]) -> bytes:
    answer = sagemaker.invoke_endpoint(
        EndpointName=endpoint, Body=json.dumps(body), ContentType="application/json"
    )
    return answer["Body"].read()  # type: ignore[no-any-return]


def numbers(raw_array: bytes) -> list[bytes]:
    """The number texts of one JSON array of floats, as written."""
    assert raw_array.startswith(b"[") and raw_array.endswith(b"]")
    return raw_array[1:-1].split(b",")


def significant_digits(number: bytes) -> int:
    mantissa = re.split(rb"[eE]", number.lstrip(b"-"))[0].replace(b".", b"")
    return len(mantissa.lstrip(b"0"))


def array_after(raw: bytes, key: bytes, skip: int = 0) -> bytes:
    """The raw text of the first array of floats after the `skip`+1-th `key`."""
    at = -1
    for _ in range(skip + 1):
        at = raw.index(key, at + 1)
    start = raw.index(b"[", at)
    while raw[start + 1 : start + 2] == b"[":
        start += 1
    return raw[start : raw.index(b"]", start) + 1]


def assert_doubles(raw_array: bytes, want: np.ndarray) -> None:
    """Each float32 value written as the double it widens to (17 digits or fewer
    when the double is shorter): Titan's and the Python containers' spelling."""
    texts = numbers(raw_array)
    values = [float(t) for t in texts]
    assert values == want.tolist()  # the doubles are exactly the float32 values
    digits = [significant_digits(t) for t in texts]
    assert max(digits) <= 17 and np.median(digits) >= 16


def assert_float32_short(raw_array: bytes, want: np.ndarray) -> None:
    """Each value written as the shortest text that reads back as the float32."""
    texts = numbers(raw_array)
    assert np.array_equal(np.array([float(t) for t in texts], dtype=np.float32), want)
    assert max(significant_digits(t) for t in texts) <= 9


def test_titan_v2_answer_is_dense_and_of_real_size(bedrock: Any) -> None:
    text = make_texts(1, "answer-size")[0]
    raw = invoke_raw(bedrock, "amazon.titan-embed-text-v2:0", {"inputText": text})
    assert len(raw) >= 35 * KIB, len(raw)
    want = text_vector(text, 1024).values
    assert (want != 0).all()
    first, second = array_after(raw, b'"embedding"'), array_after(raw, b'"float"')
    assert first == second  # `embeddingsByType.float` is the same vector
    assert_doubles(first, want)


def test_titan_v1_answer_of_1536_doubles(bedrock: Any) -> None:
    text = make_texts(1, "answer-size-v1")[0]
    raw = invoke_raw(bedrock, "amazon.titan-embed-text-v1", {"inputText": text})
    assert len(raw) >= 25 * KIB, len(raw)
    assert_doubles(array_after(raw, b'"embedding"'), text_vector(text, 1536, None, False).values)


def test_cohere_v3_batch_of_96_in_short_float32(bedrock: Any) -> None:
    texts = make_texts(96, "answer-size-cohere")
    raw = invoke_raw(
        bedrock, "cohere.embed-english-v3", {"texts": texts, "input_type": "search_query"}
    )
    # 96 x 1,024 values of about 12 characters, plus the texts echoed back.
    assert len(raw) >= 1000 * KIB, len(raw)
    first = text_vector(texts[0], 1024, "search_query").values
    assert_float32_short(array_after(raw, b'"embeddings"'), first)
    body = json.loads(raw)
    assert len(body["embeddings"]) == 96
    last = text_vector(texts[95], 1024, "search_query").values
    np.testing.assert_array_equal(np.float32(body["embeddings"][95]), last)


@pytest.mark.parametrize(
    "endpoint,body,key,short",
    [
        ("tei-small", {"inputs": ["a spelled text"]}, b"[", True),
        (
            "cohere-sm",
            {"texts": ["a spelled text"], "input_type": "search_document"},
            b'"embeddings"',
            True,
        ),
        ("jumpstart-gte", {"text_inputs": ["a spelled text"]}, b'"embedding"', False),
        ("hf-feature", {"inputs": ["a spelled text"]}, b"[", False),
        ("st-custom", {"inputs": ["a spelled text"]}, b'"embeddings"', False),
        ("openai-vllm", {"input": ["a spelled text"]}, b'"embedding"', False),
    ],
)
def test_sagemaker_containers_spell_as_their_stack(
    sagemaker: Any, endpoint: str, body: dict[str, Any], key: bytes, short: bool
) -> None:
    """TEI (Rust) and Cohere's container write short float32 text; the Python
    containers write Python floats, so doubles."""
    raw = endpoint_raw(sagemaker, endpoint, body)
    dim = 1024 if endpoint == "cohere-sm" else 384
    want = text_vector("a spelled text", dim).values
    array = array_after(raw, key)
    if short:
        assert_float32_short(array, want)
    else:
        assert_doubles(array, want)
