"""SageMaker payload dialects: the JSON a container expects and answers.

A SageMaker endpoint runs whatever container its owner chose, so there is no
one wire format. Parts:

- `ParsedBatch`: vectors in input order plus input tokens when reported.
- Response shapes (`VECTOR_LIST`, `TOKEN_VECTORS`, `EMBEDDING_KEY`,
  `EMBEDDINGS_KEY`, `VECTORS_KEY`, `OPENAI_DATA`), `detect_response_shape`
  and `describe_shape` (a short, value-free description for error messages).
- `Dialect`: builds the request body for a batch and parses the answer.
  One class per dialect of reference section 4: `tei`, `jumpstart`, `hf`
  (sentence-transformers handlers folded in), `openai`, `cohere`,
  `text2vec-aws`, and `auto`.
- `DIALECTS` / `get_dialect`: the registry, by `payloadFormat` name.
- `AutoMemory`: per endpoint, the request shape that worked under `auto`.

All of it is pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from vectorizer.errors import ConfigError
from vectorizer.types import EmbedOptions, Purpose, Truncate
from vectorizer.vectors import Matrix, Vector, all_finite, float_vector, l2_normalize_rows

VECTOR_LIST = "vector-list"  # [[..], ..]: TEI, HF sentence-level
TOKEN_VECTORS = "token-vectors"  # [[[..]..]..]: HF feature-extraction, token level
EMBEDDING_KEY = "embedding"  # {"embedding": [[..]]}: JumpStart, text2vec-aws
EMBEDDINGS_KEY = "embeddings"  # {"embeddings": [[..]] | {"float": ..}}: Cohere, ST handlers
VECTORS_KEY = "vectors"  # {"vectors": [[..]]}: sentence-transformers handlers
OPENAI_DATA = "openai-data"  # {"data": [{"embedding", "index"}], "usage": ..}
ALL_SHAPES = frozenset(
    {VECTOR_LIST, TOKEN_VECTORS, EMBEDDING_KEY, EMBEDDINGS_KEY, VECTORS_KEY, OPENAI_DATA}
)

# Request shapes `auto` tries, in order. `{"inputs": [...]}` goes first because
# it is what the most deployed embedding containers read: TEI (extra fields
# optional), the Hugging Face inference toolkit and most custom
# sentence-transformers handlers. JumpStart next, then OpenAI-compatible
# servers, then Cohere, which is the rarest self-hosted choice.
AUTO_REQUEST_ORDER = ("hf", "jumpstart", "openai", "cohere")
DEFAULT_OPENAI_MODEL = "default"
_PREVIEW = 200


@dataclass
class ParsedBatch:
    vectors: Matrix  # one float32 row per text
    input_tokens: int | None = None


@dataclass
class _Rows:
    """Vectors as found, before the count and length checks make them a matrix."""

    rows: list[Vector]
    input_tokens: int | None = None


class Dialect(Protocol):
    name: str

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any] | list[Any]:
        """The JSON body for `texts`, in order."""
        ...

    def parse_response(
        self, body: Any, count: int, options: EmbedOptions | None = None
    ) -> ParsedBatch:
        """`count` vectors in input order; ValueError on an unknown shape or wrong count.

        `options.normalize` is honoured client side when the request could
        not ask the container for it (L2 normalising twice changes nothing).
        """
        ...


# --- response shapes ------------------------------------------------------


def detect_response_shape(body: Any) -> str | None:
    """Which known response shape `body` has (looking at keys and nesting only)."""
    if isinstance(body, dict):
        if isinstance(body.get("data"), list):
            return OPENAI_DATA
        for key in (EMBEDDING_KEY, EMBEDDINGS_KEY, VECTORS_KEY):
            if key in body:
                return key
        return None
    if isinstance(body, list):
        if not body or _is_number(body[0]):
            return VECTOR_LIST
        first = body[0]
        if isinstance(first, list):
            if not first or _is_number(first[0]):
                return VECTOR_LIST
            if isinstance(first[0], list):
                return TOKEN_VECTORS
    return None


def describe_shape(body: Any) -> str:
    """Type and structure of `body`, never its values (they may be texts or secrets)."""
    text = _describe(body, 0)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _describe(value: Any, depth: int) -> str:
    if isinstance(value, dict):
        keys = [repr(str(k)[:30]) for k in list(value)[:8]]
        more = ", ..." if len(value) > 8 else ""
        return f"object with keys [{', '.join(keys)}{more}]"
    if isinstance(value, list):
        if not value:
            return "empty list"
        if depth >= 3:
            return f"list of {len(value)}"
        return f"list of {len(value)} (first: {_describe(value[0], depth + 1)})"
    if isinstance(value, str):
        return f"string of {len(value)} characters"
    return "null" if value is None else type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _vector(value: Any, where: str) -> Vector:
    try:
        vector = float_vector(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}, got {describe_shape(value)}") from None
    if not all_finite(vector):
        raise ValueError(f"{where}: vector holds NaN or infinity")
    return vector


def _matrix(value: Any, where: str) -> list[Vector]:
    """A list of vectors; a bare vector counts as one (single-input answers)."""
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of vectors, got {describe_shape(value)}")
    if value and _is_number(value[0]):
        return [_vector(value, where)]
    return [_vector(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _pool_tokens(value: Any, where: str) -> list[Vector]:
    """Mean of the token vectors of each text (HF feature-extraction output)."""
    pooled = []
    for i, tokens in enumerate(value):
        # The HF pipeline may keep a batch axis of 1 per text: [[[tok..]..]].
        if isinstance(tokens, list) and len(tokens) == 1 and isinstance(tokens[0], list):
            if tokens[0] and isinstance(tokens[0][0], list):
                tokens = tokens[0]
        rows = _matrix(tokens, f"{where}[{i}]")
        if not rows:
            raise ValueError(f"{where}[{i}]: no token vectors")
        _check_dims(rows, f"{where}[{i}]")
        pooled.append(np.asarray(rows, dtype=np.float64).mean(axis=0).astype(np.float32))
    return pooled


def _openai_vectors(data: list[Any]) -> list[Vector]:
    slots: list[Vector | None] = [None] * len(data)
    for pos, item in enumerate(data):
        if not isinstance(item, dict) or "embedding" not in item:
            raise ValueError(f"data[{pos}]: expected an object with 'embedding'")
        index = item.get("index", pos)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(data):
            raise ValueError(f"data[{pos}]: index out of range 0..{len(data) - 1}")
        if slots[index] is not None:
            raise ValueError(f"data[{pos}]: index {index} repeated")
        embedding = item["embedding"]
        if isinstance(embedding, str):  # encoding_format=base64: little-endian float32
            try:
                raw = base64.b64decode(embedding, validate=True)
                decoded = np.frombuffer(raw, dtype="<f4").astype(np.float32)
            except ValueError:
                raise ValueError(f"data[{pos}]: embedding is not base64 float32") from None
            if not decoded.size or not all_finite(decoded):
                raise ValueError(f"data[{pos}].embedding: empty, or holds NaN or infinity")
            slots[index] = decoded
            continue
        slots[index] = _vector(embedding, f"data[{pos}].embedding")
    return [v for v in slots if v is not None]


def _parse_shape(shape: str, body: Any) -> _Rows:
    if shape == VECTOR_LIST:
        return _Rows(_matrix(body, "response"))
    if shape == TOKEN_VECTORS:
        return _Rows(_pool_tokens(body, "response"))
    if shape == OPENAI_DATA:
        usage = body.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return _Rows(_openai_vectors(body["data"]), _int_or_none(tokens))
    value = body[shape]
    if shape == EMBEDDINGS_KEY and isinstance(value, dict):  # Cohere embeddings_by_type
        if "float" not in value:
            types = sorted(str(k)[:20] for k in value)[:8]
            raise ValueError(f"embeddings by type hold no 'float' entry, only {types}")
        value = value["float"]
    billed = (body.get("meta") or {}).get("billed_units") if isinstance(body, dict) else None
    tokens = billed.get("input_tokens") if isinstance(billed, dict) else None
    return _Rows(_matrix(value, f"response[{shape!r}]"), _int_or_none(tokens))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_dims(vectors: list[Vector], where: str) -> None:
    sizes = {len(v) for v in vectors}
    if len(sizes) > 1:
        raise ValueError(f"{where}: vectors of different lengths {sorted(sizes)[:5]}")


# --- dialects ---------------------------------------------------------------


class _ParsingDialect:
    """Shared parsing: detect the shape, check it is one we accept, check the count."""

    name = ""
    accepts: frozenset[str] = frozenset()
    # True when the request itself asks the container to normalise.
    server_normalizes = False

    def parse_response(
        self, body: Any, count: int, options: EmbedOptions | None = None
    ) -> ParsedBatch:
        shape = detect_response_shape(body)
        if shape is None:
            raise ValueError(
                f"{self.name} dialect: unrecognised SageMaker response: {describe_shape(body)}"
            )
        if shape not in self.accepts:
            raise ValueError(
                f"{self.name} dialect: the response has the {shape!r} shape, which this "
                f"dialect does not read ({describe_shape(body)}); set payloadFormat to auto "
                "or to the container's dialect"
            )
        found = _parse_shape(shape, body)
        if len(found.rows) != count:
            raise ValueError(
                f"{self.name} dialect: the response holds {len(found.rows)} vectors "
                f"for {count} texts"
            )
        _check_dims(found.rows, f"{self.name} response")
        vectors = np.stack(found.rows) if found.rows else np.empty((0, 0), dtype=np.float32)
        if options is not None and options.normalize and not self.server_normalizes:
            vectors = l2_normalize_rows(vectors)
        return ParsedBatch(vectors, found.input_tokens)


class TeiDialect(_ParsingDialect):
    """Hugging Face Text Embeddings Inference (`/embed` body).

    `truncate` is sent only when the config sets it: unset, TEI applies its
    own `--auto-truncate` (default true since TEI 1.9), which a `false` here
    would override. `dimensions` asks a Matryoshka model for a shorter vector
    (TEI 1.8 and later).
    """

    name = "tei"
    accepts = frozenset({VECTOR_LIST})
    server_normalizes = True

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "inputs": list(texts),
            "normalize": True if options.normalize is None else options.normalize,
        }
        if options.truncate is not None:
            body["truncate"] = options.truncate is not Truncate.NONE
            if options.truncate is Truncate.START:
                body["truncation_direction"] = "Left"  # keep the end of the text
        if options.dimensions is not None:
            body["dimensions"] = options.dimensions
        return body


class JumpStartDialect(_ParsingDialect):
    name = "jumpstart"
    accepts = frozenset({EMBEDDING_KEY})

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        return {"text_inputs": list(texts), "mode": "embedding"}


class HfDialect(_ParsingDialect):
    """HF inference toolkit feature-extraction, and sentence-transformers handlers."""

    name = "hf"
    accepts = frozenset({VECTOR_LIST, TOKEN_VECTORS, EMBEDDINGS_KEY, VECTORS_KEY})

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        return {"inputs": list(texts)}


@dataclass(frozen=True)
class OpenAIDialect(_ParsingDialect):
    """OpenAI-compatible servers (vLLM, TEI's /v1 routes) behind SageMaker."""

    model: str = DEFAULT_OPENAI_MODEL
    name = "openai"
    accepts = frozenset({OPENAI_DATA})

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        return {"input": list(texts), "model": self.model}


class CohereDialect(_ParsingDialect):
    name = "cohere"
    accepts = frozenset({EMBEDDINGS_KEY})

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        default = "search_query" if purpose is Purpose.QUERY else "search_document"
        body: dict[str, Any] = {"texts": list(texts), "input_type": options.input_type or default}
        if options.truncate is not None:
            body["truncate"] = options.truncate.value  # Cohere uses NONE/START/END too
        return body


class Text2VecAwsDialect(_ParsingDialect):
    """What Weaviate's text2vec-aws sends. It sends one text per call and uses
    the first vector; we send a batch and expect one vector per text."""

    name = "text2vec-aws"
    accepts = frozenset({EMBEDDING_KEY})

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        return {"text_inputs": list(texts)}


@dataclass(frozen=True)
class AutoDialect(_ParsingDialect):
    """Sends one of the `AUTO_REQUEST_ORDER` request shapes, reads every response shape.

    The default request is `{"inputs": [...]}` (see `AUTO_REQUEST_ORDER`);
    `with_request` gives the next candidate after a refusal.
    """

    request: str = AUTO_REQUEST_ORDER[0]
    model: str = DEFAULT_OPENAI_MODEL
    name = "auto"
    accepts = ALL_SHAPES

    def __post_init__(self) -> None:
        if self.request not in AUTO_REQUEST_ORDER:
            raise ValueError(f"auto request shape must be one of {AUTO_REQUEST_ORDER}")

    def with_request(self, request: str) -> AutoDialect:
        return AutoDialect(request=request, model=self.model)

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any] | list[Any]:
        if self.request == "openai":
            return OpenAIDialect(self.model).build_request(texts, purpose, options)
        return DIALECTS[self.request].build_request(texts, purpose, options)


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        AutoDialect(),
        TeiDialect(),
        JumpStartDialect(),
        HfDialect(),
        OpenAIDialect(),
        CohereDialect(),
        Text2VecAwsDialect(),
    )
}


def get_dialect(name: str, target_model: str | None = None) -> Dialect:
    """The dialect for a `payloadFormat` ("" means auto). `target_model` fills
    the OpenAI `model` field (a multi-model endpoint's target model)."""
    key = (name or "auto").strip().lower()
    if key not in DIALECTS:
        raise ConfigError(
            [f"wrong payloadFormat {name[:40]!r}, available formats are: [{' '.join(DIALECTS)}]"]
        )
    model = target_model or DEFAULT_OPENAI_MODEL
    if key == "openai":
        return OpenAIDialect(model)
    if key == "auto":
        return AutoDialect(model=model)
    return DIALECTS[key]


@dataclass
class AutoMemory:
    """Endpoint key -> the `auto` request shape that worked; least recently used goes first.

    How the backend uses it, for a config with payloadFormat auto:

    1. key = everything that picks the container: region, endpoint name,
       target model, target variant, inference component.
    2. For each name in `memory.candidates(key)`: send
       `AutoDialect(request=name, model=target_model)`'s request.
       - A ModelError whose OriginalStatusCode is 4xx means the container
         refused this body shape: `memory.forget(key)` if it was remembered,
         then try the next candidate.
       - Any other error is handled as usual (retry or fail); do not move on.
       - A 2xx answer: parse it (ValueError -> item errors, no fallback), then
         `memory.remember(key, name)` and stop.
    3. When every candidate was refused, report the first refusal.
    One event loop owns it, so it needs no lock.
    """

    max_entries: int = 1024
    _entries: OrderedDict[str, str] = field(default_factory=OrderedDict, repr=False)

    def get(self, key: str) -> str | None:
        name = self._entries.get(key)
        if name is not None:
            self._entries.move_to_end(key)
        return name

    def remember(self, key: str, name: str) -> None:
        if name not in AUTO_REQUEST_ORDER:
            raise ValueError(f"{name!r} is not one of {AUTO_REQUEST_ORDER}")
        self._entries[key] = name
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def candidates(self, key: str) -> tuple[str, ...]:
        """Request shapes to try, the remembered one first."""
        known = self.get(key)
        if known is None:
            return AUTO_REQUEST_ORDER
        return (known, *(n for n in AUTO_REQUEST_ORDER if n != known))

    def __len__(self) -> int:
        return len(self._entries)
