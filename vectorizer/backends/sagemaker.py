"""SageMaker Runtime InvokeEndpoint backend: any embedding container.

`prepare` resolves the endpoint (name or URL, region check, allowlist) and
the payload dialect; `embed` sends one batch, split further only when the
body would pass SageMaker's 6 MiB limit. With `payloadFormat: auto` it tries
the common request shapes in turn when the container refuses one (a
ModelError with a 4xx original status) and remembers per endpoint what
worked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from vectorizer.backends.base import Prepared
from vectorizer.backends.sagemaker_dialects import (
    MAX_REQUEST_BYTES,
    AutoDialect,
    AutoMemory,
    Dialect,
    encode_body,
    get_dialect,
    split_batches,
)
from vectorizer.backends.sagemaker_endpoint import EndpointRef, parse_endpoint
from vectorizer.config import ResolvedConfig
from vectorizer.errors import Kind, UpstreamError, error_text, transport_error
from vectorizer.transport import (
    AwsCredentials,
    AwsTransport,
    HttpAnswer,
    endpoint_base,
    error_from_answer,
)
from vectorizer.types import BatchResult, ItemError, Purpose

# Room kept in the 6 MiB body for the JSON around one text.
_ENVELOPE_BYTES = 1024


def model_error_details(answer: HttpAnswer) -> tuple[int | None, str]:
    """(original status, 'container said ... (logs: ...)') of a ModelError."""
    try:
        data = json.loads(answer.body or b"{}")
    except ValueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    status = data.get("OriginalStatusCode")
    original = str(data.get("OriginalMessage") or "")[:500]
    logs = str(data.get("LogStreamArn") or "")
    detail = f"container answered {status}: {original}"
    if logs:
        detail += f" (logs: {logs})"
    return (status if isinstance(status, int) else None), detail


class SageMakerBackend:
    service = "sagemaker"

    def __init__(
        self,
        transport: AwsTransport,
        allowlist: Sequence[str],
        env: Mapping[str, str] | None = None,
    ):
        self._transport = transport
        self._allowlist = tuple(allowlist)
        self._env = env
        self._memory = AutoMemory()

    def prepare(self, config: ResolvedConfig) -> Prepared:
        base, overridden = endpoint_base("sagemaker", config.region, self._env)
        ref = parse_endpoint(
            config.endpoint, config.region, self._allowlist, base if overridden else None
        )
        dialect = get_dialect(config.payload_format, config.target_model or None)
        headers = {
            name: value
            for name, value in (
                ("X-Amzn-SageMaker-Target-Model", config.target_model),
                ("X-Amzn-SageMaker-Target-Variant", config.target_variant),
                ("X-Amzn-SageMaker-Inference-Component", config.inference_component),
                ("X-Amzn-SageMaker-Custom-Attributes", config.custom_attributes),
            )
            if value
        }
        return Prepared(
            config=config,
            service=self.service,
            region=ref.region,
            target=config.endpoint,
            max_batch_size=config.batch_size,
            dimensions=config.options.dimensions,
            client_normalize=False,  # dialects normalise when the container can't
            data=(ref, dialect, headers),
        )

    def fit_text(self, prepared: Prepared, text: str) -> tuple[str, ItemError | None]:
        size = len(encode_body(text))
        if size > MAX_REQUEST_BYTES - _ENVELOPE_BYTES:
            return text, ItemError(
                "TEXT_TOO_LONG",
                f"text is {size} bytes as JSON; SageMaker accepts at most {MAX_REQUEST_BYTES} "
                "bytes per request; shorten or split it",
                False,
            )
        return text, None

    async def embed(
        self,
        prepared: Prepared,
        texts: Sequence[str],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        ref, dialect, headers = prepared.data
        options = prepared.config.options
        plan = split_batches(
            texts,
            len(texts),
            MAX_REQUEST_BYTES,
            build=lambda batch: dialect.build_request(batch, purpose, options),
        )
        vectors: list[list[float]] = []
        tokens = 0
        for part in plan.batches:
            chunk = [texts[i] for i in part]
            result = await self._embed_auto(
                prepared, ref, dialect, headers, chunk, purpose, credentials, timeout
            )
            vectors.extend(result.vectors)
            tokens += result.input_tokens or 0
        return BatchResult(vectors=vectors, input_tokens=tokens or None)

    async def _embed_auto(
        self,
        prepared: Prepared,
        ref: EndpointRef,
        dialect: Dialect,
        headers: dict[str, str],
        texts: list[str],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        if not isinstance(dialect, AutoDialect):
            return await self._invoke(
                prepared, ref, dialect, headers, texts, purpose, credentials, timeout
            )
        # Everything that picks the container: URL (region, name) and target headers.
        key = ref.url + "|" + json.dumps(headers, sort_keys=True)
        first_refusal: UpstreamError | None = None
        for name in self._memory.candidates(key):
            try:
                result = await self._invoke(
                    prepared,
                    ref,
                    dialect.with_request(name),
                    headers,
                    texts,
                    purpose,
                    credentials,
                    timeout,
                )
            except _Refused as refused:
                self._memory.forget(key)
                first_refusal = first_refusal or refused.error
                continue
            self._memory.remember(key, name)
            return result
        assert first_refusal is not None
        raise first_refusal

    async def _invoke(
        self,
        prepared: Prepared,
        ref: EndpointRef,
        dialect: Dialect,
        headers: dict[str, str],
        texts: list[str],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        body = encode_body(dialect.build_request(texts, purpose, prepared.config.options))
        answer = await self._transport.post(
            service="sagemaker",
            region=ref.region,
            url=ref.url,
            body=body,
            credentials=credentials,
            headers=headers,
            timeout=timeout,
            target=ref.name,
        )
        if answer.status != 200:
            error = error_from_answer(answer, f"endpoint {ref.name}")
            if error.kind is Kind.MODEL_ERROR:
                original, detail = model_error_details(answer)
                error = UpstreamError(
                    Kind.MODEL_ERROR,
                    f"{error.message}; {detail}",
                    retryable=False,
                    aws_code=error.aws_code,
                    status=error.status,
                )
                if isinstance(dialect, AutoDialect) and original and 400 <= original < 500:
                    raise _Refused(error)
            raise error
        try:
            parsed = dialect.parse_response(_json(answer.body), len(texts), prepared.config.options)
        except ValueError as exc:
            raise transport_error("bad_response", error_text(exc), target=ref.name) from None
        return BatchResult(vectors=parsed.vectors, input_tokens=parsed.input_tokens)


class _Refused(Exception):
    """The container refused this request shape (auto tries the next one)."""

    def __init__(self, error: UpstreamError):
        self.error = error


def _json(body: bytes) -> Any:
    return json.loads(body)
