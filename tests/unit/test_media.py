"""Image inputs: real format from the bytes, integrity, MIME checks, data URLs."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.images import encode, make, solid
from vectorizer.media import (
    decode_image_string,
    image_from_bytes,
    image_from_s3,
    inspect,
    sniff_format,
)

FORMATS = ("png", "jpeg", "gif", "webp")


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_read_from_its_bytes(fmt: str) -> None:
    data = solid((10, 200, 30), (40, 30), fmt)
    assert sniff_format(data) == fmt
    info, error = inspect(data)
    assert error is None and info is not None
    assert (info.format, info.width, info.height, info.size) == (fmt, 40, 30, len(data))


def test_declared_mime_must_match_the_bytes() -> None:
    png = solid((1, 2, 3))
    assert inspect(png, "image/png")[1] is None
    _, error = inspect(png, "image/jpeg")
    assert error is not None and error.code == "IMAGE_INVALID"
    assert "does not match the data, which is PNG" in error.message
    assert "image/png" in error.message  # the fix
    _, error = inspect(png, "text/plain")
    assert error is not None and "not an image type accepted" in error.message


def test_jpg_alias_is_accepted() -> None:
    assert inspect(solid((5, 5, 5), fmt="jpeg"), "image/jpg")[1] is None


@pytest.mark.parametrize("fmt", ("png", "jpeg", "gif", "webp"))
def test_truncated_file_is_refused(fmt: str) -> None:
    data = make("checker", 1, 96, fmt)
    _, error = inspect(data[: len(data) * 2 // 3])
    assert error is not None and error.code == "IMAGE_INVALID"
    assert "truncated or corrupt" in error.message or "cannot be decoded" in error.message


def test_not_an_image_is_refused_naming_the_formats() -> None:
    _, error = inspect(b"%PDF-1.7 hello")
    assert error is not None and "PNG, JPEG, GIF or WebP" in error.message
    _, error = inspect(b"")
    assert error is not None and "empty" in error.message


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # A 12000x12000 PNG of zeros compresses to a few hundred KB.
    data = encode(np.zeros((12_000, 12_000, 3), dtype=np.uint8), "png", compress_level=9)
    _, error = inspect(data)
    assert error is not None and "pixels" in error.message


def test_data_url_and_plain_base64() -> None:
    png = solid((9, 9, 9))
    b64 = base64.b64encode(png).decode()
    assert decode_image_string(b64) == (png, "")
    assert decode_image_string(f"data:image/png;base64,{b64}") == (png, "image/png")
    # Line-wrapped base64 (as some encoders write it) is the same bytes.
    wrapped = "\n".join(b64[i : i + 60] for i in range(0, len(b64), 60))
    assert decode_image_string(wrapped)[0] == png
    for bad in ("not base64!!", "data:image/png,abc", "data:;;;", "data:image/png;base64,@@"):
        with pytest.raises(ValueError):
            decode_image_string(bad)


def test_identical_bytes_are_one_item_whatever_object_holds_them() -> None:
    png = make("disc", 3)
    a, _ = image_from_bytes(png, "image/png")
    b, _ = image_from_bytes(bytes(png))
    assert a is not None and b is not None and a == b and hash(a) == hash(b)
    c, _ = image_from_bytes(png, text="a caption")
    assert c != a  # joint text changes the vector
    assert a.cache_text() != c.cache_text()
    assert png.hex()[:32] not in a.cache_text()  # the key holds a hash, never bytes


def test_s3_location_shape() -> None:
    img, error = image_from_s3("s3://my-bucket/a/b.png", "image/png", bucket_owner="123456789012")
    assert error is None and img is not None and img.format == "png" and not img.cacheable
    for uri in ("https://x/y.png", "s3://", "s3://Bad_Bucket/k"):
        assert image_from_s3(uri, "image/png")[1] is not None
    assert image_from_s3("s3://b-1/k", "image/png", bucket_owner="me")[1] is not None


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_inspect_never_raises(data: bytes) -> None:
    info, error = inspect(data)
    assert (info is None) != (error is None)
    for prefix in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a"):
        info, error = inspect(prefix + data)
        assert (info is None) != (error is None)


def test_input_with_bad_utf8_text_is_its_own_item_error() -> None:
    from vectorizer.decoding import Lenient, decode_vectorize
    from vectorizer.v1 import internal_pb2 as ib
    from vectorizer.v1 import vectorizer_pb2 as pb

    good = pb.Input(image=pb.Image(data=solid((1, 1, 1)))).SerializeToString()
    # An Input whose text field (1) holds bytes that are not UTF-8.
    bad = b"\x0a\x02\xff\xfe"
    raw = ib.VectorizeRequestBytes(texts=[b"ok"], inputs=[good, bad], collection=b"c")
    decoded = decode_vectorize(raw.SerializeToString())
    assert isinstance(decoded, Lenient)
    assert decoded.bad_items == frozenset({2})  # texts first: 1 text, then input 1
    assert decoded.message.inputs[0].image.data == solid((1, 1, 1))
