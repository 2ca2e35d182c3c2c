"""Bulk embedding from the terminal: `vectorizer embed --input FILE --output FILE`.

`--input DIR` embeds a folder of images instead (`bulk_images`: one item per
file, its relative path the id) through a multimodal model; the rest of the
job below is the same.

- `BulkOptions`: what the command line asked for.
- `run_bulk(options)`: the whole job, returning the exit code:
  1. read the input once for its ids (unique, or the job cannot resume),
  2. check the target with the server (`bulk_target`: unknown collection,
     bad config, a text-only model for images and an unreachable server
     stop here, before any work),
  3. open the journal next to the output (`bulk_journal`), skipping every
     item it already holds a vector for,
  4. send batches of `batch_size` texts, `concurrency` requests at a time,
     through the gRPC client (which retries retryable items itself),
     journaling each answer and showing progress (texts/s, ETA, failed),
  5. write the output in input order and the failed items with their
     reasons (`bulk_io`); the journal is deleted once every item has a
     vector, and kept while some failed, so running the same command again
     retries only those.
- Exit codes: `EXIT_OK` (every item embedded), `EXIT_FAILED_ITEMS` (some
  failed: see OUTPUT's `.failed.jsonl`), `EXIT_ERROR` (bad input, options or
  target; nothing is lost), `EXIT_INTERRUPTED` (Ctrl-C or SIGTERM: batches in
  flight are finished and journaled first; run again to resume).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from vectorizer.bulk_images import (
    BATCH_BYTES,
    image_rows,
    journal_id,
    load_all,
)
from vectorizer.bulk_io import (
    Id,
    InputError,
    Row,
    input_format,
    output_format,
    read_rows,
    scan_ids,
    sidecar_paths,
    write_failed,
    write_output,
)
from vectorizer.bulk_journal import Journal, JournalError, JournalState, id_key, load_state
from vectorizer.bulk_target import MEDIA_NOT_SUPPORTED, TargetError, check_target
from vectorizer.client import (
    AsyncVectorizerClient,
    EmbeddingError,
    ItemFailure,
    PurposeName,
    RequestError,
    RetryPolicy,
)
from vectorizer.v1 import vectorizer_pb2 as pb

EXIT_OK = 0
EXIT_FAILED_ITEMS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
LOCAL_FAILURE = "BAD_INPUT"  # an item with no text to send


@dataclass(frozen=True)
class BulkOptions:
    input: Path
    output: Path
    collection: str = ""
    config: dict[str, Any] | None = None  # a text2vec-aws moduleConfig
    address: str = "localhost:50051"
    input_format: str = ""
    output_format: str = ""
    text_field: str = "text"
    id_field: str = "id"
    purpose: str = "document"
    batch_size: int = 64
    concurrency: int = 4
    timeout: float = 60.0  # per request, retries included
    restart: bool = False
    overwrite: bool = False
    progress: bool = True
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def images(self) -> bool:
        """A folder of images rather than a file of texts."""
        return self.input.is_dir()

    def job(self) -> dict[str, Any]:
        """What a journal must match to be resumed."""
        target: dict[str, Any] = (
            {"collection": self.collection} if self.collection else {"config": self.config}
        )
        if self.images:
            return {**target, "purpose": self.purpose, "input": "image folder"}
        return {
            **target,
            "purpose": self.purpose,
            "text_field": self.text_field,
            "id_field": self.id_field,
        }


class _Stop(Exception):
    """A reason to end the job without writing the output (exit `EXIT_ERROR`)."""


def run_bulk(options: BulkOptions, err: IO[str] = sys.stderr) -> int:
    try:
        job = _Job.plan(options, err)
    except (InputError, JournalError, TargetError, _Stop) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_ERROR
    try:
        return asyncio.run(job.run())
    except (asyncio.CancelledError, KeyboardInterrupt):
        print(
            f"\ninterrupted at once: batches in flight are lost, the rest is kept in "
            f"{job.journal.path}; run the same command again to resume",
            file=err,
        )
        return EXIT_INTERRUPTED
    except (InputError, JournalError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_ERROR
    finally:
        job.journal.close()


@dataclass
class _Job:
    options: BulkOptions
    in_fmt: str
    out_fmt: str
    ids: list[Id]
    keys: list[str]  # journal key of each id, in order
    journal: Journal
    state: JournalState
    err: IO[str]
    failed: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False
    fatal: str = ""

    @classmethod
    def plan(cls, options: BulkOptions, err: IO[str]) -> _Job:
        o = options
        if o.batch_size < 1 or o.concurrency < 1:
            raise _Stop("--batch-size and --concurrency must be at least 1")
        in_fmt = "images" if o.images else input_format(o.input, o.input_format)
        out_fmt = output_format(o.output, o.output_format)
        if not o.images and not o.input.is_file():
            raise _Stop(f"{o.input}: no such file or folder")
        if o.images and o.output.resolve().is_relative_to(o.input.resolve()):
            raise _Stop(f"write --output outside the folder {o.input} (it would be embedded)")
        paths = sidecar_paths(o.output)
        if o.restart:
            paths.journal.unlink(missing_ok=True)
        if o.output.exists() and not paths.journal.exists() and not (o.overwrite or o.restart):
            raise _Stop(f"{o.output} exists; pass --overwrite to replace it")
        keys: list[str] = []

        def keyed(rows: Iterator[Row]) -> Iterator[Row]:
            for row in rows:
                keys.append(id_key(journal_id(row)))
                yield row

        ids = scan_ids(keyed(_rows(o, in_fmt)))
        check_target(o.address, o.metadata, o.collection, o.config, images=o.images)
        journal, state = Journal.open(paths.journal, o.job())
        return cls(o, in_fmt, out_fmt, ids, keys, journal, state, err)

    # --- the run ------------------------------------------------------------------

    async def run(self) -> int:
        o = self.options
        done = self.state.done()
        already = sum(1 for k in self.keys if k in done)
        if already:
            print(f"resuming: {already} of {len(self.ids)} items already embedded", file=self.err)
        self._watch_signals()
        bar = tqdm(
            total=len(self.ids),
            initial=already,
            unit="image" if o.images else "text",
            desc="embedding",
            disable=not o.progress,
            file=self.err,
            dynamic_ncols=True,
        )
        bar.set_postfix(failed=0)
        queue: asyncio.Queue[list[Row] | None] = asyncio.Queue(maxsize=o.concurrency)
        async with AsyncVectorizerClient(
            o.address,
            collection=o.collection or None,
            config=o.config,
            timeout=o.timeout,
            retry=RetryPolicy(max_attempts=4),
            metadata=o.metadata,
        ) as client:
            workers = [
                asyncio.create_task(self._worker(client, queue, bar)) for _ in range(o.concurrency)
            ]
            try:
                await self._produce(queue, done, bar)
            finally:
                for _ in workers:
                    await queue.put(None)
                await asyncio.gather(*workers)
        bar.close()
        self.journal.flush()
        if self.fatal:
            print(f"error: {self.fatal}", file=self.err)
            if not self.state.vectors and not load_state(self.journal.path).vectors:
                self.journal.close()  # nothing done: no journal to tie the next run to
                self.journal.path.unlink(missing_ok=True)
            return EXIT_ERROR
        if self.interrupted:
            print(
                f"interrupted: progress is kept in {self.journal.path}; run the same "
                "command again to resume",
                file=self.err,
            )
            return EXIT_INTERRUPTED
        return self._finish()

    async def _produce(
        self, queue: asyncio.Queue[list[Row] | None], done: set[str], bar: tqdm
    ) -> None:
        o = self.options
        for batch in _batches(_rows(o, self.in_fmt), done, o):
            if self.stop.is_set():
                return
            if o.images:  # read and sniff the files off the event loop
                batch = await asyncio.to_thread(load_all, batch)
            sendable = [r for r in batch if r.sendable]
            for row in batch:
                if not row.sendable:
                    code = row.code or LOCAL_FAILURE
                    self.journal.add_failure(journal_id(row), code, row.problem, False)
                    self._count_failed(bar, 1)
            if len(sendable) < len(batch):
                bar.update(len(batch) - len(sendable))
                self.journal.flush()
            if sendable:
                await queue.put(sendable)

    async def _worker(
        self,
        client: AsyncVectorizerClient,
        queue: asyncio.Queue[list[Row] | None],
        bar: tqdm,
    ) -> None:
        while (batch := await queue.get()) is not None:
            if self.stop.is_set():
                continue  # not started: left for the next run
            purpose: PurposeName = "query" if self.options.purpose == "query" else "document"
            try:
                vectors: list[list[float] | None] = list(await _send(client, batch, purpose))
                failures: dict[int, ItemFailure] = {}
            except EmbeddingError as exc:
                if _unavailable(exc, len(batch)):
                    # Not these items' fault: stop, keep them pending for the next run.
                    detail = exc.failures[0].message[:300] or "no answer"
                    self.fatal = (
                        f"the server at {self.options.address} is unavailable ({detail}); "
                        f"progress is kept in {self.journal.path}: run the same command "
                        "again to resume"
                    )
                    self.stop.set()
                    continue
                refused = [f for f in exc.failures if f.code == MEDIA_NOT_SUPPORTED]
                if refused:
                    # A text-only model: every image would fail the same way.
                    self.fatal = (
                        f"the model refuses images: {refused[0].message}; name a collection "
                        "with one, or e.g. --model amazon.titan-embed-image-v1"
                    )
                    self.stop.set()
                    continue
                vectors = exc.vectors
                failures = {f.index: f for f in exc.failures}
            except RequestError as exc:
                self.fatal = f"the server refused the request: {exc.code}: {exc.message}"
                self.stop.set()
                continue
            self._record(batch, vectors, failures, bar)

    def _record(
        self,
        batch: list[Row],
        vectors: Sequence[list[float] | None],
        failures: Mapping[int, ItemFailure],
        bar: tqdm,
    ) -> None:
        """Journal each row of an answered batch: its vector, or why it has none."""
        for i, row in enumerate(batch):
            failure = failures.get(i)
            vector = vectors[i] if i < len(vectors) else None
            if failure is not None or vector is None:
                code = failure.code if failure else "INTERNAL"
                message = failure.message if failure else "no vector came back"
                retryable = failure.retryable if failure else True
                self.journal.add_failure(journal_id(row), code, message, retryable)
                self._count_failed(bar, 1)
            else:
                self.journal.add_vector(journal_id(row), vector)
        self.journal.flush()
        bar.update(len(batch))

    def _count_failed(self, bar: tqdm, count: int) -> None:
        self.failed += count
        bar.set_postfix(failed=self.failed, refresh=False)

    def _watch_signals(self) -> None:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def on_signal() -> None:
            if self.interrupted and main is not None:
                main.cancel()  # a second signal: stop now, in-flight work is lost
                return
            self.interrupted = True
            self.stop.set()
            print(
                "\nstopping: finishing the batches in flight (again to quit at once)",
                file=self.err,
            )

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)

    # --- the end ----------------------------------------------------------------

    def _finish(self) -> int:
        o = self.options
        self.journal.flush()
        state = load_state(self.journal.path)
        paths = sidecar_paths(o.output)
        pairs = list(zip(self.ids, self.keys, strict=True))
        ok = [(i, k) for i, k in pairs if k in state.vectors]
        unknown = {"code": "INTERNAL", "message": "no result recorded", "retryable": True}
        failures = [
            # The item's id, not its journal key (an image's carries the fingerprint).
            {"id": i, **{n: v for n, v in state.failures.get(k, unknown).items() if n != "id"}}
            for i, k in pairs
            if k not in state.vectors
        ]
        with state.path.open("rb") as fh:
            vectors = (state.vector(k, fh) for _, k in ok)
            write_output(o.output, self.out_fmt, [i for i, _ in ok], vectors, state.dim or 0)
        failed = write_failed(paths.failed, failures)
        if failed:
            retryable = sum(1 for f in failures if f.get("retryable"))
            advice = (
                f"{retryable} may succeed if you run the same command again, which "
                "sends only the failed items"
                if retryable
                else "fix them and run the same command again: only they are sent"
            )
            print(
                f"{len(ok)} embedded, {failed} failed (reasons in {paths.failed}); {advice}",
                file=self.err,
            )
            return EXIT_FAILED_ITEMS
        self.journal.close()
        paths.journal.unlink(missing_ok=True)
        print(f"{len(ok)} embedded into {o.output}", file=self.err)
        return EXIT_OK


def _unavailable(exc: EmbeddingError, count: int) -> bool:
    """The whole request was refused with gRPC UNAVAILABLE after the client's
    retries: the server is gone, or AWS was down for every item. Either way
    the items are not at fault, and a later run can embed them."""
    return len(exc.failures) == count and all(f.code == "UNAVAILABLE" for f in exc.failures)


def _rows(options: BulkOptions, fmt: str) -> Iterator[Row]:
    o = options
    return image_rows(o.input) if o.images else read_rows(o.input, fmt, o.text_field, o.id_field)


async def _send(
    client: AsyncVectorizerClient, batch: list[Row], purpose: PurposeName
) -> list[list[float]]:
    if batch[0].image is not None:
        images = [pb.Image(data=r.image or b"") for r in batch]
        return await client.embed_images(images, purpose=purpose)
    return await client.embed([r.text or "" for r in batch], purpose=purpose)


def _batches(rows: Iterator[Row], done: set[str], options: BulkOptions) -> Iterator[list[Row]]:
    """Rows not done yet, `batch_size` at a time, and images within
    `BATCH_BYTES` a batch (texts weigh nothing here: the server's own limits
    are far above a batch of them)."""
    batch: list[Row] = []
    weight = 0
    for row in rows:
        if id_key(journal_id(row)) in done:
            continue
        if batch and weight + row.size > BATCH_BYTES:
            yield batch
            batch, weight = [], 0
        batch.append(row)
        weight += row.size
        if len(batch) >= options.batch_size:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch
