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
from dataclasses import dataclass
from typing import Any

from vectorizer.backends.base import Prepared
from vectorizer.backends.families.image_limits import not_supported
from vectorizer.backends.sagemaker_batching import MAX_REQUEST_BYTES, encode_body, split_batches
from vectorizer.backends.sagemaker_dialects import AutoDialect, AutoMemory, Dialect, get_dialect
from vectorizer.backends.sagemaker_endpoint import EndpointRef, parse_endpoint
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError, Kind, UpstreamError, error_text, transport_error
from vectorizer.media import ImageInput
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
# A ModelError whose container answered one of these is transient: retried, and
# never taken for a refused request shape. TEI answers 429 when its queue is full.
_TRANSIENT_ORIGINAL = {
    408: (Kind.UNAVAILABLE, "timeout"),
    429: (Kind.THROTTLED, "throttled"),
    502: (Kind.UNAVAILABLE, "5xx"),
    503: (Kind.UNAVAILABLE, "5xx"),
    504: (Kind.UNAVAILABLE, "timeout"),
}


@dataclass(frozen=True)
class ModelErrorDetails:
    """What a SageMaker ModelError says about the container's own answer."""

    status: int | None  # OriginalStatusCode
    message: str  # OriginalMessage, clipped
    logs: str  # LogStreamArn

    @property
    def answer(self) -> str:
        """'container answered 400: {message}'."""
        text = "container answered " + (str(self.status) if self.status is not None else "an error")
        return f"{text}: {self.message}" if self.message else text

    def __str__(self) -> str:
        return f"{self.answer} (logs: {self.logs})" if self.logs else self.answer


def model_error_details(answer: HttpAnswer) -> ModelErrorDetails | None:
    """The container's status, message and log stream from a ModelError body, if any."""
    try:
        data = json.loads(answer.body or b"{}")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    status = data.get("OriginalStatusCode")
    if not isinstance(status, int) or isinstance(status, bool):
        status = None
    original = str(data.get("OriginalMessage") or "")[:500]
    if status is None and not original:
        return None
    return ModelErrorDetails(status, original, str(data.get("LogStreamArn") or ""))


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
        picks = (config.target_model, config.target_variant, config.inference_component)
        return Prepared(
            config=config,
            service=self.service,
            region=ref.region,
            target=config.endpoint,
            max_batch_size=config.batch_size,
            dimensions=config.options.dimensions,
            client_normalize=False,  # dialects normalise when the container can't
            data=(ref, dialect, headers),
            variant="\n".join(picks) if any(picks) else "",
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

    def check_image(
        self, prepared: Prepared, image: ImageInput
    ) -> tuple[ImageInput, ItemError | None]:
        # The payload dialects carry text only: no container contract for images.
        return image, not_supported("a SageMaker endpoint")

    def image_batches(self, prepared: Prepared, images: list[ImageInput]) -> list[list[ImageInput]]:
        return [[image] for image in images]

    async def embed(
        self,
        prepared: Prepared,
        items: Sequence[str] | Sequence[ImageInput],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        # `check_image` refuses every image, so none reaches this call.
        texts = [t for t in items if isinstance(t, str)]
        if len(texts) != len(items):
            raise ValueError("SageMaker endpoints take text only")
        ref, dialect, headers = prepared.data
        options = prepared.config.options
        # Sized with the configured dialect (auto: its first shape). A fallback
        # shape a few bytes larger that tips a full batch over the limit gets
        # SageMaker's ValidationError, and the engine then halves the batch.
        plan = split_batches(
            texts,
            len(texts),
            MAX_REQUEST_BYTES,
            build=lambda batch: dialect.build_request(batch, purpose, options),
        )
        if plan.oversized:
            # fit_text keeps single texts under the limit, so this is a request
            # envelope (e.g. a long target model) pushing one over: the engine
            # isolates the text by halving the batch and reports it alone.
            raise UpstreamError(
                Kind.INVALID_ARGUMENT,
                f"a text does not fit SageMaker's {MAX_REQUEST_BYTES}-byte request limit "
                f"for endpoint {ref.name}; shorten it",
                retryable=False,
                aws_code="",
                status=0,
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
        learned = self._memory.get(key)
        refusals: list[tuple[str, _Refused]] = []
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
                # Not forgotten: a container also refuses a bad input in the right
                # shape, and a shape that works later is remembered over this one.
                refusals.append((name, refused))
                continue
            self._memory.remember(key, name)
            return result
        first = refusals[0][1].error
        if learned is not None:
            # The shape that worked before was refused too: the input is at fault.
            raise first
        answers = "; ".join(f"{name}: {r.details.answer[:300]}" for name, r in refusals)
        logs = refusals[-1][1].details.logs
        raise UpstreamError(
            Kind.MODEL_ERROR,
            f"payloadFormat auto: endpoint {ref.name} refused every request shape tried; "
            f"set payloadFormat to the container's dialect. Answers: {answers}"
            + (f" (logs: {logs})" if logs else ""),
            retryable=False,
            aws_code=first.aws_code,
            status=first.status,
        )

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
                details = model_error_details(answer)
                # The details repeat SageMaker's message in parts: keep only them.
                message = f"AWS {error.aws_code} (HTTP {error.status}) from endpoint {ref.name}"
                error = UpstreamError(
                    Kind.MODEL_ERROR,
                    f"{message}: {details}" if details else error.message,
                    retryable=False,
                    aws_code=error.aws_code,
                    status=error.status,
                )
                original = details.status if details else None
                if original in _TRANSIENT_ORIGINAL:
                    # The container timed out or was overloaded: not this input's fault.
                    kind, reason = _TRANSIENT_ORIGINAL[original]
                    raise UpstreamError(
                        kind,
                        error.message,
                        retryable=True,
                        aws_code=error.aws_code,
                        status=error.status,
                        retry_reason=reason,
                    )
                if isinstance(dialect, AutoDialect) and original and 400 <= original < 500:
                    assert details is not None
                    raise _Refused(error, details)
            raise error
        try:
            parsed = dialect.parse_response(_json(answer.body), len(texts), prepared.config.options)
        except ValueError as exc:
            raise transport_error("bad_response", error_text(exc), target=ref.name) from None
        _check_configured_dimensions(parsed.vectors, prepared.config.options.dimensions, ref.name)
        return BatchResult(vectors=parsed.vectors, input_tokens=parsed.input_tokens)


def _check_configured_dimensions(
    vectors: list[list[float]], expected: int | None, name: str
) -> None:
    """A container cannot be asked for a size: `dimensions` only states what it
    answers. Several vectors agreeing on another length is the config's
    mistake, not a transient fault; retrying would only repeat it."""
    lengths = {len(v) for v in vectors}
    if expected and len(vectors) > 1 and len(lengths) == 1 and expected not in lengths:
        raise ConfigError(
            [
                f"endpoint {name} answers {lengths.pop()}-dimensional vectors but the config says "
                f"dimensions {expected}; set dimensions to match the model or remove it"
            ]
        )


class _Refused(Exception):
    """The container refused this request shape (auto tries the next one)."""

    def __init__(self, error: UpstreamError, details: ModelErrorDetails):
        self.error = error
        self.details = details


def _json(body: bytes) -> Any:
    return json.loads(body)
