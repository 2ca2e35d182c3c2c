"""Media over S3 end to end: jobs (video, audio) and S3 images, with the real
gRPC server, the emulator's asynchronous invoke, and moto's S3 server as S3,
each its own process or thread on loopback.

The sidecar reaches S3 through AWS_ENDPOINT_URL_S3 (the SDKs' override), as
it would reach S3; the emulated models read the media from the same server
and write their output there, where the sidecar reads it back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import grpc
import pytest

from tests.media import mp4, wav
from tests.support import Emulator, Sidecar, sidecar_env, start_emulator, start_sidecar
from vectorizer.emulator.media import segment_vector
from vectorizer.v1 import media_jobs_pb2 as mpb
from vectorizer.v1 import media_jobs_pb2_grpc as mpb_grpc
from vectorizer.v1 import vectorizer_pb2 as pb

OWNER = "123456789012"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
MARENGO27 = "twelvelabs.marengo-embed-2-7-v1:0"
MARENGO30 = "twelvelabs.marengo-embed-3-0-v1:0"
DONE = (mpb.MEDIA_JOB_COMPLETED, mpb.MEDIA_JOB_FAILED)


@pytest.fixture(scope="module")
def media_emulator() -> Iterator[Emulator]:
    emu = start_emulator("--s3-port", "0", "--async-delay", "0.6")
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def s3_url(media_emulator: Emulator) -> str:
    url = media_emulator._call("GET", "/_emulator/async")["s3"]
    s3 = _s3(url)
    for bucket in ("media", "staging", "out"):
        s3.create_bucket(Bucket=bucket)
    return url


def _s3(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTESTS3",
        aws_secret_access_key="not-a-secret",
    )


def _start(emu: Emulator, s3_url: str, jobs_dir: Path, *extra: str) -> Sidecar:
    env = sidecar_env(emu, AWS_ENDPOINT_URL_S3=s3_url)
    return start_sidecar(
        emu,
        "--jobs-dir",
        str(jobs_dir),
        "--media-staging-uri",
        "s3://staging/uploads/",
        "--media-output-uri",
        "s3://out/jobs/",
        "--media-bucket-owner",
        OWNER,
        "--media-poll-interval",
        "0.2",
        *extra,
        env=env,
    )


@pytest.fixture(scope="module")
def jobs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def media_sidecar(media_emulator: Emulator, s3_url: str, jobs_dir: Path) -> Iterator[Sidecar]:
    side = _start(media_emulator, s3_url, jobs_dir)
    yield side
    side.terminate()


@pytest.fixture()
def jobs(media_sidecar: Sidecar) -> Iterator[mpb_grpc.MediaJobsStub]:
    with grpc.insecure_channel(media_sidecar.grpc_address) as channel:
        yield mpb_grpc.MediaJobsStub(channel)


def _config(model: str, **kw: object) -> pb.CollectionConfig:
    return pb.CollectionConfig(service="bedrock", region="us-east-1", model=model, **kw)


def _wait(stub: mpb_grpc.MediaJobsStub, job_id: str, timeout: float = 20) -> mpb.MediaJob:
    deadline = time.monotonic() + timeout
    while True:
        job = stub.GetMediaJob(mpb.GetMediaJobRequest(job_id=job_id))
        if job.state in DONE or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def _all_segments(stub: mpb_grpc.MediaJobsStub, job_id: str, page: int = 2) -> list:
    out, token = [], ""
    while True:
        job = stub.GetMediaJob(
            mpb.GetMediaJobRequest(
                job_id=job_id, include_segments=True, page_size=page, page_token=token
            )
        )
        out.extend(job.segments)
        token = job.next_page_token
        if not token:
            return out


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_nova_audio_from_s3_watched_then_fetched_per_segment(
    jobs: mpb_grpc.MediaJobsStub, s3_url: str
) -> None:
    audio = wav(12.0, seed=3)
    _s3(s3_url).put_object(Bucket="media", Key="talk.wav", Body=audio)
    job = jobs.SubmitMediaJob(
        mpb.SubmitMediaJobRequest(
            config=_config(NOVA, dimensions=256),
            media=mpb.Media(s3_uri="s3://media/talk.wav"),
            segmentation=mpb.MediaSegmentation(segment_seconds=5),
        )
    )
    assert job.state == mpb.MEDIA_JOB_IN_PROGRESS
    assert job.invocation_arn.startswith("arn:aws:bedrock:us-east-1:123456789012:async-invoke/")
    assert (job.kind, job.format, job.model) == (mpb.MEDIA_KIND_AUDIO, "wav", NOVA)

    states = [j.state for j in jobs.WatchMediaJob(mpb.WatchMediaJobRequest(job_id=job.job_id))]
    # Progress: in progress (polls counted) until it ends; the stream closes then.
    assert states[0] == mpb.MEDIA_JOB_IN_PROGRESS
    assert states[-1] == mpb.MEDIA_JOB_COMPLETED
    assert states.count(mpb.MEDIA_JOB_IN_PROGRESS) >= 2

    done = jobs.GetMediaJob(mpb.GetMediaJobRequest(job_id=job.job_id))
    assert (done.segment_count, done.dimensions) == (3, 256)
    assert done.polls >= 2 and done.end_time_ms >= done.submit_time_ms
    segments = _all_segments(jobs, job.job_id)
    assert [(s.index, s.start_seconds, s.end_seconds) for s in segments] == [
        (0, 0.0, 5.0),
        (1, 5.0, 10.0),
        (2, 10.0, 12.0),
    ]
    assert {s.embedding_option for s in segments} == {"AUDIO"}
    # The vectors are the emulator's for these bytes and indexes: nothing invented.
    import hashlib

    digest = hashlib.sha256(audio).hexdigest()
    for s in segments:
        expected = segment_vector(digest, "AUDIO", s.index, 256, "GENERIC_INDEX")
        assert _cos(list(s.vector.values), expected) > 0.9999


def test_marengo_video_bytes_uploaded_to_staging(jobs: mpb_grpc.MediaJobsStub, s3_url: str) -> None:
    video = mp4(13.0, seed=5)
    job = jobs.SubmitMediaJob(
        mpb.SubmitMediaJobRequest(
            config=_config(MARENGO27),
            media=mpb.Media(data=video, mime_type="video/mp4"),
            segmentation=mpb.MediaSegmentation(segment_seconds=5),
            embedding_options=["visual-text", "audio"],
            client_token="upload-1",
        )
    )
    import hashlib

    key = f"uploads/{hashlib.sha256(video).hexdigest()}.mp4"
    assert job.source_s3_uri == f"s3://staging/{key}"
    assert _s3(s3_url).get_object(Bucket="staging", Key=key)["Body"].read() == video
    # The same token answers the same job, nothing started twice.
    again = jobs.SubmitMediaJob(
        mpb.SubmitMediaJobRequest(
            config=_config(MARENGO27),
            media=mpb.Media(data=video, mime_type="video/mp4"),
            client_token="upload-1",
        )
    )
    assert again.job_id == job.job_id
    done = _wait(jobs, job.job_id)
    assert done.state == mpb.MEDIA_JOB_COMPLETED, done.error
    segments = _all_segments(jobs, job.job_id, page=4)
    assert done.segment_count == len(segments) == 6
    spans = sorted({(s.start_seconds, s.end_seconds) for s in segments})
    assert spans == [(0.0, 5.0), (5.0, 10.0), (10.0, 13.0)]
    assert sorted({s.embedding_option for s in segments}) == ["audio", "visual-text"]
    assert all(len(s.vector.values) == 1024 for s in segments)


def test_marengo30_fixed_segments_of_a_window(jobs: mpb_grpc.MediaJobsStub, s3_url: str) -> None:
    _s3(s3_url).put_object(Bucket="media", Key="clip.mov", Body=mp4(8.0, brand=b"qt  "))
    job = jobs.SubmitMediaJob(
        mpb.SubmitMediaJobRequest(
            config=_config("us." + MARENGO30),  # a profile id: async runs the base model
            media=mpb.Media(s3_uri="s3://media/clip.mov", bucket_owner=OWNER),
            segmentation=mpb.MediaSegmentation(segment_seconds=4, end_seconds=8),
            embedding_options=["visual"],
        )
    )
    assert job.model == MARENGO30 and job.format == "mov"
    done = _wait(jobs, job.job_id)
    assert done.state == mpb.MEDIA_JOB_COMPLETED, done.error
    segments = _all_segments(jobs, job.job_id, page=10)
    assert [(s.index, s.scope, s.start_seconds, s.end_seconds) for s in segments] == [
        (0, "clip", 0.0, 4.0),
        (1, "clip", 4.0, 8.0),
    ]
    assert {s.embedding_option for s in segments} == {"visual"}
    assert all(len(s.vector.values) == 512 for s in segments)


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.mark.parametrize(
    ("media", "words"),
    [
        (
            mpb.Media(s3_uri="s3://media/missing.wav"),
            "S3 NotFound (HTTP 404) for s3://media/missing",
        ),
        (mpb.Media(data=PNG_BYTES), "not a video or audio container"),
        (mpb.Media(data=wav(1.0), mime_type="video/mp4"), "does not match the data, which is WAV"),
        (mpb.Media(data=wav(1.0), mime_type="image/png"), "not a video or audio type"),
    ],
    ids=["missing-s3-object", "not-media", "wrong-mime", "image-mime"],
)
def test_bad_media_is_a_clear_error(
    jobs: mpb_grpc.MediaJobsStub, media: mpb.Media, words: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        jobs.SubmitMediaJob(mpb.SubmitMediaJobRequest(config=_config(NOVA), media=media))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in err.value.details()


def test_oversize_upload_names_the_limit(
    media_emulator: Emulator, s3_url: str, tmp_path: Path
) -> None:
    side = _start(media_emulator, s3_url, tmp_path, "--media-max-upload-bytes", "20000")
    try:
        with grpc.insecure_channel(side.grpc_address) as channel:
            stub = mpb_grpc.MediaJobsStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.SubmitMediaJob(
                    mpb.SubmitMediaJobRequest(config=_config(NOVA), media=mpb.Media(data=wav(3.0)))
                )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "over the sidecar's upload limit of 20000" in err.value.details()
        assert "s3:// location" in err.value.details()
    finally:
        side.terminate()


def test_media_the_model_cannot_read_fails_the_job_with_its_reason(
    jobs: mpb_grpc.MediaJobsStub, s3_url: str
) -> None:
    # An MP4 whose header has no movie box: the sidecar cannot tell, the model can.
    _s3(s3_url).put_object(
        Bucket="media", Key="broken.mp4", Body=b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00"
    )
    job = jobs.SubmitMediaJob(
        mpb.SubmitMediaJobRequest(
            config=_config(NOVA), media=mpb.Media(s3_uri="s3://media/broken.mp4")
        )
    )
    done = _wait(jobs, job.job_id)
    assert done.state == mpb.MEDIA_JOB_FAILED
    assert done.error.code == "ASYNC_INVOKE_FAILED"
    assert "could not be processed" in done.error.message
    assert done.invocation_arn in done.error.message


def test_options_checked_before_anything_is_uploaded(
    jobs: mpb_grpc.MediaJobsStub, s3_url: str
) -> None:
    audio = wav(2.0, seed=6)
    with pytest.raises(grpc.RpcError) as err:
        jobs.SubmitMediaJob(
            mpb.SubmitMediaJobRequest(
                config=_config(NOVA),
                media=mpb.Media(data=audio),
                segmentation=mpb.MediaSegmentation(segment_seconds=45, start_seconds=3),
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "outside nova-multimodal's range 1-30" in err.value.details()
    assert "leave start_seconds and end_seconds unset" in err.value.details()
    import hashlib

    listed = _s3(s3_url).list_objects_v2(Bucket="staging").get("Contents", [])
    assert f"uploads/{hashlib.sha256(audio).hexdigest()}.wav" not in {o["Key"] for o in listed}


def test_unknown_job_and_text_model(jobs: mpb_grpc.MediaJobsStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        jobs.GetMediaJob(mpb.GetMediaJobRequest(job_id="0" * 32))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        jobs.SubmitMediaJob(
            mpb.SubmitMediaJobRequest(
                config=_config("amazon.titan-embed-text-v2:0"),
                media=mpb.Media(s3_uri="s3://media/talk.wav"),
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "does not embed video or audio" in err.value.details()


def test_restart_mid_job_loses_nothing(
    media_emulator: Emulator, s3_url: str, tmp_path: Path
) -> None:
    media_emulator._call("POST", "/_emulator/async", {"delay": 4.0})
    try:
        _s3(s3_url).put_object(Bucket="media", Key="long.wav", Body=wav(9.0, seed=9))
        first = _start(media_emulator, s3_url, tmp_path)
        with grpc.insecure_channel(first.grpc_address) as channel:
            job = mpb_grpc.MediaJobsStub(channel).SubmitMediaJob(
                mpb.SubmitMediaJobRequest(
                    config=_config(NOVA, dimensions=384),
                    media=mpb.Media(s3_uri="s3://media/long.wav"),
                )
            )
        assert job.state == mpb.MEDIA_JOB_IN_PROGRESS
        # Killed, not drained: the job must survive an abrupt end as well.
        first.proc.kill()
        first.proc.wait(timeout=10)
        second = _start(media_emulator, s3_url, tmp_path)
        try:
            with grpc.insecure_channel(second.grpc_address) as channel:
                stub = mpb_grpc.MediaJobsStub(channel)
                done = _wait(stub, job.job_id, timeout=30)
                assert done.state == mpb.MEDIA_JOB_COMPLETED, done.error
                assert done.invocation_arn == job.invocation_arn  # polled, not restarted
                segments = _all_segments(stub, job.job_id, page=100)
                assert [(s.start_seconds, s.end_seconds) for s in segments] == [
                    (0.0, 5.0),
                    (5.0, 9.0),
                ]
                assert all(len(s.vector.values) == 384 for s in segments)
            assert "resumed 1 unfinished media job" in second.logs
        finally:
            second.terminate()
    finally:
        media_emulator._call("POST", "/_emulator/async", {"delay": 0.6})
    starts = [
        r for r in media_emulator.requests() if r["path"] == "/async-invoke" and r["status"] == 200
    ]
    assert sum(1 for r in starts if r["body"]["clientRequestToken"] == job.job_id) == 1


# --- images the model reads from S3 (Vectorize), through the same stand-in ---


def _vectorize(side: Sidecar, config: pb.CollectionConfig, inputs: list[pb.Input]):  # type: ignore[no-untyped-def]
    from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

    with grpc.insecure_channel(side.grpc_address) as channel:
        return pb_grpc.VectorizerStub(channel).Vectorize(
            pb.VectorizeRequest(config=config, inputs=inputs)
        )


def test_s3_image_is_read_by_the_model_and_a_missing_one_is_an_item_error(
    media_sidecar: Sidecar, s3_url: str
) -> None:
    from tests.images import make

    picture = make("checker", seed=4)
    _s3(s3_url).put_object(Bucket="media", Key="pics/checker.png", Body=picture)
    response = _vectorize(
        media_sidecar,
        _config(NOVA, dimensions=256),
        [
            pb.Input(image=pb.Image(s3_uri="s3://media/pics/checker.png", mime_type="image/png")),
            pb.Input(image=pb.Image(s3_uri="s3://media/pics/gone.png", mime_type="image/png")),
            pb.Input(image=pb.Image(data=picture)),
        ],
    )
    from_s3, missing, inline = response.results
    # The emulator embedded the object's bytes: the same vector as the bytes sent inline.
    assert _cos(list(from_s3.vector.values), list(inline.vector.values)) > 0.9999
    assert missing.WhichOneof("outcome") == "error"
    assert not missing.error.retryable
    assert "s3://media/pics/gone.png" in missing.error.message
    assert "NoSuchKey" in missing.error.message


def test_s3_image_of_another_account_is_access_denied(media_sidecar: Sidecar, s3_url: str) -> None:
    from tests.images import make

    _s3(s3_url).put_object(Bucket="media", Key="pics/disc.png", Body=make("disc", seed=2))
    response = _vectorize(
        media_sidecar,
        _config("us." + MARENGO27),
        [
            pb.Input(
                image=pb.Image(
                    s3_uri="s3://media/pics/disc.png",
                    mime_type="image/png",
                    bucket_owner="210987654321",
                )
            ),
            pb.Input(text="a disc"),
        ],
    )
    denied, text = response.results
    assert "AccessDenied" in denied.error.message
    assert text.WhichOneof("outcome") == "vector"
