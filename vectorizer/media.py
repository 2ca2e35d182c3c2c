"""Image inputs: what a caller sent, checked before anything is sent upstream.

- `ImageInput`: one image to embed, inline bytes or an `s3://` location,
  optionally with text for one joint text+image vector. Hashable by content
  (SHA-256 of the bytes), so the engine dedupes and caches it like a text.
- `inspect(data, declared_mime)`: the image's real format (magic bytes), its
  pixel size and integrity (Pillow), or an `ItemError` naming the problem:
  not an image, a MIME type that contradicts the bytes, truncated data.
- `decode_image_string(value)`: base64 or a `data:<mime>;base64,` URL -> bytes
  and the declared MIME type (what Weaviate blobs, Cohere and OpenAI-style
  callers send).
- `image_from_s3(uri, ...)`: an S3 location, checked for shape only (the
  model reads the object; the sidecar never fetches it).

Formats are named by their short wire names (`png`, `jpeg`, `gif`, `webp`),
the names Nova's `format` field uses; `MIME_TYPES` maps them to MIME types.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from vectorizer.types import ItemError

MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
_MIME_ALIASES = {"image/jpg": "jpeg", "image/pjpeg": "jpeg", "image/x-png": "png"}
FORMAT_OF_MIME = {**{m: f for f, m in MIME_TYPES.items()}, **_MIME_ALIASES}
# Pillow's format names for the ones we accept.
_PIL_FORMATS = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,", re.I)
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")
# Decompression bombs: refuse before decoding pixels (Pillow warns at ~89 MP).
MAX_DECODE_PIXELS = 100_000_000

IMAGE_INVALID = "IMAGE_INVALID"


def sniff_format(data: bytes) -> str | None:
    """The format the leading bytes announce, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class ImageInfo:
    format: str  # png, jpeg, gif, webp
    width: int
    height: int
    size: int  # bytes

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class ImageInput:
    """One image to embed (with optional text for a joint vector).

    Equality and hashing use `digest` (content) and the fields that change
    the vector, not the bytes themselves.
    """

    digest: str  # sha256 hex of the bytes; of the URI for S3
    data: bytes | None = field(default=None, compare=False, repr=False)
    info: ImageInfo | None = field(default=None, compare=False)
    s3_uri: str = ""
    bucket_owner: str = ""
    # Declared type: for bytes only checked (the format comes from the data),
    # for S3 the format told to the model (then part of `digest`).
    mime_type: str = field(default="", compare=False)
    detail: str = ""  # Nova detailLevel: STANDARD_IMAGE / DOCUMENT_IMAGE ("" default)
    text: str = ""  # joint text+image vector when not empty

    @property
    def format(self) -> str:
        if self.info is not None:
            return self.info.format
        return FORMAT_OF_MIME.get(self.mime_type.lower(), "")

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0

    def base64(self) -> str:
        return base64.b64encode(self.data or b"").decode("ascii")

    def data_url(self) -> str:
        return f"data:{MIME_TYPES.get(self.format, 'image/png')};base64,{self.base64()}"

    def cache_text(self) -> str:
        """What the cache key holds for this image besides the options: never
        the bytes, only their hash (and what else changes the vector)."""
        return "\n".join(("image", self.digest, self.format, self.detail, self.text))

    @property
    def cacheable(self) -> bool:
        # An S3 object can change behind the same URI: never served from cache.
        return self.data is not None


def _invalid(message: str) -> ItemError:
    return ItemError(IMAGE_INVALID, message, False)


def inspect(data: bytes, declared_mime: str = "") -> tuple[ImageInfo | None, ItemError | None]:
    """Format, pixel size and integrity of `data`; an item error if it is not a
    complete image of an accepted format, or not of the declared MIME type."""
    if not data:
        return None, _invalid("image is empty: send the image's bytes")
    sniffed = sniff_format(data)
    if sniffed is None:
        return None, _invalid(
            "data is not a PNG, JPEG, GIF or WebP image (its first bytes match none of "
            "them); send one of those formats"
        )
    if declared_mime:
        declared = FORMAT_OF_MIME.get(declared_mime.strip().lower())
        if declared is None:
            return None, _invalid(
                f"MIME type {declared_mime[:60]!r} is not an image type accepted here "
                f"({', '.join(MIME_TYPES.values())})"
            )
        if declared != sniffed:
            return None, _invalid(
                f"MIME type {declared_mime[:60]} does not match the data, which is "
                f"{sniffed.upper()}: send {MIME_TYPES[sniffed]} (or the right bytes)"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_DECODE_PIXELS:
                    return None, _invalid(
                        f"image is {width}x{height} pixels, over {MAX_DECODE_PIXELS} pixels; "
                        "scale it down"
                    )
                fmt = _PIL_FORMATS.get(img.format or "")
                # Decoding every pixel is the only proof the data is complete.
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, _invalid(
            f"image has more pixels than can be decoded safely (over {Image.MAX_IMAGE_PIXELS}); "
            "scale it down"
        )
    except UnidentifiedImageError:
        return None, _invalid(f"{sniffed.upper()} data cannot be decoded: the file is corrupt")
    except (OSError, SyntaxError, ValueError):
        return None, _invalid(
            f"{sniffed.upper()} data is truncated or corrupt (it ends before the image does); "
            "send the whole file"
        )
    if fmt != sniffed:
        return None, _invalid(f"{sniffed.upper()} data cannot be decoded: the file is corrupt")
    return ImageInfo(sniffed, width, height, len(data)), None


def decode_image_string(value: str) -> tuple[bytes, str]:
    """Bytes and declared MIME type ('' when none) of base64 or a data URL.

    Raises ValueError with a message for the caller.
    """
    mime = ""
    text = value.strip()
    match = _DATA_URL.match(text)
    if match:
        if not match.group(3):
            raise ValueError("data URL is not base64 encoded (';base64,' missing)")
        mime = (match.group(1) or "").lower()
        text = text[match.end() :]
    elif text.startswith("data:"):
        raise ValueError("malformed data URL: expected data:<mime>;base64,<data>")
    try:
        # Weaviate and browsers may wrap base64 in lines; validate=False drops
        # only whitespace-like noise, so strip it ourselves and validate.
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("image is not valid base64") from None
    return data, mime


def image_from_bytes(
    data: bytes, mime_type: str = "", *, detail: str = "", text: str = ""
) -> tuple[ImageInput | None, ItemError | None]:
    info, error = inspect(data, mime_type)
    if error is not None:
        return None, error
    digest = hashlib.sha256(data).hexdigest()
    return (
        ImageInput(digest, data, info, mime_type=mime_type, detail=detail, text=text),
        None,
    )


def image_from_s3(
    uri: str, mime_type: str, *, bucket_owner: str = "", detail: str = "", text: str = ""
) -> tuple[ImageInput | None, ItemError | None]:
    if not _S3_URI.match(uri):
        return None, _invalid(
            f"S3 location {uri[:80]!r} is not of the form s3://bucket/key with a valid bucket name"
        )
    if bucket_owner and not re.fullmatch(r"\d{12}", bucket_owner):
        return None, _invalid("bucket owner must be a 12-digit AWS account id")
    if mime_type and mime_type.strip().lower() not in FORMAT_OF_MIME:
        return None, _invalid(
            f"MIME type {mime_type[:60]!r} is not an image type accepted here "
            f"({', '.join(MIME_TYPES.values())})"
        )
    mime = mime_type.strip().lower()
    digest = hashlib.sha256(f"{uri}\n{bucket_owner}\n{mime}".encode()).hexdigest()
    return (
        ImageInput(
            digest,
            None,
            None,
            s3_uri=uri,
            bucket_owner=bucket_owner,
            mime_type=mime,
            detail=detail,
            text=text,
        ),
        None,
    )
