"""Credentials and input text never leak through the HTTP compat endpoints.

A sidecar at --log-level debug (without --log-inputs) gets text2vec-
transformers, OpenAI and Cohere calls carrying recognisable fake
credentials in the text2vec-aws headers (`X-AWS-Access-Key`,
`X-AWS-Secret-Key`, `X-AWS-Session-Token`) and recognisable input texts:
successes, rejected and denied keys, a half-sent key pair, unknown
collections, bad fields, an upstream model error and throttling past the
deadline. Its logs, /metrics and every response body are then searched for
the secret, the session token, the full access key ids and the texts. A
text may come back only in a successful answer's echo field (transformers
`text`, Cohere `texts`): those APIs return the input by design.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import Emulator, start_sidecar

pytestmark = pytest.mark.timeout(90)

AKID = "AKIDCOMPATCANARY5678"
SECRET = "SECRETCOMPATCANARY-q"
TOKEN = "TOKENCOMPATCANARY"
DENIED_AKID = "AKIDDENIEDCOMPATCANARY9"
INPUT = "INPUTCOMPATCANARY"
CANARIES = (SECRET, TOKEN, AKID, DENIED_AKID)

KEYS = {"X-AWS-Access-Key": AKID, "X-AWS-Secret-Key": SECRET, "X-AWS-Session-Token": TOKEN}
DENIED = {**KEYS, "X-AWS-Access-Key": DENIED_AKID}
UNKNOWN_KEY = {**KEYS, "X-AWS-Access-Key": "AKIDBADKEY"}  # the emulator's unrecognised id
HALF = {"X-AWS-Secret-Key": SECRET, "X-AWS-Session-Token": TOKEN}


@dataclass(frozen=True)
class Seen:
    protocol: str
    single: bool
    status: int
    body: str


@dataclass(frozen=True)
class Protocol:
    name: str
    path: str  # under "" or "/collections/{name}"
    single: bool  # one text: transformers answers with `text`, not `texts`

    def request(self, texts: list[str], **extra: Any) -> dict[str, Any]:
        if self.name == "transformers":
            body: dict[str, Any] = {"text": texts[0]} if self.single else {"texts": texts}
        elif self.name == "openai":
            body = {"input": texts}
        else:
            body = {"texts": texts}
        return {**body, **extra}


PROTOCOLS = (
    Protocol("transformers", "/vectors", True),
    Protocol("transformers", "/vectors", False),
    Protocol("openai", "/v1/embeddings", False),
    Protocol("cohere", "/v2/embed", False),
)
BAD_FIELD = {  # a field each API refuses
    "transformers": {"config": {"dimensions": -1}},
    "openai": {"dimensions": "many"},
    "cohere": {"embedding_types": ["int8"]},
}


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def without_echo(seen: Seen) -> str:
    """A success body minus the field where the API returns the caller's texts."""
    body = json.loads(seen.body)
    if seen.protocol == "transformers" and seen.single:
        body.pop("text")
    if seen.protocol == "cohere":
        body.pop("texts")
    return json.dumps(body)


def test_compat_calls_never_leak_credentials_or_inputs(
    aws_emulator: Emulator, emulator: Emulator
) -> None:
    side = start_sidecar(
        aws_emulator,
        "--log-level", "debug",
        "--default-collection", "Articles",
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--default-deadline", "2",
    )  # fmt: skip
    seen: list[Seen] = []
    n = 0

    def send(proto: Protocol, headers: dict[str, str], prefix: str = "", **extra: Any) -> int:
        nonlocal n
        n += 1
        texts = [f"{INPUT} {proto.name} call {n} item {i}" for i in range(2)]
        url = side.http_url + prefix + proto.path
        status, body = post(url, proto.request(texts, **extra), headers)
        seen.append(Seen(proto.name, proto.single, status, body))
        return status

    try:
        for proto in PROTOCOLS:
            assert send(proto, KEYS) == 200
            assert send(proto, KEYS, "/collections/Products") == 200
            assert send(proto, {}) == 200  # the default chain
            assert send(proto, UNKNOWN_KEY) == 401
            assert send(proto, DENIED) == 403
            assert send(proto, HALF) == 401
            assert send(proto, KEYS, "/collections/NoSuchCollection") == 404
            assert send(proto, KEYS, **BAD_FIELD[proto.name]) == 400
            assert send(proto, KEYS, "/collections/Reviews") == 200
        emulator.faults(fail_texts=[INPUT])
        for proto in PROTOCOLS:
            assert send(proto, KEYS, "/collections/Reviews") == 502  # upstream model error
        emulator.faults(fail_texts=[], throttle_rate=1.0)
        for proto in PROTOCOLS[2:]:
            assert send(proto, KEYS) in (429, 503, 504)  # throttled past the deadline
        emulator.faults(throttle_rate=0.0)
        status, metrics_text = side.http_get("/metrics")
        assert status == 200
    finally:
        side.terminate()

    logs = side.logs
    assert "DEBUG" in logs, "the sidecar did not log at debug level"
    assert "vectorizer.compat" in logs
    for where, text in {"logs": logs, "metrics": metrics_text}.items():
        for canary in (*CANARIES, INPUT):
            assert canary not in text, f"{canary!r} leaked into {where}"
    for answer in seen:
        for canary in CANARIES:
            assert canary not in answer.body, f"{canary!r} leaked to the caller: {answer}"
        if answer.status == 200:
            assert INPUT not in without_echo(answer), answer
        else:
            # An error names the failing item by index, never by its text.
            assert INPUT not in answer.body, answer
