"""Video and audio through Bedrock's asynchronous invoke: the request side.

Pure: no I/O. Parts:

- `MediaRequest`: one video or audio file to embed (an S3 location, its
  container format) and how: segment length, time window, embedding options.
- `AsyncFamily` / `ASYNC_FAMILIES` / `async_family(model)`: the models that
  embed media asynchronously, with their formats, sizes, segmentation ranges
  and embedding options.
- `check_request(family, request, options)`: every problem, worded with the
  fix (empty: fine).
- `build_model_input(family, request, purpose, options)`: the model's
  `modelInput`; `start_body(...)`: the StartAsyncInvoke body around it.

Shapes (AWS pages, LiteLLM's Bedrock async-invoke transformations agree):

- Nova Multimodal (embeddings-schema page, "Complete asynchronous schema"):
  `{"schemaVersion": "nova-multimodal-embed-v1", "taskType":
  "SEGMENTED_EMBEDDING", "segmentedEmbeddingParams": {"embeddingPurpose",
  "embeddingDimension", "video": {"format", "source": {"s3Location": {"uri",
  "bucketOwner"?}}, "embeddingMode": "AUDIO_VIDEO_COMBINED" |
  "AUDIO_VIDEO_SEPARATE", "segmentationConfig": {"durationSeconds": 1-30}}}}`;
  `audio` has the same without `embeddingMode`. Asynchronous input is S3
  only. Limits: video 2 GB, audio 1 GB (2 hours each), 1,434 segments.
- Marengo Embed 2.7 (model-parameters-marengo): flat `{"inputType": "video" |
  "audio", "mediaSource": {"s3Location": {"uri", "bucketOwner"}}, "startSec",
  "lengthSec", "useFixedLengthSec": 2-10, "minClipSec": 1-5 (video),
  "embeddingOption": ["visual-text", "visual-image", "audio"] (video)}`;
  StartAsyncInvoke takes the base model id. 2 GB.
- Marengo Embed 3.0 (model-parameters-marengo-3): nested under the input
  type, `{"inputType": "video", "video": {"mediaSource", "startSec",
  "endSec", "segmentation": {"method": "fixed", "fixed": {"durationSec":
  1-10}} | {"method": "dynamic", "dynamic": {"minDurationSec": 1-5}},
  "embeddingOption": ["visual", "audio", "transcription"]}}`; audio options
  `audio`, `transcription`. 6 GB.

StartAsyncInvoke itself (botocore's bedrock-runtime model): `POST
/async-invoke` with `{"clientRequestToken"?, "modelId", "modelInput",
"outputDataConfig": {"s3OutputDataConfig": {"s3Uri", "bucketOwner"?,
"kmsKeyId"?}}}`, answered `{"invocationArn": ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vectorizer.backends import modelid
from vectorizer.backends.families.base import input_type_for
from vectorizer.backends.families.nova import NOVA_MM, SCHEMA_VERSION
from vectorizer.media_files import MediaKind
from vectorizer.types import EmbedOptions, Purpose

GB = 1_000_000_000

NOVA_MODES = ("AUDIO_VIDEO_COMBINED", "AUDIO_VIDEO_SEPARATE")


@dataclass(frozen=True)
class MediaRequest:
    kind: MediaKind
    format: str  # container wire name: mp4, mov, wav, mp3 ...
    s3_uri: str
    bucket_owner: str = ""
    segment_seconds: float = 0.0  # 0: the model's default segmentation
    start_seconds: float = 0.0
    end_seconds: float = 0.0  # 0: to the end of the media
    min_segment_seconds: float = 0.0  # Marengo dynamic segmentation floor
    embedding_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class AsyncFamily:
    name: str
    model_ids: tuple[str, ...]
    formats: dict[MediaKind, tuple[str, ...]]
    max_bytes: dict[MediaKind, int]
    dimensions: tuple[int, ...]
    default_dimensions: int
    segment_range: tuple[float, float]
    segment_integer: bool
    min_segment_range: tuple[int, int] | None  # None: no dynamic floor
    window: bool  # takes start/end seconds
    options: dict[MediaKind, tuple[str, ...]]
    bucket_owner_required: bool
    max_segments: int | None = None

    def describe_formats(self, kind: MediaKind) -> str:
        return ", ".join(f.upper() for f in self.formats[kind])


_VIDEO_FORMATS = ("mp4", "mov", "mkv", "webm", "flv", "mpeg", "wmv", "3gp")

NOVA_ASYNC = AsyncFamily(
    name="nova-multimodal",
    model_ids=NOVA_MM.model_ids,
    formats={MediaKind.VIDEO: _VIDEO_FORMATS, MediaKind.AUDIO: ("mp3", "wav", "ogg")},
    max_bytes={MediaKind.VIDEO: 2 * GB, MediaKind.AUDIO: 1 * GB},
    dimensions=NOVA_MM.dimensions,
    default_dimensions=NOVA_MM.default_dimensions,
    segment_range=(1, 30),
    segment_integer=True,
    min_segment_range=None,
    window=False,
    options={MediaKind.VIDEO: NOVA_MODES, MediaKind.AUDIO: ()},
    bucket_owner_required=False,
    max_segments=1434,
)
MARENGO_27_ASYNC = AsyncFamily(
    name="marengo-2.7",
    model_ids=("twelvelabs.marengo-embed-2-7-v1:0",),
    # TwelveLabs: video in FFmpeg-readable containers; audio WAV, MP3, FLAC.
    formats={MediaKind.VIDEO: _VIDEO_FORMATS, MediaKind.AUDIO: ("wav", "mp3", "flac")},
    max_bytes={MediaKind.VIDEO: 2 * GB, MediaKind.AUDIO: 2 * GB},
    dimensions=(),
    default_dimensions=1024,
    segment_range=(2, 10),
    segment_integer=False,
    min_segment_range=(1, 5),
    window=True,
    options={MediaKind.VIDEO: ("visual-text", "visual-image", "audio"), MediaKind.AUDIO: ()},
    bucket_owner_required=True,
)
MARENGO_30_ASYNC = AsyncFamily(
    name="marengo-3.0",
    model_ids=("twelvelabs.marengo-embed-3-0-v1:0",),
    formats={MediaKind.VIDEO: _VIDEO_FORMATS, MediaKind.AUDIO: ("wav", "mp3", "flac")},
    max_bytes={MediaKind.VIDEO: 6 * GB, MediaKind.AUDIO: 6 * GB},
    dimensions=(),
    default_dimensions=512,
    segment_range=(1, 10),
    segment_integer=True,
    min_segment_range=(1, 5),
    window=True,
    options={
        MediaKind.VIDEO: ("visual", "audio", "transcription"),
        MediaKind.AUDIO: ("audio", "transcription"),
    },
    bucket_owner_required=True,
)
ASYNC_FAMILIES = {f.name: f for f in (NOVA_ASYNC, MARENGO_27_ASYNC, MARENGO_30_ASYNC)}


def _name(model_id: str) -> str:
    return model_id.split(":", 1)[0]


def async_family(model: str) -> tuple[AsyncFamily | None, str]:
    """(family, base model id to send) for a configured model, id, profile or ARN.

    StartAsyncInvoke runs base models: a cross-region profile id is sent as
    the base id it names, a foundation-model ARN as given.
    """
    ref = modelid.parse_model_id(model)
    name = _name(ref.base_id)
    for family in ASYNC_FAMILIES.values():
        if any(_name(mid) == name for mid in family.model_ids):
            send = model if ref.kind == modelid.ARN_FOUNDATION else ref.base_id
            return family, send
    return None, ""


def _seconds(value: float) -> str:
    return f"{value:g}"


def lo_hi(family: AsyncFamily) -> tuple[int, int]:
    return family.min_segment_range or (0, 0)


def check_request(family: AsyncFamily, request: MediaRequest, options: EmbedOptions) -> list[str]:
    """Every problem with `request` for `family`, each with what to do."""
    kind, problems = request.kind, []
    name = family.name
    if request.format not in family.formats[kind]:
        problems.append(
            f"{name} does not take {request.format.upper() or 'this'} {kind.value}; send "
            f"{family.describe_formats(kind)}"
        )
    if family.bucket_owner_required and not request.bucket_owner:
        problems.append(
            f"{name} needs the bucket owner (12-digit account id) of the media's S3 bucket; "
            "set media.bucket_owner (uploads: --media-bucket-owner)"
        )
    if options.dimensions and options.dimensions != family.default_dimensions:
        if options.dimensions not in family.dimensions:
            allowed = list(family.dimensions) or [family.default_dimensions]
            problems.append(
                f"dimensions {options.dimensions} not supported by {name}, allowed values are: "
                f"{allowed}"
            )
    low, high = family.segment_range
    seg = request.segment_seconds
    if seg and not low <= seg <= high:
        problems.append(
            f"segment_seconds {_seconds(seg)} is outside {name}'s range "
            f"{_seconds(low)}-{_seconds(high)}"
        )
    elif seg and family.segment_integer and seg != int(seg):
        problems.append(f"{name} takes whole seconds per segment, got {_seconds(seg)}")
    floor = request.min_segment_seconds
    if floor:
        if family.min_segment_range is None or kind is not MediaKind.VIDEO:
            problems.append(
                f"min_segment_seconds applies to Marengo video only, not {name} {kind.value}"
            )
        elif floor != int(floor) or not lo_hi(family)[0] <= floor <= lo_hi(family)[1]:
            lo, hi = lo_hi(family)
            problems.append(
                f"min_segment_seconds must be a whole number {lo}-{hi}, got {_seconds(floor)}"
            )
        elif seg and floor > seg:
            problems.append("min_segment_seconds must not exceed segment_seconds")
    if request.start_seconds or request.end_seconds:
        if not family.window:
            problems.append(
                f"{name} embeds the whole file: leave start_seconds and end_seconds unset"
            )
        elif request.start_seconds < 0 or (
            request.end_seconds and request.end_seconds <= request.start_seconds
        ):
            problems.append("start_seconds must be >= 0 and end_seconds after it")
    options_allowed = family.options[kind]
    for option in request.embedding_options:
        if option not in options_allowed:
            what = (
                f"one of {', '.join(options_allowed)}"
                if options_allowed
                else "none (leave it empty)"
            )
            problems.append(
                f"embedding option {option[:40]!r} is not supported by {name} for {kind.value}; "
                f"allowed: {what}"
            )
    if family is NOVA_ASYNC and len(request.embedding_options) > 1:
        problems.append(
            "Nova takes one embedding option for video: AUDIO_VIDEO_COMBINED or "
            "AUDIO_VIDEO_SEPARATE"
        )
    return problems


def _location(request: MediaRequest) -> dict[str, str]:
    loc = {"uri": request.s3_uri}
    if request.bucket_owner:
        loc["bucketOwner"] = request.bucket_owner
    return loc


def _nova(request: MediaRequest, purpose: Purpose, options: EmbedOptions) -> dict[str, Any]:
    part: dict[str, Any] = {"format": request.format, "source": {"s3Location": _location(request)}}
    if request.kind is MediaKind.VIDEO:
        part["embeddingMode"] = (request.embedding_options or NOVA_MODES[:1])[0]
    seg: dict[str, Any] = {}
    if request.segment_seconds:
        seg["durationSeconds"] = int(request.segment_seconds)
    # segmentationConfig is required for audio and video; empty means 5 s.
    part["segmentationConfig"] = seg
    return {
        "schemaVersion": SCHEMA_VERSION,
        "taskType": "SEGMENTED_EMBEDDING",
        "segmentedEmbeddingParams": {
            "embeddingPurpose": input_type_for(NOVA_MM, purpose, options),
            "embeddingDimension": options.dimensions or NOVA_ASYNC.default_dimensions,
            request.kind.value: part,
        },
    }


def _marengo27(request: MediaRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputType": request.kind.value,
        "mediaSource": {"s3Location": _location(request)},
    }
    if request.start_seconds:
        body["startSec"] = request.start_seconds
    if request.end_seconds:
        body["lengthSec"] = request.end_seconds - request.start_seconds
    if request.segment_seconds:
        body["useFixedLengthSec"] = request.segment_seconds
    if request.min_segment_seconds:
        body["minClipSec"] = int(request.min_segment_seconds)
    if request.embedding_options:
        body["embeddingOption"] = list(request.embedding_options)
    return body


def _marengo30(request: MediaRequest) -> dict[str, Any]:
    part: dict[str, Any] = {"mediaSource": {"s3Location": _location(request)}}
    if request.start_seconds:
        part["startSec"] = request.start_seconds
    if request.end_seconds:
        part["endSec"] = request.end_seconds
    if request.segment_seconds:
        part["segmentation"] = {
            "method": "fixed",
            "fixed": {"durationSec": int(request.segment_seconds)},
        }
    elif request.min_segment_seconds:
        part["segmentation"] = {
            "method": "dynamic",
            "dynamic": {"minDurationSec": int(request.min_segment_seconds)},
        }
    if request.embedding_options:
        part["embeddingOption"] = list(request.embedding_options)
    return {"inputType": request.kind.value, request.kind.value: part}


def build_model_input(
    family: AsyncFamily, request: MediaRequest, purpose: Purpose, options: EmbedOptions
) -> dict[str, Any]:
    if family is NOVA_ASYNC:
        return _nova(request, purpose, options)
    if family is MARENGO_27_ASYNC:
        return _marengo27(request)
    return _marengo30(request)


def start_body(
    model_id: str,
    model_input: dict[str, Any],
    output_uri: str,
    client_token: str = "",
    output_bucket_owner: str = "",
) -> dict[str, Any]:
    out: dict[str, str] = {"s3Uri": output_uri}
    if output_bucket_owner:
        out["bucketOwner"] = output_bucket_owner
    body: dict[str, Any] = {}
    if client_token:
        body["clientRequestToken"] = client_token
    body.update(
        {
            "modelId": model_id,
            "modelInput": model_input,
            "outputDataConfig": {"s3OutputDataConfig": out},
        }
    )
    return body
