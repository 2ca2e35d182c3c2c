"""The small interface every Bedrock model family implements, and its helpers.

- `FamilySpec`: a family's facts (ids, dimensions, limits, purpose support).
- `FamilyCodec`: builds the InvokeModel body for a batch of texts and parses
  the answer. Pure: no I/O, no clock, so each codec is unit-tested alone.
- `ParsedResponse`: vectors in input order plus token usage.
- Helpers shared by the codecs: option checks (`check_dimensions`,
  `check_input_type`), the purpose mapping (`input_type_for`), the effective
  truncate policy (`effective_truncate`) and strict parsing (`float_vector`,
  `one_vector`, `float_vectors`, `check_texts`; the arrays come from
  `vectorizer.vectors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vectorizer.types import EmbedOptions, Purpose, Truncate
from vectorizer.vectors import Matrix, float_matrix, float_vector


@dataclass(frozen=True)
class FamilySpec:
    name: str  # usable as CollectionConfig.family, e.g. "titan-text-v2"
    model_ids: tuple[str, ...]  # canonical base ids as AWS lists them ("...-v2:0")
    dimensions: tuple[int, ...]  # allowed choices; empty: fixed default only
    default_dimensions: int
    max_batch_size: int  # texts per upstream call
    # A per-text character cap AWS documents and enforces (Titan 50,000,
    # Cohere v3 2,048). None: only a token limit is known; `limits.py` then
    # derives a character proxy from `max_tokens`.
    max_chars: int | None
    max_tokens: int | None  # per-text token limit
    supports_purpose: bool
    native_normalize: bool
    native_truncate: tuple[Truncate, ...]  # policies the model applies itself
    default_truncate: Truncate  # the policy used when none is configured
    # Values the model accepts as input type / embedding purpose (canonical
    # spelling); empty when the family has no such setting.
    input_types: tuple[str, ...] = ()
    document_input_type: str = ""  # sent for Purpose.DOCUMENT
    query_input_type: str = ""  # sent for Purpose.QUERY
    # Needs an inference profile id or ARN for InvokeModel (Marengo 2.7).
    profile_only: bool = False
    # AWS's model card marks the model Legacy: its end-of-life date (ISO) and
    # the family to move to. Empty: an active model.
    end_of_life: str = ""
    successor: str = ""

    @property
    def legacy(self) -> bool:
        return bool(self.end_of_life)

    @property
    def max_input(self) -> str:
        parts = []
        if self.max_tokens:
            parts.append(f"{self.max_tokens} tokens")
        if self.max_chars:
            parts.append(f"{self.max_chars} characters")
        return " or ".join(parts) or "unlimited"


@dataclass
class ParsedResponse:
    vectors: Matrix  # one float32 row per text, in input order
    input_tokens: int | None = None


class FamilyCodec(Protocol):
    spec: FamilySpec

    def validate(self, options: EmbedOptions) -> list[str]:
        """Problems with these options for this family (empty: fine)."""
        ...

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        """The InvokeModel JSON body for `texts` (len <= max_batch_size)."""
        ...

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        """Vectors for `count` texts, in order. Raises ValueError on a bad shape."""
        ...

    def dimensions_for(self, options: EmbedOptions) -> int:
        """The vector length these options produce."""
        ...


# ---- option checks ---------------------------------------------------------


class CodecBase:
    """What every codec shares: its spec, option checks, output dimension."""

    def __init__(self, spec: FamilySpec):
        self.spec = spec

    def validate(self, options: EmbedOptions) -> list[str]:
        return check_dimensions(self.spec, options) + check_input_type(self.spec, options)

    def dimensions_for(self, options: EmbedOptions) -> int:
        return options.dimensions or self.spec.default_dimensions


def check_dimensions(spec: FamilySpec, options: EmbedOptions) -> list[str]:
    if options.dimensions is None or options.dimensions == spec.default_dimensions:
        return []
    if options.dimensions in spec.dimensions:
        return []
    allowed = list(spec.dimensions) or [spec.default_dimensions]
    return [
        f"dimensions {options.dimensions} not supported by {spec.name}, "
        f"allowed values are: {allowed}"
    ]


def canonical_input_type(spec: FamilySpec, value: str) -> str | None:
    """The model's spelling of `value` (case-insensitive), or None if unknown."""
    wanted = value.strip().lower()
    for allowed in spec.input_types:
        if allowed.lower() == wanted:
            return allowed
    return None


def check_input_type(spec: FamilySpec, options: EmbedOptions) -> list[str]:
    if options.input_type is None:
        return []
    if not spec.input_types:
        return [
            f"inputType is not supported by {spec.name}: the model has no "
            "input type or embedding purpose setting; remove inputType"
        ]
    if canonical_input_type(spec, options.input_type) is None:
        return [
            f"inputType {options.input_type!r} not supported by {spec.name}, "
            f"allowed values are: [{' '.join(spec.input_types)}]"
        ]
    return []


def input_type_for(spec: FamilySpec, purpose: Purpose, options: EmbedOptions) -> str:
    """The input type / purpose value to send; a configured one wins."""
    if options.input_type is not None:
        value = canonical_input_type(spec, options.input_type)
        if value is None:
            raise ValueError(check_input_type(spec, options)[0])
        return value
    if purpose is Purpose.QUERY:
        return spec.query_input_type
    return spec.document_input_type


def effective_truncate(spec: FamilySpec, truncate: Truncate | None) -> Truncate:
    return truncate if truncate is not None else spec.default_truncate


def check_texts(spec: FamilySpec, texts: Sequence[str]) -> None:
    if not 1 <= len(texts) <= spec.max_batch_size:
        raise ValueError(
            f"{spec.name} takes 1 to {spec.max_batch_size} texts per call, got {len(texts)}"
        )


# ---- strict parsing ----------------------------------------------------------


def float_vectors(value: Any, count: int, what: str) -> Matrix:
    """Exactly `count` equally long vectors from a list of lists, as rows."""
    if isinstance(value, list) and len(value) != count:
        raise ValueError(f"{what}: expected {count} vectors, got {len(value)}")
    return float_matrix(value, what)


def one_vector(value: Any) -> Matrix:
    """A single answered vector as a one-row matrix."""
    return float_vector(value).reshape(1, -1)


def expect_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


def expect_one(count: int, what: str) -> None:
    if count != 1:
        raise ValueError(f"{what}: one text per call, asked to parse {count}")


def token_count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
