"""The supervisor's pure parts: settings handed to a worker, restart backoff,
port reservation, and how every gauge combines over workers."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import Gauge

from vectorizer import metrics
from vectorizer.settings import Settings, parse_settings, settings_env
from vectorizer.workers import (
    MULTIPROC_ENV,
    RESTART_BASE_SECONDS,
    RESTART_MAX_SECONDS,
    reserve_address,
    restart_delay,
    worker_env,
)

addresses = st.sampled_from(["0.0.0.0:50051", "127.0.0.1:0", "[::1]:7000", "host.internal:1"])


@given(
    grpc_address=addresses,
    workers=st.integers(1, 64),
    share=st.floats(0.001, 1.0),
    grace=st.floats(0, 600, allow_nan=False),
    allowlist=st.lists(st.from_regex(r"[a-z0-9.]{1,20}(:[0-9]{1,5})?", fullmatch=True), max_size=3),
    log_inputs=st.booleans(),
)
def test_settings_survive_the_environment(
    grpc_address: str,
    workers: int,
    share: float,
    grace: float,
    allowlist: list[str],
    log_inputs: bool,
) -> None:
    s = Settings(
        grpc_address=grpc_address,
        workers=workers,
        rate_share=share,
        grace_period=grace,
        endpoint_allowlist=tuple(allowlist),
        log_inputs=log_inputs,
        redis_url="redis://:p%40ss@redis:6379/0",
    )
    assert parse_settings([], env=settings_env(s)) == s


def test_a_worker_gets_its_share_and_nothing_stale() -> None:
    s = Settings(workers=4, rate_share=0.5, collections="c.json", grpc_address="0.0.0.0:1")
    base = {"PATH": "/bin", "VECTORIZER_COLLECTIONS": "stale.json", "VECTORIZER_BOGUS": "x"}
    env = worker_env(s, 3, "/tmp/m", base)
    assert env["PATH"] == "/bin" and "VECTORIZER_BOGUS" not in env
    assert env[MULTIPROC_ENV] == "/tmp/m" and env[metrics.WORKER_ENV] == "3"
    mine = parse_settings([], env=env)
    assert mine == replace(s, workers=1, rate_share=0.125)


def test_restart_backoff_doubles_to_a_ceiling() -> None:
    assert restart_delay(0) == 0
    assert restart_delay(1) == RESTART_BASE_SECONDS
    assert restart_delay(2) == 2 * RESTART_BASE_SECONDS
    assert restart_delay(3) == 4 * RESTART_BASE_SECONDS
    assert restart_delay(50) == RESTART_MAX_SECONDS


def test_port_zero_becomes_one_port_every_worker_can_listen_on() -> None:
    address, held = reserve_address("127.0.0.1:0")
    try:
        port = int(address.rsplit(":", 1)[1])
        assert address == f"127.0.0.1:{port}" and port > 0
        listeners = []
        for _ in range(2):  # two workers, as grpc and aiohttp bind with SO_REUSEPORT
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
            listeners.append(s)
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        for s in listeners:
            s.close()
    finally:
        held.close()


def test_a_taken_port_fails_before_any_worker_starts() -> None:
    taken = socket.socket()  # an ordinary listener without SO_REUSEPORT
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OSError):
            reserve_address(f"127.0.0.1:{taken.getsockname()[1]}")
    finally:
        taken.close()


@pytest.mark.parametrize(
    "argv",
    [["--workers", "0"], ["--workers", "65"], ["--rate-share", "0"], ["--rate-share", "1.5"],
     ["--max-connection-age", "-1"]],
)  # fmt: skip
def test_bad_scale_settings(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings(argv, env={})


def test_every_gauge_says_how_workers_combine() -> None:
    """The default mode ('all') would give one series per worker pid: no
    scrape could then be summed without knowing the pids."""
    gauges = [v for v in vars(metrics).values() if isinstance(v, Gauge)]
    assert len(gauges) >= 6
    for g in gauges:
        assert g._multiprocess_mode in ("livesum", "livemax", "livemin"), g._name


def test_what_counts_as_drained() -> None:
    from vectorizer.workers import _Worker

    assert _Worker(1, ready=True, last_code=0).drained
    assert _Worker(1, ready=False, last_code=-15).drained  # stopped while starting
    assert not _Worker(1, ready=True, last_code=-15).drained  # died serving
    assert not _Worker(1, ready=True, last_code=1).drained
    assert not _Worker(1, ready=True, last_code=0, killed=True).drained


def test_listeners_reserved_and_announced_like_one_server() -> None:
    from vectorizer.workers import listening_line, reserve_listeners

    s = Settings(grpc_address="127.0.0.1:0", http_address="127.0.0.1:0", workers=2)
    shared, held = reserve_listeners(s)
    try:
        assert len(held) == 2 and shared.compat_address == ""
        ports = {int(a.rsplit(":", 1)[1]) for a in (shared.grpc_address, shared.http_address)}
        assert 0 not in ports and len(ports) == 2
        line = listening_line(shared)
        assert line.endswith(f"grpc={shared.grpc_address} http={shared.http_address} workers=2")
    finally:
        for sock in held:
            sock.close()
    with_compat, held = reserve_listeners(replace(s, compat_address="127.0.0.1:0"))
    try:
        assert len(held) == 3 and " compat=127.0.0.1:" in listening_line(with_compat)
    finally:
        for sock in held:
            sock.close()
