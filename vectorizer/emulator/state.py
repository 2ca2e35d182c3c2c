"""The emulator's configuration and live state.

Parts:

- `EmulatorConfig`: everything the command line sets (faults at start, seed,
  SageMaker endpoints file, application-profile families, request logging).
- `EmulatorState`: the live state: fault injector, recorder, SageMaker
  endpoints and profile mappings; `reset` puts all of it back to the config.
- `STATE_KEY`: where the application keeps its `EmulatorState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from vectorizer.emulator import sagemaker
from vectorizer.emulator.faults import FaultInjector, Faults
from vectorizer.emulator.records import Recorder
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


class EmulatorState:
    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.injector = FaultInjector(config.faults, config.seed)
        self.recorder = Recorder()
        self.endpoints: dict[str, Endpoint] = sagemaker.load_endpoints(config.endpoints_file)
        self.profiles: dict[str, str] = dict(config.profiles)

    def reset(self) -> None:
        self.injector.reset(self.config.faults)
        self.recorder.reset()
        self.endpoints = sagemaker.load_endpoints(self.config.endpoints_file)
        self.profiles = dict(self.config.profiles)


STATE_KEY = web.AppKey("state", EmulatorState)
