"""Go's encoding/json, net/url and time parsing, as strict as Go is.

Stock Weaviate reads the sidecar's answers with Go's `json.Unmarshal` into
typed structs: a field of the wrong JSON type fails the whole answer. These
helpers reproduce that, so a test fails exactly where Weaviate would.

- `marshal(obj)`: `json.Marshal` bytes of a dict built in struct field order
  (compact; `<`, `>`, `&`, U+2028 and U+2029 escaped as Go does).
- Types for `unmarshal`: `STRING`, `INT`, `FLOAT32`, `BOOL`, `ANY`,
  `Slice(t)`, `Ptr(t)`, `Struct(fields)`, `MAP_ANY` (map[string]any) and
  `OPENAI_CODE` (Weaviate's openAICode: a number or a string).
- `unmarshal(t, raw)`: the decoded value or `GoJSONError` with Go's wording.
  Unknown keys are ignored; keys match fields case-insensitively (exact
  first); null leaves a field at its zero value.
- `parse_duration(s)`: `time.ParseDuration`, in seconds; `atoi(s)`:
  `strconv.Atoi`; `join_path(base, elem)`: `url.JoinPath`.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

FLOAT32_MAX = 3.4028234663852886e38
INT64 = (-(2**63), 2**63 - 1)


class GoJSONError(ValueError):
    """Where Go's json.Unmarshal returns an error."""


@dataclass(frozen=True)
class Number:
    """A JSON number kept as its literal: Go judges it by the target type."""

    literal: str


@dataclass(frozen=True)
class Kind:
    name: str


STRING = Kind("string")
INT = Kind("int")
FLOAT32 = Kind("float32")
BOOL = Kind("bool")
ANY = Kind("interface {}")
MAP_ANY = Kind("map[string]interface {}")
OPENAI_CODE = Kind("openAICode")


@dataclass(frozen=True)
class Slice:
    item: Any

    @property
    def name(self) -> str:
        return "[]" + self.item.name


@dataclass(frozen=True)
class Ptr:
    item: Any

    @property
    def name(self) -> str:
        return "*" + self.item.name


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[tuple[str, Any], ...]


def struct(name: str, **fields: Any) -> Struct:
    return Struct(name, tuple(fields.items()))


def _load(raw: bytes) -> Any:
    def bad_constant(name: str) -> None:
        raise GoJSONError(f"invalid character '{name[0]}' looking for beginning of value")

    try:
        return json.loads(
            raw.decode("utf-8", "replace"),
            parse_int=Number,
            parse_float=Number,
            parse_constant=bad_constant,
        )
    except json.JSONDecodeError as exc:
        raise GoJSONError(f"invalid JSON: {exc}") from None


def _json_kind(value: Any) -> str:
    if isinstance(value, Number):
        return "number " + value.literal
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _mismatch(value: Any, kind: Any, where: str) -> GoJSONError:
    return GoJSONError(
        f"json: cannot unmarshal {_json_kind(value)} into Go value {where or '(top)'} "
        f"of type {kind.name}"
    )


def _plain(value: Any) -> Any:
    """A decoded `interface{}`: numbers become float64, as Go's default."""
    if isinstance(value, Number):
        return float(value.literal)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _decode(kind: Any, value: Any, where: str) -> Any:
    if isinstance(kind, Ptr):
        return None if value is None else _decode(kind.item, value, where)
    if value is None:
        return _zero(kind)
    if kind is STRING:
        if not isinstance(value, str):
            raise _mismatch(value, kind, where)
        return value
    if kind is BOOL:
        if not isinstance(value, bool):
            raise _mismatch(value, kind, where)
        return value
    if kind is INT:
        if not isinstance(value, Number) or not re.fullmatch(r"-?\d+", value.literal):
            raise _mismatch(value, kind, where)
        number = int(value.literal)
        if not INT64[0] <= number <= INT64[1]:
            raise _mismatch(value, kind, where)
        return number
    if kind is FLOAT32:
        if not isinstance(value, Number):
            raise _mismatch(value, kind, where)
        number = float(value.literal)
        if math.isinf(number) or abs(number) > FLOAT32_MAX:
            raise _mismatch(value, kind, where)
        return number
    if kind is ANY:
        return _plain(value)
    if kind is MAP_ANY:
        if not isinstance(value, dict):
            raise _mismatch(value, kind, where)
        return _plain(value)
    if kind is OPENAI_CODE:
        # UnmarshalJSON: strconv.Atoi of the raw bytes, else a JSON string.
        if isinstance(value, Number) and atoi(value.literal) is not None:
            return value.literal
        if not isinstance(value, str):
            raise _mismatch(value, STRING, where)
        return value
    if isinstance(kind, Slice):
        if not isinstance(value, list):
            raise _mismatch(value, kind, where)
        return [_decode(kind.item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(kind, Struct):
        if not isinstance(value, dict):
            raise _mismatch(value, kind, where)
        out = _zero(kind)
        for key, item in value.items():
            name = _field(kind, key)
            if name is not None:
                field_kind = dict(kind.fields)[name]
                out[name] = _decode(field_kind, item, f"{kind.name}.{name}")
        return out
    raise TypeError(f"unknown Go type {kind!r}")


def _field(kind: Struct, key: str) -> str | None:
    names = [n for n, _ in kind.fields]
    if key in names:
        return key
    return next((n for n in names if n.lower() == key.lower()), None)


def _zero(kind: Any) -> Any:
    if kind is STRING or kind is OPENAI_CODE:
        return ""
    if kind is INT:
        return 0
    if kind is FLOAT32:
        return 0.0
    if kind is BOOL:
        return False
    if isinstance(kind, Struct):
        return {name: _zero(k) for name, k in kind.fields}
    return None  # slices, pointers, maps, interfaces


def unmarshal(kind: Any, raw: bytes) -> Any:
    """json.Unmarshal(raw, &v) for v of `kind`; GoJSONError where Go errs."""
    return _decode(kind, _load(raw), "")


_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def marshal(obj: Any) -> bytes:
    """json.Marshal of `obj` (dicts in struct field order, omitted fields left out)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _HTML[m.group(0)], text).encode("utf-8")


def atoi(text: str) -> int | None:
    """strconv.Atoi: the int, or None where Go returns an error."""
    if not re.fullmatch(r"[+-]?\d+", text):
        return None
    number = int(text)
    return number if INT64[0] <= number <= INT64[1] else None


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """time.ParseDuration in seconds, or None where Go returns an error."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        return None
    total, pos = 0.0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return -total if text.startswith("-") else total


def join_path(base: str, elem: str) -> str:
    """url.JoinPath(base, elem): path.Join, keeping a trailing slash of `elem`."""
    parts = urlsplit(base)
    joined = posixpath.normpath(posixpath.join(parts.path or "/", elem.lstrip("/")))
    if elem.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, parts.fragment))
