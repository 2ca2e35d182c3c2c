"""What the emulator saw: recorded requests and counters.

Parts:

- `Record`: one AWS request as received (service, path, model or endpoint,
  caller, headers with secrets redacted, raw body) and how it was answered
  (status, error code, injected fault). `to_json` parses the body only when
  the records are read, so recording costs nothing per request.
- `Recorder`: the last `MAX_RECORDS` records, also bounded by the bytes of
  body they keep, plus the counters of `GET /_emulator/stats`.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDS = 10_000
MAX_BODY_BYTES = 64 * 1024 * 1024
REDACTED = "REDACTED"
_SECRET_HEADERS = ("authorization", "x-amz-security-token")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; signatures and session tokens replaced by `REDACTED`."""
    out = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = REDACTED if key in _SECRET_HEADERS else value
    return out


@dataclass
class Record:
    service: str
    path: str
    model_or_endpoint: str
    headers: dict[str, str]
    raw_body: bytes
    request_id: str
    access_key_id: str = ""
    region: str = ""
    has_session_token: bool = False
    status: int = 0
    error_code: str | None = None
    fault: str | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.raw_body) if self.raw_body else None
        except (ValueError, UnicodeDecodeError):
            body = None
        return {
            "service": self.service,
            "path": self.path,
            "model_or_endpoint": self.model_or_endpoint,
            "access_key_id": self.access_key_id,
            "region": self.region,
            "has_session_token": self.has_session_token,
            "headers": self.headers,
            "body": body,
            "status": self.status,
            "error_code": self.error_code,
            "fault": self.fault,
            "request_id": self.request_id,
            "time": self.time,
        }


def _empty_counts() -> dict[str, int]:
    return {"requests": 0, "throttled": 0, "errors": 0, "faults": 0}


class Recorder:
    def __init__(self, max_records: int = MAX_RECORDS, max_body_bytes: int = MAX_BODY_BYTES):
        self._records: deque[Record] = deque()
        self._max_records = max_records
        self._max_body_bytes = max_body_bytes
        self._body_bytes = 0
        self.totals = _empty_counts()
        self.by_service: dict[str, dict[str, int]] = {}

    def add(self, record: Record) -> None:
        """Count `record` (its status, error code and fault are final) and keep it."""
        counts = self.by_service.setdefault(record.service, _empty_counts())
        throttled = record.error_code == "ThrottlingException"
        error = record.status >= 400 and not throttled
        for bucket in (self.totals, counts):
            bucket["requests"] += 1
            bucket["throttled"] += throttled
            bucket["errors"] += error
            bucket["faults"] += record.fault is not None
        self._records.append(record)
        self._body_bytes += len(record.raw_body)
        while self._records and (
            len(self._records) > self._max_records or self._body_bytes > self._max_body_bytes
        ):
            self._body_bytes -= len(self._records.popleft().raw_body)

    def records(self, service: str | None = None) -> list[dict[str, Any]]:
        return [r.to_json() for r in self._records if service in (None, r.service)]

    def clear_records(self) -> None:
        self._records.clear()
        self._body_bytes = 0

    def reset(self) -> None:
        self.clear_records()
        self.totals = _empty_counts()
        self.by_service = {}

    def stats(self) -> dict[str, Any]:
        return {**self.totals, "by_service": {k: dict(v) for k, v in self.by_service.items()}}
