"""Bedrock Runtime's asynchronous invoke, as the emulator answers it.

Operations (botocore's bedrock-runtime model; rest-json, SigV4 `bedrock`):

| operation | route | answer |
|---|---|---|
| StartAsyncInvoke | `POST /async-invoke` | `{"invocationArn"}` |
| GetAsyncInvoke | `GET /async-invoke/{invocationArn}` | the invocation |
| ListAsyncInvokes | `GET /async-invoke?statusEquals=&maxResults=&...` | summaries, nextToken |

Parts:

- `Invocation`: one invocation: ARN, model, body, status (`InProgress` ->
  `Completed` | `Failed`), times, failure message.
- `AsyncInvokes`: the invocations of one emulator, and the task per
  invocation that waits `delay` seconds, reads the media from the S3
  stand-in (`s3.S3Standin`), has the model's plan (`async_models`) cut and
  embed it, and writes the output files under
  `{s3Uri}/{invocation id}/`. An unreadable input or output location, or
  media the model cannot read, ends the invocation `Failed` with a message,
  as AWS reports such failures through GetAsyncInvoke.
- `start`, `get`, `list_`: the operations, raising `AwsError` as AWS
  answers: ValidationException for a bad body or ARN (`1 validation error
  detected: ...` for the API's own fields, the model schema's wording for
  `modelInput`), ResourceNotFoundException for an unknown model or an
  invocation ARN this emulator never issued, ConflictException for a
  `clientRequestToken` reused with a different request.

The same `clientRequestToken` with the same request answers the first ARN
(the operation is idempotent in botocore's model). Without an S3 stand-in
(`--s3-port` / `--s3-endpoint` unset), StartAsyncInvoke answers a
ValidationException saying so.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from vectorizer.emulator import bedrock
from vectorizer.emulator import schema as s
from vectorizer.emulator.async_models import AsyncPlan, MediaFailure, plan_async
from vectorizer.emulator.s3 import S3ReadError, S3Standin
from vectorizer.emulator.wire import ACCOUNT_ID, AwsError

log = logging.getLogger("vectorizer.emulator")

# Base model id -> async plan key. StartAsyncInvoke runs base models.
ASYNC_MODELS = {
    "amazon.nova-2-multimodal-embeddings-v1:0": "nova",
    "twelvelabs.marengo-embed-2-7-v1:0": "marengo-2.7",
    "twelvelabs.marengo-embed-3-0-v1:0": "marengo-3.0",
}
_MODEL_ID = re.compile(r"^[a-zA-Z_.\-/0-9:]+$")
_TOKEN = re.compile(r"^[!-~]*$")
_S3_URI = re.compile(r"^s3://[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9](/.*)?$")
_OWNER = re.compile(r"^[0-9]{12}$")
INVOCATION_ARN = re.compile(
    r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:async-invoke/[a-z0-9]{12}$"
)
_FOUNDATION_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]*::foundation-model/(.+)$")
STATUSES = ("InProgress", "Completed", "Failed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z" if t else None


def _constraint(value: Any, where: str, rule: str) -> AwsError:
    shown = "null" if value is None else f"'{str(value)[:200]}'"
    return AwsError(
        400,
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{where}' failed to satisfy "
        f"constraint: {rule}",
    )


@dataclass
class Invocation:
    arn: str
    model_id: str
    region: str
    token: str
    request: dict[str, Any]
    output: dict[str, str]
    plan: AsyncPlan
    status: str = "InProgress"
    failure: str = ""
    submitted: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)
    ended: datetime | None = None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "invocationArn": self.arn,
            "modelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{self.model_id}",
        }
        if self.token:
            out["clientRequestToken"] = self.token
        out["status"] = self.status
        if self.failure:
            out["failureMessage"] = self.failure
        out["submitTime"] = _iso(self.submitted)
        out["lastModifiedTime"] = _iso(self.modified)
        if self.ended:
            out["endTime"] = _iso(self.ended)
        out["outputDataConfig"] = {"s3OutputDataConfig": dict(self.output)}
        return out


def _model(model_id: str) -> tuple[str, str]:
    """(async plan key, base model id) of a StartAsyncInvoke modelId."""
    arn = _FOUNDATION_ARN.match(model_id)
    base = arn.group(1) if arn else model_id
    key = ASYNC_MODELS.get(base)
    if key is not None:
        return key, base
    try:
        bedrock.resolve_model(model_id, {})
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            raise
        # Profile ids of media models land here too: async runs base models.
    raise AwsError(
        400,
        "ValidationException",
        f"The provided model {model_id} does not support asynchronous invocation "
        "(StartAsyncInvoke runs the base models of Nova Multimodal Embeddings and "
        "TwelveLabs Marengo).",
    )


def _output_config(body: dict[str, Any]) -> dict[str, str]:
    cfg = body.get("outputDataConfig")
    if cfg is None:
        raise _constraint(None, "outputDataConfig", "Member must not be null")
    if not isinstance(cfg, dict) or list(cfg) != ["s3OutputDataConfig"]:
        raise AwsError(400, "ValidationException", "outputDataConfig must hold s3OutputDataConfig.")
    s3cfg = cfg["s3OutputDataConfig"]
    if not isinstance(s3cfg, dict):
        raise AwsError(400, "ValidationException", "s3OutputDataConfig must be an object.")
    extra = set(s3cfg) - {"s3Uri", "kmsKeyId", "bucketOwner"}
    if extra:
        raise AwsError(
            400, "ValidationException", f"Unknown field {sorted(extra)[0]} in s3OutputDataConfig."
        )
    uri = s3cfg.get("s3Uri")
    where = "outputDataConfig.s3OutputDataConfig.s3Uri"
    if uri is None:
        raise _constraint(None, where, "Member must not be null")
    if not isinstance(uri, str) or not _S3_URI.match(uri) or len(uri) > 1024:
        raise _constraint(
            uri,
            where,
            "Member must satisfy regular expression pattern: "
            "s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?",
        )
    owner = s3cfg.get("bucketOwner")
    if owner is not None and (not isinstance(owner, str) or not _OWNER.match(owner)):
        raise _constraint(
            owner,
            "outputDataConfig.s3OutputDataConfig.bucketOwner",
            "Member must satisfy regular expression pattern: [0-9]{12}",
        )
    return {k: v for k, v in s3cfg.items() if isinstance(v, str)}


class AsyncInvokes:
    def __init__(self, s3: S3Standin | None, delay: float):
        self.s3 = s3
        self.delay = delay
        self.invocations: dict[str, Invocation] = {}
        self.tokens: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.invocations.clear()
        self.tokens.clear()

    # -- operations ------------------------------------------------------------

    def start(self, raw: bytes, region: str) -> dict[str, Any]:
        body = s.parse_object(raw)
        extra = set(body) - {
            "clientRequestToken",
            "modelId",
            "modelInput",
            "outputDataConfig",
            "tags",
        }
        if extra:
            raise AwsError(
                400, "ValidationException", f"Unknown field {sorted(extra)[0]} in request."
            )
        model_id = body.get("modelId")
        if model_id is None:
            raise _constraint(None, "modelId", "Member must not be null")
        if not isinstance(model_id, str) or not _MODEL_ID.match(model_id) or len(model_id) > 256:
            raise _constraint(
                model_id,
                "modelId",
                "Member must satisfy regular expression pattern: [a-zA-Z_\\.\\-/0-9:]+",
            )
        token = body.get("clientRequestToken", "")
        if not isinstance(token, str) or not _TOKEN.match(token) or len(token) > 256:
            raise _constraint(
                token,
                "clientRequestToken",
                "Member must satisfy regular expression pattern: [!-~]*",
            )
        model_input = body.get("modelInput")
        if model_input is None:
            raise _constraint(None, "modelInput", "Member must not be null")
        output = _output_config(body)
        if token and token in self.tokens:
            first = self.invocations.get(self.tokens[token])
            if first is not None:
                if first.request != body:
                    raise AwsError(
                        409,
                        "ConflictException",
                        "The clientRequestToken was already used with a different request.",
                    )
                return {"invocationArn": first.arn}
        key, base = _model(model_id)
        if not isinstance(model_input, dict):
            raise s.malformed(f"#: expected type: JSONObject, found: {s.type_name(model_input)}")
        plan = plan_async(key, model_input)
        if self.s3 is None:
            raise AwsError(
                400,
                "ValidationException",
                "The emulator has no S3 stand-in: start it with --s3-port (or --s3-endpoint).",
            )
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=12))
        arn = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:async-invoke/{suffix}"
        inv = Invocation(arn, base, region, token, body, output, plan)
        self.invocations[arn] = inv
        if token:
            self.tokens[token] = arn
        task = asyncio.get_running_loop().create_task(self._run(inv))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"invocationArn": arn}

    def get(self, arn: str) -> dict[str, Any]:
        if not INVOCATION_ARN.match(arn):
            raise _constraint(
                arn,
                "invocationArn",
                "Member must satisfy regular expression pattern: "
                "arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:async-invoke/[a-z0-9]{12}",
            )
        inv = self.invocations.get(arn)
        if inv is None:
            raise AwsError(404, "ResourceNotFoundException", f"Invocation {arn} was not found.")
        return inv.summary()

    def list_(self, query: str) -> dict[str, Any]:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        status = params.get("statusEquals")
        if status is not None and status not in STATUSES:
            raise _constraint(
                status, "statusEquals", f"Member must satisfy enum value set: {list(STATUSES)}"
            )
        raw_max = params.get("maxResults", "1000")
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= 1000:
            raise _constraint(raw_max, "maxResults", "Member must have value between 1 and 1000")
        order = params.get("sortOrder", "Descending")
        if order not in ("Ascending", "Descending"):
            raise _constraint(
                order, "sortOrder", "Member must satisfy enum value set: [Ascending, Descending]"
            )
        items = sorted(
            (i for i in self.invocations.values() if status is None or i.status == status),
            key=lambda i: i.submitted,
            reverse=order == "Descending",
        )
        start = int(params["nextToken"]) if params.get("nextToken", "").isdigit() else 0
        page = items[start : start + int(raw_max)]
        out: dict[str, Any] = {"asyncInvokeSummaries": [i.summary() for i in page]}
        if start + len(page) < len(items):
            out["nextToken"] = str(start + len(page))
        return out

    # -- the model at work -----------------------------------------------------

    async def _run(self, inv: Invocation) -> None:
        await asyncio.sleep(self.delay)
        try:
            await asyncio.to_thread(self._work, inv)
            inv.status = "Completed"
        except MediaFailure as exc:
            inv.status, inv.failure = "Failed", str(exc)
        except S3ReadError as exc:
            inv.status, inv.failure = "Failed", exc.message
        except Exception as exc:  # noqa: BLE001 - an emulator bug still ends the invocation
            log.exception("async invocation %s failed inside the emulator", inv.arn)
            inv.status, inv.failure = "Failed", f"Internal error: {type(exc).__name__}"
        inv.modified = inv.ended = _now()

    def _work(self, inv: Invocation) -> None:
        assert self.s3 is not None
        plan = inv.plan
        data = plan.inline
        if data is None:
            try:
                data = self.s3.read(plan.source_uri, plan.bucket_owner)
            except S3ReadError as exc:
                raise S3ReadError(
                    exc.code,
                    f"Unable to read the input {plan.source_uri}: {exc.code}: {exc.message}",
                ) from None
        folder = inv.output["s3Uri"].rstrip("/") + "/" + inv.id
        files = plan.render(data, folder)
        for name, (content, content_type) in files.items():
            try:
                self.s3.write(f"{folder}/{name}", content, content_type)
            except S3ReadError as exc:
                raise S3ReadError(
                    exc.code, f"Unable to write the output to {folder}: {exc.code}: {exc.message}"
                ) from None
