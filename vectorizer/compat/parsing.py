"""Reading what a compat caller sent: the body, its fields, its texts.

Every malformed body or field becomes a `CompatError` (a 4xx naming it),
never an exception escaping to aiohttp.

- `CompatError`: a request failure with an HTTP status; each protocol renders
  it in its own error shape.
- `read_json`: the body as a JSON object, decompressed (identity, gzip,
  deflate) within the size limit, in the declared charset.
- `positive_int`, `one_of`, `string_list`: one field checked, or a 400.
- `check_texts`: --max-items, --max-request-bytes, --max-text-bytes and text
  that UTF-8 cannot carry; `check_items` the same for texts mixed with images.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from vectorizer.inputs import Item, item_bytes
from vectorizer.settings import Settings

# Collection dimensions are a proto int32; larger values cannot even be asked for.
MAX_INT32 = 2**31 - 1


class CompatError(Exception):
    """A request failure: HTTP status, message, and the offending field."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def shown(value: object, limit: int = 40) -> str:
    """A caller's value quoted for an error message, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def positive_int(value: object, name: str, *, param: str | None = None) -> int | None:
    """None, or a positive integer that fits the proto field; else a 400 naming `name`."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_INT32:
        raise CompatError(
            400, f"{name} must be a positive integer, got {shown(value)}", param=param or name
        )
    return value


def one_of(value: object, choices: Sequence[str], name: str, *, param: str | None = None) -> str:
    """`value` if it is one of the string `choices`; else a 400 listing them."""
    if not isinstance(value, str) or value not in choices:
        raise CompatError(
            400,
            f"invalid {name} {shown(value)}: must be one of {', '.join(choices)}",
            param=param or name,
        )
    return value


def string_list(value: object, name: str) -> list[str]:
    """`value` if it is a list of strings; else a 400 naming `name`."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CompatError(400, f"{name} must be a list of strings", param=name)
    return value


def check_texts(limits: Settings, texts: Sequence[str]) -> None:
    """The limits of --max-items, --max-request-bytes and --max-text-bytes, and
    text that UTF-8 cannot carry (a JSON lone surrogate such as \\ud800)."""
    if not texts:
        raise CompatError(400, "no input: send at least one text", param="input")
    if len(texts) > limits.max_items:
        raise CompatError(
            400,
            f"{len(texts)} inputs exceed the limit of {limits.max_items}; split the request",
            param="input",
        )
    sizes = utf8_sizes(texts)
    if sum(sizes) > limits.max_request_bytes:
        raise CompatError(
            400,
            f"request holds {sum(sizes)} bytes of text, over the limit of "
            f"{limits.max_request_bytes}; split the request",
            param="input",
        )
    for index, size in enumerate(sizes):
        if size > limits.max_text_bytes:
            raise _text_too_large(limits, index, size)


def check_items(limits: Settings, items: Sequence[Item]) -> None:
    """`check_texts` for a mix of texts and images: image bytes count against
    --max-request-bytes, texts against --max-text-bytes too."""
    if all(isinstance(i, str) for i in items):
        check_texts(limits, [i for i in items if isinstance(i, str)])
        return
    if len(items) > limits.max_items:
        raise CompatError(
            400, f"{len(items)} inputs exceed the limit of {limits.max_items}; split the request"
        )
    texts = [(n, i) for n, i in enumerate(items) if isinstance(i, str)]
    for (index, _), size in zip(texts, utf8_sizes([t for _, t in texts]), strict=True):
        if size > limits.max_text_bytes:
            raise _text_too_large(limits, index, size)
    total = sum(item_bytes(i) for i in items)
    if total > limits.max_request_bytes:
        raise CompatError(
            400,
            f"request holds {total} bytes of text and images, over the limit of "
            f"{limits.max_request_bytes}; split the request",
            param="input",
        )


def _text_too_large(limits: Settings, index: int, size: int) -> CompatError:
    return CompatError(
        400,
        f"input[{index}] is {size} bytes of UTF-8, over the limit of "
        f"{limits.max_text_bytes} per text (--max-text-bytes); shorten or split it",
        param="input",
        code="text_too_large",
    )


def utf8_sizes(texts: Sequence[str]) -> list[int]:
    """Each text's UTF-8 size; a text UTF-8 cannot carry is a 400 naming it."""
    sizes = []
    for index, text in enumerate(texts):
        try:
            sizes.append(len(text.encode("utf-8")))
        except UnicodeEncodeError:
            raise CompatError(
                400,
                f"input[{index}] is not valid Unicode (it holds a lone surrogate); send UTF-8 text",
                param="input",
                code="invalid_utf8",
            ) from None
    return sizes


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object; anything else is a 4xx saying what is wrong.

    No Content-Type is needed: Weaviate's transformers and Ollama clients send none.
    """
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        raise CompatError(
            413, f"request body is over the limit of {limit} bytes; split the request"
        ) from None
    except (web.RequestPayloadError, HttpProcessingError, ConnectionError):
        # A broken chunked stream, or the caller went away mid-body.
        raise CompatError(400, "request body cannot be read: malformed or cut short") from None
    raw = decompressed(raw, request.headers.get("Content-Encoding", ""), request.client_max_size)
    charset = request.charset or "utf-8"
    try:
        body = json.loads(raw.decode(charset))
    except LookupError:
        raise CompatError(400, f"unknown charset {shown(charset)} in Content-Type") from None
    except (ValueError, RecursionError):
        # ValueError covers undecodable bytes too; RecursionError, absurd nesting.
        raise CompatError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CompatError(400, "request body must be a JSON object")
    return body


def decompressed(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body under its Content-Encoding (identity, gzip or deflate), at most `limit` bytes.

    The server hands bodies over undecoded (server.py), so a bad one is this
    request's 400, and a small bomb cannot inflate past the size limit.
    """
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return raw
    if name not in ("gzip", "x-gzip", "deflate"):
        raise CompatError(
            415, f"Content-Encoding {shown(encoding)} not supported: use gzip or deflate, or none"
        )
    # wbits 32 + 15: zlib reads a gzip or a zlib header, whichever is there.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise CompatError(400, f"request body is not valid {name} data") from None
    if len(out) > limit:
        raise CompatError(
            413, f"request body inflates past the limit of {limit} bytes; split the request"
        )
    if not inflater.eof:
        raise CompatError(400, f"request body is truncated {name} data")
    return out
