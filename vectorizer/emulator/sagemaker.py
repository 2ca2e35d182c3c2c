"""SageMaker Runtime InvokeEndpoint, as the emulator answers it.

A SageMaker endpoint runs a container of its owner's choice, so the body
format is the container's: a *dialect*. Parts:

- `Endpoint`: one endpoint (name, dialect, dimensions, max batch, max tokens
  per text and auto-truncation for TEI, and the request body limit:
  `max_payload_bytes`, or 4 MB for a `serverless` one).
- `DEFAULT_ENDPOINTS` / `load_endpoints`: the built-ins, always present,
  plus those of a JSON file `{"name": {"dialect": ..., "dimensions": n,
  "max_batch": n, "serverless": true, ...}}`.
- `oversize_error(endpoint, size, request_id)`: the ValidationError a
  serverless endpoint answers for a body over its limit.
- `ContainerError`: the container answered non-2xx; the app wraps it in the
  `ModelError` (424) SageMaker returns, with `OriginalStatusCode` and
  `OriginalMessage` (the container's body).
- `DIALECTS` / `plan_invocation(endpoint, body)`: per dialect, read the
  container's request shape and return an `EmbedPlan` rendering its
  response shape:

  - tei: `{"inputs": s or [..], "normalize", "truncate", "truncation_direction",
    "dimensions"}` -> `[[..], ..]`; without `truncate` the endpoint's
    `auto_truncate` applies (TEI's `--auto-truncate`, default true since 1.9)
  - jumpstart, text2vec-aws: `{"text_inputs": [..], "mode": "embedding"}`
    -> `{"embedding": [[..]]}`
  - hf: `{"inputs": [..]}` -> `[[..], ..]` (sentence level)
  - hf-token: `{"inputs": [..]}` -> `[[[..] per token] per text]`
  - sentence-transformers: `{"inputs": [..]}` -> `{"embeddings": [[..]]}`
  - openai: `{"input": s or [..], "model", "encoding_format", "dimensions"}`
    -> `{"object": "list", "data": [{"embedding", "index"}], "usage"}`
  - cohere: `{"texts": [..], "input_type"}` -> `{"embeddings": [[..]], ...}`

`hf-token` answers one vector per whitespace word of each text
(`vectors.token_vectors`): their mean is `deterministic_vector(text, dim)`,
so mean pooling gives a known value. Cohere vectors depend on `input_type`
as on Bedrock.

Floats are spelled as each container writes them (`wire.Spelling`): TEI
(Rust, f32) and Cohere's container the shortest float32 text; the Python
containers (JumpStart, the HF toolkit, sentence-transformers handlers,
vLLM) write float32 values turned into Python floats, so doubles.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorizer.emulator.vectors import token_count, token_vectors
from vectorizer.emulator.wire import (
    COHERE_SPELLING,
    AwsError,
    EmbedPlan,
    Spelling,
    Vector,
    Vectors,
    cut_words,
    new_request_id,
)

DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_TOKENS = 512
SERVERLESS_MAX_BODY = 4_000_000  # "4 MB" (AWS serverless-endpoints-invoke page)
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
MAX_NAME_LENGTH = 63


def _floats(vectors: Vectors, spelling: Spelling) -> list[Any]:
    return [v.fragment(spelling) for v in vectors]


def _python_floats(vectors: Vectors) -> list[Any]:
    return _floats(vectors, Spelling.DOUBLE)


class ContainerError(Exception):
    """The model container answered `status` with body `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    name: str
    dialect: str
    dimensions: int = 384
    max_batch: int = DEFAULT_MAX_BATCH
    max_tokens: int = DEFAULT_MAX_TOKENS
    auto_truncate: bool = True  # TEI's --auto-truncate
    serverless: bool = False
    max_payload_bytes: int | None = None  # a lower body limit than the service's

    @property
    def body_limit(self) -> int | None:
        """This endpoint's own request body limit, if below the service-wide one."""
        if self.max_payload_bytes is not None:
            return self.max_payload_bytes
        return SERVERLESS_MAX_BODY if self.serverless else None


def oversize_error(request_id: str) -> AwsError:
    """What SageMaker answers for a body over a serverless endpoint's limit
    (as reported in aws/sagemaker-python-sdk#4271)."""
    return AwsError(400, "ValidationError", f"Request {request_id} has oversize body.")


def _json_error(status: int, **body: Any) -> ContainerError:
    return ContainerError(status, json.dumps(body))


def _texts(value: Any, field: str, status: int = 400) -> list[str]:
    """A string or a non-empty list of strings, else the container's 400."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(t, str) for t in value):
        return value
    raise _json_error(status, error=f"`{field}` must be a string or a non-empty list of strings")


def _require(body: Any, field: str, complaint: str) -> Any:
    if not isinstance(body, dict) or field not in body:
        raise ContainerError(400, complaint)
    return body[field]


def _check_batch(endpoint: Endpoint, texts: list[str]) -> None:
    if len(texts) > endpoint.max_batch:
        raise _json_error(
            413,
            error=f"batch size {len(texts)} > maximum allowed batch size {endpoint.max_batch}",
            error_type="Validation",
        )


def _tei(endpoint: Endpoint, body: Any) -> EmbedPlan:
    inputs = _require(
        body,
        "inputs",
        json.dumps(
            {
                "error": "Failed to deserialize the JSON body into the target type: "
                "missing field `inputs`",
                "error_type": "Validation",
            }
        ),
    )
    texts = _texts(inputs, "inputs")
    _check_batch(endpoint, texts)
    normalize = body.get("normalize", True) is not False
    truncate = body.get("truncate")
    if truncate is None:  # unset or null: the server's --auto-truncate decides
        truncate = endpoint.auto_truncate
    direction = body.get("truncation_direction", "Right")
    dim = _tei_dimensions(endpoint, body.get("dimensions"))
    fitted = []
    for text in texts:
        count = token_count(text)
        if count > endpoint.max_tokens:
            if truncate is not True:
                raise _tei_validation(
                    f"`inputs` must have less than {endpoint.max_tokens} tokens. Given: {count}"
                )
            keep_start = direction not in ("Left", "left")
            text = cut_words(text, endpoint.max_tokens, keep_start=keep_start)
        fitted.append(text)
    return EmbedPlan(
        fitted, dim, lambda v: _floats(v, Spelling.FLOAT32), normalize=normalize, batched=True
    )


def _tei_validation(message: str) -> ContainerError:
    # TEI answers its Validation errors with 422 (router's ErrorType -> status).
    return _json_error(422, error=f"Input validation error: {message}", error_type="Validation")


def _tei_dimensions(endpoint: Endpoint, value: Any) -> int:
    """TEI 1.8+: `dimensions` cuts a Matryoshka vector before normalising."""
    if value is None:
        return endpoint.dimensions
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _json_error(
            422,
            error="Failed to deserialize the JSON body into the target type: dimensions: "
            "invalid type, expected usize",
            error_type="Validation",
        )
    if value == 0:
        raise _tei_validation("`dimensions` should be positive")
    if value > endpoint.dimensions:
        raise _tei_validation(
            "`dimensions` should be smaller than the maximum embedding dimension."
        )
    return value


def _jumpstart(endpoint: Endpoint, body: Any) -> EmbedPlan:
    inputs = _require(body, "text_inputs", "Unable to find 'text_inputs' in the request payload.")
    texts = _texts(inputs, "text_inputs")
    mode = body.get("mode", "embedding")
    if mode != "embedding":
        raise ContainerError(400, f"Unsupported mode '{mode}'; this model supports 'embedding'.")
    _check_batch(endpoint, texts)
    return EmbedPlan(
        texts, endpoint.dimensions, lambda v: {"embedding": _python_floats(v)}, batched=True
    )


def _hf_inputs(endpoint: Endpoint, body: Any) -> list[str]:
    inputs = _require(
        body,
        "inputs",
        json.dumps({"code": 400, "type": "InternalServerException", "message": "'inputs'"}),
    )
    texts = _texts(inputs, "inputs")
    _check_batch(endpoint, texts)
    return texts


def _hf(endpoint: Endpoint, body: Any) -> EmbedPlan:
    return EmbedPlan(_hf_inputs(endpoint, body), endpoint.dimensions, _python_floats, batched=True)


def _hf_token(endpoint: Endpoint, body: Any) -> EmbedPlan:
    texts = _hf_inputs(endpoint, body)

    def render(vectors: Vectors) -> list[list[list[float]]]:
        out = []
        for text, vector in zip(texts, vectors, strict=False):
            tokens = token_vectors(text, endpoint.dimensions)
            out.append([t[: len(vector)] for t in tokens])
        return out

    return EmbedPlan(texts, endpoint.dimensions, render, batched=True)


def _sentence_transformers(endpoint: Endpoint, body: Any) -> EmbedPlan:
    texts = _hf_inputs(endpoint, body)
    return EmbedPlan(
        texts, endpoint.dimensions, lambda v: {"embeddings": _python_floats(v)}, batched=True
    )


def _openai_error(message: str) -> ContainerError:
    return _json_error(
        400, object="error", message=message, type="BadRequestError", param=None, code=400
    )


def _openai(endpoint: Endpoint, body: Any) -> EmbedPlan:
    if not isinstance(body, dict) or "input" not in body:
        raise _openai_error(
            "[{'type': 'missing', 'loc': ('body', 'input'), 'msg': 'Field required'}]"
        )
    texts = _texts(body["input"], "input")
    _check_batch(endpoint, texts)
    model = body.get("model") or endpoint.name
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _openai_error(f"encoding_format must be 'float' or 'base64', got {encoding!r}")
    dim = body.get("dimensions") or endpoint.dimensions
    if not isinstance(dim, int) or not 1 <= dim <= endpoint.dimensions:
        raise _openai_error(f"dimensions must be an integer from 1 to {endpoint.dimensions}")
    tokens = sum(token_count(t) for t in texts)

    def encode(vector: Vector) -> Any:
        if encoding == "float":
            return vector.fragment(Spelling.DOUBLE)
        return base64.b64encode(vector.values.astype("<f4").tobytes()).decode()

    def render(vectors: Vectors) -> dict[str, Any]:
        data = [
            {"object": "embedding", "index": i, "embedding": encode(v)}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": model, "usage": usage}

    return EmbedPlan(texts, dim, render, tokens=tokens, batched=True)


def _cohere(endpoint: Endpoint, body: Any) -> EmbedPlan:
    inputs = _require(body, "texts", json.dumps({"message": "invalid request: texts is required"}))
    texts = _texts(inputs, "texts")
    input_type = body.get("input_type")
    if input_type not in ("search_document", "search_query", "classification", "clustering"):
        raise ContainerError(
            400,
            json.dumps(
                {
                    "message": "invalid request: valid input_type must be provided with the "
                    "provided model"
                }
            ),
        )
    _check_batch(endpoint, texts)
    request_id = new_request_id()

    def render(vectors: Vectors) -> dict[str, Any]:
        return {
            "id": request_id,
            "embeddings": _floats(vectors, COHERE_SPELLING),
            "texts": texts,
            "response_type": "embeddings_floats",
        }

    return EmbedPlan(texts, endpoint.dimensions, render, purpose=input_type, batched=True)


DIALECTS: dict[str, Callable[[Endpoint, Any], EmbedPlan]] = {
    "tei": _tei,
    "jumpstart": _jumpstart,
    "text2vec-aws": _jumpstart,
    "hf": _hf,
    "hf-token": _hf_token,
    "sentence-transformers": _sentence_transformers,
    "openai": _openai,
    "cohere": _cohere,
}

DEFAULT_ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("tei-small", "tei"),
        Endpoint("jumpstart-gte", "jumpstart"),
        Endpoint("hf-feature", "hf"),
        Endpoint("hf-token", "hf-token"),
        Endpoint("st-custom", "sentence-transformers"),
        Endpoint("openai-vllm", "openai"),
        Endpoint("cohere-sm", "cohere", dimensions=1024, max_batch=96),
        Endpoint("weaviate-t2v", "text2vec-aws"),
    )
}


def endpoint_from_dict(name: str, spec: Any) -> Endpoint:
    """One endpoint from its JSON description; ValueError says what is wrong."""
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"endpoint name {name!r} breaks SageMaker's naming rule")
    if not isinstance(spec, dict) or spec.get("dialect") not in DIALECTS:
        raise ValueError(f"endpoint {name}: dialect must be one of {sorted(DIALECTS)}")
    numeric = ("dimensions", "max_batch", "max_tokens", "max_payload_bytes")
    flags = ("auto_truncate", "serverless")
    unknown = set(spec) - {"dialect", *numeric, *flags}
    if unknown:
        raise ValueError(f"endpoint {name}: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {k: spec[k] for k in numeric if k in spec}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"endpoint {name}: {key} must be a positive integer")
    for key in flags:
        if key in spec:
            if not isinstance(spec[key], bool):
                raise ValueError(f"endpoint {name}: {key} must be true or false")
            values[key] = spec[key]
    return Endpoint(name, spec["dialect"], **values)


def load_endpoints(path: str | Path | None) -> dict[str, Endpoint]:
    """The built-in endpoints, plus (overriding by name) those in the JSON file."""
    endpoints = dict(DEFAULT_ENDPOINTS)
    if path is not None:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError("the endpoints file must hold a JSON object of name -> spec")
        for name, spec in data.items():
            endpoints[name] = endpoint_from_dict(name, spec)
    return endpoints


def plan_invocation(endpoint: Endpoint, raw_body: bytes) -> EmbedPlan:
    """The plan for one InvokeEndpoint body; ContainerError as the container would fail."""
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise ContainerError(400, "Failed to parse the request body as JSON") from None
    return DIALECTS[endpoint.dialect](endpoint, body)
