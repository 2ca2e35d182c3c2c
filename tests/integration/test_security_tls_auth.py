"""TLS, mutual TLS and bearer-token auth on both ports, with real certificates.

The certificates (a CA, a server certificate for 127.0.0.1, a client
certificate, and a client certificate from another CA) are made by the
`openssl` command for this test run only.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer.auth import BearerAuth
from vectorizer.errors import ConfigError
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
TOKEN = "tok-3f9a1c-right"
TITAN = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")


@dataclass
class Certs:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(name: str, cwd: Path) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1",
             "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip


def _leaf(name: str, ca: str, ext: str, cwd: Path) -> None:
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip
    (cwd / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "1",
             "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("certs")
    _ca("ca", d)
    _ca("other-ca", d)
    _leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n", d)
    _leaf("client", "ca", "extendedKeyUsage=clientAuth\n", d)
    _leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n", d)
    return Certs(d)


@pytest.fixture(scope="module")
def tls_sidecar(aws_emulator: Emulator, certs: Certs) -> Iterator[Sidecar]:
    side = start_sidecar(aws_emulator, "--tls-cert", certs.path("server.crt"),
                         "--tls-key", certs.path("server.key"))  # fmt: skip
    yield side
    side.terminate()


@pytest.fixture(scope="module")
def mtls_sidecar(aws_emulator: Emulator, certs: Certs) -> Iterator[Sidecar]:
    side = start_sidecar(aws_emulator, "--tls-cert", certs.path("server.crt"),
                         "--tls-key", certs.path("server.key"),
                         "--tls-client-ca", certs.path("ca.crt"))  # fmt: skip
    yield side
    side.terminate()


@pytest.fixture(scope="module")
def token_sidecar(
    aws_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sidecar]:
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(f"{TOKEN}\n")
    side = start_sidecar(aws_emulator, "--auth-token-file", str(token_file))
    yield side
    side.terminate()


def _meta(channel: grpc.Channel, **kwargs: object) -> pb.GetMetaResponse:
    return pb_grpc.VectorizerStub(channel).GetMeta(pb.GetMetaRequest(), timeout=5, **kwargs)


def _https_get(url: str, ctx: ssl.SSLContext, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _client_ctx(certs: Certs, cert: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    if cert:
        ctx.load_cert_chain(certs.path(f"{cert}.crt"), certs.path(f"{cert}.key"))
    return ctx


# -- TLS ---------------------------------------------------------------------


def test_tls_grpc_works_with_the_ca_and_fails_without(tls_sidecar: Sidecar, certs: Certs) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=certs.read("ca.crt"))
    with grpc.secure_channel(tls_sidecar.grpc_address, creds) as ch:
        assert "bedrock" in _meta(ch).services
        resp = pb_grpc.VectorizerStub(ch).Vectorize(
            pb.VectorizeRequest(texts=["over tls"], config=TITAN), timeout=10
        )
        assert resp.results[0].HasField("vector")
    # System roots do not know our CA: the handshake fails.
    with grpc.secure_channel(tls_sidecar.grpc_address, grpc.ssl_channel_credentials()) as ch:
        with pytest.raises(grpc.RpcError) as info:
            _meta(ch)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    # Plain text to a TLS port gets no answer either.
    with grpc.insecure_channel(tls_sidecar.grpc_address) as ch:
        with pytest.raises(grpc.RpcError):
            _meta(ch)


def test_tls_http_metrics_over_https(tls_sidecar: Sidecar, certs: Certs) -> None:
    url = tls_sidecar.http_url.replace("http://", "https://")
    assert _https_get(url + "/metrics", _client_ctx(certs)) == 200
    with pytest.raises(urllib.error.URLError):
        _https_get(url + "/metrics", ssl.create_default_context())  # unknown CA


# -- mutual TLS --------------------------------------------------------------


def test_mtls_grpc_needs_a_client_certificate_from_the_ca(
    mtls_sidecar: Sidecar, certs: Certs
) -> None:
    ca = certs.read("ca.crt")
    without = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(mtls_sidecar.grpc_address, without) as ch:
        with pytest.raises(grpc.RpcError) as info:
            _meta(ch)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    stranger = grpc.ssl_channel_credentials(
        ca, private_key=certs.read("stranger.key"), certificate_chain=certs.read("stranger.crt")
    )
    with grpc.secure_channel(mtls_sidecar.grpc_address, stranger) as ch:
        with pytest.raises(grpc.RpcError):
            _meta(ch)
    good = grpc.ssl_channel_credentials(
        ca, private_key=certs.read("client.key"), certificate_chain=certs.read("client.crt")
    )
    with grpc.secure_channel(mtls_sidecar.grpc_address, good) as ch:
        assert "bedrock" in _meta(ch).services


def test_mtls_http_needs_a_client_certificate(mtls_sidecar: Sidecar, certs: Certs) -> None:
    url = mtls_sidecar.http_url.replace("http://", "https://") + "/metrics"
    assert _https_get(url, _client_ctx(certs, "client")) == 200
    for cert in (None, "stranger"):
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            _https_get(url, _client_ctx(certs, cert))


# -- bearer token ------------------------------------------------------------


def test_token_required_on_grpc_but_health(token_sidecar: Sidecar) -> None:
    with grpc.insecure_channel(token_sidecar.grpc_address) as ch:
        for md in (None, (("authorization", "Bearer wrong-token-77"),),
                   (("authorization", TOKEN),)):  # fmt: skip
            with pytest.raises(grpc.RpcError) as info:
                _meta(ch, metadata=md)
            assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert "wrong-token-77" not in info.value.details()
            assert TOKEN not in info.value.details()
        # A call the server would reject as malformed is refused before parsing.
        raw = ch.unary_unary("/vectorizer.v1.Vectorizer/Vectorize")
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\xff\xff", timeout=5)
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED

        good = (("authorization", f"Bearer {TOKEN}"),)
        assert "bedrock" in _meta(ch, metadata=good).services
        resp = pb_grpc.VectorizerStub(ch).Vectorize(
            pb.VectorizeRequest(texts=["with a token"], config=TITAN), metadata=good, timeout=10
        )
        assert resp.results[0].HasField("vector")

        health = health_pb2_grpc.HealthStub(ch)
        status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING

        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        ask = [reflection_pb2.ServerReflectionRequest(list_services="")]
        with pytest.raises(grpc.RpcError) as info:
            list(refl.ServerReflectionInfo(iter(ask), timeout=5))
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        answer = next(iter(refl.ServerReflectionInfo(iter(ask), metadata=good, timeout=5)))
        assert answer.list_services_response.service


def test_token_required_on_http_but_health(token_sidecar: Sidecar) -> None:
    url = token_sidecar.http_url

    def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        req = urllib.request.Request(url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    for path in ("/healthz", "/readyz"):
        assert get(path)[0] == 200
    for headers in (None, {"Authorization": "Bearer nope-nope"}, {"Authorization": TOKEN}):
        status, body = get("/metrics", headers)
        assert status == 401 and "nope-nope" not in body and TOKEN not in body
    assert get("/metrics", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert get("/no/such/route")[0] == 401  # unknown paths reveal nothing either

    body = json.dumps({"input": ["compat needs the token"], "model": "x"}).encode()
    req = urllib.request.Request(url + "/v1/embeddings", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 401


def test_bearer_auth_parsing() -> None:
    auth = BearerAuth(["first-token", "", "  second-token  "])
    assert auth.allows("Bearer first-token") and auth.allows("bearer second-token")
    for bad in (None, "", "first-token", "Bearer", "Bearer first", "Basic first-token",
                "Bearer first-token-and-more"):  # fmt: skip
        assert not auth.allows(bad)
    with pytest.raises(ConfigError):
        BearerAuth(["", "   "])


def test_bad_tls_or_token_files_stop_start_up(aws_emulator: Emulator, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    for args in (
        ("--tls-cert", str(garbage), "--tls-key", str(garbage)),
        ("--auth-token-file", str(tmp_path / "missing-token")),
    ):
        with pytest.raises(RuntimeError) as info:
            start_sidecar(aws_emulator, *args)
        assert "invalid configuration" in str(info.value)
