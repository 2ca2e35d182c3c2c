"""The asynchronous-invoke codecs against the documented shapes (pure, no I/O).

Bodies are compared whole with the shapes of AWS's pages (Nova
embeddings-schema "Complete asynchronous schema", model-parameters-marengo,
model-parameters-marengo-3) and botocore's StartAsyncInvoke input.
"""

from __future__ import annotations

import json

import pytest

from vectorizer.backends.async_media import (
    MARENGO_27_ASYNC,
    MARENGO_30_ASYNC,
    NOVA_ASYNC,
    MediaRequest,
    async_family,
    build_model_input,
    check_request,
    start_body,
)
from vectorizer.backends.async_output import (
    parse_marengo_output,
    parse_nova_lines,
    parse_nova_result,
    result_location,
)
from vectorizer.emulator.media import (
    MediaUnreadable,
    duration_seconds,
    even_segments,
    fixed_segments,
)
from vectorizer.media_files import MediaKind, check_media, sniff
from vectorizer.s3 import S3Error, parse_s3_uri
from vectorizer.types import EmbedOptions, Purpose

VIDEO = MediaRequest(MediaKind.VIDEO, "mp4", "s3://b/v.mp4", "123456789012")
AUDIO = MediaRequest(MediaKind.AUDIO, "wav", "s3://b/a.wav", "123456789012")


def test_nova_video_segmented_body() -> None:
    req = MediaRequest(MediaKind.VIDEO, "mp4", "s3://b/v.mp4", segment_seconds=10)
    body = build_model_input(NOVA_ASYNC, req, Purpose.DOCUMENT, EmbedOptions(dimensions=1024))
    assert body == {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SEGMENTED_EMBEDDING",
        "segmentedEmbeddingParams": {
            "embeddingPurpose": "GENERIC_INDEX",
            "embeddingDimension": 1024,
            "video": {
                "format": "mp4",
                "source": {"s3Location": {"uri": "s3://b/v.mp4"}},
                "embeddingMode": "AUDIO_VIDEO_COMBINED",
                "segmentationConfig": {"durationSeconds": 10},
            },
        },
    }


def test_nova_audio_body_query_purpose_and_separate_mode_refused_for_audio() -> None:
    body = build_model_input(NOVA_ASYNC, AUDIO, Purpose.QUERY, EmbedOptions())
    params = body["segmentedEmbeddingParams"]
    assert params["embeddingPurpose"] == "GENERIC_RETRIEVAL"
    assert params["embeddingDimension"] == 3072
    assert params["audio"] == {
        "format": "wav",
        "source": {"s3Location": {"uri": "s3://b/a.wav", "bucketOwner": "123456789012"}},
        "segmentationConfig": {},
    }
    bad = MediaRequest(
        MediaKind.AUDIO, "wav", "s3://b/a.wav", embedding_options=("AUDIO_VIDEO_SEPARATE",)
    )
    assert "allowed: none" in check_request(NOVA_ASYNC, bad, EmbedOptions())[0]


def test_marengo27_flat_body() -> None:
    req = MediaRequest(
        MediaKind.VIDEO,
        "mp4",
        "s3://b/v.mp4",
        "123456789012",
        segment_seconds=5,
        start_seconds=2,
        end_seconds=15,
        min_segment_seconds=3,
        embedding_options=("visual-text", "audio"),
    )
    assert check_request(MARENGO_27_ASYNC, req, EmbedOptions()) == []
    assert build_model_input(MARENGO_27_ASYNC, req, Purpose.DOCUMENT, EmbedOptions()) == {
        "inputType": "video",
        "mediaSource": {"s3Location": {"uri": "s3://b/v.mp4", "bucketOwner": "123456789012"}},
        "startSec": 2,
        "lengthSec": 13,
        "useFixedLengthSec": 5,
        "minClipSec": 3,
        "embeddingOption": ["visual-text", "audio"],
    }


def test_marengo30_nested_body_fixed_and_dynamic() -> None:
    fixed = MediaRequest(MediaKind.AUDIO, "wav", "s3://b/a.wav", "123456789012", segment_seconds=6)
    assert build_model_input(MARENGO_30_ASYNC, fixed, Purpose.DOCUMENT, EmbedOptions()) == {
        "inputType": "audio",
        "audio": {
            "mediaSource": {"s3Location": {"uri": "s3://b/a.wav", "bucketOwner": "123456789012"}},
            "segmentation": {"method": "fixed", "fixed": {"durationSec": 6}},
        },
    }
    dynamic = MediaRequest(
        MediaKind.VIDEO,
        "mov",
        "s3://b/v.mov",
        "123456789012",
        min_segment_seconds=2,
        end_seconds=30,
    )
    part = build_model_input(MARENGO_30_ASYNC, dynamic, Purpose.DOCUMENT, EmbedOptions())["video"]
    assert part["segmentation"] == {"method": "dynamic", "dynamic": {"minDurationSec": 2}}
    assert part["endSec"] == 30 and "startSec" not in part


def test_start_body_is_botocore_shaped() -> None:
    body = start_body(
        "m", {"x": 1}, "s3://out/p/", client_token="abc", output_bucket_owner="1" * 12
    )
    assert body == {
        "clientRequestToken": "abc",
        "modelId": "m",
        "modelInput": {"x": 1},
        "outputDataConfig": {
            "s3OutputDataConfig": {"s3Uri": "s3://out/p/", "bucketOwner": "1" * 12}
        },
    }


@pytest.mark.parametrize(
    ("model", "family", "sent"),
    [
        (
            "amazon.nova-2-multimodal-embeddings-v1:0",
            "nova-multimodal",
            "amazon.nova-2-multimodal-embeddings-v1:0",
        ),
        (
            "us.twelvelabs.marengo-embed-2-7-v1:0",
            "marengo-2.7",
            "twelvelabs.marengo-embed-2-7-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/twelvelabs.marengo-embed-3-0-v1:0",
            "marengo-3.0",
            "arn:aws:bedrock:us-east-1::foundation-model/twelvelabs.marengo-embed-3-0-v1:0",
        ),
    ],
)
def test_async_family_sends_base_models(model: str, family: str, sent: str) -> None:
    found, model_id = async_family(model)
    assert found is not None and found.name == family and model_id == sent


def test_text_models_have_no_async_family() -> None:
    assert async_family("amazon.titan-embed-text-v2:0") == (None, "")


@pytest.mark.parametrize(
    ("family", "request_", "words"),
    [
        (NOVA_ASYNC, MediaRequest(MediaKind.AUDIO, "flac", "s3://b/a"), "does not take FLAC audio"),
        (
            MARENGO_27_ASYNC,
            MediaRequest(MediaKind.VIDEO, "mp4", "s3://b/v"),
            "needs the bucket owner",
        ),
        (
            NOVA_ASYNC,
            MediaRequest(MediaKind.VIDEO, "mp4", "s3://b/v", segment_seconds=2.5),
            "whole seconds",
        ),
        (
            MARENGO_27_ASYNC,
            MediaRequest(MediaKind.VIDEO, "mp4", "s3://b/v", "1" * 12, segment_seconds=1),
            "range 2-10",
        ),
        (
            MARENGO_27_ASYNC,
            MediaRequest(
                MediaKind.VIDEO,
                "mp4",
                "s3://b/v",
                "1" * 12,
                segment_seconds=3,
                min_segment_seconds=4,
            ),
            "must not exceed",
        ),
        (
            MARENGO_30_ASYNC,
            MediaRequest(
                MediaKind.AUDIO, "wav", "s3://b/a", "1" * 12, embedding_options=("visual",)
            ),
            "allowed: one of audio, transcription",
        ),
        (
            MARENGO_30_ASYNC,
            MediaRequest(
                MediaKind.VIDEO, "mp4", "s3://b/v", "1" * 12, start_seconds=9, end_seconds=3
            ),
            "end_seconds after it",
        ),
    ],
)
def test_check_request_names_the_problem(family, request_, words) -> None:  # type: ignore[no-untyped-def]
    problems = check_request(family, request_, EmbedOptions())
    assert any(words in p for p in problems), problems


def test_dimensions_checked_per_family() -> None:
    assert check_request(NOVA_ASYNC, AUDIO, EmbedOptions(dimensions=384)) == []
    assert (
        "allowed values are: [1024]"
        in check_request(MARENGO_27_ASYNC, AUDIO, EmbedOptions(dimensions=512))[0]
    )


# --- output ---------------------------------------------------------------------


def test_result_locations_follow_the_invocation_id() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:async-invoke/abcdefghijkl"
    assert str(result_location(NOVA_ASYNC, "s3://out/jobs/", arn)) == (
        "s3://out/jobs/abcdefghijkl/segmented-embedding-result.json"
    )
    assert str(result_location(MARENGO_30_ASYNC, "s3://out", arn)) == (
        "s3://out/abcdefghijkl/output.json"
    )


def test_nova_result_and_lines_with_a_failed_segment() -> None:
    result = {
        "sourceFileUri": "s3://b/v.mp4",
        "embeddingDimension": 256,
        "embeddingResults": [
            {
                "embeddingType": "VIDEO",
                "status": "PARTIAL_SUCCESS",
                "outputFileUri": "s3://out/x/embedding-video.jsonl",
            },
            {
                "embeddingType": "AUDIO",
                "status": "FAILURE",
                "failureReason": "INVALID_CONTENT",
                "message": "no audio track",
            },
        ],
    }
    video, audio = parse_nova_result(json.dumps(result).encode())
    assert str(video.output_uri) == "s3://out/x/embedding-video.jsonl" and video.failure is None
    assert audio.output_uri is None and audio.failure is not None
    assert audio.failure.code == "INVALID_CONTENT" and "no audio track" in audio.failure.message
    lines = "\n".join(
        [
            json.dumps(
                {
                    "embedding": [0.1, 0.2],
                    "segmentMetadata": {
                        "segmentIndex": 0,
                        "segmentStartSeconds": 0,
                        "segmentEndSeconds": 5.0,
                    },
                    "status": "SUCCESS",
                }
            ),
            json.dumps(
                {
                    "segmentMetadata": {
                        "segmentIndex": 1,
                        "segmentStartSeconds": 5.0,
                        "segmentEndSeconds": 7.5,
                    },
                    "status": "FAILURE",
                    "failureReason": "RATE_LIMIT_EXCEEDED",
                }
            ),
        ]
    )
    ok, failed = parse_nova_lines(lines, "VIDEO")
    assert (ok.index, ok.start_seconds, ok.end_seconds) == (0, 0.0, 5.0)
    assert ok.vector == pytest.approx([0.1, 0.2])  # parsed as float32
    assert failed.vector is None and failed.error is not None and failed.error.retryable
    assert (failed.start_seconds, failed.end_seconds) == (5.0, 7.5)


def test_marengo_output_numbered_per_option_in_time_order() -> None:
    data = [
        {"embedding": [1.0], "embeddingOption": "audio", "startSec": 6.0, "endSec": 12.0},
        {"embedding": [2.0], "embeddingOption": "visual-text", "startSec": 0.0, "endSec": 6.0},
        {"embedding": [3.0], "embeddingOption": "audio", "startSec": 0.0, "endsec": 6.0},
    ]
    segments = parse_marengo_output(json.dumps({"data": data}).encode())
    assert [(s.index, s.option, s.start_seconds, s.end_seconds) for s in segments] == [
        (0, "audio", 0.0, 6.0),
        (0, "visual-text", 0.0, 6.0),
        (1, "audio", 6.0, 12.0),
    ]
    single = parse_marengo_output(
        json.dumps(
            {
                "data": {
                    "embedding": [1, 2],
                    "embeddingOption": ["visual"],
                    "embeddingScope": ["asset"],
                    "startSec": 0,
                    "endSec": 4.2,
                }
            }
        ).encode()
    )
    assert (single[0].option, single[0].scope, single[0].vector) == ("visual", "asset", [1.0, 2.0])


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"data": 3}',
        b'{"data": [{"embedding": "x"}]}',
        b'{"data": [{"embedding": [true]}]}',
    ],
)
def test_marengo_output_malformed_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_marengo_output(body)


# --- media files and S3 locations -------------------------------------------------


def test_sniff_and_check_media() -> None:
    from tests.media import mp4, wav

    assert sniff(wav(0.1)).name == "wav"
    assert sniff(mp4(1.0)).name == "mp4"
    assert sniff(mp4(1.0, brand=b"qt  ")).name == "mov"
    assert sniff(b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"webm").name == "webm"
    assert sniff(b"ID3\x04" + bytes(20)).name == "mp3"
    assert sniff(b"OggS" + bytes(20)).name == "ogg"
    fmt, err = check_media(wav(0.1), "audio/x-wav")
    assert err is None and fmt is not None and fmt.kind is MediaKind.AUDIO
    _, err = check_media(b"", "")
    assert err is not None and "empty" in err.message


def test_s3_uris() -> None:
    loc = parse_s3_uri("s3://my-bucket/a/b c.mp4")
    assert (loc.bucket, loc.key) == ("my-bucket", "a/b c.mp4")
    assert str(parse_s3_uri("s3://out", key_required=False).child("x.json")) == "s3://out/x.json"
    assert str(parse_s3_uri("s3://out/p/", key_required=False).child("x")) == "s3://out/p/x"
    for bad in ("s3://UPPER/x", "http://b/x", "s3://b"):
        with pytest.raises(ValueError):
            parse_s3_uri(bad)


def test_s3_errors_map_to_kinds_and_codes() -> None:
    from vectorizer.errors import Kind

    missing = S3Error("NoSuchKey", 404, "s3://b/k", "The specified key does not exist.")
    assert missing.kind is Kind.NOT_FOUND and missing.code == "S3_NO_SUCH_KEY"
    assert "s3://b/k" in missing.message and "upload the object first" in missing.message
    denied = S3Error("AccessDenied", 403, "s3://b/k")
    assert denied.kind is Kind.PERMISSION_DENIED and not denied.retryable
    assert S3Error("SlowDown", 503, "s3://b/k").retryable


# --- the emulator's reading of media lengths ----------------------------------------


def test_durations_from_container_headers() -> None:
    from tests.media import mp4, wav

    assert duration_seconds(wav(2.5, rate=8000), "wav") == pytest.approx(2.5)
    assert duration_seconds(mp4(13.25), "mp4") == pytest.approx(13.25)
    with pytest.raises(MediaUnreadable):
        duration_seconds(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00", "mp4")
    with pytest.raises(MediaUnreadable):
        duration_seconds(b"OggS" + bytes(40), "ogg")


def test_segmentation() -> None:
    assert fixed_segments(0, 12, 5) == [(0, 5), (5, 10), (10, 12)]
    assert even_segments(0, 50, 10) == [(i * 10.0, i * 10.0 + 10) for i in range(5)]
    assert even_segments(0, 16, 10) == [(0.0, 8.0), (8.0, 16.0)]
