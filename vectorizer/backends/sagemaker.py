"""SageMaker Runtime InvokeEndpoint backend: any embedding container.

`prepare` resolves the endpoint (name or URL, region check, allowlist), the
payload dialect and the body ceiling (`sagemaker_payload`); `embed` sends one
batch, split further only when the body would pass the ceiling. A body the
endpoint still refuses as too large (a serverless endpoint's 4 MB, say) is
halved and sent again, and the endpoint's ceiling is lowered for later
batches. With `payloadFormat: auto` it tries the common request shapes in
turn when the container refuses one (a ModelError with a 4xx original
status) and remembers per endpoint what worked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorizer.backends.base import Prepared
from vectorizer.backends.families.image_limits import not_supported
from vectorizer.backends.families.limits import TEXT_TOO_LONG
from vectorizer.backends.sagemaker_batching import encode_body, split_batches
from vectorizer.backends.sagemaker_dialects import AutoDialect, AutoMemory, Dialect, get_dialect
from vectorizer.backends.sagemaker_endpoint import EndpointRef, parse_endpoint
from vectorizer.backends.sagemaker_payload import PayloadCeilings, is_oversize, payload_ceiling
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError, Kind, UpstreamError, error_text, transport_error
from vectorizer.media import ImageInput
from vectorizer.transport import (
    AwsCredentials,
    AwsTransport,
    HttpAnswer,
    aws_error_code,
    endpoint_base,
    error_from_answer,
)
from vectorizer.types import BatchResult, ItemError, Purpose
from vectorizer.vectors import Matrix, decode_json

# Room kept in the body ceiling for the JSON around one text.
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


@dataclass(frozen=True)
class _Target:
    """What `prepare` resolved for one config."""

    ref: EndpointRef
    dialect: Dialect
    headers: dict[str, str]
    max_bytes: int  # the configured body ceiling
    key: str  # everything that picks the container: URL (region, name) and target headers


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
        self._ceilings = PayloadCeilings()

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
        key = ref.url + "|" + json.dumps(headers, sort_keys=True)
        return Prepared(
            config=config,
            service=self.service,
            region=ref.region,
            target=config.endpoint,
            max_batch_size=config.batch_size,
            dimensions=config.options.dimensions,
            client_normalize=False,  # dialects normalise when the container can't
            data=_Target(ref, dialect, headers, payload_ceiling(config), key),
            variant="\n".join(picks) if any(picks) else "",
        )

    def fit_text(self, prepared: Prepared, text: str) -> tuple[str, ItemError | None]:
        target: _Target = prepared.data
        size = len(encode_body(text))
        if size > target.max_bytes - _ENVELOPE_BYTES:
            return text, ItemError(
                TEXT_TOO_LONG,
                f"text is {size} bytes as JSON; endpoint {target.ref.name} takes at most "
                f"{target.max_bytes} bytes per request ({_ceiling_source(prepared.config)}); "
                "shorten or split it",
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
        target: _Target = prepared.data
        options = prepared.config.options
        # Sized with the configured dialect (auto: its first shape) and the
        # ceiling learned for this endpoint. A fallback shape a few bytes larger
        # that tips a full batch over the limit is refused and halved below.
        plan = split_batches(
            texts,
            len(texts),
            self._ceilings.limit(target.key, target.max_bytes),
            build=lambda batch: target.dialect.build_request(batch, purpose, options),
        )
        # A text over the learned ceiling (fit_text holds each under the
        # configured one) is sent alone: only the endpoint can say it is too large.
        parts = sorted([*plan.batches, *(range(i, i + 1) for i in plan.oversized)], key=_start)
        collected: list[Matrix] = []
        tokens = 0
        for part in parts:
            chunk = [texts[i] for i in part]
            result = await self._embed_fitting(prepared, chunk, purpose, credentials, timeout)
            collected.append(result.vectors)
            tokens += result.input_tokens or 0
        vectors = collected[0] if len(collected) == 1 else np.concatenate(collected)
        return BatchResult(vectors=vectors, input_tokens=tokens or None)

    async def _embed_fitting(
        self,
        prepared: Prepared,
        texts: list[str],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        """Send `texts`; a body refused as too large is halved and sent again."""
        target: _Target = prepared.data
        try:
            return await self._embed_auto(prepared, target, texts, purpose, credentials, timeout)
        except _TooLarge as big:
            self._ceilings.refused(target.key, big.size)
            if len(texts) == 1:
                error = UpstreamError(
                    Kind.INVALID_ARGUMENT,
                    f"endpoint {target.ref.name} refused a {big.size}-byte request as too "
                    f"large ({big.error.message}); this text alone does not fit: shorten it, "
                    "or set serverless / maxPayloadBytes to the endpoint's limit",
                    retryable=False,
                    aws_code=big.error.aws_code,
                    status=big.error.status,
                )
                error.code = TEXT_TOO_LONG
                raise error from None
            half = len(texts) // 2
            left = await self._embed_fitting(prepared, texts[:half], purpose, credentials, timeout)
            right = await self._embed_fitting(prepared, texts[half:], purpose, credentials, timeout)
            tokens = (left.input_tokens or 0) + (right.input_tokens or 0)
            vectors = np.concatenate([left.vectors, right.vectors])
            return BatchResult(vectors=vectors, input_tokens=tokens or None)

    async def _embed_auto(
        self,
        prepared: Prepared,
        target: _Target,
        texts: list[str],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        ref, dialect, headers = target.ref, target.dialect, target.headers
        if not isinstance(dialect, AutoDialect):
            return await self._invoke(
                prepared, ref, dialect, headers, texts, purpose, credentials, timeout
            )
        key = target.key
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
            if is_oversize(answer.status, *aws_error_code(answer)):
                raise _TooLarge(len(body), error)
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


def _check_configured_dimensions(vectors: Matrix, expected: int | None, name: str) -> None:
    """A container cannot be asked for a size: `dimensions` only states what it
    answers. Several vectors agreeing on another length is the config's
    mistake, not a transient fault; retrying would only repeat it."""
    answered = vectors.shape[1]
    if expected and len(vectors) > 1 and answered != expected:
        raise ConfigError(
            [
                f"endpoint {name} answers {answered}-dimensional vectors but the config says "
                f"dimensions {expected}; set dimensions to match the model or remove it"
            ]
        )


class _TooLarge(Exception):
    """The endpoint refused a `size`-byte body as too large (halving helps)."""

    def __init__(self, size: int, error: UpstreamError):
        self.size = size
        self.error = error


def _start(part: range) -> int:
    return part.start


def _ceiling_source(config: ResolvedConfig) -> str:
    if config.max_payload_bytes is not None:
        return "maxPayloadBytes"
    if config.serverless:
        return "a serverless endpoint's limit"
    return "InvokeEndpoint's limit"


class _Refused(Exception):
    """The container refused this request shape (auto tries the next one)."""

    def __init__(self, error: UpstreamError, details: ModelErrorDetails):
        self.error = error
        self.details = details


def _json(body: bytes) -> Any:
    return decode_json(body)
