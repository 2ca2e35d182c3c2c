"""`VectorizerClient`: the blocking client (see `vectorizer.client`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import numpy as np

from vectorizer.balance import channel_options
from vectorizer.client.core import DEFAULT_TIMEOUT, Call, ClientCore, client_target, set_target
from vectorizer.client.progress import Progress
from vectorizer.client.types import Config, Credentials, Matrix, PurposeName, RetryPolicy
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


class VectorizerClient(ClientCore):
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
        target, balanced = client_target(address, round_robin)
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
        call = self._texts_call(texts, collection, config, purpose)
        return self._run(call, credentials, timeout).result()

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
        call = self._texts_call(texts, collection, config, purpose, packed=True)
        return self._run(call, credentials, timeout).matrix()

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
        call = self._inputs_call(images, collection, config, purpose)
        return self._run(call, credentials, timeout).result()

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
        call = self._objects_call(objects, class_name, schema, collection, config, purpose)
        return self._run(call, credentials, timeout).result()

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
        call = self._objects_call(
            objects, class_name, schema, collection, config, purpose, packed=True
        )
        return self._run(call, credentials, timeout).matrix()

    def meta(self, timeout: float | None = None) -> pb.GetMetaResponse:
        """The server's description: version, families, loaded collections."""
        return self._stub.GetMeta(
            pb.GetMetaRequest(), timeout=timeout or self.timeout, metadata=self._md(None)
        )

    def validate(self, config: Config, timeout: float | None = None) -> list[str]:
        request = pb.ValidateConfigRequest()
        set_target(request, None, config)
        response = self._stub.ValidateConfig(
            request, timeout=timeout or self.timeout, metadata=self._md(None)
        )
        return list(response.errors)

    def _run(self, call: Call, credentials: Credentials | None, timeout: float | None) -> Progress:
        """Send the call, then its retryable failures again, until done or out of tries."""
        progress, md = self._start(call, credentials, timeout)
        rpc = getattr(self._stub, call.rpc)
        while True:
            progress.attempts += 1
            try:
                response = rpc(
                    call.subset(progress.pending),
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
