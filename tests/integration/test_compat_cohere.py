"""Cohere Embed v2 API on the side port, driven by the real `cohere` package."""

from __future__ import annotations

import cohere
import numpy as np
import pytest

from tests.support import Emulator, Sidecar, http_json
from vectorizer.emulator.vectors import deterministic_vector


def client(sidecar: Sidecar, prefix: str = "") -> cohere.ClientV2:
    return cohere.ClientV2(api_key="unused-by-the-sidecar", base_url=sidecar.http_url + prefix)


def raw(sidecar: Sidecar, body: dict, path: str = "/v2/embed") -> tuple[int, dict]:
    return http_json("POST", sidecar.http_url + path, body)


def bedrock_bodies(emulator: Emulator) -> list[dict]:
    return [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]


def test_embed_documents_and_queries(sidecar: Sidecar, emulator: Emulator) -> None:
    c = client(sidecar)
    texts = ["cohere doc one", "cohere doc two"]
    out = c.embed(
        model="Reviews", texts=texts, input_type="search_document", embedding_types=["float"]
    )
    assert out.response_type == "embeddings_by_type" and out.texts == texts
    for text, vec in zip(texts, out.embeddings.float_, strict=True):
        np.testing.assert_allclose(vec, deterministic_vector(text, 1024, True), atol=1e-6)
    c.embed(
        model="Reviews",
        texts=["cohere a query"],
        input_type="search_query",
        embedding_types=["float"],
    )
    assert [b["input_type"] for b in bedrock_bodies(emulator)] == [
        "search_document",
        "search_query",
    ]


def test_classification_and_truncate_reach_the_model(sidecar: Sidecar, emulator) -> None:
    client(sidecar, "/collections/Reviews").embed(
        model="embed-english-v3.0",
        texts=["cohere classify me"],
        input_type="classification",
        embedding_types=["float"],
        truncate="START",
    )
    body = bedrock_bodies(emulator)[-1]
    assert body["input_type"] == "classification" and body["truncate"] == "START"


def test_titan_collection_with_clustering_and_output_dimension(sidecar, emulator) -> None:
    out = client(sidecar).embed(
        model="Articles",
        texts=["cohere on titan"],
        input_type="clustering",
        embedding_types=["float"],
        output_dimension=256,
    )
    assert len(out.embeddings.float_[0]) == 256
    assert bedrock_bodies(emulator)[-1] == {
        "inputText": "cohere on titan",
        "dimensions": 256,
    }


def test_errors_use_message_shape(sidecar: Sidecar) -> None:
    c = client(sidecar)
    with pytest.raises(cohere.core.api_error.ApiError) as info:
        c.embed(
            model="Reviews", texts=["x"], input_type="search_document", embedding_types=["int8"]
        )
    assert info.value.status_code == 400 and "only ['float']" in info.value.body["message"]
    with pytest.raises(cohere.core.api_error.ApiError) as info:
        c.embed(model="Nope", texts=["x"], input_type="search_document")
    assert info.value.status_code == 404
    status, body = raw(
        sidecar, {"model": "Reviews", "texts": ["fine", ""], "input_type": "search_query"}
    )
    assert status == 400 and body["message"].startswith("input[1] failed: BLANK_TEXT")
    status, body = raw(sidecar, {"model": "Reviews", "texts": ["x"], "input_type": "nope"})
    assert status == 400 and "invalid input_type" in body["message"]
