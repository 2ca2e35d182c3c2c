"""`--workers 2`: the real supervisor and its workers over sockets.

Every call below opens its own connection, so the kernel's SO_REUSEPORT
spreads them over the workers; the worker that served a call is read from
its call log line (`worker=N`), the worker's pid from the supervisor's
`worker N (pid P) listening` line.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from tests.support import Emulator, Sidecar, http_json, metric, sidecar_env, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

CALLS = 24
RATE = 40.0
HTTP_LOG = "POST transformers_vectors 200"


def worker_pids(side: Sidecar) -> dict[int, int]:
    """Worker index -> pid of its latest start."""
    out: dict[int, int] = {}
    for m in re.finditer(r"worker (\d+) \(pid (\d+)\) listening", side.logs):
        out[int(m.group(1))] = int(m.group(2))
    return out


def started_pids(side: Sidecar) -> dict[int, int]:
    """worker_pids once both workers' lines reached us (stderr lags stdout)."""
    wait_for(lambda: len(worker_pids(side)) == 2, what="both workers' start lines")
    return worker_pids(side)


def served_by(side: Sidecar, name: str) -> list[int]:
    """Worker index of each call log line of `name` (e.g. 'Vectorize OK')."""
    return [int(m.group(1)) for m in re.finditer(rf"{name} in .* worker=(\d+)", side.logs)]


def wait_for(predicate, timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def vectorize(address: str, texts: list[str], timeout: float = 30.0) -> pb.VectorizeResponse:
    """One Vectorize call on a connection of its own (channels alike would share one)."""
    with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        return pb_grpc.VectorizerStub(channel).Vectorize(
            pb.VectorizeRequest(texts=texts, collection="Articles"), timeout=timeout
        )


def start_workers(emulator: Emulator, *extra: str) -> Sidecar:
    return start_sidecar(
        emulator,
        "--workers",
        "2",
        "--collections",
        "examples/collections.json",
        "--default-collection",
        "Articles",
        "--initial-rate",
        str(RATE),
        "--max-rate",
        str(RATE),
        *extra,
    )


@pytest.fixture()
def workers(emulator: Emulator) -> Iterator[Sidecar]:
    side = start_workers(emulator)
    yield side
    side.terminate()


def test_both_workers_serve_and_one_scrape_shows_the_host(workers: Sidecar) -> None:
    pids = started_pids(workers)
    assert set(pids) == {1, 2} and pids[1] != pids[2] and workers.proc.pid not in pids.values()

    for i in range(CALLS):
        response = vectorize(workers.grpc_address, [f"text {i}", f"other {i}"])
        assert all(r.HasField("vector") for r in response.results)
    for i in range(CALLS):
        status, body = http_json("POST", workers.http_url + "/vectors", {"text": f"http {i}"})
        assert status == 200 and len(body["vector"]) == 512
    wait_for(lambda: len(served_by(workers, "Vectorize OK")) == CALLS, what="gRPC call logs")
    wait_for(lambda: len(served_by(workers, HTTP_LOG)) == CALLS, what="HTTP logs")
    # Both workers took connections on both ports.
    assert set(served_by(workers, "Vectorize OK")) == {1, 2}
    assert set(served_by(workers, HTTP_LOG)) == {1, 2}

    # One scrape, answered by whichever worker the kernel picks, counts all.
    status, body = workers.http_get("/metrics")
    assert status == 200
    assert metric(body, "vectorizer_grpc_requests_total", method="Vectorize", code="OK") == CALLS
    assert metric(body, "vectorizer_http_requests_total", code="200") == CALLS
    assert metric(body, "vectorizer_items_total", outcome="vector") == 3 * CALLS
    assert metric(body, "vectorizer_upstream_calls_total", outcome="ok") == 3 * CALLS
    assert metric(body, "vectorizer_grpc_request_duration_seconds_count") >= CALLS
    # Gauges: one build-info series, nothing in flight, and the limiter rates
    # of both workers add up to the rate the operator gave (each took half).
    assert len(re.findall(r"^vectorizer_build_info\{", body, re.M)) == 1
    assert metric(body, "vectorizer_in_flight_requests") == 0
    assert metric(body, "vectorizer_limiter_rate_per_second") == pytest.approx(RATE)
    assert metric(body, "vectorizer_cache_entries") == 3 * CALLS


def test_sigterm_with_calls_in_flight_loses_none(emulator: Emulator) -> None:
    emulator.faults(latency_ms=1500)
    side = start_workers(emulator)
    started_pids(side)
    metrics_dir = re.search(r"metrics of every worker in (\S+)", side.logs)
    assert metrics_dir is not None and Path(metrics_dir.group(1)).is_dir()
    in_flight = 16
    with ThreadPoolExecutor(in_flight) as pool:
        futures = [
            pool.submit(vectorize, side.grpc_address, [f"drain {i}"]) for i in range(in_flight)
        ]
        # Every call is inside a worker (the in-flight gauge adds up over workers).
        wait_for(
            lambda: (
                metric(side.http_get("/metrics")[1], "vectorizer_in_flight_requests") == in_flight
            ),
            what="calls in flight",
        )
        side.proc.send_signal(signal.SIGTERM)
        responses = [f.result(timeout=30) for f in futures]
    assert all(r.results[0].HasField("vector") for r in responses)
    assert side.proc.wait(timeout=30) == 0
    wait_for(lambda: "all workers drained" in side.logs, what="the supervisor's last line")
    # 16 connections: all on one worker would happen once in 32,768 runs.
    assert len(served_by(side, "Vectorize OK")) == in_flight
    assert set(served_by(side, "Vectorize OK")) == {1, 2}
    assert not Path(metrics_dir.group(1)).exists()
    port = int(side.grpc_address.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_killed_worker_is_restarted(workers: Sidecar) -> None:
    before = started_pids(workers)
    for i in range(6):
        vectorize(workers.grpc_address, [f"before {i}"])
    os.kill(before[1], signal.SIGKILL)
    wait_for(lambda: worker_pids(workers).get(1, before[1]) != before[1], what="worker 1 restart")
    after = worker_pids(workers)
    assert after[2] == before[2]
    assert re.search(
        rf"worker 1 \(pid {before[1]}\) exited unexpectedly with signal SIGKILL", workers.logs
    )
    # The new worker 1 takes connections too, and the counts of the killed one stay.
    served_before = len(served_by(workers, "Vectorize OK"))
    for i in range(CALLS):
        vectorize(workers.grpc_address, [f"after {i}"])
    wait_for(lambda: len(served_by(workers, "Vectorize OK")) == served_before + CALLS)
    assert 1 in served_by(workers, "Vectorize OK")[served_before:]
    _, body = workers.http_get("/metrics")
    assert metric(body, "vectorizer_grpc_requests_total", method="Vectorize") == 6 + CALLS
    assert workers.terminate() == 0


def test_workers_leave_when_the_supervisor_is_killed(emulator: Emulator) -> None:
    side = start_workers(emulator)
    pids = started_pids(side)
    side.proc.kill()
    side.proc.wait(timeout=10)

    def gone(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        return state == "Z"

    wait_for(lambda: all(gone(p) for p in pids.values()), what="orphaned workers to exit")
    assert "supervisor gone: draining" in side.logs


def test_a_worker_that_cannot_start_stops_the_supervisor(emulator: Emulator) -> None:
    with pytest.raises(RuntimeError) as info:
        start_sidecar(emulator, "--workers", "2", "--collections", "no/such/file.json")
    assert "invalid configuration" in str(info.value)
    assert "a worker failed to start" in str(info.value)


def test_workers_share_the_compat_listener_too(emulator: Emulator) -> None:
    side = start_workers(emulator, "--compat-address", "127.0.0.1:0", "--compat-auth", "none")
    try:
        assert side.compat_url and side.compat_url != side.http_url
        for i in range(CALLS):
            status, body = http_json("POST", side.compat_url + "/vectors", {"text": f"c {i}"})
            assert status == 200 and len(body["vector"]) == 512
        wait_for(lambda: len(served_by(side, HTTP_LOG)) == CALLS, what="compat call logs")
        assert set(served_by(side, HTTP_LOG)) == {1, 2}
    finally:
        assert side.terminate() == 0


IMAGE_UID = 10001  # the Dockerfile's USER


def reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach `path` (every parent o+x)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def image_user_wrapper() -> tuple[str, ...]:
    """setpriv to the image's user when this interpreter is usable by it (a
    Python under /root, as pyenv puts it, is not: then the current user)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None or not reachable_by_others(Path(sys.base_prefix)):
        return ()
    return (setpriv, f"--reuid={IMAGE_UID}", f"--regid={IMAGE_UID}", "--clear-groups")


def test_workers_as_the_image_runs_them(emulator: Emulator) -> None:
    """As in the image and the Kubernetes pod: only TMPDIR (/tmp) and the
    metrics directory (emptyDirs) writable, no bytecode written, the image's
    non-root user where this machine's interpreter allows it; the supervisor
    leaves the metrics directory as it found it."""
    wrapper = image_user_wrapper()
    tmp = Path(tempfile.mkdtemp(prefix="vectorizer-image-tmp-"))
    metrics_base = Path(tempfile.mkdtemp(prefix="vectorizer-image-metrics-"))
    try:
        if wrapper:
            for d in (tmp, metrics_base):
                os.chown(d, IMAGE_UID, IMAGE_UID)
        env = sidecar_env(
            emulator,
            PYTHONDONTWRITEBYTECODE="1",
            TMPDIR=str(tmp),
            PROMETHEUS_MULTIPROC_DIR=str(metrics_base),
            HOME="/nonexistent",
        )
        side = start_sidecar(
            emulator, "--workers", "2", "--collections", "examples/collections.json",
            env=env, wrapper=wrapper,
        )  # fmt: skip
        try:
            pids = started_pids(side)
            if wrapper:
                for pid in [side.proc.pid, *pids.values()]:
                    status = Path(f"/proc/{pid}/status").read_text()
                    assert re.search(rf"^Uid:\s+{IMAGE_UID}\s", status, re.M), status
            for i in range(8):
                assert vectorize(side.grpc_address, [f"image {i}"]).results[0].HasField("vector")
            (metrics_dir,) = [p for p in metrics_base.iterdir() if p.is_dir()]
            assert metrics_dir.name.startswith("vectorizer-metrics-")
            assert any(metrics_dir.iterdir())
        finally:
            assert side.terminate() == 0
        assert list(metrics_base.iterdir()) == []  # nothing left in the pod's emptyDir
        assert list(tmp.iterdir()) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(metrics_base, ignore_errors=True)
