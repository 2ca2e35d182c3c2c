"""Credentials never leak, and one caller's cache never serves another.

A sidecar at --log-level debug (without --log-inputs) gets traffic carrying
recognisable fake credentials: successes, a bad config, throttling past the
deadline, rejected keys, a half-sent key pair, undecodable requests. Its
logs, /metrics and every error message and detail the callers saw are then
searched for the secret, the session token, the full access key id and the
input texts.
"""

from __future__ import annotations

import grpc

from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer.logs import redact
from vectorizer.service import scrubber
from vectorizer.v1 import internal_pb2 as ib
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

AKID = "AKIDLEAKCANARY1234"
SECRET = "SECRETLEAKCANARY-xyz"
TOKEN = "TOKENLEAKCANARY"
DENIED_AKID = "AKIDDENIEDLEAKCANARY77"
INPUT = "INPUTLEAKCANARY quarterly revenue"
CANARY_MD = (
    ("x-aws-access-key", AKID),
    ("x-aws-secret-key", SECRET),
    ("x-aws-session-token", TOKEN),
)
TITAN = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")


def _collect(fn, seen: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Run one call; keep every text the caller could see."""
    try:
        resp = fn()
    except grpc.RpcError as exc:
        seen.append(f"{exc.code().name}: {exc.details()}")
        seen.extend(f"{k}={v}" for k, v in (exc.trailing_metadata() or ()))
        return
    seen.append(str(resp))


def test_credentials_and_inputs_never_reach_logs_metrics_or_errors(
    aws_emulator: Emulator, emulator: Emulator
) -> None:
    side = start_sidecar(
        aws_emulator,
        "--log-level", "debug",
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--default-deadline", "3",
    )  # fmt: skip
    seen: list[str] = []
    try:
        with grpc.insecure_channel(side.grpc_address) as ch:
            stub = pb_grpc.VectorizerStub(ch)

            def vectorize(texts: list[str], md: tuple, **target: object):  # type: ignore[no-untyped-def]
                target = target or {"config": TITAN}
                req = pb.VectorizeRequest(texts=texts, **target)  # type: ignore[arg-type]
                return lambda: stub.Vectorize(req, metadata=md, timeout=10)

            _collect(vectorize([INPUT + " ok"], CANARY_MD), seen)
            _collect(vectorize([INPUT + " sm"], CANARY_MD, collection="Products"), seen)
            bad_cfg = pb.CollectionConfig(service="sagemaker", region="us-east-1", model="m")
            _collect(vectorize([INPUT + " cfg"], CANARY_MD, config=bad_cfg), seen)
            # Rejected keys: unknown key id, access denied, a secret without its key id.
            bad_md = (("x-aws-access-key", "AKIDBADKEY"), ("x-aws-secret-key", SECRET),
                      ("x-aws-session-token", TOKEN))  # fmt: skip
            _collect(vectorize([INPUT + " badkey"], bad_md), seen)
            denied_md = (("x-aws-access-key", DENIED_AKID), ("x-aws-secret-key", SECRET))
            _collect(vectorize([INPUT + " denied"], denied_md), seen)
            _collect(vectorize([INPUT + " half"], (("x-aws-secret-key", SECRET),)), seen)
            obj = pb.VectorizeObject(id="1")
            obj.properties.update({"title": INPUT + " object"})
            _collect(
                lambda: stub.VectorizeObjects(
                    pb.VectorizeObjectsRequest(objects=[obj], class_name="Doc", config=TITAN),
                    metadata=CANARY_MD,
                    timeout=10,
                ),
                seen,
            )
            raw = ch.unary_unary(
                "/vectorizer.v1.Vectorizer/Vectorize",
                request_serializer=lambda b: b,
                response_deserializer=lambda b: b,
            )
            bad_utf8 = ib.VectorizeRequestBytes(texts=[INPUT.encode() + b"\xff"], collection=b"x")
            _collect(lambda: raw(bad_utf8.SerializeToString(), metadata=CANARY_MD), seen)
            _collect(lambda: raw(b"\xff\xff garbage", metadata=CANARY_MD), seen)
            # Throttled until the deadline passes.
            emulator.faults(throttle_rate=1.0)
            _collect(vectorize([INPUT + " throttled"], CANARY_MD), seen)
            emulator.faults(throttle_rate=0.0)
        status, metrics_text = side.http_get("/metrics")
        assert status == 200
    finally:
        side.terminate()

    assert len(seen) == 10
    assert any("AKIDBADKEY" in s or "UNAUTHENTICATED" in s for s in seen)
    assert any("RESOURCE_EXHAUSTED" in s or "THROTTLED" in s for s in seen), seen
    logs = side.logs
    assert "DEBUG" in logs.upper(), "the sidecar did not log at debug level"
    places = {"logs": logs, "metrics": metrics_text, "caller-visible errors": "\n".join(seen)}
    for where, text in places.items():
        for canary in (SECRET, TOKEN, AKID, DENIED_AKID, "INPUTLEAKCANARY"):
            if where == "caller-visible errors" and canary == "INPUTLEAKCANARY":
                continue  # the caller's own text may come back to the caller
            assert canary not in text, f"{canary!r} leaked into {where}"


def test_cache_entries_are_isolated_per_credential_identity(
    sidecar: Sidecar, stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    text = "cache isolation canary 7f3a: the same text for two callers"
    caller_a = (("x-aws-access-key", "AKIDCACHECALLERA"), ("x-aws-secret-key", "secret-a"))
    caller_b = (("x-aws-access-key", "AKIDCACHECALLERB"), ("x-aws-secret-key", "secret-b"))

    def calls_for_text() -> list[str]:
        return [
            r["access_key_id"]
            for r in emulator.requests()
            if r["service"] == "bedrock" and (r.get("body") or {}).get("inputText") == text
        ]

    req = pb.VectorizeRequest(texts=[text], config=TITAN)
    first = stub.Vectorize(req, metadata=caller_a, timeout=10)
    assert first.results[0].HasField("vector")
    assert calls_for_text() == ["AKIDCACHECALLERA"]

    second = stub.Vectorize(req, metadata=caller_b, timeout=10)
    assert second.results[0].HasField("vector")
    assert calls_for_text() == ["AKIDCACHECALLERA", "AKIDCACHECALLERB"], (
        "caller B was served caller A's cached vector"
    )

    stub.Vectorize(req, metadata=caller_a, timeout=10)
    stub.Vectorize(req, metadata=caller_b, timeout=10)
    assert calls_for_text() == ["AKIDCACHECALLERA", "AKIDCACHECALLERB"], "repeats were not cached"


def test_same_key_id_with_another_secret_is_another_identity(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    """A key id alone (without its secret) must not unlock the owner's cached vectors."""
    text = "cache isolation by secret 91c2"
    for secret in ("sk-owner", "sk-guess"):
        md = (("x-aws-access-key", "AKIDSHAREDKEYID01"), ("x-aws-secret-key", secret))
        stub.Vectorize(pb.VectorizeRequest(texts=[text], config=TITAN), metadata=md, timeout=10)
    calls = [r for r in emulator.requests() if (r.get("body") or {}).get("inputText") == text]
    assert len(calls) == 2


def test_redact_strips_what_aws_and_botocore_can_echo() -> None:
    """Real AWS appends the canonical request (session token included) to
    InvalidSignatureException; botocore's debug log prints it too."""
    aws_message = (
        "AWS InvalidSignatureException (HTTP 403): The request signature we calculated does "
        "not match the signature you provided.\n\nThe Canonical String for this request should "
        f"have been\n'POST\n/model/x/invoke\n\nhost:bedrock\nx-amz-security-token:{TOKEN}\n'\n\n"
        "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260101T000000Z\n'"
    )
    clean = redact(aws_message)
    assert TOKEN not in clean and clean.endswith("does not match the signature you provided.")
    botocore_line = (
        f"Authorization: AWS4-HMAC-SHA256 Credential={AKID}/20260101/us-east-1/bedrock/"
        f"aws4_request, SignedHeaders=host, Signature={'ab' * 32}\nx-amz-security-token:{TOKEN}"
    )
    clean = redact(botocore_line)
    assert AKID not in clean and TOKEN not in clean and "ab" * 32 not in clean


def test_caller_visible_text_masks_this_calls_credentials() -> None:
    scrub = scrubber(CANARY_MD)
    text = scrub(f"upstream said key {AKID} secret {SECRET} token {TOKEN}")
    assert text == "upstream said key ***1234 secret [redacted] token [redacted]"
