"""The real server over real sockets, against the real emulator process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support import FAKE_AKID, ROOT, Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

TITAN_V2 = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")


def vectors(resp: pb.VectorizeResponse) -> list[list[float]]:
    assert all(r.HasField("vector") for r in resp.results), resp.results
    return [list(r.vector.values) for r in resp.results]


def test_titan_v2_vectors_in_input_order(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    texts = [f"order check {i} alpha" for i in range(12)]
    resp = stub.Vectorize(pb.VectorizeRequest(texts=texts, config=TITAN_V2), timeout=30)
    got = vectors(resp)
    assert resp.dimensions == 1024 and resp.model == TITAN_V2.model
    for text, vec in zip(texts, got, strict=True):
        np.testing.assert_allclose(vec, deterministic_vector(text, 1024, True), atol=1e-6)
    assert resp.usage.input_tokens > 0


def test_titan_v2_dimensions_and_normalize_reach_the_wire(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    cfg = pb.CollectionConfig(
        region="us-east-1", model="amazon.titan-embed-text-v2:0", dimensions=256, normalize=False
    )
    resp = stub.Vectorize(pb.VectorizeRequest(texts=["dims on the wire"], config=cfg), timeout=30)
    assert resp.dimensions == 256
    body = [r for r in emulator.requests() if r["service"] == "bedrock"][-1]["body"]
    assert body == {"inputText": "dims on the wire", "dimensions": 256, "normalize": False}


def test_titan_v1_and_named_collection(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    cfg = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v1")
    assert stub.Vectorize(pb.VectorizeRequest(texts=["v1 text"], config=cfg)).dimensions == 1536
    resp = stub.Vectorize(pb.VectorizeRequest(texts=["a named one"], collection="Articles"))
    assert resp.dimensions == 512


def test_default_chain_credentials_sign_requests(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    stub.Vectorize(pb.VectorizeRequest(texts=["default creds"], config=TITAN_V2))
    rec = emulator.requests()[-1]
    assert rec["access_key_id"] == FAKE_AKID and rec["region"] == "us-east-1"


def test_per_request_credentials_are_used(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    md = (
        ("x-aws-access-key", "AKIDPERREQUEST0042"),
        ("x-aws-secret-key", "s3cr3t-per-request"),
        ("x-aws-session-token", "tok-per-request"),
    )
    stub.Vectorize(pb.VectorizeRequest(texts=["per request creds"], config=TITAN_V2), metadata=md)
    rec = emulator.requests()[-1]
    assert rec["access_key_id"] == "AKIDPERREQUEST0042" and rec["has_session_token"] is True
    stub.Vectorize(pb.VectorizeRequest(texts=["back to default"], config=TITAN_V2))
    assert emulator.requests()[-1]["access_key_id"] == FAKE_AKID


def test_bad_credentials_are_permission_errors(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    md = (("x-aws-access-key", "AKIDBADKEY"), ("x-aws-secret-key", "whatever-secret"))
    with pytest.raises(grpc.RpcError) as info:
        stub.Vectorize(pb.VectorizeRequest(texts=["x bad key"], config=TITAN_V2), metadata=md)
    assert info.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
    assert "whatever-secret" not in info.value.details()


def test_bad_config_is_invalid_argument_with_text2vec_messages(
    stub: pb_grpc.VectorizerStub,
) -> None:
    cfg = pb.CollectionConfig(service="sagemaker", model="m")
    with pytest.raises(grpc.RpcError) as info:
        stub.Vectorize(pb.VectorizeRequest(texts=["x"], config=cfg))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == (
        "region cannot be empty, endpoint cannot be empty, wrong configuration: model, "
        "not applicable to sagemaker. did you mean targetModel"
    )


def test_unknown_collection_is_not_found(stub: pb_grpc.VectorizerStub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.Vectorize(pb.VectorizeRequest(texts=["x"], collection="Nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Articles" in info.value.details()


def test_blank_text_is_an_item_error_and_others_still_embed(stub: pb_grpc.VectorizerStub) -> None:
    resp = stub.Vectorize(
        pb.VectorizeRequest(texts=["fine text", "   ", "also fine"], config=TITAN_V2)
    )
    assert resp.results[0].HasField("vector") and resp.results[2].HasField("vector")
    err = resp.results[1].error
    assert err.code == "BLANK_TEXT" and not err.retryable


def test_validate_config_lists_every_error(stub: pb_grpc.VectorizerStub) -> None:
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=pb.CollectionConfig(service="x")))
    assert not resp.valid
    assert list(resp.errors) == [
        "wrong service, available services are: [bedrock sagemaker]",
        "region cannot be empty",
    ]
    ok = stub.ValidateConfig(pb.ValidateConfigRequest(config=TITAN_V2))
    assert ok.valid and list(ok.errors) == []


def test_get_meta(stub: pb_grpc.VectorizerStub) -> None:
    meta = stub.GetMeta(pb.GetMetaRequest())
    names = {f.name for f in meta.families}
    assert {"titan-text-v1", "titan-text-v2"} <= names
    v2 = next(f for f in meta.families if f.name == "titan-text-v2")
    assert list(v2.dimensions) == [256, 512, 1024] and v2.default_dimensions == 1024
    assert set(meta.services) == {"bedrock", "sagemaker"}
    assert "Articles" in meta.collections


def test_health_and_reflection(sidecar: Sidecar) -> None:
    with grpc.insecure_channel(sidecar.grpc_address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in ("", "vectorizer.v1.Vectorizer"):
            status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        answer = next(
            iter(
                refl.ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")])
                )
            )
        )
        services = {s.name for s in answer.list_services_response.service}
        assert {"vectorizer.v1.Vectorizer", "grpc.health.v1.Health"} <= services


def test_http_side_port(sidecar: Sidecar, stub: pb_grpc.VectorizerStub) -> None:
    stub.Vectorize(pb.VectorizeRequest(texts=["metrics please"], config=TITAN_V2))
    assert sidecar.http_get("/healthz")[0] == 200
    assert sidecar.http_get("/readyz")[0] == 200
    status, body = sidecar.http_get("/metrics")
    assert status == 200
    assert 'vectorizer_grpc_requests_total{code="OK",method="Vectorize"}' in body
    assert "vectorizer_upstream_calls_total" in body


def test_large_batch_fits_message_limits(stub: pb_grpc.VectorizerStub, emulator: Emulator) -> None:
    # 1,000 x 1,024-dim vectors (4 MB+) is over gRPC's default 4 MiB limit.
    texts = [f"large batch item {i}" for i in range(1000)]
    # Own credentials: a limiter of its own, not one other tests throttled down.
    md = (("x-aws-access-key", "AKIDLARGEBATCH0001"), ("x-aws-secret-key", "large-batch-secret"))
    resp = stub.Vectorize(
        pb.VectorizeRequest(texts=texts, config=TITAN_V2), timeout=60, metadata=md
    )
    assert len(vectors(resp)) == 1000


def test_cli_embed_and_validate(sidecar: Sidecar, tmp_path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "vectorizer.cli",
            "embed",
            "--address",
            sidecar.grpc_address,
            "--region",
            "us-east-1",
            "--model",
            "amazon.titan-embed-text-v2:0",
            "some text",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "dimensions: 1024" in out.stdout and "dim=1024" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"service": "sagemaker", "region": "us-east-1"}')
    out = subprocess.run(
        [sys.executable, "-m", "vectorizer.cli", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 1 and "endpoint cannot be empty" in out.stdout


def test_sigterm_drains_in_flight_calls() -> None:
    emu = start_emulator("--latency-ms", "1500")
    side = start_sidecar(emu, "--grace-period", "20")
    try:
        results: list[object] = []

        def call() -> None:
            with grpc.insecure_channel(side.grpc_address) as ch:
                try:
                    r = pb_grpc.VectorizerStub(ch).Vectorize(
                        pb.VectorizeRequest(texts=["drain me"], config=TITAN_V2), timeout=30
                    )
                    results.append(r)
                except grpc.RpcError as exc:
                    results.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.6)  # calls are now waiting on the emulator's latency
        code = side.terminate(timeout=30)
        for t in threads:
            t.join(30)
        assert code == 0, side.logs
        assert len(results) == 4
        assert all(isinstance(r, pb.VectorizeResponse) for r in results), results
        assert "drained" in side.logs
    finally:
        side.terminate()
        emu.stop()


def test_metric_labels_stay_bounded(sidecar: Sidecar, stub: pb_grpc.VectorizerStub) -> None:
    # A profile id is counted under its known base model; an inline endpoint
    # name nobody configured collapses into "other", never the caller's text.
    profile = pb.CollectionConfig(region="us-east-1", model="us.cohere.embed-v4:0")
    stub.Vectorize(pb.VectorizeRequest(texts=["label check profile"], config=profile))
    inline = pb.CollectionConfig(
        service="sagemaker",
        region="us-east-1",
        endpoint="tei-small",
        payload_format="tei",
        batch_size=7,
    )
    stub.Vectorize(pb.VectorizeRequest(texts=["label check inline"], config=inline))
    odd = pb.CollectionConfig(service="sagemaker", region="us-east-1", endpoint="caller-made-up-ep")
    with pytest.raises(grpc.RpcError):
        stub.Vectorize(pb.VectorizeRequest(texts=["label check odd"], config=odd))
    _, body = sidecar.http_get("/metrics")
    assert 'model="cohere.embed-v4:0"' in body
    assert "us.cohere.embed-v4:0" not in body and "caller-made-up-ep" not in body


def test_server_py_at_the_root_is_the_server(tmp_path) -> None:
    """`python server.py --help` is `vectorizer-server --help`, flag for flag."""
    entry = subprocess.run(
        [sys.executable, "server.py", "--help"], capture_output=True, text=True, cwd=ROOT,
        timeout=60,
    )  # fmt: skip
    script = Path(sys.executable).with_name("vectorizer-server")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vectorizer.server"]
    installed = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert entry.returncode == installed.returncode == 0, entry.stderr
    assert entry.stdout == installed.stdout
    assert entry.stdout.startswith("usage: vectorizer-server")
    assert "--compat-address" in entry.stdout and "--default-deadline" in entry.stdout
