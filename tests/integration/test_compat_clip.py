"""Weaviate multi2vec-clip inference API on the side port, as Weaviate calls it.

Requests are what Weaviate's clip client (modules/multi2vec-clip/clients)
sends: `POST {origin}/vectorize` with Go's default headers (no Content-Type)
and `json.Marshal` of `{texts, images}`, where an empty slice is `null`;
readiness `GET {origin}/.well-known/ready` (any status <= 299) and
`GET {origin}/meta` (any JSON object). The origin may carry a path
(`/collections/{name}`). Also: the OpenAI route's data:image inputs.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.images import make, solid
from tests.support import Emulator, Sidecar, http_json, start_sidecar
from vectorizer.emulator.image_vectors import image_vector
from vectorizer.emulator.vectors import purposed_vector

COLLECTIONS = {
    "Images": {"region": "us-east-1", "model": "amazon.titan-embed-image-v1", "dimensions": 256},
    "Docs": {"region": "us-east-1", "model": "cohere.embed-v4:0", "dimensions": 256},
    "TextOnly": {"region": "us-east-1", "model": "amazon.titan-embed-text-v2:0", "dimensions": 256},
}
PNG = make("disc", 21)
B64 = base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    path: Path = tmp_path_factory.mktemp("clip") / "collections.json"
    path.write_text(json.dumps(COLLECTIONS))
    s = start_sidecar(aws_emulator, "--collections", str(path), "--default-collection", "Images")
    yield s
    s.terminate()


def go_post(url: str, texts: list[str] | None, images: list[str] | None) -> tuple[int, Any]:
    """What Go's http.Client sends for `json.Marshal(vecRequest{...})`: no Content-Type."""
    body = json.dumps({"texts": texts, "images": images}, separators=(",", ":")).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("origin", ["", "/collections/Images"])
def test_startup_checks(side: Sidecar, origin: str) -> None:
    status, _ = http_json("GET", side.http_url + origin + "/.well-known/ready")
    assert status <= 299
    status, meta = http_json("GET", side.http_url + origin + "/meta")
    assert status == 200 and isinstance(meta, dict)


def test_object_texts_and_images(side: Sidecar, emulator: Emulator) -> None:
    other = make("checker", 22)
    status, out = go_post(
        side.http_url + "/vectorize", ["a red disc"], [B64, base64.b64encode(other).decode()]
    )
    assert status == 200 and out["error"] == ""
    np.testing.assert_allclose(
        out["textVectors"][0], purposed_vector("a red disc", 256, None), atol=1e-6
    )
    np.testing.assert_allclose(out["imageVectors"][0], image_vector(PNG, 256), atol=1e-6)
    np.testing.assert_allclose(out["imageVectors"][1], image_vector(other, 256), atol=1e-6)


def test_near_text_and_near_image_calls(side: Sidecar) -> None:
    status, out = go_post(side.http_url + "/collections/Images/vectorize", ["query"], None)
    assert status == 200 and len(out["textVectors"]) == 1 and out["imageVectors"] == []
    status, out = go_post(side.http_url + "/vectorize", None, [B64])
    assert status == 200 and out["textVectors"] == [] and len(out["imageVectors"][0]) == 256


def test_errors_are_read_from_the_error_field(side: Sidecar) -> None:
    status, out = go_post(side.http_url + "/vectorize", None, [base64.b64encode(PNG[:99]).decode()])
    assert status == 400 and "images[0]" in out["error"] and "truncated" in out["error"]
    status, out = go_post(side.http_url + "/vectorize", None, None)
    assert status == 400 and out["error"]
    status, out = go_post(side.http_url + "/collections/TextOnly/vectorize", None, [B64])
    assert status == 400 and "MEDIA_NOT_SUPPORTED" in out["error"]
    status, out = go_post(side.http_url + "/collections/Nope/vectorize", ["x"], None)
    assert status == 404 and "unknown collection" in out["error"]


def test_openai_route_takes_data_urls_for_multimodal_models(side: Sidecar) -> None:
    url = side.http_url + "/collections/Docs/v1/embeddings"
    data_url = f"data:image/png;base64,{B64}"
    status, out = http_json("POST", url, {"input": ["some text", data_url], "model": "Docs"})
    assert status == 200, out
    np.testing.assert_allclose(
        out["data"][1]["embedding"], image_vector(PNG, 256, "search_document"), atol=1e-6
    )
    status, out = http_json("POST", url, {"input": ["data:image/png;base64,AAAA"]})
    assert status == 400 and out["error"]["param"] == "input"
    # A text-only model keeps such a string as text, as before.
    url = side.http_url + "/collections/TextOnly/v1/embeddings"
    small = base64.b64encode(solid((1, 2, 3), (8, 8))).decode()
    status, out = http_json("POST", url, {"input": [f"data:image/png;base64,{small}"]})
    assert status == 200 and len(out["data"]) == 1
