"""What the emulator's services share on the wire.

Parts:

- `AwsError`: an AWS error answer (HTTP status, error code, message, extra
  body fields), raised anywhere while serving and rendered once by
  `error_answer`: a JSON body plus the `x-amzn-ErrorType` header that
  botocore's rest-json parser reads for `Error.Code` (it keeps the part before
  the first `:`).
- `Vector`: one answer vector, float32 values (read-only), and its JSON text
  in a service's `Spelling`, made once and kept with the vector (the
  vectors are cached, so a repeated text costs no formatting).
- `Spelling`: how a service writes float32 values in JSON. `DOUBLE`: each
  value widened to a double and written in the shortest form that reads
  back as that double (17 significant digits: Titan's -0.05026763305068016;
  Java and Python services answer so). `FLOAT32`: the shortest form that
  reads back as the float32 (-0.050267633: Cohere, TEI's Rust). Either way
  a client parsing the answer into float32 gets `Vector.values` bit for bit.
- `EmbedPlan`: a validated request, reduced to what the answer needs: the
  texts to embed (after the model's own truncation), the vector size and
  kind, the input token estimate, and `render`, which turns the vectors into
  the service's response body; `media` marks the positions that embed an
  image. Keeping vectors apart from rendering lets the
  app corrupt them (fault injection) the same way for every family.
- `cut_words`: truncation by whitespace words, keeping either end.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

ACCOUNT_ID = "123456789012"
_NAMESPACES = {
    "bedrock": "http://internal.amazon.com/coral/com.amazon.bedrock/",
    "sagemaker": "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/",
}
# Bedrock's modeled errors carry `message`; SageMaker's carry `Message`.
_MESSAGE_KEY = {"bedrock": "message", "sagemaker": "Message"}
_WORD = re.compile(r"\S+")


class AwsError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_answer(service: str, error: AwsError) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of `error` as `service` sends it."""
    body = {_MESSAGE_KEY.get(service, "message"): error.message, **error.extra}
    namespace = _NAMESPACES.get(service, _NAMESPACES["bedrock"])
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": f"{error.code}:{namespace}",
    }
    return json.dumps(body).encode(), headers


class Spelling(enum.Enum):
    DOUBLE = "double"
    FLOAT32 = "float32"


# How each Bedrock family's service writes its floats. Titan: doubles, as
# real answers read (-0.05026763305068016). Cohere: short float32 text, as
# its answers read (-0.020767212, bench/realsize.py). Nova, Marengo: no
# public answer shows the digits; taken to be spelled as Titan is.
TITAN_SPELLING = Spelling.DOUBLE
COHERE_SPELLING = Spelling.FLOAT32
NOVA_SPELLING = Spelling.DOUBLE
MARENGO_SPELLING = Spelling.DOUBLE


class Vector:
    """One answer vector: float32 `values` (read-only) and their JSON, made once."""

    __slots__ = ("_json", "values")

    def __init__(self, values: np.ndarray):
        array = np.array(values, dtype=np.float32)  # a copy the caller cannot change
        array.flags.writeable = False
        self.values = array
        self._json: dict[Spelling, bytes] = {}

    def __len__(self) -> int:
        return len(self.values)

    def tolist(self) -> list[float]:
        """The values as Python floats (each exactly its float32)."""
        return self.values.tolist()  # type: ignore[no-any-return]

    def json(self, spelling: Spelling) -> bytes:
        """The JSON array in `spelling`."""
        text = self._json.get(spelling)
        if text is None:
            # orjson writes a float64 array as the shortest text of each double,
            # a float32 array as the shortest text of each float32.
            wide = self.values.astype(np.float64) if spelling is Spelling.DOUBLE else self.values
            text = orjson.dumps(wide, option=orjson.OPT_SERIALIZE_NUMPY)
            self._json[spelling] = text
        return text

    def fragment(self, spelling: Spelling) -> orjson.Fragment:
        """`json(spelling)` for a body: `orjson.dumps` copies it in as it is."""
        return orjson.Fragment(self.json(spelling))


Vectors = list[Vector]


@dataclass
class EmbedPlan:
    texts: list[str]
    dim: int
    render: Callable[[Vectors], Any]
    normalize: bool = True
    purpose: str | None = None
    tokens: int = 0
    batched: bool = False  # several vectors per answer: "one vector too few" applies
    headers: dict[str, str] = field(default_factory=dict)
    # Positions whose vector is an image's: its bytes, or an S3 location
    # (`images.S3Image`) read before embedding; the text at that position is
    # the text embedded with it ("" for none).
    media: dict[int, Any] = field(default_factory=dict)


def cut_words(text: str, limit: int, keep_start: bool) -> str:
    """`text` cut to `limit` whitespace words, keeping the start or the end."""
    words = list(_WORD.finditer(text))
    if len(words) <= limit:
        return text
    if limit <= 0:
        return ""
    if keep_start:
        return text[: words[limit - 1].end()]
    return text[words[-limit].start() :]
