"""Vectors as float32 arrays, from the upstream's JSON to the cache and back.

Every component of every vector passes through here, so nothing here loops
over components in Python: numpy and orjson do the work at C speed.

- `Vector` / `Matrix`: the array types (1-D, and 2-D with one row a text).
- `decode_json`: an upstream answer's bytes as Python values (orjson; the
  standard parser only for answers orjson refuses, such as NaN literals,
  so that such answers still get the precise error further on).
- `float_vector` / `float_matrix`: a JSON list (of lists) of numbers as a
  float32 array; ValueError naming the fault for anything else (strings,
  booleans, nulls, empty or ragged lists).
- `all_finite`, `l2_normalize_rows`: the engine's checks and normalisation,
  over a whole batch at once.

Why the numeric check is not a type test per element: `np.array` on a list
discovers the element types in C. A list that holds a string, a null or a
nested list yields a non-numeric dtype (or raises) and is refused. Booleans
are the one non-number numpy folds into a numeric array, always as exactly
0 or 1; only components equal to 0 or 1 are therefore looked at one by one,
and those are rare in an embedding.
"""

from __future__ import annotations

import json
import operator
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

# Exact types: bool (a subclass of int) is not a number here.
_NUMBER_TYPES = frozenset({int, float})
_NUMERIC_KINDS = frozenset("fiu")


def decode_json(body: bytes) -> Any:
    """Parse an answer; raises ValueError (JSONDecodeError) when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        # orjson follows RFC 8259 and refuses NaN/Infinity; the standard
        # parser reads them, and the finite check then names the fault.
        return json.loads(body)


def float_vector(value: Any) -> Vector:
    """A non-empty list of numbers as a float32 vector."""
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list of numbers")
    arr = _discover(value, 1)
    if arr is None:
        raise ValueError(_not_numbers(value))
    if _holds_bool_1d(value, arr):
        raise ValueError("expected a list of numbers, found bool")
    return _float32(arr)


def float_matrix(value: Any, what: str) -> Matrix:
    """A list of equally long, non-empty lists of numbers as a float32 matrix."""
    if not isinstance(value, list):
        raise ValueError(f"{what}: expected a list of vectors, got {type(value).__name__}")
    if not value:
        return np.empty((0, 0), dtype=np.float32)
    arr = _discover(value, 2)
    if arr is None or arr.shape[1] == 0:
        # Slow path, for the message: which row is not a list of numbers, or
        # whether the rows only differ in length.
        rows = [float_vector(v) for v in value]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"{what}: vectors of different lengths in one response")
        arr = np.asarray(rows)
    if _holds_bool_2d(value, arr):
        raise ValueError("expected a list of numbers, found bool")
    return _float32(arr)


def all_finite(arr: npt.NDArray[Any]) -> bool:
    return bool(np.isfinite(arr).all())


def l2_normalize_rows(matrix: npt.NDArray[np.floating[Any]]) -> Matrix:
    """Each row scaled to unit length; zero rows stay zero. Rows must be finite.

    Computed in float64 and scaled by each row's largest magnitude first:
    squaring tiny (or huge) components underflows (overflows) and would lose
    the direction.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.size == 0:
        return np.asarray(matrix, dtype=np.float32)
    peak = np.abs(m).max(axis=-1, keepdims=True)
    scaled = m / np.where(peak == 0.0, 1.0, peak)
    norms = np.linalg.norm(scaled, axis=-1, keepdims=True)
    return (scaled / np.where(norms == 0.0, 1.0, norms)).astype(np.float32)


def _discover(value: list[Any], ndim: int) -> npt.NDArray[Any] | None:
    """The numeric array numpy makes of `value`, or None when it makes none."""
    try:
        arr = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None  # ragged rows, or a value numpy cannot hold
    if arr.dtype.kind not in _NUMERIC_KINDS or arr.ndim != ndim:
        return None
    return arr


def _float32(arr: npt.NDArray[Any]) -> Vector:
    # Finite values beyond float32's range become infinite here, and are
    # then refused by the finite check like any other infinity.
    with np.errstate(over="ignore"):
        return arr.astype(np.float32, copy=False)


def _holds_bool_1d(value: list[Any], arr: npt.NDArray[Any]) -> bool:
    suspects = np.flatnonzero((arr == 0) | (arr == 1))
    if not suspects.size:
        return False
    return bool in set(map(type, map(value.__getitem__, suspects.tolist())))


def _holds_bool_2d(value: list[Any], arr: npt.NDArray[Any]) -> bool:
    rows, cols = np.nonzero((arr == 0) | (arr == 1))
    if not rows.size:
        return False
    picked = map(operator.getitem, map(value.__getitem__, rows.tolist()), cols.tolist())
    return bool in set(map(type, picked))


def _not_numbers(value: list[Any]) -> str:
    kinds = set(map(type, value))
    bad = next((k for k in kinds if k not in _NUMBER_TYPES), None)
    if bad is None:
        return "expected a list of numbers, found a number out of range"
    return f"expected a list of numbers, found {bad.__name__}"
