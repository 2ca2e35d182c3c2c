"""Stock Weaviate's inference modules against the real sidecar, byte for byte.

Each case sends what a Weaviate version's Go client sends and reads the
answer as strictly as that client does (`tests.weaviate_modules`, built
from Weaviate's source, 1.27 to 1.39): a field of the wrong JSON type, a
missing rate-limit header or an error object where Go wants a string fails
here as it would fail there. The sidecar runs with its defaults plus
`--default-collection Reviews` (Cohere v3 on the emulator, so the purpose
shows on the wire as `input_type`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.support import Emulator, Sidecar, start_sidecar
from tests.weaviate_modules import (
    RATE_HEADERS,
    VERSIONS,
    Cohere,
    ModuleError,
    Ollama,
    OpenAI,
    Transformers,
    version,
)
from vectorizer.emulator.vectors import purposed_vector

ATOL = 1e-6


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator) -> Iterator[Sidecar]:
    s = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--default-collection", "Reviews",
        "--endpoint-allowlist", aws_emulator.host_port,
    )  # fmt: skip
    yield s
    s.terminate()


def bedrock_bodies(emulator: Emulator) -> list[dict]:
    return [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]


def assert_vector(vector: list[float], text: str, dims: int, purpose: str | None = None) -> None:
    """The emulator's vector for `text` (a Cohere query's is shifted by its input type)."""
    np.testing.assert_allclose(vector, purposed_vector(text, dims, purpose), atol=ATOL)


# -- text2vec-transformers ----------------------------------------------------


def transformers_for(side: Sidecar, v: str, base: str = "") -> Transformers:
    """Before 1.31 there is no task_type: the purpose rides on separate URLs."""
    root = side.http_url + base
    if version(v) < (1, 31):
        return Transformers(v, passage_url=root + "/passage", query_url=root + "/query")
    return Transformers(v, passage_url=root)


@pytest.mark.parametrize("v", VERSIONS)
def test_transformers_start_up_meta_and_vectors(side: Sidecar, emulator: Emulator, v: str) -> None:
    client = transformers_for(side, v)
    for base in {client.passage_url, client.query_url or client.passage_url}:
        client.check_ready(base)
        assert client.meta(base)["collection"] == "Reviews"
    doc = client.vectorize(f"t2v {v} passage", "passage")
    query = client.vectorize(f"t2v {v} query", "query")
    assert doc["text"] == f"t2v {v} passage" and doc["dims"] == 1024
    assert_vector(doc["vector"], f"t2v {v} passage", 1024)
    assert_vector(query["vector"], f"t2v {v} query", 1024, "search_query")
    assert [b["input_type"] for b in bedrock_bodies(emulator)] == [
        "search_document",
        "search_query",
    ]
    assert b'"dims":0,"vector":null,"error":""' in client.sent[0]


@pytest.mark.parametrize("v", [v for v in VERSIONS if version(v) >= (1, 33)])
def test_transformers_dimensions_from_1_33(side: Sidecar, emulator: Emulator, v: str) -> None:
    client = Transformers(v, side.http_url + "/collections/Articles", dimensions=256)
    out = client.vectorize(f"t2v sized {v}", "passage")
    assert out["dims"] == 256 and len(out["vector"]) == 256
    assert bedrock_bodies(emulator)[-1]["dimensions"] == 256


@pytest.mark.parametrize("v", ["1.27", "1.39"])
def test_transformers_errors_are_strings_go_can_read(side: Sidecar, v: str) -> None:
    with pytest.raises(ModuleError, match=r"^fail with status 400: input\[0\] failed: BLANK_TEXT"):
        transformers_for(side, v).vectorize("   ")
    missing = Transformers(v, side.http_url + "/collections/Nope")
    with pytest.raises(ModuleError, match="^fail with status 404: unknown collection 'Nope'"):
        missing.vectorize("x")
    with pytest.raises(ModuleError, match="^fail with status 404: no such route"):
        Transformers(v, side.http_url + "/no/such/base").vectorize("x")
    sized = Transformers(v, side.http_url + "/collections/Articles", dimensions=300)
    if version(v) >= (1, 33):
        with pytest.raises(ModuleError, match="^fail with status 400: .*dimensions 300"):
            sized.vectorize("x")


def test_transformers_base_url_with_a_trailing_slash(side: Sidecar) -> None:
    """Weaviate concatenates: `http://host:8080/` + `/vectors` is `//vectors`."""
    client = Transformers("1.39", side.http_url + "/")
    client.check_ready()
    assert client.meta()["collection"] == "Reviews"
    assert_vector(client.vectorize("t2v slash")["vector"], "t2v slash", 1024)


# -- text2vec-openai ------------------------------------------------------------


@pytest.mark.parametrize("base", ["", "/", "/v1"])
def test_openai_at_weaviate_defaults(side: Sidecar, emulator: Emulator, base: str) -> None:
    """Model text-embedding-3-small with dimensions 1536 lands on the default
    collection, which gives its own size and says so; a base URL ending in
    /v1 (joined into /v1/v1/embeddings) works too."""
    client = OpenAI(side.http_url + base)
    assert b'"dimensions":1536' in client.request_body(["x"])
    out = client.vectorize(["openai default one", "openai default two"])
    assert out.errors == [None, None]
    assert_vector(out.vectors[0], "openai default one", 1024)
    assert_vector(out.vectors[1], "openai default two", 1024)
    assert out.headers["x-vectorizer-ignored-dimensions"] == "1536"
    assert out.headers["x-request-id"]


def test_openai_queries_through_a_query_base_url(side: Sidecar, emulator: Emulator) -> None:
    """The OpenAI module sends queries like documents; a query-time
    X-Openai-Baseurl ending in /query gives them the query purpose."""
    OpenAI(side.http_url).vectorize(["openai as document"])
    out = OpenAI(side.http_url + "/query").vectorize(["openai as query"])
    assert_vector(out.vectors[0], "openai as query", 1024, "search_query")
    assert [b["input_type"] for b in bedrock_bodies(emulator)] == [
        "search_document",
        "search_query",
    ]


def test_openai_model_names_a_collection(side: Sidecar) -> None:
    """A model name that is not text-embedding-3-*: Weaviate sends no dimensions."""
    client = OpenAI(side.http_url, model="Articles")
    assert b"dimensions" not in client.request_body(["x"])
    out = client.vectorize(["openai on articles"])
    assert_vector(out.vectors[0], "openai on articles", 512)


def test_openai_rate_limit_headers_let_weaviate_batch(side: Sidecar) -> None:
    """All six headers parse as Go parses them, so Weaviate leaves its
    one-object-per-request start and batches."""
    out = OpenAI(side.http_url).vectorize(["openai limits first object"])
    assert set(RATE_HEADERS) <= set(out.headers)
    limits = out.rate_limits
    assert not limits.update_with_missing_values, out.headers
    assert not limits.is_initialized()
    assert limits.limit_requests >= limits.remaining_requests > 0
    assert limits.limit_tokens >= limits.remaining_tokens > 0
    # A Weaviate batch of 199 short objects fits the budget as one request.
    texts = [f"openai batch item {i}" for i in range(199)]
    batch = OpenAI(side.http_url).vectorize(texts)
    assert len(batch.vectors) == 199 and batch.errors == [None] * 199
    for text, vector in zip(texts[:3], batch.vectors, strict=False):
        assert_vector(vector, text, 1024)


def metric(side: Sidecar, name: str, **labels: str) -> float:
    status, text = side.http_get("/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_openai_rate_limits_follow_the_targets_limiter(
    aws_emulator: Emulator, emulator: Emulator
) -> None:
    """Throttling lowers the learned rate; the headers say the same number."""
    s = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--default-collection", "Articles",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--initial-rate", "20",
    )  # fmt: skip
    try:
        client = OpenAI(s.http_url)
        first = client.vectorize(["openai limiter before"]).rate_limits
        model = "amazon.titan-embed-text-v2:0"
        rate = metric(s, "vectorizer_limiter_rate_per_second", model=model)
        assert first.limit_requests == int(rate * 60)
        emulator.faults(throttle_rate=1.0)
        with pytest.raises(ModuleError, match="status: 429"):
            client.vectorize(["openai limiter throttled"])
        emulator.faults(throttle_rate=0.0)
        after = client.vectorize(["openai limiter after"]).rate_limits
        lowered = metric(s, "vectorizer_limiter_rate_per_second", model=model)
        assert lowered < rate
        assert after.limit_requests == int(lowered * 60) < first.limit_requests
    finally:
        s.terminate()


def test_openai_bad_item_fails_only_that_object(side: Sidecar) -> None:
    out = OpenAI(side.http_url).vectorize(["openai fine one", " ", "openai fine two"])
    assert out.errors[0] is None and out.errors[2] is None
    assert out.errors[1] is not None
    assert re.search(r"status: 200 request-id: \S+ error: BLANK_TEXT: ", out.errors[1])
    assert_vector(out.vectors[2], "openai fine two", 1024)
    with pytest.raises(ModuleError, match=r"status: 400 .*input\[0\] failed: BLANK_TEXT"):
        OpenAI(side.http_url).vectorize(["  "])


# -- text2vec-cohere ------------------------------------------------------------


@pytest.mark.parametrize("v", VERSIONS)
def test_cohere_per_version(side: Sidecar, emulator: Emulator, v: str) -> None:
    """1.27 posts /v1/embed, later versions /v2/embed; the default model
    embed-multilingual-v3.0 lands on the default collection."""
    client = Cohere(v, side.http_url)
    docs = client.vectorize([f"cohere {v} a", f"cohere {v} b"], "search_document")
    query = client.vectorize([f"cohere {v} q"], "search_query")
    assert_vector(docs[1], f"cohere {v} b", 1024)
    assert_vector(query[0], f"cohere {v} q", 1024, "search_query")
    bodies = bedrock_bodies(emulator)
    assert [b["input_type"] for b in bodies] == ["search_document", "search_query"]
    assert all(b["truncate"] == "END" for b in bodies)


@pytest.mark.parametrize("v", [v for v in VERSIONS if version(v) >= (1, 35)])
def test_cohere_output_dimension_from_1_35(side: Sidecar, emulator: Emulator, v: str) -> None:
    client = Cohere(v, side.http_url + "/collections/Articles", dimensions=256)
    assert len(client.vectorize([f"cohere sized {v}"])[0]) == 256
    assert bedrock_bodies(emulator)[-1]["dimensions"] == 256


@pytest.mark.parametrize(("v", "prefix"), [("1.27", "failed with status: 400 error: "),
                                           ("1.39", "connection to Cohere failed with status: "
                                                    "400 error: ")])  # fmt: skip
def test_cohere_errors_carry_the_message(side: Sidecar, v: str, prefix: str) -> None:
    with pytest.raises(ModuleError) as info:
        Cohere(v, side.http_url).vectorize(["fine", ""])
    assert str(info.value).startswith(prefix + "input[1] failed: BLANK_TEXT")


# -- text2vec-ollama --------------------------------------------------------------


@pytest.mark.parametrize("v", VERSIONS)
def test_ollama_per_version(side: Sidecar, emulator: Emulator, v: str) -> None:
    """1.27 posts /api/embeddings one text at a time; later /api/embed with
    up to 10; the default model nomic-embed-text lands on the default collection."""
    texts = [f"ollama {v} {i}" for i in range(10)]
    vectors = Ollama(v, side.http_url).vectorize(texts)
    assert len(vectors) == 10
    for text, vector in zip(texts, vectors, strict=True):
        assert_vector(vector, text, 1024)


@pytest.mark.parametrize("v", ["1.27", "1.39"])
def test_ollama_errors_are_read_before_the_status(side: Sidecar, v: str) -> None:
    with pytest.raises(ModuleError, match=r"^connection to Ollama API failed with error: "
                                          r"input\[0\] failed: BLANK_TEXT"):  # fmt: skip
        Ollama(v, side.http_url).vectorize([" "])
    with pytest.raises(ModuleError, match="failed with error: unknown collection 'Nope'"):
        Ollama(v, side.http_url + "/collections/Nope").vectorize(["x"])


# -- every module: unknown paths, and the deadline ------------------------------------


def test_unknown_paths_answer_in_each_modules_shape(side: Sidecar) -> None:
    """A mistyped base URL: each client still parses the 404 and reports it."""
    url = side.http_url
    with pytest.raises(ModuleError, match="^fail with status 404: no such route"):
        Transformers("1.39", url + "/nope").vectorize("x")
    with pytest.raises(ModuleError, match="status: 404 error: no such route"):
        OpenAI(url + "/v1/nope").vectorize(["x"])
    with pytest.raises(ModuleError, match="status: 404 error: no such route"):
        Cohere("1.39", url + "/v2/nope").vectorize(["x"])
    with pytest.raises(ModuleError, match="failed with error: no such route"):
        Ollama("1.39", url + "/api/nope").vectorize(["x"])


LATE_MS = 2000


def test_deadline_answers_in_each_modules_shape_before_weaviate_gives_up(
    aws_emulator: Emulator, emulator: Emulator
) -> None:
    """Past --default-deadline each API answers 504 in its own shape, so
    Weaviate reports the sidecar's reason, not its own bare timeout."""
    s = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--default-collection", "Reviews",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--default-deadline", "1",
    )  # fmt: skip
    try:
        emulator.faults(latency_ms=LATE_MS)
        url = s.http_url
        cases = [
            (lambda: Transformers("1.39", url).vectorize("late t2v"), "fail with status 504: "),
            (lambda: OpenAI(url).vectorize(["late openai"]), "status: 504 request-id: "),
            (lambda: Cohere("1.39", url).vectorize(["late cohere"]), "status: 504 error: "),
            (lambda: Ollama("1.39", url).vectorize(["late ollama"]), "failed with error: "),
        ]
        for call, prefix in cases:
            with pytest.raises(ModuleError) as info:
                call()
            assert prefix in str(info.value) and "DEADLINE" in str(info.value).upper()
    finally:
        emulator.faults(latency_ms=0)
        s.terminate()
        # The late calls are still sleeping in the shared emulator: let them
        # finish so they are not recorded in the next test's window.
        time.sleep(LATE_MS / 1000 + 0.2)
