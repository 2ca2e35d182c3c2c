"""Processes the integration tests run for real: the emulator and the server.

Both start as subprocesses on loopback with port 0 and report their bound
ports on one stdout line; the handles stop them with SIGTERM and collect
their logs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server")
FAKE_AKID = "AKIDTESTDEFAULT0001"
FAKE_SECRET = "test-default-secret-0001"


def _read_line(proc: subprocess.Popen, pattern: str, timeout: float = 20.0) -> re.Match:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"process did not report {pattern!r}; stdout={lines!r} stderr={err[-3000:]}")


class _Drain(threading.Thread):
    """Keeps reading a pipe so the child never blocks on a full buffer."""

    def __init__(self, stream: Any):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class Emulator:
    proc: subprocess.Popen
    url: str
    _drains: list[_Drain] = field(default_factory=list)

    @property
    def host_port(self) -> str:
        return self.url.split("://", 1)[1]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/requests")

    def clear(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def faults(self, **knobs: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/faults", knobs)

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset", {})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_emulator/stats")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_emulator(*args: str, port: int = 0) -> Emulator:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vectorizer.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    m = _read_line(proc, r"emulator listening on (http://\S+)")
    drains = [_Drain(proc.stdout), _Drain(proc.stderr)]
    for d in drains:
        d.start()
    return Emulator(proc, m.group(1), drains)


@dataclass
class Sidecar:
    proc: subprocess.Popen
    grpc_address: str
    http_url: str
    stderr: _Drain
    stdout: _Drain
    compat_url: str = ""  # the --compat-address listener, when started with one

    @property
    def logs(self) -> str:
        return self.stderr.text + self.stdout.text

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def http_get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def sidecar_env(emulator: Emulator | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VECTORIZER_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_AKID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    )
    if emulator is not None:
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = emulator.url
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = emulator.url
    env.update(extra)
    return env


def start_sidecar(
    emulator: Emulator | None,
    *args: str,
    env: dict[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
) -> Sidecar:
    """`wrapper` runs the server through another command (e.g. setpriv as another user)."""
    proc = subprocess.Popen(
        [
            *wrapper,
            sys.executable,
            "-m",
            "vectorizer.server",
            "--grpc-address",
            "127.0.0.1:0",
            "--http-address",
            "127.0.0.1:0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env if env is not None else sidecar_env(emulator),
    )
    m = _read_line(proc, r"listening grpc=(\S+) http=(\S+)(?: compat=(\S+))?")
    stdout, stderr = _Drain(proc.stdout), _Drain(proc.stderr)
    stdout.start()
    stderr.start()
    compat = "http://" + m.group(3) if m.group(3) else ""
    return Sidecar(proc, m.group(1), "http://" + m.group(2), stderr, stdout, compat)


def http_json(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """(status, parsed JSON or None) of one HTTP call; error statuses are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None


def metric(body: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in body.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, value = line.rsplit(" ", 1)
        head, _, rest = series.partition("{")
        if head != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(value)
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A throwaway redis-server on 127.0.0.1 (no persistence); `start` again
    after `stop` or `kill` brings it back on the same port, empty."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis  # only the tests and benches that run Redis need the client

        if REDIS_SERVER is None:
            raise RuntimeError("redis-server not installed (scripts/test-deps.sh installs it)")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start on {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no goodbye to the clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_redis() -> RedisServer:
    server = RedisServer(free_port())
    server.start()
    return server
