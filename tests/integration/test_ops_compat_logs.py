"""Call logs of the HTTP compat endpoints, as the gRPC calls have them: one
line per call with request id (the caller's `X-Request-Id` kept), endpoint,
status, collection, model, item count and duration; input text only with
`--log-inputs`."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support import Emulator, Sidecar, http_json, start_sidecar

pytestmark = pytest.mark.timeout(60)

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


def call(
    side: Sidecar, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    return http_json(method, side.http_url + path, body, headers, timeout=15)


def run_traffic(side: Sidecar, marker: str) -> None:
    """Six calls over the three protocols: four succeed, two fail."""
    texts = [f"{marker} openai {i}" for i in range(3)]
    steps = [
        call(side, "POST", "/vectors", {"text": f"{marker} t2v"}, **{"X-Request-Id": "t2v-log-1"}),
        call(side, "POST", "/collections/Reviews/v1/embeddings", {"input": texts}),
        call(
            side,
            "POST",
            "/v2/embed",
            {"texts": [f"{marker} cohere {i}" for i in range(2)]},
            **{
                "X-Vectorizer-Collection": "Articles",
                "X-AWS-Access-Key": "AKIDLOGTEST0000001",
                "X-AWS-Secret-Key": "compat-log-secret",
            },
        ),  # fmt: skip
        call(side, "GET", "/collections/Articles/meta"),
        call(side, "POST", "/collections/NoSuchCollection/v1/embeddings", {"input": marker}),
        call(side, "POST", "/v2/embed", {"texts": [marker], "input_type": "nope"}),
    ]
    assert [status for status, _ in steps] == [200, 200, 200, 200, 404, 400], steps
    assert side.terminate() == 0
    side.stderr.join(timeout=5)
    side.stdout.join(timeout=5)


def compat_lines(side: Sidecar) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in side.stderr.text.splitlines() if line.strip()]
    return [e for e in entries if e.get("logger") == "vectorizer.compat" and "endpoint" in e]


def start(emulator: Emulator, *args: str) -> Sidecar:
    return start_sidecar(
        emulator,
        "--log-format", "json",
        "--default-collection", "Articles",
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", emulator.host_port,
        *args,
    )  # fmt: skip


def test_each_compat_call_logs_one_line_with_the_call_fields(emulator: Emulator) -> None:
    marker = f"zq{uuid.uuid4().hex[:10]}"
    side = start(emulator)
    run_traffic(side, marker)
    lines = compat_lines(side)
    assert len(lines) == 6, lines
    for entry in lines:
        assert {"ts", "level", "msg", "request_id", "endpoint", "status", "duration_ms"} <= set(
            entry
        )
        assert entry["level"] == "info" and entry["duration_ms"] >= 0
        assert f" {entry['endpoint']} {entry['status']} in " in entry["msg"]
    t2v, openai, cohere, meta, lost, bad = lines
    assert t2v["request_id"] == "t2v-log-1"
    assert t2v | {"endpoint": "transformers_vectors", "status": 200} == t2v
    assert (t2v["collection"], t2v["model"], t2v["items"]) == ("Articles", TITAN, 1)
    assert (openai["endpoint"], openai["collection"], openai["model"]) == (
        "openai_embeddings",
        "Reviews",
        COHERE,
    )
    assert openai["items"] == 3
    assert (cohere["endpoint"], cohere["collection"], cohere["items"]) == (
        "cohere_embed",
        "Articles",
        2,
    )
    assert meta["endpoint"] == "transformers_meta" and meta["collection"] == "Articles"
    assert meta["msg"].startswith("GET ")
    assert lost["status"] == 404 and "NoSuchCollection" in lost["error"]
    assert "collection" not in lost  # a name the caller made up is not a log field
    assert bad["status"] == 400 and "input_type" in bad["error"]
    assert len({e["request_id"] for e in lines}) == 6

    assert marker not in side.logs
    assert "compat-log-secret" not in side.logs and "AKIDLOGTEST0000001" not in side.logs
    assert "inputs" not in json.dumps(lines)


def test_log_inputs_adds_the_texts(emulator: Emulator) -> None:
    marker = f"zq{uuid.uuid4().hex[:10]}"
    side = start(emulator, "--log-inputs")
    run_traffic(side, marker)
    t2v, openai, cohere, meta, _, _ = compat_lines(side)
    assert t2v["inputs"] == [f"{marker} t2v"]
    assert openai["inputs"] == [f"{marker} openai {i}" for i in range(3)]
    assert cohere["inputs"] == [f"{marker} cohere {i}" for i in range(2)]
    assert "inputs" not in meta
    assert "compat-log-secret" not in side.logs


def test_a_request_id_cannot_forge_log_lines(emulator: Emulator) -> None:
    """The caller's id is cleaned: no spaces or controls (the text format writes k=v)."""
    side = start_sidecar(
        emulator,
        "--default-collection", "Articles",
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", emulator.host_port,
    )  # fmt: skip
    status, _ = call(side, "GET", "/meta", **{"X-Request-Id": "abc status=999\tfake=1"})
    assert status == 200
    side.terminate()
    side.stderr.join(timeout=5)
    line = next(x for x in side.stderr.text.splitlines() if "transformers_meta" in x)
    assert "request_id=abcstatus=999fake=1 " in line + " " and " fake=1" not in line
