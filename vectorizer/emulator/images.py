"""Image requests to the emulated Bedrock models: validated as strictly as AWS.

`plan_image(family_key, body)` returns the `EmbedPlan` of a request that
carries an image, or None for a text request (the family's text plan then
handles it). Each family's image fields are read with the schema helpers
(extraneous keys, types, enums) and the image itself is decoded: base64 must
be valid, the bytes a complete image of a format the model takes, matching
the declared format, within the model's size and pixel limits. The plan's
`media` maps each vector's position to the image bytes, or, for an S3
location, to an `S3Image`: `app.py` reads it from the S3 stand-in and holds
it to the same limits (an object that cannot be read is a
ValidationException naming S3's reason); without a stand-in the URI's text
stands for the image.

Shapes and limits: see `vectorizer/backends/families/image_bodies.py` and
`image_limits.py`, which build what this checks.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vectorizer.emulator import schema as s
from vectorizer.emulator.vectors import token_count
from vectorizer.emulator.wire import (
    COHERE_SPELLING,
    MARENGO_SPELLING,
    NOVA_SPELLING,
    TITAN_SPELLING,
    AwsError,
    EmbedPlan,
    Vectors,
    new_request_id,
)
from vectorizer.media import inspect

MB = 1_000_000
_DATA_URI = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.S)


@dataclass(frozen=True)
class S3Image:
    """An image the model reads from S3, checked once the bytes are read
    (`app.py` reads them from the S3 stand-in; without one the URI's text
    stands for the image)."""

    uri: str
    bucket_owner: str
    where: str
    formats: tuple[str, ...]
    max_bytes: int | None
    declared: str = ""
    min_side: int | None = None

    def check(self, data: bytes) -> bytes:
        """The bytes, held to the model's limits as inline images are."""
        _, info = _image(
            base64.b64encode(data).decode("ascii"),
            self.where,
            self.formats,
            self.max_bytes,
            declared=self.declared,
        )
        if self.min_side is not None and min(info.width, info.height) < self.min_side:
            raise _invalid(
                f"{self.where}: image must be at least {self.min_side}x{self.min_side} pixels."
            )
        return data


Media = bytes | S3Image


def _invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


def _image(
    b64: str, where: str, formats: tuple[str, ...], max_bytes: int | None, declared: str = ""
) -> tuple[bytes, Any]:
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{where}: invalid base64 encoding of the image.") from None
    info, error = inspect(data)
    if error is not None or info is None:
        raise _invalid(f"{where}: unable to process the image: the data is not a valid image.")
    if info.format not in formats:
        raise _invalid(
            f"{where}: unsupported image format {info.format}; supported formats: "
            f"{', '.join(formats)}."
        )
    if declared and declared != info.format:
        raise _invalid(f"{where}: image format {declared} does not match the image data.")
    if max_bytes is not None and len(data) > max_bytes:
        raise _invalid(f"{where}: image size exceeds the maximum of {max_bytes // MB} MB.")
    return data, info


def _s3(
    loc: dict[str, Any],
    path: str,
    owner_required: bool,
    formats: tuple[str, ...],
    max_bytes: int | None,
    declared: str = "",
    min_side: int | None = None,
) -> S3Image:
    required = ("uri", "bucketOwner") if owner_required else ("uri",)
    s.check_keys(loc, path, ("uri", "bucketOwner"), required)
    uri = s.get_str(loc, "uri", path) or ""
    if not uri.startswith("s3://"):
        raise s.malformed(f"{path}/uri: string does not match pattern ^s3://")
    owner = s.get_str(loc, "bucketOwner", path) or ""
    return S3Image(uri, owner, path, formats, max_bytes, declared, min_side)


def _single(media: Media, dim: int, render: Callable[[Vectors], Any], **kw: Any) -> EmbedPlan:
    plan = EmbedPlan([kw.pop("text", "")], dim, render, **kw)
    plan.media[0] = media
    return plan


# --- Titan Multimodal G1 -----------------------------------------------------


def _titan(body: dict[str, Any]) -> EmbedPlan | None:
    if "inputImage" not in body:
        return None
    s.check_keys(body, "#", ("inputText", "inputImage", "embeddingConfig"))
    text = s.get_str(body, "inputText", "#") or ""
    b64 = s.get_str(body, "inputImage", "#") or ""
    config = s.get_object(body, "embeddingConfig", "#") or {}
    s.check_keys(config, "#/embeddingConfig", ("outputEmbeddingLength",))
    dim = s.get_enum(config, "outputEmbeddingLength", "#/embeddingConfig", (256, 384, 1024), 1024)
    tokens = token_count(text)
    if tokens > 256:
        raise _invalid(
            f"400 Bad Request: Too many input tokens. Max input tokens: 256, "
            f"request input token count: {tokens}"
        )
    data, info = _image(b64, "#/inputImage", ("png", "jpeg"), 25 * MB)
    if max(info.width, info.height) > 2048:
        raise _invalid("#/inputImage: image resolution exceeds the maximum of 2048x2048 pixels.")

    def render(vectors: Vectors) -> dict[str, Any]:
        return {
            "embedding": vectors[0].fragment(TITAN_SPELLING),
            "inputTextTokenCount": tokens,
            "message": None,
        }

    return _single(data, dim, render, text=text, tokens=tokens)


# --- Nova Multimodal -----------------------------------------------------------

_NOVA_FORMATS = ("png", "jpeg", "gif", "webp")


def _nova(body: dict[str, Any]) -> EmbedPlan | None:
    params = body.get("singleEmbeddingParams")
    if not isinstance(params, dict) or "image" not in params:
        return None
    s.check_keys(body, "#", ("schemaVersion", "taskType", "singleEmbeddingParams"), ("taskType",))
    s.get_enum(body, "schemaVersion", "#", ("nova-multimodal-embed-v1",), None)
    s.get_enum(body, "taskType", "#", ("SINGLE_EMBEDDING",), None)
    path = "#/singleEmbeddingParams"
    s.check_keys(
        params, path, ("embeddingPurpose", "embeddingDimension", "image"), ("embeddingPurpose",)
    )
    from vectorizer.emulator.bedrock import NOVA_PURPOSES

    purpose = s.get_enum(params, "embeddingPurpose", path, NOVA_PURPOSES, None)
    dim = s.get_enum(params, "embeddingDimension", path, (256, 384, 1024, 3072), 3072)
    image = s.get_object(params, "image", path) or {}
    ipath = f"{path}/image"
    s.check_keys(image, ipath, ("format", "source", "detailLevel"), ("format", "source"))
    fmt = s.get_enum(image, "format", ipath, _NOVA_FORMATS, None)
    s.get_enum(image, "detailLevel", ipath, ("STANDARD_IMAGE", "DOCUMENT_IMAGE"), None)
    source = s.get_object(image, "source", ipath) or {}
    spath = f"{ipath}/source"
    s.check_keys(source, spath, ("bytes", "s3Location"))
    if ("bytes" in source) == ("s3Location" in source):
        raise s.malformed(f"{spath}: exactly one of [bytes, s3Location] is required")
    media: Media
    if "bytes" in source:
        media, _ = _image(
            s.get_str(source, "bytes", spath) or "",
            f"{spath}/bytes",
            _NOVA_FORMATS,
            None,
            declared=fmt,
        )
    else:
        loc = s.get_object(source, "s3Location", spath) or {}
        # Nova reads images up to 50 MB from S3 (embeddings-schema page).
        media = _s3(loc, f"{spath}/s3Location", False, _NOVA_FORMATS, 50 * MB, declared=fmt or "")

    def render(vectors: Vectors) -> dict[str, Any]:
        embedding = vectors[0].fragment(NOVA_SPELLING)
        return {"embeddings": [{"embeddingType": "IMAGE", "embedding": embedding}]}

    return _single(media, dim, render, purpose=purpose)


# --- Cohere ---------------------------------------------------------------------


def _data_uri(value: Any, where: str, formats: tuple[str, ...], max_bytes: int | None) -> bytes:
    if not isinstance(value, str):
        raise s.malformed(f"{where}: expected type: String, found: {s.type_name(value)}")
    match = _DATA_URI.match(value)
    if not match:
        raise _invalid(f"{where}: image must be a data URI: data:<mime>;base64,<data>.")
    declared = match.group(1).split("/", 1)[1].replace("jpg", "jpeg")
    data, _ = _image(match.group(2), where, formats, max_bytes, declared=declared)
    return data


def _cohere_render(count_texts: list[str]) -> Callable[[Vectors], dict[str, Any]]:
    request_id = new_request_id()

    def render(vectors: Vectors) -> dict[str, Any]:
        return {
            "id": request_id,
            "embeddings": {"float": [v.fragment(COHERE_SPELLING) for v in vectors]},
            "texts": count_texts,
            "images": [{"format": "image"} for _ in vectors],
            "response_type": "embeddings_by_type",
        }

    return render


def _cohere_v3(body: dict[str, Any]) -> EmbedPlan | None:
    if "images" not in body:
        return None
    s.check_keys(
        body, "#", ("images", "texts", "input_type", "embedding_types", "truncate"), ("input_type",)
    )
    if "texts" in body:
        raise _invalid("only one of texts or images may be provided.")
    s.get_enum(body, "input_type", "#", ("image",), None)
    images = s._get_list(body, "images", "#", 1, 1)
    data = _data_uri(images[0], "#/images/0", ("png", "jpeg"), 5 * MB)
    s.get_enum_list(body, "embedding_types", "#", ("float",))
    return _single(data, 1024, _cohere_render([]), batched=True)


def _cohere_v4(body: dict[str, Any]) -> EmbedPlan | None:
    if "images" not in body and "inputs" not in body:
        return None
    allowed = (
        "images",
        "inputs",
        "texts",
        "input_type",
        "embedding_types",
        "output_dimension",
        "max_tokens",
        "truncate",
    )
    s.check_keys(body, "#", allowed, ("input_type",))
    if sum(k in body for k in ("texts", "images", "inputs")) != 1:
        raise _invalid("exactly one of texts, images or inputs may be provided.")
    from vectorizer.emulator.bedrock import COHERE_INPUT_TYPES

    input_type = s.get_enum(body, "input_type", "#", COHERE_INPUT_TYPES, None)
    dim = s.get_enum(body, "output_dimension", "#", (256, 512, 1024, 1536), 1536)
    s.get_enum_list(body, "embedding_types", "#", ("float",))
    formats = ("png", "jpeg", "webp", "gif")
    texts: list[str] = []
    media: list[bytes] = []
    if "images" in body:
        for i, value in enumerate(s._get_list(body, "images", "#", 1, 96)):
            media.append(_data_uri(value, f"#/images/{i}", formats, None))
            texts.append("")
    else:
        for i, entry in enumerate(s._get_list(body, "inputs", "#", 1, 96)):
            path = f"#/inputs/{i}"
            if not isinstance(entry, dict):
                raise s.malformed(f"{path}: expected type: JSONObject, found: {s.type_name(entry)}")
            s.check_keys(entry, path, ("content",), ("content",))
            text, image = "", None
            for j, part in enumerate(s._get_list(entry, "content", path, 1, 10**6)):
                ppath = f"{path}/content/{j}"
                if not isinstance(part, dict):
                    raise s.malformed(f"{ppath}: expected type: JSONObject")
                kind = s.get_enum(part, "type", ppath, ("text", "image_url"), None)
                if kind == "text":
                    s.check_keys(part, ppath, ("type", "text"), ("text",))
                    text += s.get_str(part, "text", ppath) or ""
                else:
                    s.check_keys(part, ppath, ("type", "image_url"), ("image_url",))
                    if image is not None:
                        raise _invalid(f"{ppath}: the emulator embeds one image per input.")
                    image = _data_uri(part["image_url"], f"{ppath}/image_url", formats, None)
            if image is None:
                raise _invalid(f"{path}: the emulator needs an image_url in each input.")
            media.append(image)
            texts.append(text)
    plan = EmbedPlan(texts, dim, _cohere_render(texts), purpose=input_type, batched=True)
    plan.media.update(enumerate(media))
    return plan


# --- Marengo ---------------------------------------------------------------------


def _media_source(obj: dict[str, Any], path: str) -> Media:
    source = s.get_object(obj, "mediaSource", path)
    if source is None:
        raise s.malformed(f"{path}: required key [mediaSource] not found")
    spath = f"{path}/mediaSource"
    s.check_keys(source, spath, ("base64String", "s3Location"))
    if ("base64String" in source) == ("s3Location" in source):
        raise s.malformed(f"{spath}: exactly one of [base64String, s3Location] is required")
    if "s3Location" in source:
        loc = s.get_object(source, "s3Location", spath) or {}
        return _s3(loc, f"{spath}/s3Location", True, ("png", "jpeg"), 5 * MB, min_side=128)
    data, info = _image(
        s.get_str(source, "base64String", spath) or "",
        f"{spath}/base64String",
        ("png", "jpeg"),
        5 * MB,
    )
    if min(info.width, info.height) < 128:
        raise _invalid(f"{spath}: image must be at least 128x128 pixels.")
    return data


def _marengo27(body: dict[str, Any]) -> EmbedPlan | None:
    if body.get("inputType") != "image":
        return None
    s.check_keys(body, "#", ("inputType", "mediaSource"), ("inputType", "mediaSource"))
    media = _media_source(body, "#")
    return _single(
        media, 1024, lambda v: {"data": [{"embedding": v[0].fragment(MARENGO_SPELLING)}]}
    )


def _marengo30(body: dict[str, Any]) -> EmbedPlan | None:
    kind = body.get("inputType")
    if kind not in ("image", "text_image"):
        return None
    s.check_keys(body, "#", ("inputType", kind, "inferenceId"), ("inputType", kind))
    part = s.get_object(body, kind, "#") or {}
    path = f"#/{kind}"
    text = ""
    if kind == "text_image":
        s.check_keys(part, path, ("inputText", "mediaSource"), ("inputText", "mediaSource"))
        text = s.get_str(part, "inputText", path) or ""
        if token_count(text) > 500:
            raise _invalid(f"{path}/inputText: text exceeds the maximum of 500 tokens.")
    else:
        s.check_keys(part, path, ("mediaSource",), ("mediaSource",))
    media = _media_source(part, path)
    return _single(
        media, 512, lambda v: {"data": {"embedding": v[0].fragment(MARENGO_SPELLING)}}, text=text
    )


IMAGE_PLANS: dict[str, Callable[[dict[str, Any]], EmbedPlan | None]] = {
    "titan-multimodal": _titan,
    "nova": _nova,
    "cohere-v3": _cohere_v3,
    "cohere-v4": _cohere_v4,
    "marengo-2.7": _marengo27,
    "marengo-3.0": _marengo30,
}


def plan_image(family_key: str, body: dict[str, Any]) -> EmbedPlan | None:
    plan = IMAGE_PLANS.get(family_key)
    return plan(body) if plan is not None else None
