"""The emulator's quotas (--rps, --rpm, --tpm, --quota-start, --quota-background).

The first half talks to the real emulator process with real boto3 (no
retries), the second drives `FaultInjector.admit` on an injected clock to
pin the bucket arithmetic exactly.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import client
from tests.support import Emulator, start_emulator
from vectorizer.emulator.faults import FaultInjector, Faults

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


def titan(bedrock: Any, text: str = "quota test") -> dict[str, Any]:
    answer = bedrock.invoke_model(modelId=TITAN, body=json.dumps({"inputText": text}))
    return json.loads(answer["body"].read())


def outcome(call: Any) -> str:
    try:
        call()
        return "ok"
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))  # the emulator counts whitespace words


# --- the real process, real boto3 ------------------------------------------------


def test_rpm_is_a_bucket_of_one_minute_then_paces(bedrock: Any, emu: Emulator) -> None:
    emu.faults(rpm=60)  # one request per second after a burst of 60
    started = time.monotonic()
    outcomes = [outcome(lambda i=i: titan(bedrock, f"burst {i}")) for i in range(70)]
    elapsed = time.monotonic() - started
    assert outcomes[:60] == ["ok"] * 60
    refilled = outcomes[60:].count("ok")
    assert refilled <= elapsed + 1  # refilled continuously at 1 per second
    assert outcomes[60:].count("ThrottlingException") == 10 - refilled
    assert emu.stats()["by_service"]["bedrock"]["throttled"] == 10 - refilled


def test_quotas_are_per_service_and_target(bedrock: Any, sagemaker: Any, emu: Emulator) -> None:
    emu.faults(rpm=1)
    titan(bedrock)
    sagemaker.invoke_endpoint(EndpointName="tei-small", Body=b'{"inputs": ["x"]}')
    bedrock.invoke_model(
        modelId=COHERE, body=json.dumps({"texts": ["x"], "input_type": "search_query"})
    )
    assert outcome(lambda: titan(bedrock)) == "ThrottlingException"
    call = lambda: sagemaker.invoke_endpoint(EndpointName="tei-small", Body=b'{"inputs": ["y"]}')  # noqa: E731
    assert outcome(call) == "ThrottlingException"


def test_throttle_has_the_aws_shape(bedrock: Any, sagemaker: Any, emu: Emulator) -> None:
    emu.faults(rps=1, quota_start="empty")
    with pytest.raises(ClientError) as info:
        titan(bedrock)
    err = info.value.response
    assert err["Error"]["Code"] == "ThrottlingException"
    assert err["Error"]["Message"] == "Too many requests, please wait before trying again."
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(ClientError) as info:
        sagemaker.invoke_endpoint(EndpointName="tei-small", Body=b'{"inputs": ["x"]}')
    err = info.value.response
    assert err["Error"]["Code"] == "ThrottlingException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400  # SageMaker throttles with 400


def test_empty_start_throttles_the_first_call_then_refills(bedrock: Any, emu: Emulator) -> None:
    emu.faults(rps=5, quota_start="empty")
    assert outcome(lambda: titan(bedrock)) == "ThrottlingException"
    time.sleep(0.3)  # 1.5 requests' worth
    assert outcome(lambda: titan(bedrock)) == "ok"


def test_tpm_counts_the_input_tokens_the_answer_reports(bedrock: Any, emu: Emulator) -> None:
    emu.faults(tpm=1000)  # starts full: 1,000 tokens, then 1,000 a minute
    first = titan(bedrock, words(600))
    assert first["inputTextTokenCount"] == 600
    # 400 tokens left: a 600-token text is throttled, a 300-token one passes.
    assert outcome(lambda: titan(bedrock, words(600))) == "ThrottlingException"
    assert titan(bedrock, words(300))["inputTextTokenCount"] == 300
    stats = emu.stats()
    assert (stats["requests"], stats["throttled"]) == (3, 1)


def test_a_runtime_change_keeps_the_bucket_level(bedrock: Any, emu: Emulator) -> None:
    emu.faults(rpm=6)  # full: 6 requests; refill 1 per 10 s, too slow to matter here
    for i in range(4):
        titan(bedrock, f"spend {i}")
    emu.faults(rpm=600)  # ten times the rate: the level stays at 2, not full
    assert [outcome(lambda: titan(bedrock)) for _ in range(2)] == ["ok", "ok"]
    assert outcome(lambda: titan(bedrock)) == "ThrottlingException"
    emu.faults(rpm=0)  # off: no bucket any more
    assert outcome(lambda: titan(bedrock)) == "ok"


def test_command_line_quota_flags() -> None:
    emu = start_emulator(
        "--rps", "2", "--tpm", "600", "--quota-start", "empty", "--quota-background", "0.25"
    )
    try:
        knobs = emu.faults()
        assert (knobs["rps"], knobs["tpm"]) == (2.0, 600.0)
        assert (knobs["quota_start"], knobs["quota_background"]) == ("empty", 0.25)
        bedrock = client("bedrock-runtime", emu.url)
        assert outcome(lambda: titan(bedrock)) == "ThrottlingException"
    finally:
        emu.stop()


# --- bucket arithmetic on an injected clock ---------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def admitted_per_second(injector: FaultInjector, clock: Clock, seconds: float, hz: float) -> float:
    """Offer requests at `hz` for `seconds`; the admitted rate."""
    ok, steps = 0, int(seconds * hz)
    for _ in range(steps):
        clock.now += 1.0 / hz
        ok += injector.admit("bedrock", TITAN, 1)
    return ok / seconds


def test_background_client_leaves_the_rest_of_the_quota() -> None:
    clock = Clock()
    injector = FaultInjector(
        Faults(rps=100, quota_start="empty", quota_background=0.3), clock=clock
    )
    assert admitted_per_second(injector, clock, 10.0, 500.0) == pytest.approx(70.0, abs=0.5)


def test_full_start_bursts_one_period_then_paces() -> None:
    clock = Clock()
    injector = FaultInjector(Faults(rps=50), clock=clock)
    assert sum(injector.admit("bedrock", TITAN, 1) for _ in range(80)) == 50
    assert admitted_per_second(injector, clock, 10.0, 400.0) == pytest.approx(50.0, abs=0.5)


def test_halving_mid_run_keeps_the_level_and_halves_the_pace() -> None:
    clock = Clock()
    injector = FaultInjector(Faults(rps=100, quota_start="empty"), clock=clock)
    assert admitted_per_second(injector, clock, 5.0, 400.0) == pytest.approx(100.0, abs=0.5)
    injector.faults = injector.faults.updated({"rps": 50})
    assert admitted_per_second(injector, clock, 5.0, 400.0) == pytest.approx(50.0, abs=0.5)
    injector.faults = injector.faults.updated({"rps": 200})
    assert admitted_per_second(injector, clock, 5.0, 400.0) == pytest.approx(200.0, abs=0.5)


def test_every_quota_must_hold_the_request_or_none_is_charged() -> None:
    clock = Clock()
    injector = FaultInjector(Faults(rps=10, tpm=600), clock=clock)  # 10 requests, 600 tokens
    assert injector.admit("bedrock", TITAN, 500)
    assert not injector.admit("bedrock", TITAN, 200)  # tokens short: no request charged
    assert injector.quotas.levels("bedrock", TITAN) == {"rps": 9.0, "tpm": 100.0}
    for _ in range(9):
        assert injector.admit("bedrock", TITAN, 10)
    assert not injector.admit("bedrock", TITAN, 0)  # requests short
    assert not injector.admit("bedrock", TITAN, 601)  # larger than the bucket: never
    clock.now = 120.0
    assert not injector.admit("bedrock", TITAN, 601)
    assert injector.admit("bedrock", TITAN, 600)
