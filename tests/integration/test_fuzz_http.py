"""Hypothesis fuzzing of every HTTP compat endpoint of one real sidecar.

Requests of every shape reach the text2vec-transformers, OpenAI and Cohere
routes, with and without a `/collections/{name}` prefix and with every
method: JSON of any shape (deep nesting, wrong types, huge numbers,
NaN/Infinity literals, lone surrogates, NUL), near-valid bodies built from
each API's own fields, raw bytes, empty bodies, wrong or odd content types
and encodings, garbage collection/purpose/request-id headers and half-sent
credentials. Every answer must be a non-500 status whose body is the
endpoint's own shape (OpenAI `{"error": {"message", "type"}}`, Cohere
`{"message"}`, transformers `{"error"}`) with no traceback; the server must
stay up and keep serving a known-good request, and its log must show no
unexpected exception.
"""

from __future__ import annotations

import gzip
import http.client
import json
import math
import os
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support import Emulator, Sidecar, start_sidecar

pytestmark = pytest.mark.timeout(120)

MAX_ITEMS = 64
MAX_TEXT_BYTES = 4096
MAX_REQUEST_BYTES = 65536
# A deeper hunt: VECTORIZER_FUZZ_EXAMPLES=2000 pytest tests/integration/test_fuzz_http.py
EXAMPLES = int(os.environ.get("VECTORIZER_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "site-packages")


@dataclass(frozen=True)
class Protocol:
    name: str
    paths: tuple[str, ...]  # under "" or "/collections/{name}"
    methods: tuple[str, ...]  # the routed ones
    fields: tuple[str, ...]  # request keys worth fuzzing


TRANSFORMERS = Protocol(
    "transformers",
    ("/vectors", "/vectors/", "/passage/vectors", "/query/vectors"),
    ("POST",),
    ("text", "texts", "config"),
)
TRANSFORMERS_GET = Protocol(
    "transformers",
    (
        "/meta",
        "/.well-known/live",
        "/.well-known/ready",
        "/query/meta",
        "/passage/.well-known/live",
    ),
    ("GET", "HEAD"),
    (),
)
OPENAI = Protocol(
    "openai",
    ("/v1/embeddings", "/v1/v1/embeddings", "/query/embeddings"),
    ("POST",),
    ("input", "model", "encoding_format", "dimensions", "user"),
)
COHERE = Protocol(
    "cohere",
    ("/v2/embed", "/v1/embed"),
    ("POST",),
    ("texts", "model", "input_type", "embedding_types", "output_dimension", "truncate", "images"),
)
OLLAMA = Protocol(
    "ollama",
    ("/api/embed", "/api/embeddings", "/query/api/embed"),
    ("POST",),
    ("model", "input", "prompt", "truncate", "dimensions", "options"),
)
TEI = Protocol(
    "tei",
    ("/embed", "/passage/embed"),
    ("POST",),
    ("inputs", "normalize", "truncate", "truncation_direction", "prompt_name", "dimensions"),
)
TEI_GET = Protocol("tei", ("/info", "/health", "/query/info"), ("GET", "HEAD"), ())


# -- the server -------------------------------------------------------------


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator) -> Iterator[Sidecar]:
    proc = start_sidecar(
        aws_emulator,
        "--default-collection", "Articles",
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--max-items", str(MAX_ITEMS),
        "--max-text-bytes", str(MAX_TEXT_BYTES),
        "--max-request-bytes", str(MAX_REQUEST_BYTES),
        "--default-deadline", "5",
    )  # fmt: skip
    yield proc
    proc.terminate()
    # Nothing the fuzzer sent may have reached the last line of defence.
    for mark in ("internal error", "Error handling request", "Traceback"):
        assert mark not in proc.logs, f"{mark!r} in the sidecar log:\n{proc.logs[-4000:]}"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def send(
    side: Sidecar,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, bytes] | None = None,
) -> Answer:
    host, port = side.http_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return Answer(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def check_answer(protocol: str, method: str, answer: Answer) -> None:
    """The invariants of every answer to any request on a compat route."""
    assert answer.status != 500, answer
    assert answer.status < 500 or answer.status in (502, 503, 504), answer
    text = answer.body.decode("utf-8", "replace")
    for mark in TRACEBACK_MARKS:
        assert mark not in text, answer
    if method == "HEAD" or answer.status == 204:
        assert answer.body == b""
        return
    if protocol == "tei" and answer.status == 200 and answer.body == b"":
        return  # TEI's /health
    assert answer.headers.get("content-type", "").startswith("application/json"), answer
    body = json.loads(answer.body)
    if answer.status == 200:
        assert_success_shape(protocol, body)
        return
    assert isinstance(body, dict), answer
    if protocol == "openai":
        assert set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"], body
        assert isinstance(error["type"], str) and error["type"], body
        assert {"param", "code"} <= set(error), body
    elif protocol == "cohere":
        assert set(body) == {"message"} and isinstance(body["message"], str), body
        assert body["message"], body
    elif protocol == "tei":
        assert set(body) == {"error", "error_type"} and isinstance(body["error"], str), body
        assert body["error"] and isinstance(body["error_type"], str), body
    else:
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        assert body["error"], body


def assert_success_shape(protocol: str, body: Any) -> None:
    if protocol == "tei":
        assert (isinstance(body, list) and body) or "model_id" in body, body
        return
    assert isinstance(body, dict), body
    if protocol == "openai":
        assert body["object"] == "list" and body["data"], body
    elif protocol == "ollama":
        assert "embeddings" in body or body["embedding"], body
    elif protocol == "cohere":
        floats = body["embeddings"]
        assert floats.get("float") if isinstance(floats, dict) else floats, body
        assert body["response_type"] in ("embeddings_by_type", "embeddings_floats"), body
    elif "model" in body:  # transformers meta
        assert body["collection"] in ("Articles", "Reviews", "Products"), body
    else:
        assert ("vector" in body and "dim" in body) or "vectors" in body, body


def assert_alive(side: Sidecar) -> None:
    assert side.proc.poll() is None, side.logs[-4000:]
    assert side.http_get("/healthz")[0] == 200
    good = send(
        side,
        "POST",
        "/collections/Articles/v1/embeddings",
        json.dumps({"input": "fuzz known-good request", "encoding_format": "float"}).encode(),
        {"Content-Type": b"application/json"},
    )
    assert good.status == 200, good
    assert len(json.loads(good.body)["data"][0]["embedding"]) == 512


# -- strategies ---------------------------------------------------------------

ODD_CHARS = st.sampled_from(["\ud800", "\udfff", "\x00", "\ufeff", "\u202e", "\U0001f600", " "])
TEXTS = st.text(st.one_of(st.characters(), ODD_CHARS), max_size=40)
HUGE_INTS = st.sampled_from([2**31, 2**63, 10**30, -(2**63), 0, -1, 10**400])
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXTS, inner, max_size=5)),
    max_leaves=25,
)
# Plausible values for the APIs' own fields: reach past the type checks.
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.lists(TEXTS, min_size=0, max_size=MAX_ITEMS + 2),
    st.sampled_from(
        [
            "Articles", "Reviews", "Products", "float", "base64", "int8", "search_query",
            "clustering", "passage", "query", "NONE", "start", "", 256, 512, 1024, 7,
            ["float"], ["float", "binary"], {"task_type": "query", "dimensions": 256},
            {"dimensions": 2**40}, "a" * (MAX_TEXT_BYTES + 1), ["é" * 2100],
        ]
    ),
)  # fmt: skip


def api_objects(fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(fields) if fields else TEXTS
    return st.dictionaries(keys, FIELD_VALUES, max_size=len(fields) + 1)


def dump(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes: valid JSON text.
    return json.dumps(value, allow_nan=True).encode()


WORDS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
VALID = {
    "transformers": st.one_of(
        st.fixed_dictionaries({"text": WORDS}),
        st.fixed_dictionaries({"texts": st.lists(WORDS, min_size=1, max_size=4)}),
    ),
    "openai": st.fixed_dictionaries(
        {"input": st.one_of(WORDS, st.lists(WORDS, min_size=1, max_size=4))},
        optional={"encoding_format": st.sampled_from(["float", "base64"])},
    ),
    "cohere": st.fixed_dictionaries(
        {"texts": st.lists(WORDS, min_size=1, max_size=4)},
        optional={"input_type": st.sampled_from(["search_query", "search_document"])},
    ),
    "ollama": st.one_of(
        st.fixed_dictionaries({"input": st.lists(WORDS, min_size=1, max_size=4)}),
        st.fixed_dictionaries({"prompt": WORDS}),
    ),
    "tei": st.fixed_dictionaries(
        {"inputs": st.one_of(WORDS, st.lists(WORDS, min_size=1, max_size=4))},
        optional={"prompt_name": st.sampled_from(["query", "passage"])},
    ),
}


def near_valid(protocol: str, fields: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """A valid request with zero to a few fields replaced: reaches the engine."""
    base = VALID.get(protocol, st.just({}))
    changes = st.one_of(st.just({}), api_objects(fields))
    return st.builds(lambda b, c: dump({**b, **c}), base, changes)


def bodies(protocol: str, fields: tuple[str, ...]) -> st.SearchStrategy[bytes | None]:
    # near_valid three times over: weight toward requests that get far.
    near = near_valid(protocol, fields)
    return st.one_of(
        near,
        near,
        near,
        st.none(),
        st.just(b""),
        api_objects(fields).map(dump),
        JSON_VALUES.map(dump),
        st.binary(max_size=300),
        st.sampled_from(
            [
                b"[" * 5000 + b"]" * 5000,
                b'{"input": "x"',
                b'{"text": NaN, "texts": [Infinity]}',
                b'{"input": "\\ud800", "texts": ["\\udfff"], "text": "\\u0000"}',
                b"\xef\xbb\xbf{}",
                b'{"a": 1' + b"0" * 5000 + b"}",
            ]
        ),
    )


HEADER_VALUE = st.one_of(
    st.binary(max_size=30).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30).map(str.encode),
    st.sampled_from([b"Articles", b"Reviews", b"Products", b"query", b"document", b""]),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.just(b"application/json"),
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"application/json; charset=latin-1",
            b"application/json; charset=utf-16",
            b"application/json; charset=no-such-codec",
            b"text/plain",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=zz",
            b"application/octet-stream",
        ]
    ),
    HEADER_VALUE,
)
OPTIONAL_HEADERS = {
    "X-Vectorizer-Collection": HEADER_VALUE,
    "X-Vectorizer-Purpose": HEADER_VALUE,
    "X-Request-Id": HEADER_VALUE,
    "X-AWS-Access-Key": st.sampled_from([b"AKIDFUZZ00000001", b"AKIDBADKEY", b"", b"x"]),
    "X-AWS-Secret-Key": st.sampled_from([b"fuzz-secret", b"", b"\xff"]),
    "X-AWS-Session-Token": HEADER_VALUE,
    "Authorization": HEADER_VALUE,
    "Content-Encoding": st.sampled_from([b"gzip", b"deflate", b"identity", b"br", b"x-unknown"]),
    "Accept": HEADER_VALUE,
}


@st.composite
def headers(draw: st.DrawFn) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        out["Content-Type"] = content_type
    names = st.one_of(
        st.just(set()), st.sets(st.sampled_from(sorted(OPTIONAL_HEADERS)), max_size=4)
    )
    for name in sorted(draw(names)):
        out[name] = draw(OPTIONAL_HEADERS[name])
    return out


COLLECTION_SEGMENTS = st.one_of(
    st.just(""),
    st.sampled_from(["Articles", "Reviews", "Products", "NoSuchCollection"]),
    st.text(st.one_of(st.characters(), ODD_CHARS), min_size=1, max_size=30).map(
        lambda s: urllib.parse.quote(s.encode("utf-8", "surrogatepass"), safe="")
    ),
)
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@st.composite
def requests(draw: st.DrawFn, protocol: Protocol) -> tuple[str, str, bytes | None, dict]:
    segment = draw(COLLECTION_SEGMENTS)
    prefix = f"/collections/{segment}" if segment else ""
    path = prefix + draw(st.sampled_from(protocol.paths))
    # The routed methods twice over: most requests should reach a handler.
    routed = st.sampled_from(protocol.methods)
    method = draw(st.one_of(routed, routed, st.sampled_from(ALL_METHODS)))
    return method, path, draw(bodies(protocol.name, protocol.fields)), draw(headers())


# -- the fuzz tests -----------------------------------------------------------


@pytest.mark.parametrize(
    "protocol",
    [TRANSFORMERS, TRANSFORMERS_GET, OPENAI, COHERE, OLLAMA, TEI, TEI_GET],
    ids=lambda p: p.paths[0],
)
def test_any_request_gets_an_api_shaped_answer(side: Sidecar, protocol: Protocol) -> None:
    @FUZZ
    @given(request=requests(protocol))
    def fuzz(request: tuple[str, str, bytes | None, dict]) -> None:
        method, path, body, hdrs = request
        answer = send(side, method, path, body, hdrs)
        event(f"HTTP {answer.status}")
        check_answer(protocol.name, method, answer)

    fuzz()
    assert_alive(side)


@FUZZ
@given(path=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60))
def test_unknown_paths_under_collections_are_not_server_errors(side: Sidecar, path: str) -> None:
    answer = send(side, "POST", "/collections/" + urllib.parse.quote(path, safe="/"), b"{}")
    assert answer.status < 500, answer
    assert b"Traceback" not in answer.body


# -- the cases the fuzzer found, pinned ----------------------------------------


def post(side: Sidecar, path: str, body: bytes, **hdrs: bytes) -> Answer:
    return send(side, "POST", path, body, {"Content-Type": b"application/json", **hdrs})


@pytest.mark.parametrize(
    ("protocol", "path", "body"),
    [
        # Integers past int32 reached the proto field: 500.
        ("transformers", "/vectors", {"text": "x", "config": {"dimensions": 10**22}}),
        ("openai", "/v1/embeddings", {"input": "x", "dimensions": 2**63}),
        ("cohere", "/v2/embed", {"texts": ["x"], "output_dimension": 2**40}),
        # Unhashable values looked up in a dict: 500.
        ("transformers", "/vectors", {"text": "x", "config": {"task_type": {"a": 1}}}),
        ("cohere", "/v2/embed", {"texts": ["x"], "input_type": [1]}),
        # Over --max-text-bytes was embedded anyway.
        ("openai", "/v1/embeddings", {"input": "a" * (MAX_TEXT_BYTES + 1)}),
        # A lone surrogate was sent upstream.
        ("cohere", "/v2/embed", {"texts": ["\ud800"]}),
    ],
)
def test_fields_the_fuzzer_broke_are_client_errors(
    side: Sidecar, protocol: str, path: str, body: dict
) -> None:
    answer = post(side, path, dump(body))
    assert answer.status == 400, answer
    check_answer(protocol, "POST", answer)


@pytest.mark.parametrize(
    ("body", "hdrs"),
    [
        (b"[" * 100_000, {}),  # nesting past the recursion limit
        (b'{"input": "x"}', {"Content-Type": b"application/json; charset=no-such-codec"}),
        (b'{"input": "x"}', {"Content-Encoding": b"gzip"}),  # not gzip at all
    ],
)
def test_bodies_the_fuzzer_broke_are_client_errors(
    side: Sidecar, body: bytes, hdrs: dict[str, bytes]
) -> None:
    answer = post(side, "/v1/embeddings", body, **hdrs)
    assert answer.status == 400, answer
    check_answer("openai", "POST", answer)


def test_a_body_over_the_size_limit_is_413_in_the_api_shape(side: Sidecar) -> None:
    big = dump({"texts": ["x" * 1000] * 1200})  # > max request bytes + 1 MiB of slack
    answer = post(side, "/v2/embed", big)
    assert answer.status == 413, answer
    check_answer("cohere", "POST", answer)


@pytest.mark.parametrize(
    ("protocol", "method", "path"),
    [
        ("openai", "GET", "/v1/embeddings"),
        ("cohere", "PUT", "/collections/Articles/v2/embed"),
        ("transformers", "DELETE", "/collections/x/vectors/"),
        ("transformers", "POST", "/meta"),
        # An escaped slash in the collection: found by the fuzzer.
        ("cohere", "GET", "/collections/0%2F0/v2/embed"),
    ],
)
def test_wrong_methods_get_405_in_the_api_shape(
    side: Sidecar, protocol: str, method: str, path: str
) -> None:
    answer = send(side, method, path)
    assert answer.status == 405 and "allow" in answer.headers, answer
    check_answer(protocol, method, answer)


def test_credential_headers_that_are_not_ascii_are_refused(side: Sidecar) -> None:
    # aiohttp hands \xff over as a surrogate escape: it failed hashing the key (500).
    answer = post(
        side,
        "/v1/embeddings",
        dump({"input": "fuzz non-ascii key"}),
        **{"X-AWS-Access-Key": b"AKIDFUZZ00000001", "X-AWS-Secret-Key": b"s\xffcret"},
    )
    assert answer.status == 401, answer
    check_answer("openai", "POST", answer)


def test_compressed_bodies_are_read_or_refused_in_the_api_shape(side: Sidecar) -> None:
    """Bodies arrive undecoded: a bad one used to get aiohttp's plain-text 400
    while the handler waited on the payload until the caller hung up."""
    good = dump({"texts": ["fuzz gzip body"]})
    answer = post(side, "/v2/embed", gzip.compress(good), **{"Content-Encoding": b"gzip"})
    assert answer.status == 200, answer
    answer = post(side, "/v2/embed", zlib.compress(good), **{"Content-Encoding": b"deflate"})
    assert answer.status == 200, answer
    for encoding, body, status in [
        (b"deflate", b"{}", 400),
        (b"gzip", gzip.compress(good)[:-6], 400),  # truncated
        (b"br", good, 415),
        (b"gzip", gzip.compress(b" " * (MAX_REQUEST_BYTES + 2 * 2**20)), 413),  # a small bomb
    ]:
        answer = post(side, "/v2/embed", body, **{"Content-Encoding": encoding})
        assert answer.status == status, (encoding, answer)
        check_answer("cohere", "POST", answer)
