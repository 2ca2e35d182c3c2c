"""Request decoding that never fails a call with UNKNOWN.

grpc answers UNKNOWN when a request deserializer raises, and protobuf refuses
a whole message when any one `string` field holds bytes that are not valid
UTF-8. So the Vectorizer service is registered with deserializers that never
raise:

- `Lenient`: a request read item by item: the message, with the items that
  are not valid UTF-8 left empty, and their indexes (`bad_items`). The
  servicer turns each into an INVALID_UTF8 item error; the rest embed.
- `Undecodable`: bytes that are no request at all (or whose config, names or
  schema are not UTF-8): the servicer answers INVALID_ARGUMENT saying why.
- `decode_vectorize`, `decode_vectorize_objects`, `decode_strict`: the
  deserializers. The fast path is the normal parse; only when it fails are
  the same bytes re-read through the mirrors in `vectorizer/v1/internal.proto`.
- `unwrap(request)`: the servicer's side: (message, bad item indexes), or a
  `VectorizerError` for an undecodable request.
- `add_vectorizer_service(servicer, server)`: registers the service with
  these deserializers (in place of the generated `add_..._to_server`), and
  with `encoding.serialize_response` for the responses built as bytes.
- `DecodeGuardInterceptor`: the same promise for the services we did not
  write (health, reflection): a request that does not parse is answered
  INVALID_ARGUMENT instead of UNKNOWN.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

from vectorizer.encoding import serialize_response
from vectorizer.errors import Kind, VectorizerError
from vectorizer.v1 import internal_pb2 as ib
from vectorizer.v1 import vectorizer_pb2 as pb

M = TypeVar("M", bound=Message)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Vectorizer"].full_name


@dataclass(frozen=True)
class Lenient(Generic[M]):
    """A request whose items at `bad_items` were not valid UTF-8 (left empty)."""

    message: M
    bad_items: frozenset[int]


@dataclass(frozen=True)
class Undecodable:
    """Bytes the server cannot read as the expected request; `reason` says why."""

    reason: str


class _Refused(Exception):
    """A part of the request that cannot be read; fails the whole request."""


def _why(exc: Exception) -> str:
    # protobuf's messages are short and name the message type and the fault
    # ("String field had bad UTF-8", "Truncated message"); they hold no data.
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def decode_strict(message_type: type[M]) -> Callable[[bytes], M | Undecodable]:
    """A deserializer for requests that have no per-item parts to spare."""
    name = message_type.DESCRIPTOR.full_name

    def decode(data: bytes) -> M | Undecodable:
        try:
            return message_type.FromString(data)
        except Exception as exc:  # noqa: BLE001 - a deserializer must never raise
            return Undecodable(f"cannot decode the request as {name}: {_why(exc)}")

    return decode


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(f"{what} is not valid UTF-8") from None


def _parse(message_type: type[M], raw: bytes, what: str) -> M:
    try:
        return message_type.FromString(raw)
    except Exception as exc:  # noqa: BLE001 - reported as a refused request
        raise _Refused(f"{what}: {_why(exc)}") from None


def _set_target(mirror: Any, message: Any) -> None:
    which = mirror.WhichOneof("target")
    if which == "config":
        message.config.CopyFrom(_parse(pb.CollectionConfig, mirror.config, "config"))
    elif which == "collection":
        message.collection = _text(mirror.collection, "the collection name")


def _texts(items: Sequence[bytes]) -> tuple[list[str], frozenset[int]]:
    texts: list[str] = []
    bad: set[int] = set()
    for i, raw in enumerate(items):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append("")
            bad.add(i)
    return texts, frozenset(bad)


def decode_vectorize(
    data: bytes,
) -> pb.VectorizeRequest | Lenient[pb.VectorizeRequest] | Undecodable:
    """VectorizeRequest; texts that are not UTF-8 become `bad_items`."""
    try:
        return pb.VectorizeRequest.FromString(data)
    except Exception as exc:  # noqa: BLE001 - fall through to the item-by-item read
        first = exc
    try:
        mirror = ib.VectorizeRequestBytes.FromString(data)
        texts, bad_texts = _texts(mirror.texts)
        message = pb.VectorizeRequest(
            texts=texts, purpose=mirror.purpose, vector_format=mirror.vector_format
        )
        bad = set(bad_texts)
        for i, raw in enumerate(mirror.inputs):
            try:
                message.inputs.append(pb.Input.FromString(raw))
            except Exception:  # noqa: BLE001 - this input alone is refused
                message.inputs.append(pb.Input())
                bad.add(len(texts) + i)  # results count texts first, then inputs
        _set_target(mirror, message)
    except _Refused as exc:
        return Undecodable(f"cannot decode the request: {exc}")
    except Exception:  # noqa: BLE001 - a deserializer must never raise
        # The public parse's reason: the mirror's would name a private type.
        return Undecodable(f"cannot decode the request: {_why(first)}")
    return Lenient(message, frozenset(bad))


def decode_vectorize_objects(
    data: bytes,
) -> pb.VectorizeObjectsRequest | Lenient[pb.VectorizeObjectsRequest] | Undecodable:
    """VectorizeObjectsRequest; objects holding non-UTF-8 strings become `bad_items`."""
    try:
        return pb.VectorizeObjectsRequest.FromString(data)
    except Exception as exc:  # noqa: BLE001 - fall through to the item-by-item read
        first = exc
    try:
        mirror = ib.VectorizeObjectsRequestBytes.FromString(data)
        message = pb.VectorizeObjectsRequest(
            class_name=_text(mirror.class_name, "the class name"),
            purpose=mirror.purpose,
            vector_format=mirror.vector_format,
        )
        for i, raw in enumerate(mirror.property_schema):
            message.property_schema.append(_parse(pb.PropertySchema, raw, f"property_schema[{i}]"))
        bad: set[int] = set()
        for i, raw in enumerate(mirror.objects):
            try:
                message.objects.append(pb.VectorizeObject.FromString(raw))
            except Exception:  # noqa: BLE001 - this object alone is refused
                message.objects.append(pb.VectorizeObject())
                bad.add(i)
        _set_target(mirror, message)
    except _Refused as exc:
        return Undecodable(f"cannot decode the request: {exc}")
    except Exception:  # noqa: BLE001 - a deserializer must never raise
        return Undecodable(f"cannot decode the request: {_why(first)}")
    return Lenient(message, frozenset(bad))


def unwrap(request: M | Lenient[M] | Undecodable) -> tuple[M, frozenset[int]]:
    """(message, indexes of items that were not UTF-8); raises for undecodable bytes."""
    if isinstance(request, Undecodable):
        raise VectorizerError(Kind.INVALID_ARGUMENT, request.reason)
    if isinstance(request, Lenient):
        return request.message, request.bad_items
    return request, frozenset()


def add_vectorizer_service(servicer: Any, server: grpc.aio.Server) -> None:
    """Register `servicer` as vectorizer.v1.Vectorizer with tolerant deserializers."""
    handlers = {
        "Vectorize": grpc.unary_unary_rpc_method_handler(
            servicer.Vectorize,
            request_deserializer=decode_vectorize,
            response_serializer=serialize_response,
        ),
        "VectorizeObjects": grpc.unary_unary_rpc_method_handler(
            servicer.VectorizeObjects,
            request_deserializer=decode_vectorize_objects,
            response_serializer=serialize_response,
        ),
        "ValidateConfig": grpc.unary_unary_rpc_method_handler(
            servicer.ValidateConfig,
            request_deserializer=decode_strict(pb.ValidateConfigRequest),
            response_serializer=pb.ValidateConfigResponse.SerializeToString,
        ),
        "GetMeta": grpc.unary_unary_rpc_method_handler(
            servicer.GetMeta,
            request_deserializer=decode_strict(pb.GetMetaRequest),
            response_serializer=pb.GetMetaResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


async def _refuse(context: grpc.aio.ServicerContext, bad: Undecodable) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad.reason)


def _guard_unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(behavior):

        async def stream_out(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                await _refuse(context, request)
            async for item in behavior(request, context):
                yield item

        return stream_out

    async def unary_in(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            await _refuse(context, request)
        return await behavior(request, context)

    return unary_in


def _guard_stream(behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def checked(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for request in requests:
            if isinstance(request, Undecodable):
                await _refuse(context, request)
            yield request

    if inspect.isasyncgenfunction(behavior):

        async def stream_out(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            async for item in behavior(checked(requests, context), context):
                yield item

        return stream_out

    async def unary_out(requests: Any, context: grpc.aio.ServicerContext) -> Any:
        return await behavior(checked(requests, context), context)

    return unary_out


class DecodeGuardInterceptor(grpc.aio.ServerInterceptor):
    """Undecodable requests to any service become INVALID_ARGUMENT, never UNKNOWN."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        decode = getattr(handler, "request_deserializer", None)
        if handler is None or decode is None or not hasattr(handler, "_replace"):
            return handler
        method = handler_call_details.method or "the request"

        def safe(data: bytes) -> Any:
            try:
                return decode(data)
            except Exception as exc:  # noqa: BLE001 - a deserializer must never raise
                return Undecodable(f"cannot decode the request to {method}: {_why(exc)}")

        kind = (
            ("stream" if handler.request_streaming else "unary")
            + "_"
            + ("stream" if handler.response_streaming else "unary")
        )
        behavior = getattr(handler, kind)
        guard = _guard_stream if handler.request_streaming else _guard_unary
        return handler._replace(request_deserializer=safe, **{kind: guard(behavior)})
