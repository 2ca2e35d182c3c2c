"""What a media job is, as stored.

- `JobState`: SUBMITTING (accepted and stored; StartAsyncInvoke not yet
  answered), IN_PROGRESS (Bedrock runs it), READING_OUTPUT (done upstream;
  the sidecar reads the vectors from S3), COMPLETED, FAILED.
- `JobRecord`: one job. Holds what a restarted sidecar needs to carry on (the
  StartAsyncInvoke body, sent again with the same client token if no ARN was
  stored; the ARN to poll; where the output lands) and what the caller sees.
  Credentials are never stored: only a one-way identity hash and whether
  they came with the request or from the server's chain.
- `to_json` / `from_json`: the stored form.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, fields
from typing import Any


class JobState(enum.Enum):
    SUBMITTING = "SUBMITTING"
    IN_PROGRESS = "IN_PROGRESS"
    READING_OUTPUT = "READING_OUTPUT"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)


CHAIN = "chain"  # the server's own credential chain
REQUEST = "request"  # keys that came with the caller's request


@dataclass
class JobRecord:
    job_id: str
    state: JobState
    family: str
    model: str  # the model id sent to StartAsyncInvoke
    region: str
    kind: str  # video | audio
    format: str
    source_uri: str
    bucket_owner: str
    output_uri: str  # the s3Uri given to Bedrock (a prefix)
    start_body: str  # StartAsyncInvoke body, JSON
    credential_identity: str
    credential_source: str = CHAIN
    client_token: str = ""  # the caller's idempotency token ("" if none)
    invocation_arn: str = ""
    created: float = 0.0  # Unix seconds
    updated: float = 0.0
    ended: float = 0.0
    polls: int = 0
    error_code: str = ""
    error_message: str = ""
    error_retryable: bool = False
    segment_count: int = 0
    dimensions: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["state"] = self.state.value
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_json(text: str | bytes) -> JobRecord:
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(JobRecord)}
        data = {k: v for k, v in data.items() if k in known}
        data["state"] = JobState(data["state"])
        return JobRecord(**data)
