"""vectorizer.vectors: answers' numbers become float32 arrays, anything else is refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.vectors import (
    all_finite,
    decode_json,
    float_matrix,
    float_vector,
    l2_normalize_rows,
)

FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=32)
NUMBERS = st.one_of(FLOATS, st.integers(min_value=-(2**31), max_value=2**31))
# Every JSON value that is not a number; bools are not numbers here.
NOT_NUMBERS = st.one_of(
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.just([1.0]),
    st.just({"a": 1}),
)


@given(st.lists(NUMBERS, min_size=1, max_size=200))
def test_numbers_become_the_same_float32_values(values):
    got = float_vector(values)
    assert got.dtype == np.float32 and got.shape == (len(values),)
    assert got.tolist() == np.array([float(v) for v in values], dtype=np.float32).tolist()


@given(st.lists(NUMBERS, min_size=1, max_size=50), st.data())
def test_one_non_number_anywhere_is_refused(values, data):
    bad = data.draw(NOT_NUMBERS)
    at = data.draw(st.integers(min_value=0, max_value=len(values)))
    with pytest.raises(ValueError, match="list of numbers"):
        float_vector(values[:at] + [bad] + values[at:])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([True, 0.5], "found bool"),
        ([1.0, False], "found bool"),
        ([0.0, 1, True], "found bool"),
        ([True], "found bool"),
        (["1.5", 2.0], "found str"),
        ([None, 1.0], "found NoneType"),
        ([1.0, [2.0]], "found list"),
        ([], "non-empty"),
        ("1,2", "non-empty list"),
        ([10**400, 1.0], "out of range"),
    ],
)
def test_refusals_name_the_fault(value, message):
    with pytest.raises(ValueError, match=message):
        float_vector(value)


def test_exact_zeros_and_ones_are_numbers():
    assert float_vector([0.0, 1.0, 0, 1, 0.5]).tolist() == [0.0, 1.0, 0.0, 1.0, 0.5]
    assert float_matrix([[0, 1], [1.0, 0.0]], "m").tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_matrix_rows_and_refusals():
    m = float_matrix([[0.5, -1.0], [2.0, 3.0]], "answer")
    assert m.dtype == np.float32 and m.shape == (2, 2)
    with pytest.raises(ValueError, match="answer: vectors of different lengths"):
        float_matrix([[1.0, 2.0], [1.0]], "answer")
    with pytest.raises(ValueError, match="found bool"):
        float_matrix([[1.0, 2.0], [0.5, True]], "answer")
    with pytest.raises(ValueError, match="found str"):
        float_matrix([[1.0, "x"], [0.5, 2.0]], "answer")
    with pytest.raises(ValueError, match="non-empty"):
        float_matrix([[], []], "answer")
    with pytest.raises(ValueError, match="answer: expected a list of vectors"):
        float_matrix("nope", "answer")
    with pytest.raises(ValueError, match="list of numbers"):
        float_matrix([[[1.0]]], "answer")


def test_values_past_float32_become_infinite_and_fail_the_finite_check():
    v = float_vector([1e300, 1.0])
    assert not all_finite(v)


def test_decode_json_reads_nan_literals_for_the_finite_check():
    assert decode_json(b'{"a": [1.5, 2]}') == {"a": [1.5, 2]}
    body = json.loads(b"[NaN, 1.0]")
    got = decode_json(b"[NaN, 1.0]")
    assert math.isnan(got[0]) and math.isnan(body[0])
    assert not all_finite(float_vector(got))
    with pytest.raises(ValueError):
        decode_json(b"{not json")


def test_normalise_rows_like_float64_and_keep_zero_rows():
    m = np.array([[3.0, 4.0], [0.0, 0.0], [1e-30, 1e-30]], dtype=np.float32)
    out = l2_normalize_rows(m)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [2**-0.5, 2**-0.5]], rtol=1e-6)


@given(st.lists(st.lists(FLOATS, min_size=4, max_size=4), min_size=1, max_size=8))
def test_normalised_rows_have_unit_or_zero_length(rows):
    out = l2_normalize_rows(np.array(rows, dtype=np.float32))
    for row, original in zip(out.astype(np.float64), rows, strict=True):
        norm = float(np.linalg.norm(row))
        assert norm == pytest.approx(1.0, rel=1e-6) if any(original) else norm == 0.0
