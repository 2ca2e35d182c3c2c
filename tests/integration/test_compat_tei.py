"""The TEI API (`/embed`, `/info`, `/health`) and the Ollama API on the side
port, with the real `ollama` client and the shapes of TEI's OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import ollama
import pytest

from tests.support import ROOT, Emulator, Sidecar, http_json, start_sidecar
from tests.weaviate_modules import send
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector

# TEI's Info schema: every required key with its JSON type.
INFO_REQUIRED = {
    "model_id": str,
    "model_dtype": str,
    "model_type": dict,
    "max_concurrent_requests": int,
    "max_input_length": int,
    "max_batch_tokens": int,
    "max_client_batch_size": int,
    "auto_truncate": bool,
    "tokenization_workers": int,
    "version": str,
}
TEI_ERROR_TYPES = {"Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty"}


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    collections = json.loads((ROOT / "examples/collections.json").read_text())
    # A SageMaker TEI endpoint told not to normalise: raw vectors come back.
    collections["RawTei"] = {**collections["Products"], "normalize": False}
    path = tmp_path_factory.mktemp("tei") / "collections.json"
    path.write_text(json.dumps(collections))
    s = start_sidecar(
        aws_emulator,
        "--collections", str(path),
        "--default-collection", "Articles",
        "--endpoint-allowlist", aws_emulator.host_port,
    )  # fmt: skip
    yield s
    s.terminate()


def embed(side: Sidecar, body: dict, path: str = "/embed") -> tuple[int, object]:
    return http_json("POST", side.http_url + path, body)


def assert_tei_error(status: int, body: object, want_status: int, want_type: str) -> str:
    assert status == want_status, body
    assert isinstance(body, dict) and set(body) == {"error", "error_type"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert body["error_type"] == want_type and want_type in TEI_ERROR_TYPES
    return body["error"]


def bedrock_bodies(emulator: Emulator) -> list[dict]:
    return [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]


def test_embed_a_string_or_a_list(side: Sidecar) -> None:
    status, out = embed(side, {"inputs": "tei single"})
    assert status == 200 and isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0], deterministic_vector("tei single", 512), atol=1e-6)
    status, out = embed(side, {"inputs": ["tei one", "tei two"], "normalize": True})
    assert status == 200 and [len(v) for v in out] == [512, 512]
    np.testing.assert_allclose(out[1], deterministic_vector("tei two", 512), atol=1e-6)


def test_normalize_false_keeps_the_models_vector(side: Sidecar) -> None:
    path = "/collections/RawTei/embed"
    status, raw = embed(side, {"inputs": ["tei raw"], "normalize": False}, path)
    status2, unit = embed(side, {"inputs": ["tei raw"]}, path)
    assert status == status2 == 200
    np.testing.assert_allclose(raw[0], deterministic_vector("tei raw", 384, False), atol=1e-4)
    assert abs(np.linalg.norm(raw[0]) - 1.0) > 0.5
    np.testing.assert_allclose(unit[0], deterministic_vector("tei raw", 384, True), atol=1e-6)


def test_prompt_name_carries_the_purpose(side: Sidecar, emulator: Emulator) -> None:
    path = "/collections/Reviews/embed"
    status, out = embed(side, {"inputs": ["tei asks"], "prompt_name": "query"}, path)
    assert status == 200
    np.testing.assert_allclose(out[0], purposed_vector("tei asks", 1024, "search_query"), atol=1e-6)
    assert embed(side, {"inputs": ["tei stores"], "prompt_name": "passage"}, path)[0] == 200
    assert [b["input_type"] for b in bedrock_bodies(emulator)] == [
        "search_query",
        "search_document",
    ]
    status, body = embed(side, {"inputs": ["x"], "prompt_name": "summary"}, path)
    assert "prompt_name 'summary' is not known" in assert_tei_error(status, body, 422, "Validation")


@pytest.mark.parametrize(
    ("direction", "kept"), [("Right", "start"), ("Left", "end"), ("right", "start")]
)
def test_truncate_and_direction(
    side: Sidecar, emulator: Emulator, direction: str, kept: str
) -> None:
    text = f"start {direction} " + "x" * 60_000 + f" end {direction}"
    status, body = embed(side, {"inputs": text, "truncate": False})
    assert "input[0] failed: TEXT_TOO_LONG" in assert_tei_error(status, body, 422, "Validation")
    status, _ = embed(side, {"inputs": text, "truncate": True, "truncation_direction": direction})
    assert status == 200
    sent = bedrock_bodies(emulator)[-1]["inputText"]
    assert len(sent) < len(text)
    assert sent.startswith(f"start {direction} ") if kept == "start" else sent.endswith(" end Left")


def test_dimensions(side: Sidecar, emulator: Emulator) -> None:
    status, out = embed(side, {"inputs": ["tei sized"], "dimensions": 256})
    assert status == 200 and len(out[0]) == 256
    assert bedrock_bodies(emulator)[-1]["dimensions"] == 256
    status, body = embed(side, {"inputs": ["tei badly sized"], "dimensions": 300})
    assert "dimensions 300" in assert_tei_error(status, body, 422, "Validation")


def test_errors_in_tei_shape(side: Sidecar, emulator: Emulator) -> None:
    assert_tei_error(*embed(side, {"inputs": []}), 400, "Empty")
    assert_tei_error(*embed(side, {"inputs": ["fine", "  "]}), 422, "Validation")
    assert_tei_error(*embed(side, {"inputs": [[101, 2023]]}), 422, "Validation")
    assert_tei_error(*embed(side, {"texts": ["x"]}), 422, "Validation")
    assert_tei_error(*embed(side, {"inputs": "x"}, "/collections/Nope/embed"), 404, "Validation")
    assert_tei_error(*http_json("GET", side.http_url + "/embed"), 405, "Validation")
    assert_tei_error(*embed(side, {"inputs": ["x"]}, "/embed_all"), 404, "Validation")
    emulator.faults(throttle_rate=1.0)
    assert_tei_error(*embed(side, {"inputs": ["tei throttled"]}), 429, "Overloaded")


def test_info_has_teis_required_fields(side: Sidecar) -> None:
    status, info = http_json("GET", side.http_url + "/info")
    assert status == 200 and isinstance(info, dict)
    for key, kind in INFO_REQUIRED.items():
        assert type(info[key]) is kind, (key, info[key])
    assert info["model_id"] == "amazon.titan-embed-text-v2:0"
    assert info["served_model_name"] == "Articles"
    assert info["max_input_length"] == 8192 and "embedding" in info["model_type"]
    status, info = http_json("GET", side.http_url + "/collections/Products/info")
    assert status == 200 and info["model_id"] == "tei-small"


def test_health(side: Sidecar) -> None:
    answer = send("GET", side.http_url + "/health", None, {}, 5)
    assert answer.status == 200 and answer.body == b""


# -- Ollama, with the official client ------------------------------------------------


def test_ollama_client_embed_and_errors(side: Sidecar, emulator: Emulator) -> None:
    client = ollama.Client(host=side.http_url)
    out = client.embed(model="Articles", input=["ollama one", "ollama two"])
    assert out.model == "Articles" and len(out.embeddings) == 2
    np.testing.assert_allclose(
        out.embeddings[1], deterministic_vector("ollama two", 512), atol=1e-6
    )
    out = client.embed(model="nomic-embed-text", input="ollama default", dimensions=256)
    assert len(out.embeddings[0]) == 256
    old = client.embeddings(model="Articles", prompt="ollama legacy")
    np.testing.assert_allclose(old.embedding, deterministic_vector("ollama legacy", 512), atol=1e-6)
    with pytest.raises(ollama.ResponseError) as info:
        client.embed(model="Articles", input=["ollama fine", ""])
    assert info.value.status_code == 400 and "input[1] failed: BLANK_TEXT" in info.value.error


def test_ollama_truncate_and_purpose(side: Sidecar, emulator: Emulator) -> None:
    long = "keep " + "y" * 60_000
    client = ollama.Client(host=side.http_url)
    with pytest.raises(ollama.ResponseError, match="TEXT_TOO_LONG"):
        client.embed(model="Articles", input=long, truncate=False)
    client.embed(model="Articles", input=long, truncate=True)
    assert bedrock_bodies(emulator)[-1]["inputText"].startswith("keep ")
    query = ollama.Client(host=side.http_url + "/query")
    query.embed(model="Reviews", input="ollama asks")
    assert bedrock_bodies(emulator)[-1]["input_type"] == "search_query"
