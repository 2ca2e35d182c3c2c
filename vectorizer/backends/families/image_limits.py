"""What each multimodal family accepts as an image, checked before any call.

- `ImageSpec`: one family's image facts: formats, bytes, pixel bounds,
  images per call, whether it reads S3 and takes text with the image.
- `IMAGE_SPECS`: by family name; a family missing here takes text only.
- `check_image(spec, image)`: the first limit an image breaks, as an item
  error that names the limit and the fix (None when it fits).
- `pack(spec, images)`: upstream calls for a list of images: at most
  `per_call` each, within Bedrock's InvokeModel body limit, one kind of item
  (image alone, or image with text) per call.

Sources (AWS model-parameter and model pages, second source in brackets):
Titan Multimodal G1: PNG/JPEG, 25 MB, 2048x2048, one per call [Weaviate's
aws.go sends `inputImage` alone or with `inputText`]. Nova Multimodal:
png/jpeg/gif/webp, inline or S3, one per call, `detailLevel`; no pixel bound
is documented for embeddings, so none is enforced [LiteLLM's Nova
transformation]. Cohere Embed v3: one JPEG/PNG data URI per call, 5 MB.
Cohere Embed v4: up to 96 images per call as data URIs, mixed text+image
through `inputs`; over-large images are downsampled by the model, so no pixel
bound. Marengo 2.7 and 3.0: image 5 MB inline or S3 (with the bucket owner);
JPEG/PNG of at least 128x128 pixels (TwelveLabs' own input requirements);
3.0 also embeds text with an image (`text_image`) [LiteLLM's Marengo 3
transformation].
"""

from __future__ import annotations

from dataclasses import dataclass

from vectorizer.media import MIME_TYPES, ImageInput
from vectorizer.types import ItemError

MB = 1_000_000
# InvokeModel's request body quota. Base64 makes an image 4/3 its size.
BODY_LIMIT = 25 * MB
BODY_OVERHEAD = 4_096  # JSON around the images: keys, options, text

IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
IMAGE_FORMAT = "IMAGE_FORMAT_UNSUPPORTED"
IMAGE_DIMENSIONS = "IMAGE_DIMENSIONS"
IMAGE_SOURCE = "IMAGE_SOURCE_UNSUPPORTED"
MEDIA_NOT_SUPPORTED = "MEDIA_NOT_SUPPORTED"


@dataclass(frozen=True)
class ImageSpec:
    formats: tuple[str, ...]
    max_bytes: int | None  # documented per-image limit (raw bytes)
    per_call: int  # images per upstream call
    max_side: int | None = None  # longest side, pixels
    min_side: int | None = None  # shortest side, pixels
    s3: bool = False  # reads s3:// locations itself
    s3_owner_required: bool = False
    joint_text: bool = False  # one vector for text + image
    detail_levels: tuple[str, ...] = ()  # Nova detailLevel values


IMAGE_SPECS: dict[str, ImageSpec] = {
    "titan-multimodal-g1": ImageSpec(
        formats=("png", "jpeg"), max_bytes=25 * MB, per_call=1, max_side=2048, joint_text=True
    ),
    "nova-multimodal": ImageSpec(
        formats=("png", "jpeg", "gif", "webp"),
        max_bytes=None,
        per_call=1,
        s3=True,
        detail_levels=("STANDARD_IMAGE", "DOCUMENT_IMAGE"),
    ),
    "cohere-v3": ImageSpec(formats=("png", "jpeg"), max_bytes=5 * MB, per_call=1),
    "cohere-v4": ImageSpec(
        formats=("png", "jpeg", "webp", "gif"), max_bytes=None, per_call=96, joint_text=True
    ),
    "marengo-2.7": ImageSpec(
        formats=("png", "jpeg"),
        max_bytes=5 * MB,
        per_call=1,
        min_side=128,
        s3=True,
        s3_owner_required=True,
    ),
    "marengo-3.0": ImageSpec(
        formats=("png", "jpeg"),
        max_bytes=5 * MB,
        per_call=1,
        min_side=128,
        s3=True,
        s3_owner_required=True,
        joint_text=True,
    ),
}

# The largest raw image whose base64 still fits one InvokeModel body.
_BODY_MAX_RAW = (BODY_LIMIT - BODY_OVERHEAD) * 3 // 4


def image_capable() -> list[str]:
    return list(IMAGE_SPECS)


def not_supported(family: str) -> ItemError:
    return ItemError(
        MEDIA_NOT_SUPPORTED,
        f"{family} embeds text only; to embed images use a multimodal model "
        f"({', '.join(IMAGE_SPECS)})",
        False,
    )


def _fail(code: str, message: str) -> ItemError:
    return ItemError(code, message, False)


def check_image(family: str, spec: ImageSpec, image: ImageInput) -> ItemError | None:
    """The first limit `image` breaks for `family`, with what to do about it."""
    if image.s3_uri:
        if not spec.s3:
            return _fail(
                IMAGE_SOURCE,
                f"{family} cannot read images from S3: send the image's bytes instead",
            )
        if spec.s3_owner_required and not image.bucket_owner:
            return _fail(
                IMAGE_SOURCE,
                f"{family} needs the bucket owner (12-digit account id) with an S3 location; "
                "set bucket_owner",
            )
        if not image.format:
            return _fail(
                IMAGE_FORMAT,
                "an S3 image needs its MIME type (the sidecar does not read the object): "
                f"set mime_type to one of {', '.join(MIME_TYPES[f] for f in spec.formats)}",
            )
    if image.format not in spec.formats:
        return _fail(
            IMAGE_FORMAT,
            f"{family} does not take {image.format.upper() or 'this'} images; convert it to "
            f"{' or '.join(f.upper() for f in spec.formats)}",
        )
    if image.detail and image.detail not in spec.detail_levels:
        allowed = ", ".join(spec.detail_levels) or "none (leave detail unset)"
        return _fail(
            IMAGE_FORMAT,
            f"detail {image.detail[:40]!r} is not supported by {family}; allowed: {allowed}",
        )
    if image.text and not spec.joint_text:
        return _fail(
            MEDIA_NOT_SUPPORTED,
            f"{family} cannot embed text together with an image in one vector; send the text "
            "and the image as separate inputs",
        )
    if image.data is not None:
        size_error = _size_error(family, spec, image.size)
        if size_error is not None:
            return size_error
    info = image.info
    if info is not None:
        longest, shortest = max(info.width, info.height), min(info.width, info.height)
        if spec.max_side is not None and longest > spec.max_side:
            return _fail(
                IMAGE_DIMENSIONS,
                f"image is {info.width}x{info.height} pixels, over the {spec.max_side}x"
                f"{spec.max_side} limit of {family}; scale it down",
            )
        if spec.min_side is not None and shortest < spec.min_side:
            return _fail(
                IMAGE_DIMENSIONS,
                f"image is {info.width}x{info.height} pixels, under the {spec.min_side}x"
                f"{spec.min_side} minimum of {family}; send a larger image",
            )
    return None


def _size_error(family: str, spec: ImageSpec, size: int) -> ItemError | None:
    if spec.max_bytes is not None and size > spec.max_bytes:
        return _fail(
            IMAGE_TOO_LARGE,
            f"image is {size} bytes, over the {spec.max_bytes // MB} MB limit of {family}; "
            "compress or scale it down",
        )
    if size > _BODY_MAX_RAW:
        return _fail(
            IMAGE_TOO_LARGE,
            f"image is {size} bytes: base64-encoded it exceeds Bedrock's {BODY_LIMIT // MB} MB "
            "request body limit; compress or scale it down"
            + (", or store it in S3 and send its s3:// location" if spec.s3 else ""),
        )
    return None


def _body_cost(image: ImageInput) -> int:
    return (image.size + 2) // 3 * 4 + len(image.text.encode("utf-8")) * 2 + 64


def pack(spec: ImageSpec, images: list[ImageInput]) -> list[list[ImageInput]]:
    """Calls for `images`: one kind per call, `per_call` at most, within the body limit."""
    groups: dict[bool, list[ImageInput]] = {}
    for image in images:
        groups.setdefault(bool(image.text), []).append(image)
    calls: list[list[ImageInput]] = []
    for group in groups.values():
        current: list[ImageInput] = []
        used = BODY_OVERHEAD
        for image in group:
            cost = _body_cost(image)
            if current and (len(current) >= spec.per_call or used + cost > BODY_LIMIT):
                calls.append(current)
                current, used = [], BODY_OVERHEAD
            current.append(image)
            used += cost
        if current:
            calls.append(current)
    return calls
