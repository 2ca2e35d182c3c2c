"""What the sync and async clients share: their defaults and their requests.

- `ClientCore`: the defaults (collection or config, credentials, timeout,
  retry policy, metadata) and the builders of each embedding `Call`.
- `Call`: one embedding RPC's full request and the items a retry resends a
  subset of (texts, inputs or objects).
- `client_target`: `address` / `round_robin` as the clients take them, as a
  gRPC target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf import struct_pb2

from vectorizer.balance import replicas_target
from vectorizer.client.progress import Progress
from vectorizer.client.types import Config, Credentials, PurposeName, RetryPolicy
from vectorizer.config import parse_config_json
from vectorizer.v1 import vectorizer_pb2 as pb

DEFAULT_TIMEOUT = 60.0
EmbedRequest = pb.VectorizeRequest | pb.VectorizeObjectsRequest
Target = pb.VectorizeRequest | pb.VectorizeObjectsRequest | pb.ValidateConfigRequest


def client_target(address: str | Sequence[str], round_robin: bool | None) -> tuple[str, bool]:
    """(target, round_robin): a list of addresses means round robin over them."""
    if isinstance(address, str):
        return (replicas_target(address) if round_robin else address), bool(round_robin)
    return replicas_target(address), round_robin is not False


@dataclass(frozen=True)
class Call:
    """One embedding RPC: its request, and the items a retry resends some of."""

    rpc: Literal["Vectorize", "VectorizeObjects"]
    request: EmbedRequest
    field: Literal["texts", "inputs", "objects"]
    items: list[Any]
    packed: bool = False

    @classmethod
    def of(cls, request: EmbedRequest, field: Literal["texts", "inputs", "objects"]) -> Call:
        rpc: Literal["Vectorize", "VectorizeObjects"] = (
            "VectorizeObjects" if field == "objects" else "Vectorize"
        )
        packed = request.vector_format == pb.VECTOR_FORMAT_PACKED_FLOAT32
        return cls(rpc, request, field, list(getattr(request, field)), packed)

    def subset(self, pending: list[int]) -> EmbedRequest:
        """The request for just the pending items."""
        out = type(self.request)()
        out.CopyFrom(self.request)
        del getattr(out, self.field)[:]
        getattr(out, self.field).extend(self.items[i] for i in pending)
        return out


class ClientCore:
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

    def _texts_call(
        self,
        texts: Sequence[str],
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
        packed: bool = False,
    ) -> Call:
        request = pb.VectorizeRequest(
            texts=list(texts), purpose=to_purpose(purpose), vector_format=_format(packed)
        )
        self._aim(request, collection, config)
        return Call.of(request, "texts")

    def _inputs_call(
        self,
        images: Sequence[bytes | pb.Image | pb.Input],
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
    ) -> Call:
        request = pb.VectorizeRequest(
            inputs=[_input(i) for i in images], purpose=to_purpose(purpose)
        )
        self._aim(request, collection, config)
        return Call.of(request, "inputs")

    def _objects_call(
        self,
        objects: Sequence[Mapping[str, Any]],
        class_name: str,
        schema: Mapping[str, Mapping[str, Any]] | None,
        collection: str | None,
        config: Config | None,
        purpose: PurposeName,
        packed: bool = False,
    ) -> Call:
        request = pb.VectorizeObjectsRequest(
            objects=[pb.VectorizeObject(properties=_struct(o)) for o in objects],
            class_name=class_name,
            property_schema=_schema(schema),
            purpose=to_purpose(purpose),
            vector_format=_format(packed),
        )
        self._aim(request, collection, config)
        return Call.of(request, "objects")

    def _aim(self, request: EmbedRequest, collection: str | None, config: Config | None) -> None:
        """Point the request at the call's collection or config, else the client's."""
        if config is None and collection is None:
            config, collection = self.config, self.collection
        set_target(request, collection, config)

    def _start(
        self, call: Call, credentials: Credentials | None, timeout: float | None
    ) -> tuple[Progress, list[tuple[str, str]]]:
        """The bookkeeping and the metadata of a call about to be sent."""
        progress = Progress(len(call.items), self.retry, timeout or self.timeout, call.packed)
        return progress, self._md(credentials)

    def _md(self, credentials: Credentials | None) -> list[tuple[str, str]]:
        creds = credentials or self.credentials
        return self.metadata + (creds.metadata() if creds else [])


def to_purpose(purpose: PurposeName) -> pb.Purpose:
    if purpose not in ("document", "query"):
        raise ValueError(f"purpose must be 'document' or 'query', got {purpose!r}")
    return pb.PURPOSE_QUERY if purpose == "query" else pb.PURPOSE_DOCUMENT


def set_target(request: Target, collection: str | None, config: Config | None) -> None:
    """Name the collection, or carry the config, the request is for."""
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


def _input(item: bytes | pb.Image | pb.Input) -> pb.Input:
    if isinstance(item, pb.Input):
        return item
    if isinstance(item, pb.Image):
        return pb.Input(image=item)
    return pb.Input(image=pb.Image(data=bytes(item)))


def _format(packed: bool) -> pb.VectorFormat:
    return pb.VECTOR_FORMAT_PACKED_FLOAT32 if packed else pb.VECTOR_FORMAT_VALUES
