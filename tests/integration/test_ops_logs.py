"""Structured call logs of a real sidecar: `--log-format json` writes one
JSON object per line, with request id, method, collection, model, item count
and duration for every call; input text reaches the log only with
`--log-inputs`, credentials never."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.support import FAKE_SECRET, Emulator, Sidecar, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(60)

TITAN = "amazon.titan-embed-text-v2:0"
REQUEST_ID = "ops-log-request-1"


def run_traffic(side: Sidecar, marker: str, secret: str) -> None:
    """Four calls: texts, objects, per-request credentials, an unknown collection."""
    with grpc.insecure_channel(side.grpc_address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        texts = [f"{marker} text {i}" for i in range(3)]
        stub.Vectorize(
            pb.VectorizeRequest(texts=texts, collection="Articles"),
            metadata=[("x-request-id", REQUEST_ID)],
            timeout=10,
        )
        objects = []
        for i in range(2):
            props = struct_pb2.Struct()
            props.update({"title": f"{marker} object {i}"})
            objects.append(pb.VectorizeObject(id=str(i), properties=props))
        stub.VectorizeObjects(
            pb.VectorizeObjectsRequest(objects=objects, class_name="Doc", collection="Articles"),
            timeout=10,
        )
        stub.Vectorize(
            pb.VectorizeRequest(
                texts=[f"{marker} with own keys"],
                config=pb.CollectionConfig(service="bedrock", region="us-east-1", model=TITAN),
            ),
            metadata=[("x-aws-access-key", "AKIDOPSLOGTEST000001"), ("x-aws-secret-key", secret)],
            timeout=10,
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.Vectorize(
                pb.VectorizeRequest(texts=[f"{marker} lost"], collection="NoSuchCollection"),
                timeout=10,
            )
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    assert side.terminate() == 0
    side.stderr.join(timeout=5)
    side.stdout.join(timeout=5)


def json_lines(side: Sidecar) -> list[dict[str, Any]]:
    lines = [line for line in side.stderr.text.splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]  # every line is one JSON object


def call_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("logger") == "vectorizer.service" and "method" in e]


def start(emulator: Emulator, *args: str) -> Sidecar:
    return start_sidecar(
        emulator,
        "--collections",
        "examples/collections.json",
        "--endpoint-allowlist",
        emulator.host_port,
        *args,
    )


def test_json_logs_carry_call_fields_and_no_inputs_or_secrets(emulator: Emulator) -> None:
    marker, secret = f"zq{uuid.uuid4().hex[:10]}", f"ops-secret-{uuid.uuid4().hex}"
    side = start(emulator, "--log-format", "json")
    run_traffic(side, marker, secret)
    entries = json_lines(side)
    calls = call_lines(entries)
    assert len(calls) == 4, calls
    for entry in calls:
        assert {"ts", "level", "msg", "request_id", "method", "code", "duration_ms"} <= set(entry)
        assert isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0
        assert entry["level"] == "info"

    texts, objects, own_keys, lost = calls
    assert texts["request_id"] == REQUEST_ID  # the caller's x-request-id is kept
    assert texts | {"method": "Vectorize", "code": "OK", "collection": "Articles"} == texts
    assert (texts["model"], texts["items"]) == (TITAN, 3)
    assert objects["method"] == "VectorizeObjects" and objects["items"] == 2
    assert (objects["collection"], objects["model"]) == ("Articles", TITAN)
    assert own_keys["collection"] == "" and own_keys["model"] == TITAN and own_keys["items"] == 1
    assert lost["code"] == "NOT_FOUND" and "NoSuchCollection" in lost["error"]
    assert len({e["request_id"] for e in calls}) == 4

    logs = side.logs
    assert marker not in logs  # neither texts nor object properties
    assert secret not in logs and FAKE_SECRET not in logs
    assert "inputs" not in json.dumps(calls)


def test_log_inputs_puts_texts_in_the_log(emulator: Emulator) -> None:
    marker, secret = f"zq{uuid.uuid4().hex[:10]}", f"ops-secret-{uuid.uuid4().hex}"
    side = start(emulator, "--log-format", "json", "--log-inputs")
    run_traffic(side, marker, secret)
    texts, objects, own_keys, _ = call_lines(json_lines(side))
    assert texts["inputs"] == [f"{marker} text {i}" for i in range(3)]
    assert len(objects["inputs"]) == 2 and all(marker in t for t in objects["inputs"])
    assert own_keys["inputs"] == [f"{marker} with own keys"]
    # --log-inputs is about text, not credentials.
    assert secret not in side.logs and FAKE_SECRET not in side.logs


def test_text_logs_are_readable_lines_with_the_same_fields(emulator: Emulator) -> None:
    marker, secret = f"zq{uuid.uuid4().hex[:10]}", f"ops-secret-{uuid.uuid4().hex}"
    side = start(emulator)
    run_traffic(side, marker, secret)
    lines = [line for line in side.stderr.text.splitlines() if "vectorizer.service" in line]
    assert len(lines) == 4
    first = lines[0]
    assert not first.startswith("{")
    assert "Vectorize OK in" in first
    for field in (f"request_id={REQUEST_ID}", "collection=Articles", f"model={TITAN}", "items=3"):
        assert field in first
    assert marker + " text" not in side.logs and secret not in side.logs
