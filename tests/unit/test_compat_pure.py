"""The pure parts of the compat layer, and the Go-strict parser the
conformance tests rely on (it must refuse what Go refuses)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.gojson import GoJSONError, join_path, marshal, parse_duration, unmarshal
from tests.weaviate_modules import OPENAI_RESPONSE, VEC_REQUEST, rate_limits
from vectorizer.compat import APIS
from vectorizer.compat.common import TargetLoad
from vectorizer.compat.openai_limits import go_duration, tokens_per_text
from vectorizer.compat.openai_limits import rate_limits as derive
from vectorizer.compat.routing import api_for, bare_path


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/vectors", "transformers"),
        ("/collections/A/query/vectors/", "transformers"),
        ("//.well-known/ready", "transformers"),
        ("/meta", "transformers"),
        ("/v1/embeddings", "openai"),
        ("/v1/v1/embeddings", "openai"),
        ("/passage/embeddings", "openai"),
        ("/v1/models", "openai"),
        ("/v1/embed", "cohere"),
        ("/collections/R/v2/embed", "cohere"),
        ("/v2/anything", "cohere"),
        ("/api/embed", "ollama"),
        ("/api/tags", "ollama"),
        ("/embed", "tei"),
        ("/info", "tei"),
        ("/embed_all", "tei"),
    ],
)
def test_each_path_belongs_to_its_api(path: str, api: str) -> None:
    owner = api_for(APIS, path)
    assert owner is not None and owner.name == api


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "//readyz/", "/nothing/here"])
def test_own_routes_and_unknown_paths_have_no_api(path: str) -> None:
    assert api_for(APIS, path) is None


def test_bare_path() -> None:
    assert bare_path("//collections/X//query//api/embed") == "/api/embed"
    assert bare_path("/collections/X") == "/"


@given(st.floats(min_value=0, max_value=10_000, allow_nan=False))
def test_go_duration_parses_in_go_to_the_same_time(seconds: float) -> None:
    parsed = parse_duration(go_duration(seconds))
    assert parsed is not None
    assert parsed >= seconds - 0.0005 and parsed - seconds < 0.002


@given(
    rate=st.floats(min_value=0.5, max_value=20_000),
    backlog=st.integers(0, 100_000),
    per_call=st.integers(1, 96),
    per_text=st.floats(min_value=1, max_value=8192),
)
def test_rate_limits_are_what_go_accepts(
    rate: float, backlog: int, per_call: int, per_text: float
) -> None:
    limits = derive(TargetLoad(rate, backlog, per_call), per_text)
    seen = rate_limits({k: v for k, v in limits.headers().items()})
    assert not seen.update_with_missing_values
    assert seen.limit_requests == max(1, math.floor(rate * 60))
    assert 0 <= seen.remaining_requests <= seen.limit_requests
    assert 0 <= seen.remaining_tokens <= seen.limit_tokens
    assert seen.remaining_requests == max(0, seen.limit_requests - backlog)
    assert abs(seen.reset_requests - backlog / rate) < 0.002


def test_limit_tokens_never_above_the_learned_token_rate() -> None:
    # 100 calls/s of 96 texts of 50 tokens would say 28.8M tokens/min; a token
    # quota learned at 20,000 tokens/s caps it at 1.2M.
    capped = derive(TargetLoad(100.0, 0, 96, token_rate=20_000.0), 50.0)
    assert capped.limit_tokens == 1_200_000
    assert capped.limit_requests == 6_000
    uncapped = derive(TargetLoad(100.0, 0, 96), 50.0)
    assert uncapped.limit_tokens == 28_800_000


def test_tokens_per_text() -> None:
    assert tokens_per_text(["a b", "c d"], 10) == 5
    assert tokens_per_text(["x" * 400], 0) == 100  # bytes / 4 when the model counts none
    assert tokens_per_text([], 0) == 1


# -- the Go-strict parser itself ------------------------------------------------------


def test_go_parser_refuses_what_go_refuses() -> None:
    with pytest.raises(GoJSONError):
        unmarshal(VEC_REQUEST, b'{"error": {"code": "X", "message": "m"}}')  # object, not string
    with pytest.raises(GoJSONError):
        unmarshal(VEC_REQUEST, b'{"dims": 1.5}')
    with pytest.raises(GoJSONError):
        unmarshal(VEC_REQUEST, b'{"vector": [1e39]}')  # past float32
    with pytest.raises(GoJSONError):
        unmarshal(VEC_REQUEST, b'{"vector": [NaN]}')
    with pytest.raises(GoJSONError):
        unmarshal(OPENAI_RESPONSE, b'{"error": {"code": 4.5}}')
    with pytest.raises(GoJSONError):
        unmarshal(VEC_REQUEST, b"[]")


def test_go_parser_accepts_what_go_accepts() -> None:
    out = unmarshal(VEC_REQUEST, b'{"Text": "t", "dims": 2, "vector": null, "extra": [1]}')
    assert out["text"] == "t" and out["dims"] == 2 and out["vector"] is None
    assert out["error"] == ""
    err = unmarshal(OPENAI_RESPONSE, b'{"error": {"message": "m", "code": 429, "param": null}}')
    assert err["error"] == {"message": "m", "type": "", "param": "", "code": "429"}


def test_go_marshal_and_join_path() -> None:
    assert (
        marshal({"text": "<a&b>", "vector": None})
        == b'{"text":"\\u003ca\\u0026b\\u003e","vector":null}'
    )
    assert join_path("http://h:1", "/v1/embeddings") == "http://h:1/v1/embeddings"
    assert join_path("http://h:1/v1", "/v1/embeddings") == "http://h:1/v1/v1/embeddings"
    assert join_path("http://h:1/", "/v1/embeddings") == "http://h:1/v1/embeddings"


def test_an_escaped_slash_stays_in_its_segment() -> None:
    owner = api_for(APIS, "/collections/0%2F0/v2/embed")
    assert owner is not None and owner.name == "cohere"
