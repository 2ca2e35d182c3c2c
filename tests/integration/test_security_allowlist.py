"""Signed requests go only to AWS hosts or hosts the operator allowlisted.

A plain TCP listener the test controls stands in for a hostile endpoint: it
records every byte it receives. Without the allowlist the sidecar refuses
the config (INVALID_ARGUMENT naming the host) and the listener gets nothing;
allowlisted, it receives a signed request.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from tests.support import Emulator, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

CREDS = (
    ("x-aws-access-key", "AKIDALLOWLISTTEST1"),
    ("x-aws-secret-key", "allowlist-secret"),
    ("x-aws-session-token", "allowlist-token"),
)
ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
    b"x-amzn-ErrorType: ValidationError\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
)


class Listener:
    """Accepts connections on 127.0.0.1 and records what arrives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1.0)
                data = b""
                try:
                    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except TimeoutError:
                    pass
                self.received += data
                try:
                    conn.sendall(ANSWER)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture()
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _config(port: int) -> pb.CollectionConfig:
    return pb.CollectionConfig(
        service="sagemaker",
        region="us-east-1",
        endpoint=f"http://127.0.0.1:{port}/endpoints/x/invocations",
        payload_format="tei",
    )


def test_unlisted_host_gets_nothing_and_listed_host_gets_a_signed_request(
    aws_emulator: Emulator, listener: Listener
) -> None:
    # The emulator is allowlisted (and the endpoint override points at it),
    # so only the port tells the listener apart: the check is per host:port.
    side = start_sidecar(aws_emulator, "--endpoint-allowlist", aws_emulator.host_port)
    try:
        with grpc.insecure_channel(side.grpc_address) as ch:
            stub = pb_grpc.VectorizerStub(ch)
            req = pb.VectorizeRequest(texts=["to the listener"], config=_config(listener.port))
            with pytest.raises(grpc.RpcError) as info:
                stub.Vectorize(req, metadata=CREDS, timeout=10)
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert f"127.0.0.1:{listener.port}" in info.value.details()
            assert "allowlist" in info.value.details()
            # ValidateConfig says the same without calling anything.
            checked = stub.ValidateConfig(pb.ValidateConfigRequest(config=_config(listener.port)))
            assert not checked.valid and "allowlist" in " ".join(checked.errors)
    finally:
        side.terminate()
    time.sleep(0.3)
    assert listener.connections == 0 and bytes(listener.received) == b""

    allowed = start_sidecar(
        aws_emulator,
        "--endpoint-allowlist",
        f"127.0.0.1:{listener.port}",
        "--default-deadline",
        "5",
    )
    try:
        with grpc.insecure_channel(allowed.grpc_address) as ch:
            stub = pb_grpc.VectorizerStub(ch)
            req = pb.VectorizeRequest(texts=["to the listener"], config=_config(listener.port))
            try:
                stub.Vectorize(req, metadata=CREDS, timeout=10)
            except grpc.RpcError:
                pass  # the listener answers 400; only what it received matters
    finally:
        allowed.terminate()
    head = bytes(listener.received).split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("post /endpoints/x/invocations")
    assert "\r\nauthorization: aws4-hmac-sha256 credential=akidallowlisttest1/" in head
    assert "\r\nx-amz-security-token: allowlist-token" in head
