"""A small Python client of the sidecar's gRPC contract, sync and async.

- `VectorizerClient` / `AsyncVectorizerClient`: `embed(texts)`,
  `embed_images(images)` (image file bytes, or `Image` / `Input` messages
  for S3 locations and text+image pairs) and `embed_objects(objects)` return
  one vector per input, in order, as lists of floats; `embed_array` and
  `embed_objects_array` return the same as one float32 numpy matrix (a row
  per input), asking the server for packed float32 vectors
  (`VECTOR_FORMAT_PACKED_FLOAT32`): no Python float per component on either
  side. Items that
  come back with a retryable item error (throttled, deadline, upstream
  unavailable), and whole requests refused with a retryable status
  (RESOURCE_EXHAUSTED, UNAVAILABLE), are sent again, only those items, with
  full-jitter exponential backoff, at most `max_attempts` times in all and
  within the call's `timeout`.
- `EmbeddingError`: items still failing at the end, by input index.
- `RequestError`: the server refused the request (bad config, unknown
  collection, no AWS access...); `code` is the gRPC status name.
- `Credentials`: per-request AWS keys, sent as the text2vec-aws metadata.

`config` is a text2vec-aws moduleConfig dict (or a `CollectionConfig`);
`collection` names one the server loaded. One of them, from the call or the
client's defaults, picks the model.

Several replicas: one HTTP/2 connection carries every call, so behind an L4
balancer (a ClusterIP Service) all of a client's calls land on one replica.
Give the clients every replica instead and they spread calls themselves with
gRPC's `round_robin` policy: `address` may be a list of `host:port` (IP
addresses), or a name whose DNS answer lists the replicas (a Kubernetes
headless Service, `dns:///vectorizer-grpc.ns.svc.cluster.local:50051`) with
`round_robin=True`. `replicas_target` and `channel_options` build the same
for a channel of your own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import grpc
import numpy as np
import numpy.typing as npt
from google.protobuf import struct_pb2

from vectorizer.balance import channel_options, replicas_target
from vectorizer.config import parse_config_json
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

__all__ = [
    "AsyncVectorizerClient",
    "Credentials",
    "EmbeddingError",
    "ItemFailure",
    "RequestError",
    "RetryPolicy",
    "VectorizerClient",
    "channel_options",
    "replicas_target",
]

PurposeName = Literal["document", "query"]
Matrix = npt.NDArray[np.float32]
Config = Mapping[str, Any] | pb.CollectionConfig
RETRYABLE_STATUS = frozenset({grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE})
DEFAULT_TIMEOUT = 60.0


def _channel_target(address: str | Sequence[str], round_robin: bool | None) -> tuple[str, bool]:
    """(target, round_robin): a list of addresses means round robin over them."""
    if isinstance(address, str):
        return (replicas_target(address) if round_robin else address), bool(round_robin)
    return replicas_target(address), round_robin is not False


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None

    def metadata(self) -> list[tuple[str, str]]:
        md = [("x-aws-access-key", self.access_key), ("x-aws-secret-key", self.secret_key)]
        if self.session_token:
            md.append(("x-aws-session-token", self.session_token))
        return md


@dataclass(frozen=True)
class ItemFailure:
    index: int
    code: str
    message: str
    retryable: bool


class EmbeddingError(Exception):
    """Some items have no vector after every allowed attempt.

    `vectors` holds, by input index, the vectors the other items did get
    (None where an item failed), so nothing already embedded is lost.
    """

    def __init__(
        self,
        failures: Sequence[ItemFailure],
        attempts: int,
        vectors: Sequence[list[float] | None] = (),
    ):
        self.failures = list(failures)
        self.attempts = attempts
        self.vectors = list(vectors)
        shown = "; ".join(f"[{f.index}] {f.code}: {f.message}" for f in self.failures[:5])
        more = f"; and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} item(s) failed after {attempts} attempt(s): {shown}{more}"
        )


class RequestError(Exception):
    """The server refused the whole request."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def to_purpose(purpose: PurposeName) -> pb.Purpose:
    if purpose not in ("document", "query"):
        raise ValueError(f"purpose must be 'document' or 'query', got {purpose!r}")
    return pb.PURPOSE_QUERY if purpose == "query" else pb.PURPOSE_DOCUMENT


def _target(request: Any, collection: str | None, config: Config | None) -> None:
    if config is not None:
        msg = config if isinstance(config, pb.CollectionConfig) else parse_config_json(dict(config))
        request.config.CopyFrom(msg)
    elif collection:
        request.collection = collection
    else:
        raise ValueError("pass collection= or config= (here or to the client)")


def _struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(properties))
    return s


def _schema(schema: Mapping[str, Mapping[str, Any]] | None) -> list[pb.PropertySchema]:
    """{name: {"skip", "vectorizePropertyName", "dataType", "indexed"}} -> protos."""
    out = []
    for name, opts in (schema or {}).items():
        p = pb.PropertySchema(
            name=name,
            skip=bool(opts.get("skip", False)),
            vectorize_property_name=bool(opts.get("vectorizePropertyName", False)),
            data_type=str(opts.get("dataType", "")),
        )
        if "indexed" in opts:
            p.indexed = bool(opts["indexed"])
        out.append(p)
    return out


class _Progress:
    """The retry bookkeeping shared by the sync and async clients."""

    def __init__(self, count: int, policy: RetryPolicy, timeout: float, packed: bool = False):
        self.packed = packed
        self.vectors: list[Any] = [None] * count  # lists of floats, or float32 bytes
        self.failures: dict[int, ItemFailure] = {}
        self.pending = list(range(count))
        self.policy = policy
        self.deadline = time.monotonic() + timeout
        self.attempts = 0

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def absorb(self, response: pb.VectorizeResponse) -> None:
        """Take one answer for the pending items; keep the retryable failures."""
        still = []
        for index, result in zip(self.pending, response.results, strict=True):
            if result.HasField("vector"):
                self.vectors[index] = self._vector(result.vector)
                self.failures.pop(index, None)
            else:
                e = result.error
                self.failures[index] = ItemFailure(index, e.code, e.message, e.retryable)
                if e.retryable:
                    still.append(index)
        self.pending = still

    def _vector(self, vector: pb.Vector) -> Any:
        if not self.packed:
            return list(vector.values)
        if vector.packed or not vector.values:
            return vector.packed
        # A server from before VectorFormat answers values whatever was asked.
        return np.asarray(vector.values, dtype="<f4").tobytes()

    def absorb_status(self, exc: grpc.RpcError) -> None:
        code = exc.code()
        if code not in RETRYABLE_STATUS:
            raise RequestError(code.name, exc.details() or "") from None
        for index in self.pending:
            self.failures[index] = ItemFailure(index, code.name, exc.details() or "", True)

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None: stop."""
        if not self.pending or self.attempts >= self.policy.max_attempts:
            return None
        delay = self.policy.delay(self.attempts - 1)
        return delay if delay < self.time_left() else None

    def _check(self) -> None:
        if self.failures:
            got = self.vectors
            if self.packed:  # the error's vectors are lists of floats either way
                got = [None if v is None else np.frombuffer(v, "<f4").tolist() for v in got]
            raise EmbeddingError(
                sorted(self.failures.values(), key=lambda f: f.index), self.attempts, got
            )

    def result(self) -> list[list[float]]:
        self._check()
        return [v for v in self.vectors if v is not None]

    def matrix(self) -> Matrix:
        """Every vector as a row of one float32 matrix (packed answers)."""
        self._check()
        blobs = [v for v in self.vectors if v is not None]
        if not blobs:
            return np.empty((0, 0), dtype=np.float32)
        if len({len(b) for b in blobs}) != 1:
            raise ValueError("the server answered vectors of different lengths")
        flat = np.frombuffer(b"".join(blobs), dtype="<f4")
        return flat.reshape(len(blobs), -1).astype(np.float32, copy=False)


class _Base:
    def __init__(
        self,
        *,
        collection: str | None,
        config: Config | None,
        credentials: Credentials | None,
        timeout: float,
        retry: RetryPolicy | None,
        metadata: Sequence[tuple[str, str]],
    ):
        self.collection = collection
        self.config = config
        self.credentials = credentials
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.metadata = list(metadata)

    def _texts_request(
        self,
        texts: Sequence[str],
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
        packed: bool = False,
    ) -> pb.VectorizeRequest:
        request = pb.VectorizeRequest(
            texts=list(texts), purpose=to_purpose(purpose), vector_format=_format(packed)
        )
        if config is None and collection is None:
            config, collection = self.config, self.collection
        _target(request, collection, config)
        return request

    def _inputs_request(
        self,
        images: Sequence[bytes | pb.Image | pb.Input],
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
    ) -> pb.VectorizeRequest:
        request = pb.VectorizeRequest(
            inputs=[_input(i) for i in images], purpose=to_purpose(purpose)
        )
        if config is None and collection is None:
            config, collection = self.config, self.collection
        _target(request, collection, config)
        return request

    def _objects_request(
        self,
        objects: Sequence[Mapping[str, Any]],
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None,
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
        packed: bool = False,
    ) -> pb.VectorizeObjectsRequest:
        request = pb.VectorizeObjectsRequest(
            objects=[pb.VectorizeObject(properties=_struct(o)) for o in objects],
            class_name=class_name,
            property_schema=_schema(schema),
            purpose=to_purpose(purpose),
            vector_format=_format(packed),
        )
        if config is None and collection is None:
            config, collection = self.config, self.collection
        _target(request, collection, config)
        return request

    def _md(self, credentials: Credentials | None) -> list[tuple[str, str]]:
        creds = credentials or self.credentials
        return self.metadata + (creds.metadata() if creds else [])


def _input(item: bytes | pb.Image | pb.Input) -> pb.Input:
    if isinstance(item, pb.Input):
        return item
    if isinstance(item, pb.Image):
        return pb.Input(image=item)
    return pb.Input(image=pb.Image(data=bytes(item)))


def _format(packed: bool) -> pb.VectorFormat:
    return pb.VECTOR_FORMAT_PACKED_FLOAT32 if packed else pb.VECTOR_FORMAT_VALUES


def _subset(request: Any, pending: list[int], full: Sequence[Any]) -> Any:
    """The request for just the pending items (texts, inputs or objects)."""
    out = type(request)()
    out.CopyFrom(request)
    if isinstance(request, pb.VectorizeRequest):
        field = "inputs" if request.inputs else "texts"
    else:
        field = "objects"
    del getattr(out, field)[:]
    getattr(out, field).extend(full[i] for i in pending)
    return out


class VectorizerClient(_Base):
    """Blocking client. Use as a context manager or call `close()`.

    `address`: one `host:port`, or a list of replicas (round robin over them);
    `round_robin=True` with one DNS name spreads calls over every address it
    resolves to (see `replicas_target`)."""

    def __init__(
        self,
        address: str | Sequence[str] = "localhost:50051",
        *,
        round_robin: bool | None = None,
        collection: str | None = None,
        config: Config | None = None,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        channel: grpc.Channel | None = None,
    ):
        super().__init__(
            collection=collection,
            config=config,
            credentials=credentials,
            timeout=timeout,
            retry=retry,
            metadata=metadata,
        )
        self._own = channel is None
        target, balanced = _channel_target(address, round_robin)
        self._channel = channel or grpc.insecure_channel(target, options=channel_options(balanced))
        self._stub = pb_grpc.VectorizerStub(self._channel)

    def embed(
        self,
        texts: Sequence[str],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not texts:
            return []
        request = self._texts_request(texts, collection, config, purpose)
        progress = self._run(
            self._stub.Vectorize, request, list(request.texts), credentials, timeout
        )
        return progress.result()

    def embed_array(
        self,
        texts: Sequence[str],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> Matrix:
        """`embed`, as a float32 matrix with one row per text."""
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        request = self._texts_request(texts, collection, config, purpose, packed=True)
        progress = self._run(
            self._stub.Vectorize, request, list(request.texts), credentials, timeout, True
        )
        return progress.matrix()

    def embed_images(
        self,
        images: Sequence[bytes | pb.Image | pb.Input],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not images:
            return []
        request = self._inputs_request(images, collection, config, purpose)
        return self._run(
            self._stub.Vectorize, request, list(request.inputs), credentials, timeout
        ).result()

    def embed_objects(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None = None,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not objects:
            return []
        request = self._objects_request(objects, class_name, schema, collection, config, purpose)
        full = list(request.objects)
        return self._run(self._stub.VectorizeObjects, request, full, credentials, timeout).result()

    def embed_objects_array(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None = None,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> Matrix:
        """`embed_objects`, as a float32 matrix with one row per object."""
        if not objects:
            return np.empty((0, 0), dtype=np.float32)
        request = self._objects_request(
            objects, class_name, schema, collection, config, purpose, packed=True
        )
        full = list(request.objects)
        progress = self._run(self._stub.VectorizeObjects, request, full, credentials, timeout, True)
        return progress.matrix()

    def meta(self, timeout: float | None = None) -> pb.GetMetaResponse:
        """The server's description: version, families, loaded collections."""
        return self._stub.GetMeta(
            pb.GetMetaRequest(), timeout=timeout or self.timeout, metadata=self._md(None)
        )

    def validate(self, config: Config, timeout: float | None = None) -> list[str]:
        request = pb.ValidateConfigRequest()
        _target(request, None, config)
        response = self._stub.ValidateConfig(
            request, timeout=timeout or self.timeout, metadata=self._md(None)
        )
        return list(response.errors)

    def _run(
        self,
        call: Any,
        request: Any,
        full: Sequence[Any],
        credentials: Credentials | None,
        timeout: float | None,
        packed: bool = False,
    ) -> _Progress:
        progress = _Progress(len(full), self.retry, timeout or self.timeout, packed)
        md = self._md(credentials)
        while True:
            progress.attempts += 1
            try:
                response = call(
                    _subset(request, progress.pending, full),
                    timeout=max(0.001, progress.time_left()),
                    metadata=md,
                )
                progress.absorb(response)
            except grpc.RpcError as exc:
                progress.absorb_status(exc)
            delay = progress.next_delay()
            if delay is None:
                return progress
            time.sleep(delay)

    def close(self) -> None:
        if self._own:
            self._channel.close()

    def __enter__(self) -> VectorizerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVectorizerClient(_Base):
    """asyncio client (grpc.aio). Use `async with` or `await close()`.

    `address` and `round_robin` as for `VectorizerClient`."""

    def __init__(
        self,
        address: str | Sequence[str] = "localhost:50051",
        *,
        round_robin: bool | None = None,
        collection: str | None = None,
        config: Config | None = None,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        channel: grpc.aio.Channel | None = None,
    ):
        super().__init__(
            collection=collection,
            config=config,
            credentials=credentials,
            timeout=timeout,
            retry=retry,
            metadata=metadata,
        )
        self._own = channel is None
        target, balanced = _channel_target(address, round_robin)
        self._channel = channel or grpc.aio.insecure_channel(
            target, options=channel_options(balanced)
        )
        self._stub = pb_grpc.VectorizerStub(self._channel)

    async def embed(
        self,
        texts: Sequence[str],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not texts:
            return []
        request = self._texts_request(texts, collection, config, purpose)
        progress = await self._run(
            self._stub.Vectorize, request, list(request.texts), credentials, timeout
        )
        return progress.result()

    async def embed_array(
        self,
        texts: Sequence[str],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> Matrix:
        """`embed`, as a float32 matrix with one row per text."""
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        request = self._texts_request(texts, collection, config, purpose, packed=True)
        progress = await self._run(
            self._stub.Vectorize, request, list(request.texts), credentials, timeout, True
        )
        return progress.matrix()

    async def embed_images(
        self,
        images: Sequence[bytes | pb.Image | pb.Input],
        *,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not images:
            return []
        request = self._inputs_request(images, collection, config, purpose)
        full = list(request.inputs)
        progress = await self._run(self._stub.Vectorize, request, full, credentials, timeout)
        return progress.result()

    async def embed_objects(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None = None,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> list[list[float]]:
        if not objects:
            return []
        request = self._objects_request(objects, class_name, schema, collection, config, purpose)
        full = list(request.objects)
        progress = await self._run(self._stub.VectorizeObjects, request, full, credentials, timeout)
        return progress.result()

    async def embed_objects_array(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None = None,
        collection: str | None = None,
        config: Config | None = None,
        purpose: PurposeName = "document",
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> Matrix:
        """`embed_objects`, as a float32 matrix with one row per object."""
        if not objects:
            return np.empty((0, 0), dtype=np.float32)
        request = self._objects_request(
            objects, class_name, schema, collection, config, purpose, packed=True
        )
        full = list(request.objects)
        progress = await self._run(
            self._stub.VectorizeObjects, request, full, credentials, timeout, True
        )
        return progress.matrix()

    async def _run(
        self,
        call: Any,
        request: Any,
        full: Sequence[Any],
        credentials: Credentials | None,
        timeout: float | None,
        packed: bool = False,
    ) -> _Progress:
        progress = _Progress(len(full), self.retry, timeout or self.timeout, packed)
        md = self._md(credentials)
        while True:
            progress.attempts += 1
            try:
                response = await call(
                    _subset(request, progress.pending, full),
                    timeout=max(0.001, progress.time_left()),
                    metadata=md,
                )
                progress.absorb(response)
            except grpc.RpcError as exc:
                progress.absorb_status(exc)
            delay = progress.next_delay()
            if delay is None:
                return progress
            await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._own:
            await self._channel.close()

    async def __aenter__(self) -> AsyncVectorizerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
