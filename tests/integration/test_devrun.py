"""`make run`'s entry point: emulator + server wired through the SDK endpoint
variables, a first call that works, and Ctrl-C that drains and exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from tests.support import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_devrun_serves_the_first_call_and_stops_cleanly_on_ctrl_c() -> None:
    grpc_port, http_port, emu_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VECTORIZER_"))}
    env.update(
        {
            "VECTORIZER_EMULATOR_PORT": str(emu_port),
            "VECTORIZER_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
            "VECTORIZER_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vectorizer.devrun"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "listening grpc=" in line:
                break
        assert any("vectorizer embed" in line for line in seen), seen
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "vectorizer.cli",
                "embed",
                "--address",
                f"127.0.0.1:{grpc_port}",
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
        assert "dimensions: 1024" in out.stdout
        # Ctrl-C in a terminal signals the whole process group.
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        rest = proc.stdout.read()
        assert "drained" in rest and "second signal" not in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
