"""`MediaJobs`: the life of a media job, from submit to vectors, across restarts.

Sequence of one job:

1. `submit`: `intake.prepare_job` (media resolved, uploaded if bytes, every
   option checked); the record is stored as SUBMITTING *before* Bedrock is
   called, then StartAsyncInvoke is sent with the job id as its
   `clientRequestToken`, so sending it again after a crash starts nothing
   twice. A final refusal (ValidationException, access denied) marks the job
   FAILED and fails the call; a retryable one leaves it SUBMITTING for the
   poller.
2. A poller task per unfinished job: GetAsyncInvoke every `poll_interval`
   seconds (retryable errors back off up to `MAX_BACKOFF`); `Completed`
   moves the job to READING_OUTPUT, `Failed` to FAILED with AWS's
   `failureMessage`.
3. READING_OUTPUT: the segments are read from S3, stored, and the job is
   COMPLETED.

Every state change is stored, then announced to watchers (`watch`). On start,
`resume` restarts a poller for every unfinished job that runs on the server's
credentials. A job submitted with the caller's own keys is polled with them
while the process lives; after a restart, the keys being gone (never stored),
it resumes when its caller next asks for it with the same keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from vectorizer.backends.async_media import ASYNC_FAMILIES, build_model_input, start_body
from vectorizer.backends.async_output import Segment
from vectorizer.backends.bedrock_async import BedrockAsync
from vectorizer.errors import Kind, VectorizerError
from vectorizer.jobs.intake import JobInput, MediaSettings, prepare_job
from vectorizer.jobs.model import CHAIN, REQUEST, JobRecord, JobState
from vectorizer.jobs.store import JobStore
from vectorizer.s3 import S3Client
from vectorizer.transport import AwsCredentials, CredentialSource
from vectorizer.types import ItemError

log = logging.getLogger("vectorizer.jobs")

MAX_BACKOFF = 60.0
# A poller's lease on its job lasts this many poll intervals (plus a second).
LEASE_POLLS = 3
# Watchers re-read the store this often even without news (another replica
# may have moved the job).
WATCH_REFRESH = 15.0
# Errors of a poll that a later poll can outlive (credentials get refreshed,
# permissions fixed): keep the job, back off.
_PATIENT_KINDS = frozenset(
    {Kind.THROTTLED, Kind.UNAVAILABLE, Kind.UNAUTHENTICATED, Kind.PERMISSION_DENIED}
)


def _not_found(job_id: str) -> VectorizerError:
    return VectorizerError(Kind.NOT_FOUND, f"no media job {job_id[:80]!r}")


class MediaJobs:
    def __init__(
        self,
        store: JobStore,
        bedrock: BedrockAsync,
        s3: S3Client,
        credentials: CredentialSource,
        settings: MediaSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.store = store
        self._bedrock = bedrock
        self._s3 = s3
        self._chain = credentials
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._owner = uuid.uuid4().hex
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._request_creds: dict[str, AwsCredentials] = {}
        self._conditions: dict[str, asyncio.Condition] = {}

    # -- lifecycle ---------------------------------------------------------

    async def resume(self) -> int:
        """Poll every unfinished job that runs on the server's credentials."""
        count = 0
        for record in await self.store.unfinished():
            if record.credential_source == CHAIN:
                self._spawn(record.job_id)
                count += 1
        if count:
            log.info("resumed %d unfinished media job(s)", count)
        return count

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.store.close()

    # -- the API -----------------------------------------------------------

    async def submit(self, job: JobInput, creds: AwsCredentials, from_request: bool) -> JobRecord:
        existing = await self.store.by_token(creds.identity, job.client_token)
        if existing is not None:
            return existing
        prepared = await prepare_job(job, self.settings, self._s3, creds)
        job_id = uuid.uuid4().hex
        model_input = build_model_input(
            prepared.family, prepared.request, job.purpose, job.config.options
        )
        body = start_body(prepared.model_id, model_input, prepared.output_uri, client_token=job_id)
        now = self._clock()
        record = JobRecord(
            job_id=job_id,
            state=JobState.SUBMITTING,
            family=prepared.family.name,
            model=prepared.model_id,
            region=job.config.region,
            kind=prepared.request.kind.value,
            format=prepared.request.format,
            source_uri=prepared.request.s3_uri,
            bucket_owner=prepared.request.bucket_owner,
            output_uri=prepared.output_uri,
            start_body=json.dumps(body, separators=(",", ":")),
            credential_identity=creds.identity,
            credential_source=REQUEST if from_request else CHAIN,
            client_token=job.client_token,
            created=now,
            updated=now,
        )
        await self.store.put(record)
        if from_request:
            self._request_creds[job_id] = creds
        try:
            await self._start(record, creds)
        except VectorizerError as exc:
            if not exc.retryable:
                await self._fail(record, exc.item_error())
                raise
            log.warning("media job %s: StartAsyncInvoke will be retried: %s", job_id, exc.message)
        self._spawn(job_id)
        return record

    async def get(
        self, job_id: str, identity: str, from_request: bool, creds: AwsCredentials | None = None
    ) -> JobRecord:
        record = await self.store.get(job_id)
        if record is None or not _visible(record, identity, from_request):
            raise _not_found(job_id)
        if (
            record.credential_source == REQUEST
            and not record.state.terminal
            and creds is not None
            and job_id not in self._tasks
        ):
            # The keys came back with their owner (e.g. after a restart).
            self._request_creds[job_id] = creds
            self._spawn(job_id)
        return record

    async def watch(
        self, job_id: str, identity: str, from_request: bool, creds: AwsCredentials | None = None
    ) -> AsyncIterator[JobRecord]:
        record = await self.get(job_id, identity, from_request, creds)
        yield record
        seen = (record.state, record.polls, record.updated)
        while not record.state.terminal:
            condition = self._condition(job_id)
            async with condition:
                try:
                    await asyncio.wait_for(condition.wait(), WATCH_REFRESH)
                except asyncio.TimeoutError:
                    pass
            fresh = await self.store.get(job_id)
            if fresh is None:
                return
            record = fresh
            now = (record.state, record.polls, record.updated)
            if now != seen:
                seen = now
                yield record

    async def segments(self, job_id: str, offset: int, limit: int) -> list[Segment]:
        return await self.store.segments(job_id, offset, limit)

    # -- the poller ----------------------------------------------------------

    def _spawn(self, job_id: str) -> None:
        task = self._tasks.get(job_id)
        if task is None or task.done():
            self._tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"media-job-{job_id}")

    async def _run(self, job_id: str) -> None:
        interval = self.settings.poll_interval
        failures = 0
        try:
            while True:
                record = await self.store.get(job_id)
                if record is None or record.state.terminal:
                    return
                # A short lease: a replica that died hands its jobs over within
                # seconds; a holder that slept longer (backoff) may lose one to
                # another replica, which only means a poll done twice.
                if not await self.store.claim(job_id, self._owner, interval * LEASE_POLLS + 1):
                    await self._sleep(interval)  # another replica polls it
                    continue
                creds = await self._credentials(record)
                if creds is None:
                    return  # resumes when its caller asks with the same keys
                try:
                    delay = await self._step(record, creds)
                    failures = 0
                except VectorizerError as exc:
                    patient = exc.retryable or (
                        record.state is not JobState.SUBMITTING and exc.kind in _PATIENT_KINDS
                    )
                    if not patient:
                        await self._fail(record, exc.item_error())
                        return
                    failures += 1
                    delay = min(MAX_BACKOFF, interval * 2**failures)
                    log.warning(
                        "media job %s (%s): %s; next try in %.1fs",
                        job_id,
                        record.state.value,
                        exc.message,
                        delay,
                    )
                if delay:
                    await self._sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug must not kill the job silently
            log.exception("media job %s: poller stopped on an internal error", job_id)
        finally:
            if self._tasks.get(job_id) is asyncio.current_task():
                self._tasks.pop(job_id, None)

    async def _credentials(self, record: JobRecord) -> AwsCredentials | None:
        if record.credential_source == REQUEST:
            return self._request_creds.get(record.job_id)
        return await self._chain.resolve()

    async def _step(self, record: JobRecord, creds: AwsCredentials) -> float:
        """One move of the job; answers how long to wait before the next."""
        if record.state is JobState.SUBMITTING:
            await self._start(record, creds)
            return self.settings.poll_interval
        if record.state is JobState.IN_PROGRESS:
            invocation = await self._bedrock.status(record.region, record.invocation_arn, creds)
            record.polls += 1
            if invocation.status == "Completed":
                record.state = JobState.READING_OUTPUT
                await self._save(record)
                return 0.0
            if invocation.status == "Failed":
                message = invocation.failure_message or "no failure message given"
                await self._fail(
                    record,
                    ItemError(
                        "ASYNC_INVOKE_FAILED",
                        f"Bedrock failed the asynchronous invocation {record.invocation_arn}: "
                        f"{message}",
                        False,
                    ),
                )
                return 0.0
            await self._save(record)
            return self.settings.poll_interval
        if record.state is JobState.READING_OUTPUT:
            family = ASYNC_FAMILIES[record.family]
            segments = await self._bedrock.read_output(
                family, record.region, record.output_uri, record.invocation_arn, creds
            )
            await self.store.put_segments(record.job_id, segments)
            record.segment_count = len(segments)
            record.dimensions = next((len(s.vector) for s in segments if s.vector), 0)
            record.state = JobState.COMPLETED
            record.ended = self._clock()
            await self._save(record)
            self._request_creds.pop(record.job_id, None)
        return 0.0

    async def _start(self, record: JobRecord, creds: AwsCredentials) -> None:
        body = json.loads(record.start_body)
        arn = await self._bedrock.start(record.region, body, creds, target=record.model)
        record.invocation_arn = arn
        record.state = JobState.IN_PROGRESS
        await self._save(record)

    async def _fail(self, record: JobRecord, error: ItemError) -> None:
        record.state = JobState.FAILED
        record.error_code = error.code
        record.error_message = error.message
        record.error_retryable = error.retryable
        record.ended = self._clock()
        await self._save(record)
        self._request_creds.pop(record.job_id, None)

    async def _save(self, record: JobRecord) -> None:
        record.updated = self._clock()
        await self.store.put(record)
        condition = self._condition(record.job_id)
        async with condition:
            condition.notify_all()

    def _condition(self, job_id: str) -> asyncio.Condition:
        condition = self._conditions.get(job_id)
        if condition is None:
            condition = self._conditions[job_id] = asyncio.Condition()
        return condition


def _visible(record: JobRecord, identity: str, from_request: bool) -> bool:
    """A job made with a caller's own keys is shown only to those keys."""
    if record.credential_source == REQUEST:
        return from_request and identity == record.credential_identity
    return True
