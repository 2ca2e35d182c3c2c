"""Weaviate text2vec-transformers inference API on the side port, for real.

The request and response shapes are those of Weaviate's transformers client
(single `{"text", "config"}` and batch `{"texts", "config"}` on `/vectors`);
a server of its own here runs with `--default-collection`, as a Weaviate
`inferenceUrl` pointing at the bare port needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.support import Emulator, Sidecar, http_json, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector


def call(method: str, url: str, body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
    return http_json(method, url, body, headers)


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator) -> Iterator[Sidecar]:
    s = start_sidecar(
        aws_emulator,
        "--collections",
        "examples/collections.json",
        "--default-collection",
        "Reviews",
        "--endpoint-allowlist",
        aws_emulator.host_port,
    )
    yield s
    s.terminate()


def bedrock_bodies(emulator: Emulator) -> list[dict]:
    return [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]


@pytest.mark.parametrize("prefix", ["", "/passage", "/query", "/collections/Articles"])
def test_live_ready_meta(side: Sidecar, prefix: str) -> None:
    assert call("GET", side.http_url + prefix + "/.well-known/live")[0] == 204
    assert call("GET", side.http_url + prefix + "/.well-known/ready")[0] == 204
    status, meta = call("GET", side.http_url + prefix + "/meta")
    assert status == 200
    want = "Articles" if "Articles" in prefix else "Reviews"
    assert meta["collection"] == want and meta["model"]["service"] == "bedrock"


def test_single_vector_passage_and_query(side: Sidecar, emulator: Emulator) -> None:
    url = side.http_url + "/vectors"
    status, out = call(
        "POST",
        url,
        {
            "text": "t2v passage one",
            "config": {"pooling_strategy": "masked_mean", "task_type": "passage"},
        },
    )
    assert status == 200, out
    assert out["text"] == "t2v passage one" and out["dim"] == out["dims"] == 1024
    np.testing.assert_allclose(
        out["vector"], deterministic_vector("t2v passage one", 1024, True), atol=1e-6
    )
    status, out = call(
        "POST",
        side.http_url + "/vectors/",
        {"text": "t2v query one", "config": {"task_type": "query"}},
    )
    assert status == 200 and len(out["vector"]) == 1024
    types = [b["input_type"] for b in bedrock_bodies(emulator)]
    assert types == ["search_document", "search_query"]


def test_separate_passage_and_query_urls(side: Sidecar, emulator: Emulator) -> None:
    # Older Weaviate versions send no task_type: the URL decides.
    assert call("POST", side.http_url + "/query/vectors", {"text": "t2v url query"})[0] == 200
    assert call("POST", side.http_url + "/passage/vectors", {"text": "t2v url doc"})[0] == 200
    types = [b["input_type"] for b in bedrock_bodies(emulator)]
    assert types == ["search_query", "search_document"]


def test_batch_form(side: Sidecar, emulator: Emulator) -> None:
    texts = ["t2v batch a", "t2v batch b", "t2v batch c"]
    status, out = call(
        "POST",
        side.http_url + "/collections/Articles/vectors",
        {"texts": texts, "config": {"task_type": "passage"}},
    )
    assert status == 200, out
    assert out["dims"] == 512 and len(out["vectors"]) == 3
    for text, vec in zip(texts, out["vectors"], strict=True):
        np.testing.assert_allclose(vec, deterministic_vector(text, 512, True), atol=1e-6)


def test_collection_header_and_dimensions(side: Sidecar, emulator: Emulator) -> None:
    status, out = call(
        "POST",
        side.http_url + "/vectors",
        {"text": "t2v dims", "config": {"dimensions": 256}},
        headers={"X-Vectorizer-Collection": "Articles"},
    )
    assert status == 200 and out["dim"] == 256
    assert bedrock_bodies(emulator)[-1]["dimensions"] == 256


def test_errors_use_the_error_field(side: Sidecar) -> None:
    status, out = call("POST", side.http_url + "/vectors", {"text": "   "})
    assert status == 400 and "input[0] failed: BLANK_TEXT" in out["error"]
    status, out = call("POST", side.http_url + "/collections/Nope/vectors", {"text": "x"})
    assert status == 404 and "unknown collection 'Nope'" in out["error"]
    status, out = call(
        "POST", side.http_url + "/vectors", {"text": "x", "config": {"task_type": "sideways"}}
    )
    assert status == 400 and "task_type" in out["error"]
    status, out = call(
        "POST",
        side.http_url + "/collections/Articles/vectors",
        {"text": "x dims", "config": {"dimensions": 300}},
    )
    assert status == 400 and "dimensions 300 not supported" in out["error"]


def test_throttling_past_retries_is_429(side: Sidecar, emulator: Emulator) -> None:
    emulator.faults(throttle_rate=1.0)
    status, out = call("POST", side.http_url + "/vectors", {"text": "t2v always throttled"})
    assert status == 429 and out["error"]


def test_http_metrics_are_counted(side: Sidecar) -> None:
    call("POST", side.http_url + "/vectors", {"text": "t2v metrics"})
    call("POST", side.http_url + "/vectors", {"text": ""})
    status, body = side.http_get("/metrics")
    assert status == 200
    assert 'vectorizer_http_requests_total{code="200",endpoint="transformers_vectors"}' in body
    assert 'vectorizer_http_requests_total{code="400",endpoint="transformers_vectors"}' in body
    assert "vectorizer_http_request_duration_seconds_bucket" in body
