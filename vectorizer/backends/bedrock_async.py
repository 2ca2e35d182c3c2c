"""Bedrock Runtime's asynchronous invoke over the shared transport, and its S3 output.

- `Invocation`: what GetAsyncInvoke says of one invocation (status
  `InProgress` | `Completed` | `Failed`, `failureMessage`, times).
- `BedrockAsync.start(region, body, credentials)`: StartAsyncInvoke, `POST
  /async-invoke`; answers the invocation ARN.
- `BedrockAsync.status(region, arn, credentials)`: GetAsyncInvoke, `GET
  /async-invoke/{invocationArn}` (the ARN percent-encoded as one path
  label, ':' and '/' included, as botocore sends it).
- `BedrockAsync.read_output(...)`: the finished invocation's segments, read
  from S3 with signed GETs (`vectorizer.s3`) and parsed by `async_output`.

AWS errors come back classified (`errors.classify_aws_error`), S3 errors as
`s3.S3Error`; a malformed answer is a retryable `bad_response`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from vectorizer.backends.async_media import NOVA_ASYNC, AsyncFamily
from vectorizer.backends.async_output import (
    Segment,
    parse_marengo_output,
    parse_nova_lines,
    parse_nova_result,
    result_location,
)
from vectorizer.errors import Kind, VectorizerError, error_text, transport_error
from vectorizer.s3 import S3Client
from vectorizer.transport import AwsCredentials, AwsTransport, endpoint_base, error_from_answer

STATUSES = ("InProgress", "Completed", "Failed")


@dataclass(frozen=True)
class Invocation:
    arn: str
    status: str
    failure_message: str = ""
    submit_time: str = ""
    end_time: str = ""


def _json(body: bytes, what: str, target: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise transport_error("bad_response", f"{what}: {error_text(exc)}", target=target) from None
    if not isinstance(data, dict):
        raise transport_error("bad_response", f"{what}: not a JSON object", target=target)
    return data


class BedrockAsync:
    def __init__(self, transport: AwsTransport, s3: S3Client, env: Mapping[str, str] | None = None):
        self._transport = transport
        self._s3 = s3
        self._env = env

    def _base(self, region: str) -> str:
        return endpoint_base("bedrock", region, self._env)[0]

    async def start(
        self, region: str, body: dict[str, Any], credentials: AwsCredentials, target: str
    ) -> str:
        answer = await self._transport.send(
            "POST",
            service="bedrock",
            region=region,
            url=f"{self._base(region)}/async-invoke",
            credentials=credentials,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            target=target,
        )
        if answer.status != 200:
            raise error_from_answer(answer, target)
        arn = _json(answer.body, "StartAsyncInvoke answer", target).get("invocationArn")
        if not isinstance(arn, str) or ":async-invoke/" not in arn:
            raise transport_error(
                "bad_response", "StartAsyncInvoke answered no invocationArn", target=target
            )
        return arn

    async def status(self, region: str, arn: str, credentials: AwsCredentials) -> Invocation:
        answer = await self._transport.send(
            "GET",
            service="bedrock",
            region=region,
            url=f"{self._base(region)}/async-invoke/{quote(arn, safe='-._~')}",
            credentials=credentials,
            headers={"Accept": "application/json"},
            target=arn,
        )
        if answer.status != 200:
            raise error_from_answer(answer, arn)
        data = _json(answer.body, "GetAsyncInvoke answer", arn)
        status = data.get("status")
        if status not in STATUSES:
            raise transport_error(
                "bad_response", f"GetAsyncInvoke status {str(status)[:40]!r} is unknown", target=arn
            )
        return Invocation(
            arn,
            str(status),
            str(data.get("failureMessage") or ""),
            str(data.get("submitTime") or ""),
            str(data.get("endTime") or ""),
        )

    async def read_output(
        self,
        family: AsyncFamily,
        region: str,
        output_uri: str,
        arn: str,
        credentials: AwsCredentials,
        bucket_owner: str = "",
    ) -> list[Segment]:
        """Every segment the invocation wrote; raises VectorizerError when none can be read."""
        first = result_location(family, output_uri, arn)
        body = await self._s3.get(first, region, credentials, bucket_owner)
        try:
            if family is not NOVA_ASYNC:
                return parse_marengo_output(body)
            results = parse_nova_result(body)
        except ValueError as exc:
            raise transport_error("bad_response", error_text(exc), target=str(first)) from None
        segments: list[Segment] = []
        failures = []
        for result in results:
            if result.output_uri is None:
                assert result.failure is not None
                failures.append(result.failure)
                continue
            text = await self._s3.get(result.output_uri, region, credentials, bucket_owner)
            try:
                segments.extend(parse_nova_lines(text.decode("utf-8"), result.embedding_type))
            except (ValueError, UnicodeDecodeError) as exc:
                raise transport_error(
                    "bad_response", error_text(exc), target=str(result.output_uri)
                ) from None
        if not segments and failures:
            first_failure = failures[0]
            raise VectorizerError(
                Kind.MODEL_ERROR,
                first_failure.message,
                retryable=first_failure.retryable,
                code=first_failure.code,
            )
        return segments
