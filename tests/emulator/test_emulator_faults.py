"""Fault knobs, quotas and the control API, against the real emulator process."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError

from tests.emulator.conftest import client
from tests.support import Emulator, start_emulator
from vectorizer.emulator.faults import Fault, FaultInjector, Faults

TITAN = "amazon.titan-embed-text-v2:0"


def titan(bedrock: Any, text: str = "fault test") -> Any:
    return bedrock.invoke_model(modelId=TITAN, body=json.dumps({"inputText": text}))


def cohere(bedrock: Any, texts: list[str]) -> dict[str, Any]:
    answer = bedrock.invoke_model(
        modelId="cohere.embed-english-v3",
        body=json.dumps({"texts": texts, "input_type": "search_document"}),
    )
    return json.loads(answer["body"].read())


def code_and_status(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalServerException"), (503, "ServiceUnavailableException")]
)
def test_server_errors_bedrock(bedrock: Any, emu: Emulator, status: int, code: str) -> None:
    emu.faults(error_rate=1.0, error_status=status)
    assert code_and_status(lambda: titan(bedrock)) == (code, status)
    assert emu.stats()["errors"] == 1


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (503, "ServiceUnavailable")]
)
def test_server_errors_sagemaker(sagemaker: Any, emu: Emulator, status: int, code: str) -> None:
    emu.faults(error_rate=1.0, error_status=status)
    call = lambda: sagemaker.invoke_endpoint(EndpointName="tei-small", Body=b'{"inputs": ["x"]}')  # noqa: E731
    assert code_and_status(call) == (code, status)


def test_model_not_ready(bedrock: Any, emu: Emulator) -> None:
    emu.faults(model_not_ready_rate=1.0)
    assert code_and_status(lambda: titan(bedrock)) == ("ModelNotReadyException", 429)


def test_fail_texts_bedrock(bedrock: Any, emu: Emulator) -> None:
    emu.faults(fail_texts=["BOOM"])
    with pytest.raises(ClientError) as info:
        cohere(bedrock, ["fine", "this goes BOOM"])
    err = info.value.response
    assert err["Error"]["Code"] == "ModelErrorException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["originalStatusCode"] == 400
    assert len(cohere(bedrock, ["fine"])["embeddings"]) == 1


def test_reset_closes_the_connection(bedrock: Any, emu: Emulator) -> None:
    emu.faults(reset_rate=1.0)
    with pytest.raises(ConnectionClosedError):
        titan(bedrock)
    assert emu.requests()[-1]["fault"] == "reset"


def test_truncated_body(bedrock: Any, emu: Emulator) -> None:
    emu.faults(truncate_rate=1.0)
    answer = titan(bedrock)
    with pytest.raises(ResponseStreamingError):
        answer["body"].read()


def test_malformed_json(bedrock: Any, emu: Emulator) -> None:
    emu.faults(malformed_rate=1.0)
    answer = titan(bedrock)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    raw = answer["body"].read()
    assert raw
    with pytest.raises(ValueError):
        json.loads(raw)


def test_wrong_count_and_wrong_dim(bedrock: Any, emu: Emulator) -> None:
    emu.faults(wrong_count_rate=1.0)
    assert len(cohere(bedrock, ["a", "b", "c"])["embeddings"]) == 2
    emu.faults(wrong_count_rate=0.0, wrong_dim_rate=1.0)
    dims = [len(v) for v in cohere(bedrock, ["a", "b"])["embeddings"]]
    assert dims == [1023, 1024]


def test_latency(bedrock: Any, emu: Emulator) -> None:
    emu.faults(latency_ms=150)
    started = time.monotonic()
    titan(bedrock)
    assert time.monotonic() - started >= 0.15


def test_fault_updates_are_validated(emu: Emulator) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        emu.faults(throttle_rate=1.5)
    assert info.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        emu.faults(no_such_knob=1)
    assert emu.faults(rpm=10)["rpm"] == 10


def test_reset_clears_faults_records_and_counters(bedrock: Any, emu: Emulator) -> None:
    emu.faults(throttle_rate=1.0)
    with pytest.raises(ClientError):
        titan(bedrock)
    assert emu.stats()["requests"] == 1
    emu.reset()
    assert emu.stats() == {
        "requests": 0,
        "throttled": 0,
        "errors": 0,
        "faults": 0,
        "by_service": {},
    }
    assert emu.requests() == []
    titan(bedrock)  # the throttle is gone


def test_delete_requests_keeps_counters(bedrock: Any, emu: Emulator) -> None:
    titan(bedrock)
    emu.clear()
    assert emu.requests() == []
    assert emu.stats()["requests"] == 1


def test_health(emu: Emulator) -> None:
    with urllib.request.urlopen(emu.url + "/_emulator/health", timeout=5) as resp:
        assert resp.status == 200


def test_seeded_faults_repeat(emu: Emulator) -> None:
    def sequence() -> list[str]:
        emu.reset()
        emu.faults(throttle_rate=0.5)
        bedrock = client("bedrock-runtime", emu.url)
        out = []
        for _ in range(20):
            try:
                titan(bedrock)
                out.append("ok")
            except ClientError:
                out.append("throttled")
        return out

    first = sequence()
    assert "ok" in first and "throttled" in first
    assert sequence() == first


def test_command_line_faults_are_the_reset_point_and_sigterm_exits_cleanly() -> None:
    emu = start_emulator("--rpm", "5", "--error-status", "503", "--latency-ms", "1")
    try:
        assert emu.faults()["rpm"] == 5
        emu.faults(rpm=0, error_status=500)
        emu.reset()
        knobs = emu.faults()
        assert (knobs["rpm"], knobs["error_status"], knobs["latency_ms"]) == (5, 503, 1.0)
    finally:
        emu.proc.send_signal(signal.SIGTERM)
        assert emu.proc.wait(timeout=10) == 0


# --- pure parts: knob validation and the draw order --------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"rps": -1},
        {"error_rate": -0.1},
        {"error_status": 404},
        {"rpm": -1},
        {"tpm": -5},
        {"quota_start": "half"},
        {"quota_background": 1.5},
        {"fail_texts": "x"},
        {"rpm": True},
    ],
)
def test_faults_reject_bad_values(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Faults().updated(change)


def test_a_drawn_fault_comes_before_the_quota() -> None:
    injector = FaultInjector(Faults(throttle_rate=1.0, rpm=1), seed=1, clock=lambda: 0.0)
    assert injector.before() is Fault.THROTTLE
    # The drawn throttle charged nothing: the one request of the quota is still there.
    assert injector.admit("bedrock", "m", 1)
    assert not injector.admit("bedrock", "m", 1)
