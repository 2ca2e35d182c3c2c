"""A token-protected sidecar that a stock Weaviate can still use.

Weaviate's transformers and Ollama modules cannot send a bearer token. With
`--compat-address` and `--compat-auth none` they reach the compat APIs on a
listener of their own, while gRPC and the main HTTP port keep requiring the
token. Weaviate's OpenAI and Cohere modules always send `Authorization:
Bearer <api key>`, so the sidecar's token, given as their API key, passes the
check on any port. Refusals come in each API's own shape, which the Go
clients parse.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest

from tests.support import ROOT, Emulator, Sidecar, sidecar_env, start_sidecar
from tests.weaviate_modules import Cohere, ModuleError, Ollama, OpenAI, Transformers, send
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

TOKEN = "compat-listener-token-7d1e"


@pytest.fixture(scope="module")
def guarded(aws_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    token_file = tmp_path_factory.mktemp("compat-auth") / "token"
    token_file.write_text(TOKEN + "\n")
    side = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--default-collection", "Reviews",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--auth-token-file", str(token_file),
        "--compat-address", "127.0.0.1:0",
        "--compat-auth", "none",
    )  # fmt: skip
    yield side
    side.terminate()


def test_stock_modules_reach_the_compat_listener_without_a_token(guarded: Sidecar) -> None:
    assert guarded.compat_url and guarded.compat_url != guarded.http_url
    t2v = Transformers("1.39", guarded.compat_url)
    t2v.check_ready()
    assert t2v.meta()["collection"] == "Reviews"
    assert len(t2v.vectorize("compat listener t2v")["vector"]) == 1024
    assert len(Ollama("1.39", guarded.compat_url).vectorize(["compat listener ollama"])[0]) == 1024
    assert len(Ollama("1.27", guarded.compat_url).vectorize(["compat listener 1.27"])[0]) == 1024


def test_the_compat_listener_serves_nothing_else(guarded: Sidecar) -> None:
    assert send("GET", guarded.compat_url + "/metrics", None, {}, 5).status == 404
    assert send("GET", guarded.compat_url + "/healthz", None, {}, 5).status == 200


def test_grpc_and_the_main_port_still_need_the_token(guarded: Sidecar) -> None:
    with grpc.insecure_channel(guarded.grpc_address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetMeta(pb.GetMetaRequest(), timeout=5)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert send("GET", guarded.http_url + "/metrics", None, {}, 5).status == 401
    # Refusals on the main port in each API's shape, parsed as Go parses them.
    with pytest.raises(ModuleError, match="^fail with status 401: missing or invalid bearer"):
        Transformers("1.39", guarded.http_url).vectorize("no token t2v")
    with pytest.raises(ModuleError, match="with error: missing or invalid bearer token"):
        Ollama("1.39", guarded.http_url).vectorize(["no token ollama"])
    with pytest.raises(ModuleError, match="status: 401 error: missing or invalid bearer token"):
        OpenAI(guarded.http_url, api_key="not-the-token").vectorize(["no token openai"])
    with pytest.raises(ModuleError, match="status: 401 error: missing or invalid bearer token"):
        Cohere("1.39", guarded.http_url, api_key="not-the-token").vectorize(["no token"])
    # Probes stay open, as on every port.
    Transformers("1.39", guarded.http_url).check_ready()
    assert send("GET", guarded.http_url + "/health", None, {}, 5).status == 200


def test_openai_and_cohere_modules_send_the_token_as_their_api_key(guarded: Sidecar) -> None:
    out = OpenAI(guarded.http_url, api_key=TOKEN).vectorize(["token as openai key"])
    assert out.errors == [None] and len(out.vectors[0] or []) == 1024
    assert len(Cohere("1.39", guarded.http_url, api_key=TOKEN).vectorize(["token key"])[0]) == 1024


def test_compat_auth_none_needs_a_listener_of_its_own(aws_emulator: Emulator) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vectorizer.server", "--compat-auth", "none"],
        capture_output=True, text=True, cwd=ROOT, env=sidecar_env(aws_emulator), timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "--compat-auth none needs --compat-address" in out.stderr
