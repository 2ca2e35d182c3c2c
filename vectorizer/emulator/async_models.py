"""What the emulated models do with an asynchronous invocation's `modelInput`.

- `plan_async(family_key, model_input)`: checks the input as strictly as the
  model's schema (extraneous keys, types, enums, ranges; the InvokeModel
  checks' wording, `schema.py`) and returns an `AsyncPlan`: where the media
  is, and `render(data, output_folder)`, which cuts the media into segments
  and answers the files the model writes (S3 key -> bytes).
- `MediaFailure`: the invocation fails (GetAsyncInvoke says `Failed` with
  this message): unreadable media, a declared format the bytes contradict,
  too many segments.

Shapes: see `vectorizer/backends/async_media.py` (the sidecar's side, with
the AWS pages they come from) and `async_output.py` (the output files).
Segmentation the emulator cannot see (shot boundaries) is an even split near
6 seconds for video, as documented for audio near 10 seconds.

Supported: Nova video and audio (SEGMENTED_EMBEDDING; text and image
segmentation answer a ValidationException naming the emulator's limit),
Marengo 2.7 and 3.0 video and audio.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vectorizer.emulator import schema as s
from vectorizer.emulator.media import (
    MediaUnreadable,
    duration_seconds,
    even_segments,
    fixed_segments,
    segment_vector,
)
from vectorizer.emulator.wire import AwsError
from vectorizer.media_files import sniff

NOVA_PURPOSES = (
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
)
NOVA_VIDEO = ("mp4", "mov", "mkv", "webm", "flv", "mpeg", "mpg", "wmv", "3gp")
NOVA_AUDIO = ("mp3", "wav", "ogg")
NOVA_MAX_SEGMENTS = 1434
NOVA_FILES = {
    "AUDIO_VIDEO_COMBINED": "embedding-audio-video.jsonl",
    "VIDEO": "embedding-video.jsonl",
    "AUDIO": "embedding-audio.jsonl",
}
VIDEO_GUESS_SECONDS = 6.0  # stands in for shot-boundary segmentation
AUDIO_TARGET_SECONDS = 10.0

Files = dict[str, tuple[bytes, str]]  # key below the output folder -> (bytes, content type)


class MediaFailure(Exception):
    """The model cannot embed this media: the invocation fails with this message."""


@dataclass
class AsyncPlan:
    kind: str  # video | audio
    source_uri: str  # "" when the media came inline
    bucket_owner: str
    inline: bytes | None
    render: Callable[[bytes, str], Files]
    declared_format: str = ""
    purpose: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


def _number(
    obj: dict[str, Any], key: str, path: str, low: float, high: float | None
) -> float | None:
    if key not in obj:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise s.malformed(f"{path}/{key}: expected type: Number, found: {s.type_name(value)}")
    if value < low or (high is not None and value > high):
        bound = f"{low}-{high}" if high is not None else f">= {low}"
        raise s.malformed(f"{path}/{key}: {value} is not in the range {bound}")
    return float(value)


def _integer(obj: dict[str, Any], key: str, path: str, low: int, high: int) -> int | None:
    value = _number(obj, key, path, low, high)
    if value is None:
        return None
    if not isinstance(obj[key], int):
        raise s.malformed(f"{path}/{key}: expected type: Integer, found: BigDecimal")
    return int(value)


def _s3_location(source: dict[str, Any], path: str, owner_required: bool) -> tuple[str, str]:
    loc = s.get_object(source, "s3Location", path) or {}
    lpath = f"{path}/s3Location"
    s.check_keys(
        loc, lpath, ("uri", "bucketOwner"), ("uri", "bucketOwner") if owner_required else ("uri",)
    )
    uri = s.get_str(loc, "uri", lpath) or ""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise s.malformed(f"{lpath}/uri: string does not match pattern ^s3://bucket/key")
    owner = s.get_str(loc, "bucketOwner", lpath) or ""
    if owner and not (len(owner) == 12 and owner.isdigit()):
        raise s.malformed(f"{lpath}/bucketOwner: string does not match pattern ^[0-9]{{12}}$")
    return uri, owner


def _checked_media(data: bytes, declared: str, allowed: tuple[str, ...]) -> tuple[str, float, str]:
    """(format, duration, sha256) of media bytes, or MediaFailure."""
    found = sniff(data)
    fmt = found.name if found else ""
    if declared and fmt and not (declared == fmt or {declared, fmt} == {"mpg", "mpeg"}):
        raise MediaFailure(f"The input file is not a valid {declared} file (it is {fmt}).")
    if fmt not in allowed and not (fmt == "mpeg" and "mpg" in allowed):
        raise MediaFailure(
            f"Unsupported media format: {fmt or 'unknown'}; "
            f"supported formats: {', '.join(allowed)}."
        )
    try:
        duration = duration_seconds(data, fmt)
    except MediaUnreadable as exc:
        raise MediaFailure(f"The input media could not be processed: {exc}.") from None
    if duration <= 0:
        raise MediaFailure("The input media has no duration.")
    return fmt, duration, hashlib.sha256(data).hexdigest()


# --- Nova ----------------------------------------------------------------------


def _nova(mi: dict[str, Any]) -> AsyncPlan:
    s.check_keys(mi, "#", ("schemaVersion", "taskType", "segmentedEmbeddingParams"), ("taskType",))
    s.get_enum(mi, "schemaVersion", "#", ("nova-multimodal-embed-v1",), None)
    task = s.get_enum(mi, "taskType", "#", ("SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING"), None)
    if task != "SEGMENTED_EMBEDDING":
        raise _invalid("taskType must be SEGMENTED_EMBEDDING for asynchronous invocations.")
    params = s.get_object(mi, "segmentedEmbeddingParams", "#")
    if params is None:
        raise s.malformed("#: required key [segmentedEmbeddingParams] not found")
    path = "#/segmentedEmbeddingParams"
    modalities = ("text", "image", "audio", "video")
    s.check_keys(
        params, path, ("embeddingPurpose", "embeddingDimension", *modalities), ("embeddingPurpose",)
    )
    purpose = s.get_enum(params, "embeddingPurpose", path, NOVA_PURPOSES, None)
    dim = s.get_enum(params, "embeddingDimension", path, (256, 384, 1024, 3072), 3072)
    present = [m for m in modalities if m in params]
    if len(present) != 1:
        raise s.malformed(f"{path}: exactly one of [text, image, audio, video] is required")
    kind = present[0]
    if kind in ("text", "image"):
        raise _invalid(f"The emulator segments video and audio only, not {kind}.")
    part = s.get_object(params, kind, path) or {}
    ppath = f"{path}/{kind}"
    keys = ("format", "source", "segmentationConfig") + (
        ("embeddingMode",) if kind == "video" else ()
    )
    s.check_keys(part, ppath, keys, keys)
    fmt = s.get_enum(part, "format", ppath, NOVA_VIDEO if kind == "video" else NOVA_AUDIO, None)
    mode = s.get_enum(
        part, "embeddingMode", ppath, ("AUDIO_VIDEO_COMBINED", "AUDIO_VIDEO_SEPARATE"), ""
    )
    source = s.get_object(part, "source", ppath) or {}
    spath = f"{ppath}/source"
    s.check_keys(source, spath, ("bytes", "s3Location"))
    if "bytes" in source:
        raise _invalid("Asynchronous invocations take media from S3 only: use source.s3Location.")
    if "s3Location" not in source:
        raise s.malformed(f"{spath}: required key [s3Location] not found")
    uri, owner = _s3_location(source, spath, owner_required=False)
    seg = s.get_object(part, "segmentationConfig", ppath) or {}
    s.check_keys(seg, f"{ppath}/segmentationConfig", ("durationSeconds",))
    length = _integer(seg, "durationSeconds", f"{ppath}/segmentationConfig", 1, 30) or 5
    types = {
        "AUDIO_VIDEO_SEPARATE": ["VIDEO", "AUDIO"],
        "AUDIO_VIDEO_COMBINED": ["AUDIO_VIDEO_COMBINED"],
    }
    kinds = types[mode] if kind == "video" else ["AUDIO"]
    allowed = NOVA_VIDEO if kind == "video" else NOVA_AUDIO

    def render(data: bytes, folder: str) -> Files:
        _, duration, digest = _checked_media(data, fmt, allowed)
        spans = fixed_segments(0.0, duration, float(length))
        if len(spans) > NOVA_MAX_SEGMENTS:
            raise MediaFailure(
                f"The input produces {len(spans)} segments, over the limit of {NOVA_MAX_SEGMENTS}; "
                "use a longer segmentationConfig.durationSeconds."
            )
        files: Files = {}
        results = []
        for etype in kinds:
            lines = []
            for i, (start, end) in enumerate(spans):
                meta = {"segmentIndex": i, "segmentStartSeconds": start, "segmentEndSeconds": end}
                vec = segment_vector(digest, etype, i, dim, purpose)
                lines.append(
                    json.dumps({"embedding": vec, "segmentMetadata": meta, "status": "SUCCESS"})
                )
            name = NOVA_FILES[etype]
            files[name] = (("\n".join(lines) + "\n").encode(), "application/jsonl")
            results.append(
                {"embeddingType": etype, "status": "SUCCESS", "outputFileUri": f"{folder}/{name}"}
            )
        summary = {"sourceFileUri": uri, "embeddingDimension": dim, "embeddingResults": results}
        files["segmented-embedding-result.json"] = (
            json.dumps(summary).encode(),
            "application/json",
        )
        return files

    return AsyncPlan(kind, uri, owner, None, render, declared_format=fmt, purpose=purpose)


# --- Marengo -------------------------------------------------------------------

MARENGO_VIDEO = ("mp4", "mov", "mkv", "webm", "flv", "mpeg", "wmv", "3gp")
MARENGO_AUDIO = ("wav", "mp3", "flac")


def _media_source(obj: dict[str, Any], path: str) -> tuple[str, str, bytes | None]:
    source = s.get_object(obj, "mediaSource", path)
    if source is None:
        raise s.malformed(f"{path}: required key [mediaSource] not found")
    spath = f"{path}/mediaSource"
    s.check_keys(source, spath, ("base64String", "s3Location"))
    if ("base64String" in source) == ("s3Location" in source):
        raise s.malformed(f"{spath}: exactly one of [base64String, s3Location] is required")
    if "base64String" in source:
        try:
            return (
                "",
                "",
                base64.b64decode(s.get_str(source, "base64String", spath) or "", validate=True),
            )
        except (binascii.Error, ValueError):
            raise _invalid(f"{spath}/base64String: invalid base64 encoding.") from None
    uri, owner = _s3_location(source, spath, owner_required=True)
    return uri, owner, None


def _marengo_entries(
    digest: str,
    spans: list[tuple[float, float]],
    options: list[str],
    dim: int,
    scope: str | None,
) -> list[dict[str, Any]]:
    out = []
    for i, (start, end) in enumerate(spans):
        for option in options:
            entry: dict[str, Any] = {
                "embedding": segment_vector(digest, f"{option}/{scope or 'clip'}", i, dim),
                "embeddingOption": option,
            }
            if scope is not None:
                entry["embeddingScope"] = scope
            entry["startSec"], entry["endSec"] = start, end
            out.append(entry)
    return out


def _output(entries: list[dict[str, Any]]) -> Files:
    return {"output.json": (json.dumps({"data": entries}).encode(), "application/json")}


def _marengo27(mi: dict[str, Any]) -> AsyncPlan:
    keys = (
        "inputType",
        "mediaSource",
        "startSec",
        "lengthSec",
        "useFixedLengthSec",
        "minClipSec",
        "embeddingOption",
    )
    kind = s.get_enum(mi, "inputType", "#", ("text", "image", "video", "audio"), None)
    if kind is None:
        raise s.malformed("#: required key [inputType] not found")
    if kind in ("text", "image"):
        raise _invalid(f"The emulator embeds video and audio asynchronously, not {kind}.")
    s.check_keys(mi, "#", keys, ("inputType", "mediaSource"))
    uri, owner, inline = _media_source(mi, "#")
    start = _number(mi, "startSec", "#", 0, None) or 0.0
    length = _number(mi, "lengthSec", "#", 0, None)
    fixed = _number(mi, "useFixedLengthSec", "#", 2, 10)
    min_clip = _integer(mi, "minClipSec", "#", 1, 5)
    if kind == "audio" and (min_clip is not None or "embeddingOption" in mi):
        raise s.malformed("#: minClipSec and embeddingOption apply to video input only")
    if min_clip is not None and fixed is not None and min_clip > fixed:
        raise _invalid("useFixedLengthSec must be greater than or equal to minClipSec.")
    options = s.get_enum_list(mi, "embeddingOption", "#", ("visual-text", "visual-image", "audio"))
    if kind == "video":
        options = options or ["visual-text", "visual-image", "audio"]
    else:
        options = ["audio"]
    allowed = MARENGO_VIDEO if kind == "video" else MARENGO_AUDIO

    def render(data: bytes, folder: str) -> Files:
        _, duration, digest = _checked_media(data, "", allowed)
        end = min(duration, start + length) if length else duration
        if start >= end:
            raise MediaFailure("startSec is at or past the end of the media.")
        if fixed:
            spans = fixed_segments(start, end, fixed)
        else:
            target = VIDEO_GUESS_SECONDS if kind == "video" else AUDIO_TARGET_SECONDS
            spans = even_segments(start, end, target)
        return _output(_marengo_entries(digest, spans, options, 1024, None))

    return AsyncPlan(kind, uri, owner, inline, render)


def _marengo30(mi: dict[str, Any]) -> AsyncPlan:
    kinds = ("text", "image", "text_image", "audio", "video", "multi_input")
    kind = s.get_enum(mi, "inputType", "#", kinds, None)
    if kind is None:
        raise s.malformed("#: required key [inputType] not found")
    if kind not in ("video", "audio"):
        raise _invalid(f"The emulator embeds video and audio asynchronously, not {kind}.")
    s.check_keys(mi, "#", ("inputType", kind, "inferenceId"), ("inputType", kind))
    part = s.get_object(mi, kind, "#") or {}
    path = f"#/{kind}"
    keys = (
        "mediaSource",
        "startSec",
        "endSec",
        "segmentation",
        "embeddingOption",
        "embeddingType",
        "embeddingScope",
    )
    s.check_keys(part, path, keys, ("mediaSource",))
    uri, owner, inline = _media_source(part, path)
    start = _number(part, "startSec", path, 0, None) or 0.0
    end_sec = _number(part, "endSec", path, 0, None)
    seg = s.get_object(part, "segmentation", path)
    fixed: float | None = None
    if seg is not None:
        gpath = f"{path}/segmentation"
        s.check_keys(seg, gpath, ("method", "fixed", "dynamic"), ("method",))
        method = s.get_enum(seg, "method", gpath, ("fixed", "dynamic"), None)
        if method == "dynamic" and kind == "audio":
            raise _invalid("Dynamic segmentation applies to video input only.")
        inner = s.get_object(seg, method, gpath) or {}
        ipath = f"{gpath}/{method}"
        if method == "fixed":
            s.check_keys(inner, ipath, ("durationSec",))
            fixed = float(_integer(inner, "durationSec", ipath, 1, 10) or 6)
        else:
            s.check_keys(inner, ipath, ("minDurationSec",))
            _integer(inner, "minDurationSec", ipath, 1, 5)
    allowed_options = (
        ("visual", "audio", "transcription") if kind == "video" else ("audio", "transcription")
    )
    options = s.get_enum_list(part, "embeddingOption", path, allowed_options) or list(
        allowed_options
    )
    scopes = s.get_enum_list(part, "embeddingScope", path, ("clip", "asset")) or ["clip"]
    types = s.get_enum_list(part, "embeddingType", path, ("separate_embedding", "fused_embedding"))
    types = types or ["separate_embedding"]
    if "fused_embedding" in types and len(options) < 2:
        raise _invalid("fused_embedding requires at least two embedding options.")
    out_options = (options if "separate_embedding" in types else []) + (
        ["fused"] if "fused_embedding" in types else []
    )
    allowed = MARENGO_VIDEO if kind == "video" else MARENGO_AUDIO

    def render(data: bytes, folder: str) -> Files:
        _, duration, digest = _checked_media(data, "", allowed)
        end = min(duration, end_sec) if end_sec else duration
        if start >= end:
            raise MediaFailure("startSec is at or past the end of the media.")
        if fixed:
            spans = fixed_segments(start, end, fixed)
        else:
            target = VIDEO_GUESS_SECONDS if kind == "video" else AUDIO_TARGET_SECONDS
            spans = even_segments(start, end, target)
        entries = []
        if "clip" in scopes:
            entries += _marengo_entries(digest, spans, out_options, 512, "clip")
        if "asset" in scopes:
            entries += _marengo_entries(digest, [(start, end)], out_options, 512, "asset")
        return _output(entries)

    return AsyncPlan(kind, uri, owner, inline, render)


ASYNC_PLANS: dict[str, Callable[[dict[str, Any]], AsyncPlan]] = {
    "nova": _nova,
    "marengo-2.7": _marengo27,
    "marengo-3.0": _marengo30,
}


def plan_async(family_key: str, model_input: dict[str, Any]) -> AsyncPlan:
    plan = ASYNC_PLANS.get(family_key)
    if plan is None:
        raise _invalid("The provided model does not support asynchronous invocation.")
    return plan(model_input)
