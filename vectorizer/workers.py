"""`--workers N`: one supervisor process and N server processes on the same ports.

- `reserve_address(address)`: the supervisor binds each listen address once
  (SO_REUSEPORT, never listening), so port 0 becomes one real port all
  workers share, a taken port fails before any worker starts, and the port
  stays held while a worker restarts. The kernel spreads new connections
  over the workers' listening sockets.
- `worker_env(...)`: a worker's whole configuration as VECTORIZER_*
  variables (a worker gets no flags), its index, and the shared metrics
  directory (prometheus_client's multiprocess mode, see metrics.py).
- `Supervisor`: starts the workers and waits until each listens; restarts
  one that dies unexpectedly, after a backoff that doubles from
  RESTART_BASE_SECONDS up to RESTART_MAX_SECONDS and resets once a worker
  has run STABLE_SECONDS; on SIGTERM or SIGINT sends each worker one SIGTERM
  (each drains with --grace-period), waits that plus DRAIN_MARGIN_SECONDS,
  and kills only what is still running then.
- `supervise(settings)`: the lifecycle: metrics directory (made and removed
  here), addresses, workers, exit code (0 when every worker drained).
- `watch_parent(on_gone)`: in a worker, calls `on_gone` when the
  supervisor's end of the worker's stdin pipe closes: a supervisor killed
  without draining does not leave workers behind.

Workers run in their own session, so a terminal's Ctrl-C reaches the
supervisor alone, which then drains each worker exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from vectorizer import __version__
from vectorizer.metrics import WORKER_ENV
from vectorizer.settings import Settings, settings_env, split_address

log = logging.getLogger("vectorizer.workers")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A worker that dies is started again after
#   delay = min(RESTART_MAX_SECONDS, RESTART_BASE_SECONDS * 2 ** (failures - 1)),
# `failures` counting the deaths in a row of workers that ran less than
# STABLE_SECONDS: a worker that cannot start does not spin, one that crashed
# once after hours comes back at once.
RESTART_BASE_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0
STABLE_SECONDS = 30.0
# A worker must say where it listens within this long of starting.
START_TIMEOUT_SECONDS = 60.0
# Past the grace period, time for a worker to close its pools and exit.
DRAIN_MARGIN_SECONDS = 5.0
_LISTENING = re.compile(r"listening grpc=\S+ http=\S+")


def restart_delay(failures: int) -> float:
    """Seconds before restarting a worker after `failures` short-lived runs in a row."""
    if failures <= 0:
        return 0.0
    return min(RESTART_MAX_SECONDS, RESTART_BASE_SECONDS * 2 ** (failures - 1))


def reserve_address(address: str) -> tuple[str, socket.socket]:
    """(address with its real port, the bound socket). Raises OSError when taken."""
    host, port = split_address(address)
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{bound}", sock


def worker_env(
    settings: Settings,
    index: int,
    metrics_dir: str,
    base: Mapping[str, str],
) -> dict[str, str]:
    """The environment of worker `index` (1-based): `base` without any
    VECTORIZER_* variable, then every setting, one worker's share of the rate."""
    env = {k: v for k, v in base.items() if not k.startswith("VECTORIZER_")}
    mine = replace(settings, workers=1, rate_share=settings.rate_share / settings.workers)
    env.update(settings_env(mine))
    env[MULTIPROC_ENV] = metrics_dir
    env[WORKER_ENV] = str(index)
    return env


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    ready: bool = False
    failures: int = 0
    last_code: int | None = None
    killed: bool = False
    terminated: int | None = None  # pid last sent SIGTERM

    @property
    def drained(self) -> bool:
        """Exited by itself with 0, or was stopped while still starting (nothing to drain)."""
        if self.killed:
            return False
        return self.last_code in (0, None) or (self.last_code == -signal.SIGTERM and not self.ready)


class Supervisor:
    """Runs `count` workers until `request_stop`; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        metrics_dir: str,
        env: Mapping[str, str],
        command: tuple[str, ...] = (sys.executable, "-m", "vectorizer.server"),
    ):
        self.settings = settings
        self.metrics_dir = metrics_dir
        self.env = env
        self.command = command
        self.workers = [_Worker(i + 1) for i in range(settings.workers)]
        self._stopping = asyncio.Event()
        self._first_start: dict[int, asyncio.Future[bool]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._signals = 0

    async def start(self) -> int | None:
        """Start every worker; None once all listen, else the failed one's exit code."""
        loop = asyncio.get_running_loop()
        for w in self.workers:
            self._first_start[w.index] = loop.create_future()
            self._tasks.append(asyncio.create_task(self._run(w), name=f"worker-{w.index}"))
        results = await asyncio.gather(*self._first_start.values())
        if all(results):
            return None
        failed = next(w for w, ok in zip(self.workers, results, strict=True) if not ok)
        await self.drain()
        code = failed.last_code
        return code if code is not None and code > 0 else 1

    def request_stop(self) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: stopping every worker now without draining")
            for w in self.workers:
                if w.proc is not None and w.proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.send_signal(signal.SIGKILL)
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            os._exit(1)
        log.info(
            "signal received: draining %d worker(s) (grace period %.1fs)",
            len(self.workers),
            self.settings.grace_period,
        )
        self._stopping.set()

    async def wait(self) -> None:
        await self._stopping.wait()

    async def drain(self) -> bool:
        """Stop every worker; True when each drained and exited by itself."""
        self._stopping.set()
        for w in self.workers:
            self._terminate(w)
        if not self._tasks:
            return True
        budget = self.settings.grace_period + DRAIN_MARGIN_SECONDS
        _, late = await asyncio.wait(self._tasks, timeout=budget)
        if late:
            for w in self.workers:
                if w.proc is not None and w.proc.returncode is None:
                    log.error("worker %d did not drain within %.0fs: killing it", w.index, budget)
                    w.killed = True
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.kill()
            await asyncio.wait(late)
        return all(w.drained for w in self.workers)

    def _terminate(self, w: _Worker) -> None:
        """One SIGTERM per worker process: a second one would end its drain."""
        proc = w.proc
        if proc is None or proc.returncode is not None or w.terminated == proc.pid:
            return
        w.terminated = proc.pid
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    async def _spawn(self, w: _Worker) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,  # held open: its closing tells the worker we died
            stdout=asyncio.subprocess.PIPE,
            env=worker_env(self.settings, w.index, self.metrics_dir, self.env),
            start_new_session=True,
        )

    async def _listening(self, proc: asyncio.subprocess.Process) -> bool:
        """Reads the worker's stdout up to its listening line (False: it exited first)."""
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                return False
            text = line.decode(errors="replace")
            if _LISTENING.search(text):
                return True
            sys.stdout.write(text)

    async def _forward(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()

    async def _run(self, w: _Worker) -> None:
        """Worker `w`'s life: start, serve, and start again until the supervisor stops."""
        first = self._first_start[w.index]
        try:
            await self._serve(w, first)
        finally:
            if not first.done():
                first.set_result(False)

    async def _serve(self, w: _Worker, first: asyncio.Future[bool]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            proc = w.proc = await self._spawn(w)
            w.ready = False
            if self._stopping.is_set():  # stopped while this one was being started
                self._terminate(w)
            try:
                listening = await asyncio.wait_for(
                    self._listening(proc), timeout=START_TIMEOUT_SECONDS
                )
            except asyncio.TimeoutError:
                log.error("worker %d (pid %d) did not start listening: killing it", w.index,
                          proc.pid)  # fmt: skip
                proc.kill()
                listening = False
            if listening:
                w.ready = True
                log.info("worker %d (pid %d) listening", w.index, proc.pid)
                if not first.done():
                    first.set_result(True)
            await self._forward(proc)
            code = w.last_code = await proc.wait()
            mark_process_dead(proc.pid, self.metrics_dir)
            if self._stopping.is_set():
                log.info("worker %d (pid %d) exited with %s", w.index, proc.pid, _describe(code))
                break
            if not first.done():
                log.error("worker %d (pid %d) failed to start (%s)", w.index, proc.pid,
                          _describe(code))  # fmt: skip
                first.set_result(False)
                break
            lived = loop.time() - started
            w.failures = 0 if lived >= STABLE_SECONDS and listening else w.failures + 1
            delay = restart_delay(w.failures)
            log.warning(
                "worker %d (pid %d) exited unexpectedly with %s after %.1fs; restarting in %.1fs",
                w.index, proc.pid, _describe(code), lived, delay,
            )  # fmt: skip
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                break


# The listeners every worker shares: (setting, name in the listening line).
LISTENERS = (("grpc_address", "grpc"), ("http_address", "http"), ("compat_address", "compat"))


def reserve_listeners(settings: Settings) -> tuple[Settings, list[socket.socket]]:
    """`settings` with each configured listen address's real port, and the
    sockets holding them. Raises OSError naming the address that is taken."""
    held: list[socket.socket] = []
    changes: dict[str, Any] = {}
    try:
        for name, _ in LISTENERS:
            address = getattr(settings, name)
            if not address:
                continue
            try:
                changes[name], sock = reserve_address(address)
            except OSError as exc:
                raise OSError(f"cannot bind --{name.replace('_', '-')} {address}: {exc}") from exc
            held.append(sock)
    except OSError:
        for sock in held:
            sock.close()
        raise
    return replace(settings, **changes), held


def listening_line(settings: Settings) -> str:
    """The one line scripts read the ports from, as a single server prints it."""
    parts = [f"{label}={getattr(settings, name)}" for name, label in LISTENERS
             if getattr(settings, name)]  # fmt: skip
    return f"vectorizer {__version__} listening {' '.join(parts)} workers={settings.workers}"


async def supervise(settings: Settings) -> int:
    """Run `settings.workers` workers until SIGTERM or SIGINT; the process exit code."""
    try:
        shared, held = reserve_listeners(settings)
    except OSError as exc:
        log.error("%s", exc)
        return 2
    base = os.environ.get(MULTIPROC_ENV) or None
    metrics_dir = tempfile.mkdtemp(prefix="vectorizer-metrics-", dir=base)
    log.info("metrics of every worker in %s", metrics_dir)
    supervisor = Supervisor(shared, metrics_dir, dict(os.environ))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, supervisor.request_stop)
    try:
        failed = await supervisor.start()
        if failed is not None:
            log.error("a worker failed to start; stopped the others")
            return failed
        print(listening_line(shared), flush=True)
        await supervisor.wait()
        clean = await supervisor.drain()
        log.info("all workers drained; exiting")
        return 0 if clean else 1
    finally:
        for sock in held:
            sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if base is not None:
            # Given a directory, prometheus_client wrote this process's own
            # samples there at import: leave the directory as we found it.
            for own in glob.glob(os.path.join(base, f"*_{os.getpid()}.db")):
                with contextlib.suppress(OSError):
                    os.remove(own)


class _ParentWatch(asyncio.Protocol):
    def __init__(self, on_gone: Callable[[], None]):
        self.on_gone = on_gone

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_gone()


async def watch_parent(on_gone: Callable[[], None]) -> None:
    """In a worker: `on_gone()` once stdin (the supervisor's pipe) reaches its end.
    Anything but a pipe on stdin (a worker started by hand) is not watched."""
    if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        log.warning("stdin is not the supervisor's pipe: not watching for its exit")
        return
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: _ParentWatch(on_gone), sys.stdin)
