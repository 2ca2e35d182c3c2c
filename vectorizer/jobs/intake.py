"""A media job request, checked and made ready to send, before anything is stored.

- `MediaSettings`: the operator's media settings (staging and output
  locations, bucket owner, upload limit, poll interval).
- `JobInput`: a submit request in domain terms (what the gRPC layer unpacks).
- `Prepared`: the job's model family, base model id, `MediaRequest` and
  output location.
- `prepare_job(...)`: resolves the media (uploaded bytes go to the staging
  bucket under their SHA-256, so a retried upload writes the same object; an
  s3:// location is looked up with a signed HEAD: it must exist, be readable
  and fit the model), checks every option against the model, and raises a
  `VectorizerError` that names the problem and the fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from vectorizer.backends.async_media import (
    ASYNC_FAMILIES,
    AsyncFamily,
    MediaRequest,
    async_family,
    check_request,
)
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError, Kind, VectorizerError
from vectorizer.media_files import FORMATS, MediaFormat, check_media, format_of_mime
from vectorizer.s3 import S3Client, S3Error, parse_s3_uri
from vectorizer.transport import AwsCredentials
from vectorizer.types import Purpose

MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"


@dataclass(frozen=True)
class MediaSettings:
    staging_uri: str = ""
    output_uri: str = ""
    bucket_owner: str = ""
    max_upload_bytes: int = 48 * 1024 * 1024
    poll_interval: float = 5.0


@dataclass(frozen=True)
class JobInput:
    config: ResolvedConfig
    purpose: Purpose
    s3_uri: str = ""
    bucket_owner: str = ""
    data: bytes | None = None
    mime_type: str = ""
    segment_seconds: float = 0.0
    start_seconds: float = 0.0
    end_seconds: float = 0.0
    min_segment_seconds: float = 0.0
    embedding_options: tuple[str, ...] = ()
    output_uri: str = ""
    client_token: str = ""


@dataclass(frozen=True)
class Prepared:
    family: AsyncFamily
    model_id: str
    request: MediaRequest
    output_uri: str


def _invalid(message: str, code: str = "") -> VectorizerError:
    return VectorizerError(Kind.INVALID_ARGUMENT, message, code=code)


def _family(config: ResolvedConfig) -> tuple[AsyncFamily, str]:
    if config.service != "bedrock":
        raise _invalid("media jobs run on Bedrock: set service to bedrock")
    family, model_id = async_family(config.model)
    if family is None:
        raise _invalid(
            f"model {config.model} does not embed video or audio; use one of: "
            + ", ".join(mid for f in ASYNC_FAMILIES.values() for mid in f.model_ids)
        )
    return family, model_id


def _fits(family: AsyncFamily, fmt: MediaFormat, size: int, where: str) -> None:
    limit = family.max_bytes[fmt.kind]
    if size > limit:
        raise _invalid(
            f"{where} is {size} bytes, over {family.name}'s limit of {limit // 1_000_000_000} GB "
            f"for {fmt.kind.value}; split it or compress it",
            MEDIA_TOO_LARGE,
        )


def _format_of_object(job: JobInput, key: str, content_type: str) -> MediaFormat:
    if job.mime_type:
        fmt = format_of_mime(job.mime_type)
        if fmt is None:
            raise _invalid(
                f"MIME type {job.mime_type[:60]!r} is not a video or audio type taken here"
            )
        return fmt
    guess = format_of_mime(content_type) if content_type else None
    if guess is not None:
        return guess
    ext = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    ext = {"mpg": "mpeg", "qt": "mov", "oga": "ogg", "m4v": "mp4"}.get(ext, ext)
    if ext in FORMATS:
        return FORMATS[ext]
    raise _invalid(
        "cannot tell the media's format: set media.mime_type (e.g. video/mp4, audio/wav), or "
        "give the object a known extension or Content-Type"
    )


def _checked_bytes(job: JobInput, family: AsyncFamily, settings: MediaSettings) -> MediaFormat:
    data = job.data or b""
    fmt, error = check_media(data, job.mime_type)
    if error is not None or fmt is None:
        assert error is not None
        raise _invalid(error.message, error.code)
    if len(data) > settings.max_upload_bytes:
        raise _invalid(
            f"media is {len(data)} bytes, over the sidecar's upload limit of "
            f"{settings.max_upload_bytes} (--media-max-upload-bytes); upload it to S3 and send "
            "its s3:// location instead",
            MEDIA_TOO_LARGE,
        )
    _fits(family, fmt, len(data), "media")
    if not settings.staging_uri:
        raise _invalid(
            "media bytes need a staging bucket: start the server with --media-staging-uri "
            "s3://bucket/prefix/, or send an s3:// location"
        )
    return fmt


async def _existing(
    job: JobInput, family: AsyncFamily, s3: S3Client, creds: AwsCredentials
) -> MediaFormat:
    try:
        loc = parse_s3_uri(job.s3_uri)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    try:
        info = await s3.head(loc, job.config.region, creds, job.bucket_owner)
    except S3Error as exc:
        if exc.kind in (Kind.NOT_FOUND, Kind.PERMISSION_DENIED):
            # The media is the request's own input: a missing or unreadable
            # object is a bad argument, said with S3's reason.
            raise VectorizerError(
                Kind.INVALID_ARGUMENT, f"media cannot be read: {exc.message}", code=exc.code
            ) from None
        raise
    fmt = _format_of_object(job, loc.key, info.content_type)
    _fits(family, fmt, info.size, str(loc))
    return fmt


async def prepare_job(
    job: JobInput, settings: MediaSettings, s3: S3Client, creds: AwsCredentials
) -> Prepared:
    family, model_id = _family(job.config)
    if bool(job.s3_uri) == (job.data is not None and len(job.data) > 0):
        raise _invalid("set exactly one of media.s3_uri and media.data")
    output = job.output_uri or settings.output_uri
    if not output:
        raise _invalid(
            "no output location: set output_s3_uri, or start the server with --media-output-uri"
        )
    try:
        parse_s3_uri(output, key_required=False)
    except ValueError as exc:
        raise _invalid(f"output location: {exc}") from None
    staged = None
    if job.s3_uri:
        fmt = await _existing(job, family, s3, creds)
        source, bucket_owner = job.s3_uri, job.bucket_owner
    else:
        fmt = _checked_bytes(job, family, settings)
        data = job.data or b""
        staged = parse_s3_uri(settings.staging_uri, key_required=False).child(
            f"{hashlib.sha256(data).hexdigest()}.{fmt.extension}"
        )
        source, bucket_owner = str(staged), job.bucket_owner or settings.bucket_owner
    request = MediaRequest(
        kind=fmt.kind,
        format=fmt.name,
        s3_uri=source,
        bucket_owner=bucket_owner,
        segment_seconds=job.segment_seconds,
        start_seconds=job.start_seconds,
        end_seconds=job.end_seconds,
        min_segment_seconds=job.min_segment_seconds,
        embedding_options=job.embedding_options,
    )
    problems = check_request(family, request, job.config.options)
    if problems:
        raise ConfigError(problems)
    if staged is not None:
        # Only now: a request the model would refuse uploads nothing.
        await s3.put(
            staged, job.config.region, creds, job.data or b"", fmt.mime_types[0], bucket_owner
        )
    return Prepared(family, model_id, request, output)
