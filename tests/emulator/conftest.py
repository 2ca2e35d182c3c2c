"""Fixtures for the emulator's own tests: a real emulator process and real boto3 clients.

The emulator runs as `python -m vectorizer.emulator --port 0` (tests.support
reads its ready line). This module's emulator is its own, started with extra
command-line settings (an endpoints file, a profile mapping, a seed), so
tests here can change faults freely; it is reset around every test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config

from tests.support import Emulator, start_emulator

# botocore's `max_attempts` counts retries only; `total_max_attempts` counts every attempt.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10)
ACCESS_KEY = "AKIDEMUTEST0001"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"
EXTRA_ENDPOINTS = {
    "tiny-tei": {"dialect": "tei", "dimensions": 16, "max_batch": 4},
    # TEI before 1.9 (no --auto-truncate): over-long text fails unless asked to truncate.
    "strict-tei": {"dialect": "tei", "auto_truncate": False},
    "serverless-tei": {"dialect": "tei", "serverless": True},
    "small-body-tei": {"dialect": "tei", "max_payload_bytes": 2000},
}


@pytest.fixture(scope="session")
def emu_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    endpoints: Path = tmp_path_factory.mktemp("emu") / "endpoints.json"
    endpoints.write_text(json.dumps(EXTRA_ENDPOINTS))
    emu = start_emulator(
        "--sagemaker-endpoints",
        str(endpoints),
        "--profile-family",
        "abc123xyz=titan-text-v2",
        "--seed",
        "7",
    )
    yield emu
    emu.stop()


@pytest.fixture()
def emu(emu_process: Emulator) -> Iterator[Emulator]:
    emu_process.reset()
    yield emu_process
    emu_process.reset()


def client(service: str, url: str, **extra: str) -> object:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=extra.get("key", ACCESS_KEY),
        aws_secret_access_key="not-a-real-secret",
        aws_session_token=extra.get("token"),
        config=NO_RETRIES,
    )


@pytest.fixture()
def bedrock(emu: Emulator):
    return client("bedrock-runtime", emu.url)


@pytest.fixture()
def sagemaker(emu: Emulator):
    return client("sagemaker-runtime", emu.url)


def as_float32(values: object) -> list[float]:
    """Values as a float32 parser reads them: a Cohere or TEI answer's short
    spellings and the emulator's own vectors compare equal only this way."""
    return np.asarray(values, dtype=np.float32).tolist()  # type: ignore[no-any-return]
