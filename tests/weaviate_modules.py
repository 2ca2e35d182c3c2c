"""Stock Weaviate's module clients (1.27 to 1.39), as their Go source behaves.

Each client sends the exact bytes its Go code sends (net/http's default
headers, no Content-Type where Go sets none, `json.Marshal` of the request
struct in field order, omitempty honoured) and reads the answer as strictly
as its Go code does (`tests.gojson`), raising `ModuleError` with the Go
client's own message. The facts, from Weaviate's source:

- text2vec-transformers (modules/text2vec-transformers/clients, from 1.31
  usecases/modulecomponents/clients/transformers): `POST {base}/vectors`,
  `{"text", "dims": 0, "vector": null, "error": "", "config":
  {"pooling_strategy", "task_type" (1.31+), "dimensions" (1.33+, if set)}}`;
  status > 399 is an error up to 1.30, != 200 from 1.31; readiness is any
  status <= 299 within 500 ms; /meta must be 2xx with a JSON object.
- text2vec-openai (usecases/modulecomponents/clients/openai):
  `POST url.JoinPath(baseURL, "/v1/embeddings")` with a bearer key,
  `{"input": [..], "model", "dimensions"}`; reads `data[i].error` per item,
  and six `x-ratelimit-*` headers (Atoi, ParseDuration).
- text2vec-cohere: 1.27 `POST {base}/v1/embed` `{"texts", "model",
  "truncate", "input_type"}` -> `{"embeddings": [[..]], "message", "meta"}`;
  1.28+ `POST {base}/v2/embed` `{"texts", "model", "input_type",
  "embedding_types": ["float"], "truncate", "output_dimension" (1.35+)}` ->
  `{"id", "embeddings": {"float": [[..]]}, "message", "meta"}`.
- text2vec-ollama: 1.27 `POST {endpoint}/api/embeddings` `{"model",
  "prompt"}` -> `{"embedding", "error"}`; 1.28+ `POST {endpoint}/api/embed`
  `{"model", "input": [..]}` -> `{"model", "embeddings", "error"}`; a
  non-empty `error` is an error before the status is looked at.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.gojson import (
    FLOAT32,
    INT,
    MAP_ANY,
    OPENAI_CODE,
    STRING,
    GoJSONError,
    Ptr,
    Slice,
    atoi,
    join_path,
    marshal,
    parse_duration,
    struct,
    unmarshal,
)

VERSIONS = ("1.27", "1.28", "1.30", "1.31", "1.33", "1.35", "1.39")
GO_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}


def version(v: str) -> tuple[int, int]:
    major, minor = v.split(".")[:2]
    return int(major), int(minor)


class ModuleError(Exception):
    """The error the Weaviate module would report for this answer."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(
    method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
) -> Answer:
    """One request as Go's net/http sends it: Host, User-Agent, Content-Length,
    Accept-Encoding and only the headers the module adds."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, path or "/", skip_accept_encoding=True)
        for name, value in {**GO_HEADERS, **headers}.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


# -- text2vec-transformers --------------------------------------------------

VEC_REQUEST = struct(
    "vecRequest",
    text=STRING,
    dims=INT,
    vector=Slice(FLOAT32),
    error=STRING,
    config=struct(
        "vecRequestConfig", pooling_strategy=STRING, task_type=STRING, dimensions=Ptr(INT)
    ),
)


@dataclass
class Transformers:
    """Weaviate's text2vec-transformers client for one version and its URLs."""

    version: str
    passage_url: str
    query_url: str = ""
    dimensions: int | None = None
    pooling: str = "masked_mean"
    sent: list[bytes] = field(default_factory=list)

    def request_body(self, text: str, task: str) -> bytes:
        config: dict[str, Any] = {}
        if version(self.version) < (1, 31):
            config["pooling_strategy"] = self.pooling  # no omitempty before 1.31
        else:
            if self.pooling:
                config["pooling_strategy"] = self.pooling
            config["task_type"] = task
            if version(self.version) >= (1, 33) and self.dimensions is not None:
                config["dimensions"] = self.dimensions
        return marshal({"text": text, "dims": 0, "vector": None, "error": "", "config": config})

    def vectorize(self, text: str, task: str = "passage", timeout: float = 50.0) -> dict[str, Any]:
        base = (self.query_url or self.passage_url) if task == "query" else self.passage_url
        body = self.request_body(text, task)
        self.sent.append(body)
        answer = send("POST", base + "/vectors", body, {}, timeout)
        try:
            parsed = unmarshal(VEC_REQUEST, answer.body)
        except GoJSONError as exc:
            raise ModuleError(
                f"failed to parse vectorization response (status {answer.status}): {exc}"
            ) from None
        failed = answer.status > 399 if version(self.version) < (1, 31) else answer.status != 200
        if failed:
            raise ModuleError(f"fail with status {answer.status}: {parsed['error']}")
        return parsed

    def check_ready(self, base: str | None = None) -> None:
        try:
            answer = send("GET", (base or self.passage_url) + "/.well-known/ready", None, {}, 0.5)
        except OSError as exc:
            raise ModuleError(f"send check ready request: {exc}") from None
        if answer.status > 299:
            raise ModuleError(f"not ready: status {answer.status}")

    def meta(self, base: str | None = None) -> dict[str, Any]:
        answer = send("GET", (base or self.passage_url) + "/meta", None, {}, 50.0)
        if not 200 <= answer.status < 300:
            raise ModuleError(f"unexpected status code '{answer.status}' of meta request")
        try:
            meta = unmarshal(MAP_ANY, answer.body)
        except GoJSONError as exc:
            raise ModuleError(f"unmarshal meta response body: {exc}") from None
        return meta


# -- text2vec-openai ----------------------------------------------------------

OPENAI_ERROR = struct("openAIApiError", message=STRING, type=STRING, param=STRING, code=OPENAI_CODE)
OPENAI_RESPONSE = struct(
    "embedding",
    object=STRING,
    data=Slice(
        struct(
            "embeddingData",
            object=STRING,
            index=INT,
            embedding=Slice(FLOAT32),
            error=Ptr(OPENAI_ERROR),
        )
    ),
    error=Ptr(OPENAI_ERROR),
    usage=Ptr(struct("Usage", completion_tokens=INT, prompt_tokens=INT, total_tokens=INT)),
)
RATE_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)


@dataclass
class RateLimits:
    """modulecomponents.RateLimits as getRateLimitsFromHeader fills it."""

    limit_requests: int
    limit_tokens: int
    remaining_requests: int
    remaining_tokens: int
    reset_requests: float
    reset_tokens: float
    update_with_missing_values: bool

    def is_initialized(self) -> bool:
        """Weaviate's name for "never seen limits": it then sends one object per request."""
        return self.remaining_requests == 0 and self.remaining_tokens == 0


def _header_int(headers: dict[str, str], name: str) -> int:
    value = headers.get(name, "")
    parsed = atoi(value) if value else None
    return -1 if parsed is None else parsed


def rate_limits(headers: dict[str, str]) -> RateLimits:
    reset_requests = parse_duration(headers.get("x-ratelimit-reset-requests", ""))
    reset_tokens = parse_duration(headers.get("x-ratelimit-reset-tokens", ""))
    limits = RateLimits(
        limit_requests=_header_int(headers, "x-ratelimit-limit-requests"),
        limit_tokens=_header_int(headers, "x-ratelimit-limit-tokens"),
        remaining_requests=_header_int(headers, "x-ratelimit-remaining-requests"),
        remaining_tokens=_header_int(headers, "x-ratelimit-remaining-tokens"),
        reset_requests=0.0 if reset_requests is None else reset_requests,
        reset_tokens=60.0 if reset_tokens is None else reset_tokens,
        update_with_missing_values=False,
    )
    limits.update_with_missing_values = (
        limits.limit_requests <= 0
        or limits.limit_tokens <= 0
        or limits.remaining_requests < 0
        or limits.remaining_tokens < 0
    )
    return limits


@dataclass
class OpenAIResult:
    vectors: list[list[float] | None]
    errors: list[str | None]
    rate_limits: RateLimits
    headers: dict[str, str]


@dataclass
class OpenAI:
    """Weaviate's text2vec-openai client with a third-party baseURL."""

    base_url: str
    model: str = "text-embedding-3-small"
    dimensions: int | None = None  # None: Weaviate's default for the model
    api_key: str = "sk-weaviate-sends-a-key"

    def request_body(self, inputs: list[str]) -> bytes:
        dims = self.dimensions
        if dims is None:
            dims = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}.get(self.model)
        body: dict[str, Any] = {"input": inputs, "model": self.model}
        if dims is not None:
            body["dimensions"] = dims
        return marshal(body)

    def vectorize(self, inputs: list[str], timeout: float = 50.0) -> OpenAIResult:
        url = join_path(self.base_url, "/v1/embeddings")
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        answer = send("POST", url, self.request_body(inputs), headers, timeout)
        try:
            parsed = unmarshal(OPENAI_RESPONSE, answer.body)
        except GoJSONError as exc:
            raise ModuleError(
                f"failed to parse vectorization response (status {answer.status}): {exc}"
            ) from None
        request_id = answer.headers.get("x-request-id", "")
        if answer.status != 200 or parsed["error"] is not None:
            raise ModuleError(self._error(answer.status, request_id, parsed["error"]))
        data = parsed["data"] or []
        if not data:
            raise ModuleError("no data returned from OpenAI API")
        errors = [
            self._error(answer.status, request_id, d["error"]) if d["error"] else None for d in data
        ]
        vectors = [d["embedding"] for d in data]
        return OpenAIResult(vectors, errors, rate_limits(answer.headers), answer.headers)

    @staticmethod
    def _error(status: int, request_id: str, error: dict | None) -> str:
        message = f"connection to: OpenAI API failed with status: {status}"
        if request_id:
            message += f" request-id: {request_id}"
        if error is not None:
            message += f" error: {error['message']}"
        return message


# -- text2vec-cohere ----------------------------------------------------------

COHERE_META = struct(
    "meta",
    billed_units=struct(
        "billedUnits",
        input_tokens=INT,
        output_tokens=INT,
        search_units=INT,
        classifications=INT,
        images=INT,
    ),
    warnings=Slice(STRING),
)
COHERE_V2_RESPONSE = struct(
    "embeddingsResponse",
    id=STRING,
    embeddings=struct("embeddings", float=Slice(Slice(FLOAT32))),
    message=STRING,
    meta=COHERE_META,
)
COHERE_V1_RESPONSE = struct(
    "embeddingsResponse",
    embeddings=Slice(Slice(FLOAT32)),
    message=STRING,
    meta=COHERE_META,
)


@dataclass
class Cohere:
    """Weaviate's text2vec-cohere client: /v1/embed in 1.27, /v2/embed after."""

    version: str
    base_url: str
    model: str = "embed-multilingual-v3.0"
    truncate: str = "END"
    dimensions: int | None = None
    api_key: str = "cohere-key-weaviate-sends"

    def request(self, texts: list[str], input_type: str) -> tuple[str, bytes, dict[str, str]]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if version(self.version) < (1, 28):
            body = {"texts": texts, "model": self.model, "truncate": self.truncate,
                    "input_type": input_type}  # fmt: skip
            headers |= {
                "Content-Type": "application/json",
                "Request-Source": "unspecified:weaviate",
            }
            return self.base_url + "/v1/embed", marshal(body), headers
        body = {"texts": texts, "model": self.model, "input_type": input_type,
                "embedding_types": ["float"], "truncate": self.truncate}  # fmt: skip
        if version(self.version) >= (1, 35) and self.dimensions is not None:
            body["output_dimension"] = self.dimensions
        headers |= {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Request-Source": "unspecified:weaviate",
        }
        return self.base_url + "/v2/embed", marshal(body), headers

    def vectorize(self, texts: list[str], input_type: str = "search_document") -> list[list[float]]:
        url, body, headers = self.request(texts, input_type)
        answer = send("POST", url, body, headers, 50.0)
        v1 = version(self.version) < (1, 28)
        try:
            parsed = unmarshal(COHERE_V1_RESPONSE if v1 else COHERE_V2_RESPONSE, answer.body)
        except GoJSONError as exc:
            if v1:
                raise ModuleError(f"unmarshal response body: {exc}") from None
            raise ModuleError(
                f"failed to parse vectorization response (status {answer.status}): {exc}"
            ) from None
        message = parsed["message"]
        if v1 and answer.status >= 500:
            raise ModuleError(
                f"connection to Cohere failed with status: {answer.status} error: {message}"
            )
        if v1 and answer.status > 200:
            raise ModuleError(f"failed with status: {answer.status} error: {message}")
        if not v1 and answer.status != 200:
            suffix = f" error: {message}" if message else ""
            raise ModuleError(f"connection to Cohere failed with status: {answer.status}{suffix}")
        vectors = parsed["embeddings"] if v1 else parsed["embeddings"]["float"]
        if not vectors:
            raise ModuleError("empty embeddings response")
        return vectors


# -- text2vec-ollama ----------------------------------------------------------

OLLAMA_EMBED_RESPONSE = struct(
    "embeddingsResponse", model=STRING, embeddings=Slice(Slice(FLOAT32)), error=STRING
)
OLLAMA_EMBEDDINGS_RESPONSE = struct("embeddingsResponse", embedding=Slice(FLOAT32), error=STRING)


@dataclass
class Ollama:
    """Weaviate's text2vec-ollama client: /api/embeddings in 1.27, /api/embed after."""

    version: str
    api_endpoint: str
    model: str = "nomic-embed-text"

    def vectorize(self, texts: list[str]) -> list[list[float]]:
        if version(self.version) < (1, 28):
            return [self._embeddings(text) for text in texts]  # one text per request
        body = marshal({"model": self.model, "input": texts})
        answer = send("POST", self.api_endpoint + "/api/embed", body, {}, 50.0)
        try:
            parsed = unmarshal(OLLAMA_EMBED_RESPONSE, answer.body)
        except GoJSONError as exc:
            raise ModuleError(
                f"failed to parse vectorization response (status {answer.status}): {exc}"
            ) from None
        self._check(answer.status, parsed["error"])
        if not parsed["embeddings"]:
            raise ModuleError("empty embeddings response")
        return parsed["embeddings"]

    def _embeddings(self, text: str) -> list[float]:
        body = marshal({"model": self.model, "prompt": text})
        answer = send("POST", self.api_endpoint + "/api/embeddings", body, {}, 50.0)
        try:
            parsed = unmarshal(OLLAMA_EMBEDDINGS_RESPONSE, answer.body)
        except GoJSONError as exc:
            raise ModuleError(f"unmarshal response body: {exc}") from None
        self._check(answer.status, parsed["error"])
        if not parsed["embedding"]:
            raise ModuleError("empty embeddings response")
        return parsed["embedding"]

    @staticmethod
    def _check(status: int, error: str) -> None:
        if error:
            raise ModuleError(f"connection to Ollama API failed with error: {error}")
        if status != 200:
            raise ModuleError(f"connection to Ollama API failed with status: {status}")
