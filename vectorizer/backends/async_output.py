"""Video and audio through Bedrock's asynchronous invoke: the answer side.

Pure: no I/O. A finished invocation leaves its output in S3 under the
`s3Uri` it was given, in a folder named after the invocation (the last part
of its ARN). Parts:

- `Segment`: one vector (or one segment's failure) with its time range,
  embedding option (`visual-text`, `audio`, `AUDIO_VIDEO_COMBINED`, ...) and
  scope (`clip`, or `asset` for a whole-file vector).
- `result_location(family, output_uri, arn)`: the file to read first.
- `parse_nova_result(body)`: Nova's `segmented-embedding-result.json`:
  `{"sourceFileUri", "embeddingDimension", "embeddingResults": [{
  "embeddingType", "status": "SUCCESS" | "FAILURE" | "PARTIAL_SUCCESS",
  "failureReason"?, "message"?, "outputFileUri"}]}` -> `NovaResult`s.
- `parse_nova_lines(text, embedding_type)`: one `embedding-<modality>.jsonl`:
  a line per segment, `{"embedding", "segmentMetadata": {"segmentIndex",
  "segmentStartSeconds", "segmentEndSeconds"}, "status", "failureReason"?,
  "message"?}`.
- `parse_marengo_output(body)`: Marengo's `output.json`: `{"data": [{
  "embedding", "embeddingOption", "embeddingScope"? (3.0), "startSec",
  "endSec"}]}` (`data` may be a single object for one vector).

Every parser raises ValueError naming what is wrong; nothing is guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vectorizer.backends.async_media import NOVA_ASYNC, AsyncFamily
from vectorizer.backends.families.base import float_vector
from vectorizer.s3 import S3Uri, parse_s3_uri
from vectorizer.types import ItemError

NOVA_RESULT_FILE = "segmented-embedding-result.json"
MARENGO_OUTPUT_FILE = "output.json"
# Nova's per-segment failure reasons a retry can cure.
_RETRYABLE_REASONS = frozenset({"RATE_LIMIT_EXCEEDED", "INTERNAL_SERVER_EXCEPTION"})


@dataclass(frozen=True)
class Segment:
    index: int
    start_seconds: float
    end_seconds: float
    option: str
    scope: str = "clip"
    vector: list[float] | None = None
    error: ItemError | None = None


@dataclass(frozen=True)
class NovaResult:
    embedding_type: str
    status: str
    output_uri: S3Uri | None
    failure: ItemError | None


def invocation_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def result_location(family: AsyncFamily, output_uri: str, arn: str) -> S3Uri:
    folder = parse_s3_uri(output_uri, key_required=False).child(invocation_id(arn))
    name = NOVA_RESULT_FILE if family is NOVA_ASYNC else MARENGO_OUTPUT_FILE
    return folder.child(name)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what}: expected a number, got {type(value).__name__}")
    return float(value)


def _failure(reason: Any, message: Any, what: str) -> ItemError:
    code = str(reason or "FAILED")[:64]
    text = f"{what} failed: {code}"
    if message:
        text += f": {str(message)[:300]}"
    return ItemError(code, text, code in _RETRYABLE_REASONS)


def parse_nova_result(body: bytes) -> list[NovaResult]:
    doc = _obj(json.loads(body), NOVA_RESULT_FILE)
    entries = doc.get("embeddingResults")
    if not isinstance(entries, list):
        raise ValueError(f"{NOVA_RESULT_FILE}: 'embeddingResults' is not a list")
    out = []
    for i, raw in enumerate(entries):
        entry = _obj(raw, f"{NOVA_RESULT_FILE} embeddingResults[{i}]")
        kind = str(entry.get("embeddingType", ""))
        status = str(entry.get("status", ""))
        uri = entry.get("outputFileUri")
        location = parse_s3_uri(uri) if isinstance(uri, str) and uri else None
        failure = None
        if status not in ("SUCCESS", "PARTIAL_SUCCESS"):
            reason, message = entry.get("failureReason"), entry.get("message")
            failure = _failure(reason, message, f"{kind} embedding")
        elif location is None:
            raise ValueError(f"{NOVA_RESULT_FILE}: {kind} result has no outputFileUri")
        out.append(NovaResult(kind, status, location, failure))
    return out


def parse_nova_lines(text: str, embedding_type: str) -> list[Segment]:
    segments = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        what = f"{embedding_type} line {n}"
        entry = _obj(json.loads(line), what)
        meta = _obj(entry.get("segmentMetadata", {}), f"{what} segmentMetadata")
        index = meta.get("segmentIndex")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"{what}: segmentIndex is not an integer")
        start = _number(meta.get("segmentStartSeconds", 0), f"{what} segmentStartSeconds")
        end = _number(meta.get("segmentEndSeconds", 0), f"{what} segmentEndSeconds")
        if entry.get("status", "SUCCESS") != "SUCCESS":
            error = _failure(entry.get("failureReason"), entry.get("message"), f"segment {index}")
            segments.append(Segment(index, start, end, embedding_type, error=error))
            continue
        try:
            vector = float_vector(entry.get("embedding")).tolist()
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        segments.append(Segment(index, start, end, embedding_type, vector=vector))
    return segments


def parse_marengo_output(body: bytes) -> list[Segment]:
    doc = _obj(json.loads(body), MARENGO_OUTPUT_FILE)
    data = doc.get("data")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{MARENGO_OUTPUT_FILE}: 'data' is not a list of embeddings")
    raw: list[tuple[float, float, str, str, list[float]]] = []
    for i, item in enumerate(data):
        what = f"{MARENGO_OUTPUT_FILE} data[{i}]"
        entry = _obj(item, what)
        try:
            vector = float_vector(entry.get("embedding")).tolist()
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        option = entry.get("embeddingOption", "")
        if isinstance(option, list):  # 3.0's page shows a list of one
            option = option[0] if option else ""
        scope = entry.get("embeddingScope", "clip")
        if isinstance(scope, list):
            scope = scope[0] if scope else "clip"
        start = _number(entry.get("startSec", 0), f"{what} startSec")
        # 2.7's page spells the end "endsec" once and "endSec" elsewhere.
        end = _number(entry.get("endSec", entry.get("endsec", 0)), f"{what} endSec")
        raw.append((start, end, str(option), str(scope), vector))
    # Marengo lists no index: number each option's clips in time order.
    raw.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    counters: dict[tuple[str, str], int] = {}
    segments = []
    for start, end, option, scope, vector in raw:
        index = counters.get((option, scope), 0)
        counters[(option, scope)] = index + 1
        segments.append(Segment(index, start, end, option, scope, vector=vector))
    return segments
