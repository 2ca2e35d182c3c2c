"""`AsyncVectorizerClient`: the asyncio client (see `vectorizer.client`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import numpy as np

from vectorizer.balance import channel_options
from vectorizer.client.core import DEFAULT_TIMEOUT, Call, ClientCore, client_target
from vectorizer.client.progress import Progress
from vectorizer.client.types import Config, Credentials, Matrix, PurposeName, RetryPolicy
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


class AsyncVectorizerClient(ClientCore):
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
        target, balanced = client_target(address, round_robin)
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
        call = self._texts_call(texts, collection, config, purpose)
        return (await self._run(call, credentials, timeout)).result()

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
        call = self._texts_call(texts, collection, config, purpose, packed=True)
        return (await self._run(call, credentials, timeout)).matrix()

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
        call = self._inputs_call(images, collection, config, purpose)
        return (await self._run(call, credentials, timeout)).result()

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
        call = self._objects_call(objects, class_name, schema, collection, config, purpose)
        return (await self._run(call, credentials, timeout)).result()

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
        call = self._objects_call(
            objects, class_name, schema, collection, config, purpose, packed=True
        )
        return (await self._run(call, credentials, timeout)).matrix()

    async def _run(
        self, call: Call, credentials: Credentials | None, timeout: float | None
    ) -> Progress:
        """Send the call, then its retryable failures again, until done or out of tries."""
        progress, md = self._start(call, credentials, timeout)
        rpc = getattr(self._stub, call.rpc)
        while True:
            progress.attempts += 1
            try:
                response = await rpc(
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
            await asyncio.sleep(delay)

    async def close(self) -> None:
        if self._own:
            await self._channel.close()

    async def __aenter__(self) -> AsyncVectorizerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
