"""Collection configs: parse, apply defaults, validate.

- `parse_config_json(obj)`: a text2vec-aws moduleConfig dict -> CollectionConfig
  proto (unknown keys rejected, naming the key).
- `config_errors(msg)`: every generic problem, in text2vec-aws wording.
- `resolve(msg)`: a validated, typed `ResolvedConfig` or `ConfigError`.
- `load_collections(path)`: the --collections file (JSON or TOML).

Model-family and dialect checks (dimensions, truncate values...) belong to
the backends; `ResolvedConfig` carries what they need.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from vectorizer.errors import ConfigError
from vectorizer.types import EmbedOptions, Truncate
from vectorizer.v1 import vectorizer_pb2 as pb

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SERVICES = ("bedrock", "sagemaker")
PAYLOAD_FORMATS = ("auto", "tei", "jumpstart", "hf", "openai", "cohere", "text2vec-aws")
TRUNCATE_VALUES = tuple(t.value for t in Truncate)
DEFAULT_SAGEMAKER_BATCH = 32
MAX_BATCH_SIZE = 1024
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated collection config with defaults applied."""

    service: str
    region: str
    model: str = ""
    endpoint: str = ""
    family: str = ""
    target_model: str = ""
    target_variant: str = ""
    inference_component: str = ""
    custom_attributes: str = ""
    payload_format: str = "auto"
    batch_size: int = DEFAULT_SAGEMAKER_BATCH
    options: EmbedOptions = EmbedOptions()
    vectorize_class_name: bool = False
    properties: tuple[str, ...] = ()
    lowercase: bool = True
    # multi2vec (objects with images): fields and their weights.
    text_fields: tuple[str, ...] = ()
    image_fields: tuple[str, ...] = ()
    text_weights: tuple[float, ...] = ()
    image_weights: tuple[float, ...] = ()
    # SageMaker request body ceiling (None: the service's own limit).
    max_payload_bytes: int | None = None
    serverless: bool = False

    @property
    def multi2vec(self) -> bool:
        """Objects are embedded field by field (multi2vec rules), not as one text."""
        return bool(self.text_fields or self.image_fields)

    @property
    def target_name(self) -> str:
        """The model id or endpoint this config routes to (a metric label)."""
        return self.model if self.service == "bedrock" else self.endpoint


def parse_config_json(obj: Any) -> pb.CollectionConfig:
    """moduleConfig JSON (camelCase, as text2vec-aws) -> CollectionConfig."""
    if not isinstance(obj, dict):
        raise ConfigError([f"config must be a JSON object, got {type(obj).__name__}"])
    msg = pb.CollectionConfig()
    try:
        json_format.ParseDict(obj, msg)
    except json_format.ParseError as exc:
        raise ConfigError([_explain_parse_error(str(exc))]) from None
    return msg


def _explain_parse_error(text: str) -> str:
    m = re.search(r'has no field named "([^"]+)"', text)
    if m:
        known = sorted(f.json_name for f in pb.CollectionConfig.DESCRIPTOR.fields)
        return f"unknown config key {m.group(1)!r}; known keys are: {', '.join(known)}"
    return f"invalid config: {text}"


def config_errors(msg: pb.CollectionConfig) -> list[str]:
    """Every problem with `msg`, in text2vec-aws wording where it has one."""
    errors: list[str] = []
    service = msg.service or "bedrock"
    if service not in SERVICES:
        errors.append(f"wrong service, available services are: [{' '.join(SERVICES)}]")
    if not msg.region:
        errors.append("region cannot be empty")
    elif not _REGION.match(msg.region):
        errors.append(f"region {msg.region!r} is not an AWS region name (e.g. us-east-1)")
    if service == "bedrock":
        if not msg.model:
            errors.append("model cannot be empty")
        if msg.endpoint:
            errors.append(f"wrong configuration: {msg.endpoint}, not applicable to bedrock")
        for name in ("target_model", "target_variant", "inference_component", "custom_attributes"):
            if getattr(msg, name):
                errors.append(f"wrong configuration: {_json_name(name)}, not applicable to bedrock")
        for name in ("max_payload_bytes", "serverless"):
            if msg.HasField(name):
                errors.append(f"wrong configuration: {_json_name(name)}, not applicable to bedrock")
        if msg.payload_format:
            errors.append("wrong configuration: payloadFormat, not applicable to bedrock")
    elif service == "sagemaker":
        if not msg.endpoint:
            errors.append("endpoint cannot be empty")
        if msg.model:
            errors.append(
                "wrong configuration: model, not applicable to sagemaker. did you mean targetModel"
            )
        if msg.family:
            errors.append("wrong configuration: family, not applicable to sagemaker")
        if msg.payload_format and msg.payload_format not in PAYLOAD_FORMATS:
            errors.append(
                f"wrong payloadFormat {msg.payload_format!r}, available formats are: "
                f"[{' '.join(PAYLOAD_FORMATS)}]"
            )
        if len(msg.custom_attributes) > 1024:
            errors.append("customAttributes must be at most 1024 characters")
    if msg.truncate and msg.truncate.upper() not in TRUNCATE_VALUES:
        errors.append(
            f"wrong truncate {msg.truncate!r}, available values are: [{' '.join(TRUNCATE_VALUES)}]"
        )
    if msg.HasField("dimensions") and msg.dimensions <= 0:
        errors.append(f"dimensions must be positive, got {msg.dimensions}")
    if msg.HasField("batch_size") and not 1 <= msg.batch_size <= MAX_BATCH_SIZE:
        errors.append(f"batchSize must be between 1 and {MAX_BATCH_SIZE}, got {msg.batch_size}")
    errors.extend(_multi2vec_errors(msg))
    return errors


def _multi2vec_errors(msg: pb.CollectionConfig) -> list[str]:
    """multi2vec-aws's field and weight checks, in its wording."""
    errors = []
    pairs = (
        ("text", msg.text_fields, msg.weights.text_fields),
        ("image", msg.image_fields, msg.weights.image_fields),
    )
    for name, fields, weights in pairs:
        if any(not f for f in fields):
            errors.append(f"{name}Field values cannot be empty")
        if weights and len(weights) != len(fields):
            errors.append(f"weights.{name}Fields does not equal number of {name}Fields")
        if any(not math.isfinite(w) or w < 0 for w in weights):
            errors.append(f"weights.{name}Fields must be finite numbers, not negative")
    if msg.HasField("weights") and not any(w for _, _, ws in pairs for w in ws):
        if msg.weights.text_fields or msg.weights.image_fields:
            errors.append("weights must not all be zero")
    if (msg.text_fields or msg.image_fields) and msg.properties:
        errors.append(
            "properties does not apply with textFields/imageFields: list the fields to embed there"
        )
    return errors


def _json_name(field: str) -> str:
    return pb.CollectionConfig.DESCRIPTOR.fields_by_name[field].json_name


def resolve(msg: pb.CollectionConfig) -> ResolvedConfig:
    """Validate and apply defaults; raises ConfigError listing every problem."""
    errors = config_errors(msg)
    if errors:
        raise ConfigError(errors)
    options = EmbedOptions(
        dimensions=msg.dimensions if msg.HasField("dimensions") else None,
        normalize=msg.normalize if msg.HasField("normalize") else None,
        truncate=Truncate(msg.truncate.upper()) if msg.truncate else None,
        input_type=msg.input_type or None,
    )
    return ResolvedConfig(
        service=msg.service or "bedrock",
        region=msg.region,
        model=msg.model,
        endpoint=msg.endpoint,
        family=msg.family,
        target_model=msg.target_model,
        target_variant=msg.target_variant,
        inference_component=msg.inference_component,
        custom_attributes=msg.custom_attributes,
        payload_format=msg.payload_format or "auto",
        batch_size=msg.batch_size if msg.HasField("batch_size") else DEFAULT_SAGEMAKER_BATCH,
        options=options,
        vectorize_class_name=msg.vectorize_class_name,
        properties=tuple(msg.properties),
        lowercase=msg.lowercase if msg.HasField("lowercase") else True,
        text_fields=tuple(msg.text_fields),
        image_fields=tuple(msg.image_fields),
        text_weights=tuple(msg.weights.text_fields),
        image_weights=tuple(msg.weights.image_fields),
        max_payload_bytes=msg.max_payload_bytes if msg.HasField("max_payload_bytes") else None,
        serverless=msg.serverless,
    )


def load_collections(path: str | Path) -> dict[str, pb.CollectionConfig]:
    """Read a collections file: {name: moduleConfig} as JSON or TOML.

    Every config is validated now, so a bad file stops start-up with a
    message naming the collection, not a failed request later.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"collections file {p}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"collections file {p}: not UTF-8 text"]) from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"collections file {p}: cannot parse: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"collections file {p}: expected a mapping of name to config"])
    out: dict[str, pb.CollectionConfig] = {}
    problems: list[str] = []
    for name, obj in data.items():
        try:
            msg = parse_config_json(obj)
            resolve(msg)
        except ConfigError as exc:
            problems.extend(f"collection {name!r}: {e}" for e in exc.errors)
            continue
        out[name] = msg
    if problems:
        raise ConfigError(problems)
    return out
