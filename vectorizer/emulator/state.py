"""The emulator's configuration and live state.

Parts:

- `EmulatorConfig`: everything the command line sets (faults at start, seed,
  SageMaker endpoints file, application-profile families, request logging,
  the S3 stand-in and the asynchronous-invoke delay).
- `EmulatorState`: the live state: fault injector, recorder, SageMaker
  endpoints and profile mappings, the S3 stand-in and the asynchronous
  invocations; `reset` puts all of it back to the config (S3's objects stay).
- `STATE_KEY`: where the application keeps its `EmulatorState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from vectorizer.emulator import sagemaker
from vectorizer.emulator.async_invoke import AsyncInvokes
from vectorizer.emulator.faults import FaultInjector, Faults
from vectorizer.emulator.records import Recorder
from vectorizer.emulator.s3 import S3Standin
from vectorizer.emulator.sagemaker import Endpoint


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 4566
    faults: Faults = field(default_factory=Faults)
    seed: int | None = None
    endpoints_file: str | None = None
    profiles: dict[str, str] = field(default_factory=dict)
    log_requests: bool = False
    # S3 stand-in: moto's server on this loopback port (0: any free one), or
    # an S3-compatible endpoint already running; neither: no S3.
    s3_port: int | None = None
    s3_endpoint: str = ""
    # Seconds an asynchronous invocation stays InProgress.
    async_delay: float = 2.0


class EmulatorState:
    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.injector = FaultInjector(config.faults, config.seed)
        self.recorder = Recorder()
        self.endpoints: dict[str, Endpoint] = sagemaker.load_endpoints(config.endpoints_file)
        self.profiles: dict[str, str] = dict(config.profiles)
        self.s3: S3Standin | None = None
        if config.s3_endpoint:
            self.s3 = S3Standin.connect(config.s3_endpoint)
        elif config.s3_port is not None:
            self.s3 = S3Standin.start(config.host, config.s3_port)
        self.async_invokes = AsyncInvokes(self.s3, config.async_delay)

    def close(self) -> None:
        self.async_invokes.reset()
        if self.s3 is not None:
            self.s3.stop()

    def reset(self) -> None:
        self.injector.reset(self.config.faults)
        self.recorder.reset()
        self.endpoints = sagemaker.load_endpoints(self.config.endpoints_file)
        self.profiles = dict(self.config.profiles)
        self.async_invokes.reset()
        self.async_invokes.delay = self.config.async_delay


STATE_KEY = web.AppKey("state", EmulatorState)
