"""Health and readiness of a real sidecar: `--check-credentials` keeps
/readyz at 503 (with a note) and gRPC health NOT_SERVING while the default
AWS credential chain resolves nothing, and is ready once it does; the
Dockerfile's HEALTHCHECK command works against a live /healthz."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import Emulator, Sidecar, sidecar_env, start_sidecar

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("", "vectorizer.v1.Vectorizer")


def health(side: Sidecar) -> list[int]:
    with grpc.insecure_channel(side.grpc_address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return [
            stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=5).status for s in SERVICES
        ]


def no_credentials_env(emulator: Emulator, home: Path) -> dict[str, str]:
    env = sidecar_env(emulator, HOME=str(home))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    return env


def test_check_credentials_without_credentials_is_never_ready(
    emulator: Emulator, tmp_path: Path
) -> None:
    side = start_sidecar(
        emulator, "--check-credentials", env=no_credentials_env(emulator, tmp_path)
    )
    try:
        # Stays so: sample for a while rather than once.
        for _ in range(5):
            status, body = side.http_get("/readyz")
            assert status == 503
            answer = json.loads(body)
            assert answer["status"] == "starting"
            assert any("credentials" in note for note in answer["notes"]), answer
            assert health(side) == [health_pb2.HealthCheckResponse.NOT_SERVING] * 2
            time.sleep(0.2)
        assert side.http_get("/healthz")[0] == 200  # alive, just not ready
    finally:
        assert side.terminate() == 0


@pytest.mark.parametrize("alias", [False, True], ids=["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])
def test_check_credentials_with_credentials_is_ready(
    emulator: Emulator, tmp_path: Path, alias: bool
) -> None:
    env = no_credentials_env(emulator, tmp_path)
    if alias:  # text2vec-aws's names for the same keys
        env.update(AWS_ACCESS_KEY="AKIDOPSHEALTH0000001", AWS_SECRET_KEY="ops-health-secret")
    else:
        env.update(AWS_ACCESS_KEY_ID="AKIDOPSHEALTH0000001", AWS_SECRET_ACCESS_KEY="s")
    side = start_sidecar(emulator, "--check-credentials", env=env)
    try:
        assert side.http_get("/readyz") == (200, json.dumps({"status": "ready"}))
        assert health(side) == [health_pb2.HealthCheckResponse.SERVING] * 2
    finally:
        assert side.terminate() == 0


def dockerfile_healthcheck() -> list[str]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
    assert match is not None
    return json.loads(match.group(1))


def test_dockerfile_healthcheck_command_probes_healthz(sidecar: Sidecar) -> None:
    cmd = dockerfile_healthcheck()
    assert cmd[0] == "python"
    live = sidecar.http_url.removeprefix("http://")
    probe = [sys.executable, *(part.replace("127.0.0.1:8080", live) for part in cmd[1:])]
    assert probe != [sys.executable, *cmd[1:]], "the command should name 127.0.0.1:8080"
    assert subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    # And it fails where nothing answers.
    dead = [part.replace(live, "127.0.0.1:9") for part in probe]
    assert subprocess.run(dead, capture_output=True, timeout=20).returncode != 0
