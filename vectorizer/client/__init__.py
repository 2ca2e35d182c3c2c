"""A small Python client of the sidecar's gRPC contract, sync and async.

- `VectorizerClient` / `AsyncVectorizerClient`: `embed(texts)`,
  `embed_images(images)` (image file bytes, or `Image` / `Input` messages
  for S3 locations and text+image pairs) and `embed_objects(objects)` return
  one vector per input, in order, as lists of floats; `embed_array` and
  `embed_objects_array` return the same as one float32 numpy matrix (a row
  per input), asking the server for packed float32 vectors
  (`VECTOR_FORMAT_PACKED_FLOAT32`): no Python float per component on either
  side. Items that come back with a retryable item error (throttled,
  deadline, upstream unavailable), and whole requests refused with a
  retryable status (RESOURCE_EXHAUSTED, UNAVAILABLE, or CANCELLED: a
  replica shutting down cancels the calls it had not started), are sent
  again, only those items, with full-jitter exponential backoff, at most
  `max_attempts` times in all and within the call's `timeout`.
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

Modules: `types` (credentials, retry policy, errors), `core` (what both
clients share: defaults, request building), `progress` (retry bookkeeping),
`sync` and `aio` (the two clients).
"""

from vectorizer.balance import channel_options, replicas_target
from vectorizer.client.aio import AsyncVectorizerClient
from vectorizer.client.core import DEFAULT_TIMEOUT, to_purpose
from vectorizer.client.progress import RETRYABLE_STATUS
from vectorizer.client.sync import VectorizerClient
from vectorizer.client.types import (
    Config,
    Credentials,
    EmbeddingError,
    ItemFailure,
    Matrix,
    PurposeName,
    RequestError,
    RetryPolicy,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRYABLE_STATUS",
    "AsyncVectorizerClient",
    "Config",
    "Credentials",
    "EmbeddingError",
    "ItemFailure",
    "Matrix",
    "PurposeName",
    "RequestError",
    "RetryPolicy",
    "VectorizerClient",
    "channel_options",
    "replicas_target",
    "to_purpose",
]
