"""The MediaJobs gRPC servicer: proto <-> `jobs.MediaJobs`, nothing else.

Thin, like `service.VectorizerService`: it unpacks a request into a
`JobInput`, asks the manager, and packs `JobRecord`s and `Segment`s into
messages. Errors are mapped to statuses by `rpc.observe` / `rpc.RpcCall`,
with the same metrics and log line as the Vectorizer service; messages are
scrubbed of any credential the caller sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from vectorizer.app import App
from vectorizer.backends.async_output import Segment
from vectorizer.config import resolve
from vectorizer.errors import Kind, VectorizerError
from vectorizer.jobs.intake import JobInput
from vectorizer.jobs.manager import MediaJobs
from vectorizer.jobs.model import JobRecord, JobState
from vectorizer.rpc import (
    RpcCall,
    caller_credentials,
    credentials_from_metadata,
    observe,
    target_config,
    to_purpose,
)
from vectorizer.transport import AwsCredentials
from vectorizer.v1 import media_jobs_pb2 as mpb
from vectorizer.v1 import media_jobs_pb2_grpc as mpb_grpc
from vectorizer.v1 import vectorizer_pb2 as pb

log = logging.getLogger("vectorizer.media")
SERVICE_NAME = mpb.DESCRIPTOR.services_by_name["MediaJobs"].full_name
DEFAULT_PAGE = 100
MAX_PAGE = 1000

_STATES = {
    JobState.SUBMITTING: mpb.MEDIA_JOB_SUBMITTING,
    JobState.IN_PROGRESS: mpb.MEDIA_JOB_IN_PROGRESS,
    JobState.READING_OUTPUT: mpb.MEDIA_JOB_READING_OUTPUT,
    JobState.COMPLETED: mpb.MEDIA_JOB_COMPLETED,
    JobState.FAILED: mpb.MEDIA_JOB_FAILED,
}
_KINDS = {"video": mpb.MEDIA_KIND_VIDEO, "audio": mpb.MEDIA_KIND_AUDIO}


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def job_to_proto(record: JobRecord) -> mpb.MediaJob:
    msg = mpb.MediaJob(
        job_id=record.job_id,
        state=_STATES[record.state],
        model=record.model,
        kind=_KINDS.get(record.kind, mpb.MEDIA_KIND_UNSPECIFIED),
        format=record.format,
        source_s3_uri=record.source_uri,
        output_s3_uri=record.output_uri,
        invocation_arn=record.invocation_arn,
        submit_time_ms=_ms(record.created),
        update_time_ms=_ms(record.updated),
        end_time_ms=_ms(record.ended),
        polls=record.polls,
        segment_count=record.segment_count,
        dimensions=record.dimensions,
    )
    if record.state is JobState.FAILED:
        msg.error.CopyFrom(
            pb.ItemError(
                code=record.error_code,
                message=record.error_message,
                retryable=record.error_retryable,
            )
        )
    return msg


def segment_to_proto(s: Segment) -> mpb.MediaSegment:
    msg = mpb.MediaSegment(
        index=s.index,
        start_seconds=s.start_seconds,
        end_seconds=s.end_seconds,
        embedding_option=s.option,
        scope=s.scope,
    )
    if s.vector is not None:
        msg.vector.CopyFrom(pb.Vector(values=s.vector))
    elif s.error is not None:
        msg.error.CopyFrom(
            pb.ItemError(code=s.error.code, message=s.error.message, retryable=s.error.retryable)
        )
    return msg


def _page(request: mpb.GetMediaJobRequest) -> tuple[int, int]:
    size = request.page_size or DEFAULT_PAGE
    if not 1 <= size <= MAX_PAGE:
        raise VectorizerError(Kind.INVALID_ARGUMENT, f"page_size must be 1-{MAX_PAGE}")
    token = request.page_token
    if token and not token.isdigit():
        raise VectorizerError(Kind.INVALID_ARGUMENT, "page_token is not one this server issued")
    return int(token or 0), size


class MediaJobsService(mpb_grpc.MediaJobsServicer):
    def __init__(self, app: App, jobs: MediaJobs):
        self.app = app
        self.jobs = jobs

    async def _identity(
        self, context: grpc.aio.ServicerContext
    ) -> tuple[str, bool, AwsCredentials | None]:
        creds = credentials_from_metadata(context.invocation_metadata())
        if creds is not None:
            return creds.identity, True, creds
        return "", False, None

    def _input(self, msg: mpb.SubmitMediaJobRequest) -> JobInput:
        cfg, _ = target_config(self.app.collections, msg)
        config = resolve(cfg)
        seg = msg.segmentation
        return JobInput(
            config=config,
            purpose=to_purpose(msg.purpose),
            s3_uri=msg.media.s3_uri,
            bucket_owner=msg.media.bucket_owner,
            data=bytes(msg.media.data) if msg.media.data else None,
            mime_type=msg.media.mime_type,
            segment_seconds=seg.segment_seconds,
            start_seconds=seg.start_seconds,
            end_seconds=seg.end_seconds,
            min_segment_seconds=seg.min_segment_seconds,
            embedding_options=tuple(msg.embedding_options),
            output_uri=msg.output_s3_uri,
            client_token=msg.client_token,
        )

    async def SubmitMediaJob(
        self, request: mpb.SubmitMediaJobRequest, context: grpc.aio.ServicerContext
    ) -> mpb.MediaJob:
        async def run(info: dict[str, Any]) -> mpb.MediaJob:
            job = self._input(request)
            info["model"] = job.config.model
            if len(request.client_token) > 256 or not all(
                "!" <= c <= "~" for c in request.client_token
            ):
                raise VectorizerError(
                    Kind.INVALID_ARGUMENT,
                    "client_token must be at most 256 printable ASCII characters without spaces",
                )
            creds, from_request = await caller_credentials(self.app, context)
            record = await self.jobs.submit(job, creds, from_request)
            info["job_id"] = record.job_id
            return job_to_proto(record)

        return await observe(log, "SubmitMediaJob", context, run, in_flight=False)

    async def GetMediaJob(
        self, request: mpb.GetMediaJobRequest, context: grpc.aio.ServicerContext
    ) -> mpb.MediaJob:
        async def run(info: dict[str, Any]) -> mpb.MediaJob:
            info["job_id"] = request.job_id
            identity, from_request, creds = await self._identity(context)
            record = await self.jobs.get(request.job_id, identity, from_request, creds)
            msg = job_to_proto(record)
            if request.include_segments:
                offset, size = _page(request)
                if record.state is JobState.COMPLETED:
                    segments = await self.jobs.segments(record.job_id, offset, size)
                    msg.segments.extend(segment_to_proto(s) for s in segments)
                    if offset + len(segments) < record.segment_count:
                        msg.next_page_token = str(offset + len(segments))
            return msg

        return await observe(log, "GetMediaJob", context, run, in_flight=False)

    async def WatchMediaJob(
        self, request: mpb.WatchMediaJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[mpb.MediaJob]:
        with RpcCall(log, "WatchMediaJob", context, in_flight=False, latency=False) as call:
            call.info["job_id"] = request.job_id
            identity, from_request, creds = await self._identity(context)
            async for record in self.jobs.watch(request.job_id, identity, from_request, creds):
                yield job_to_proto(record)
        if call.code is not grpc.StatusCode.OK:
            await context.abort(call.code, call.message)
