"""VectorizeObjects' protos as domain values.

- `struct_dict(struct)`: an object's properties as plain Python values.
- `text_settings(config, class_name, schema)`: the resolved config and the
  request's property schema as the `TextSettings` that build an object's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2

from vectorizer.config import ResolvedConfig
from vectorizer.text import PropertySettings, TextSettings
from vectorizer.v1 import vectorizer_pb2 as pb


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python values (json_format refuses NaN; callers may send it)."""
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    if kind == "struct_value":
        return struct_dict(value.struct_value)
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


def text_settings(
    config: ResolvedConfig, class_name: str, schema: Sequence[pb.PropertySchema]
) -> TextSettings:
    props = {
        p.name: PropertySettings(
            skip=p.skip,
            vectorize_property_name=p.vectorize_property_name,
            data_type=p.data_type,
            indexed=p.indexed if p.HasField("indexed") else None,
        )
        for p in schema
    }
    return TextSettings(
        class_name=class_name,
        vectorize_class_name=config.vectorize_class_name,
        properties=tuple(config.properties),
        property_settings=props,
        lowercase=config.lowercase,
    )
