"""Request-body checks that fail the way Bedrock's model schemas do.

Bedrock validates an InvokeModel body against the model's JSON schema and
answers `ValidationException` with messages such as
"Malformed input request: #/texts: expected maximum item count: 96, found:
97, please reformat your input and try again." The helpers here read one
field each from a JSON object (path `#`, `#/texts`, ...) and raise that
error on the first violation.

Parts: `malformed` (the error), `parse_object` (bytes -> JSON object),
`check_keys` (required and extraneous keys), and typed getters `get_str`,
`get_bool`, `get_int`, `get_enum`, `get_object`, `get_str_list`,
`get_enum_list`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from vectorizer.emulator.wire import AwsError

_MISSING = object()


def malformed(detail: str) -> AwsError:
    return AwsError(
        400,
        "ValidationException",
        f"Malformed input request: {detail}, please reformat your input and try again.",
    )


def type_name(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "BigDecimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    return "JSONObject"


def _type_error(path: str, expected: str, value: Any) -> AwsError:
    return malformed(f"{path}: expected type: {expected}, found: {type_name(value)}")


def parse_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"#: invalid JSON ({exc.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise _type_error("#", "JSONObject", value)
    return value


def check_keys(
    obj: dict[str, Any], path: str, allowed: Collection[str], required: Sequence[str] = ()
) -> None:
    for key in required:
        if key not in obj:
            raise malformed(f"{path}: required key [{key}] not found")
    for key in obj:
        if key not in allowed:
            raise malformed(f"{path}: extraneous key [{key}] is not permitted")


def _child(path: str, key: str) -> str:
    return f"{path}/{key}"


def get_object(obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    if not isinstance(value, dict):
        raise _type_error(_child(path, key), "JSONObject", value)
    return value


def _check_length(path: str, text: str, min_len: int, max_len: int | None) -> None:
    if len(text) < min_len:
        raise malformed(f"{path}: expected minLength: {min_len}, actual: {len(text)}")
    if max_len is not None and len(text) > max_len:
        raise malformed(f"{path}: expected maxLength: {max_len}, actual: {len(text)}")


def get_str(
    obj: dict[str, Any], key: str, path: str, *, min_len: int = 1, max_len: int | None = None
) -> str | None:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    if not isinstance(value, str):
        raise _type_error(_child(path, key), "String", value)
    _check_length(_child(path, key), value, min_len, max_len)
    return value


def get_bool(obj: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _type_error(_child(path, key), "Boolean", value)
    return value


def get_int(obj: dict[str, Any], key: str, path: str, *, minimum: int = 1) -> int | None:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(_child(path, key), "Integer", value)
    if value < minimum:
        raise malformed(f"{_child(path, key)}: {value} is not greater or equal to {minimum}")
    return value


def get_enum(
    obj: dict[str, Any], key: str, path: str, values: Collection[Any], default: Any
) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return default
    if value not in values or isinstance(value, bool):
        raise malformed(f"{_child(path, key)}: {value} is not a valid enum value")
    return value


def _get_list(obj: dict[str, Any], key: str, path: str, min_items: int, max_items: int) -> list:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return []
    where = _child(path, key)
    if not isinstance(value, list):
        raise _type_error(where, "JSONArray", value)
    if len(value) < min_items:
        raise malformed(f"{where}: expected minimum item count: {min_items}, found: {len(value)}")
    if len(value) > max_items:
        raise malformed(f"{where}: expected maximum item count: {max_items}, found: {len(value)}")
    return value


def get_str_list(
    obj: dict[str, Any], key: str, path: str, *, min_items: int = 1, max_items: int = 10**9
) -> list[str]:
    value = _get_list(obj, key, path, min_items, max_items)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _type_error(f"{_child(path, key)}/{i}", "String", item)
    return value


def get_enum_list(
    obj: dict[str, Any], key: str, path: str, values: Collection[str]
) -> list[str] | None:
    if key not in obj:
        return None
    value = _get_list(obj, key, path, 1, len(values))
    for i, item in enumerate(value):
        if item not in values:
            raise malformed(f"{_child(path, key)}/{i}: {item} is not a valid enum value")
    return value
