"""vectorizer.lanes: who may share an upstream call, and how its billed tokens are shared."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from vectorizer.backends.base import Prepared
from vectorizer.config import ResolvedConfig
from vectorizer.lanes import lane_key, split_tokens
from vectorizer.transport import AwsCredentials
from vectorizer.types import EmbedOptions, Purpose

CONFIG = ResolvedConfig(service="bedrock", region="us-east-1", model="cohere.embed-english-v3")
KEYS = AwsCredentials("AKID1", "secret1")


def prepared(config: ResolvedConfig = CONFIG) -> Prepared:
    return Prepared(config, "bedrock", config.region, config.model, 96, 1024, False)


def test_same_call_same_lane_whatever_builds_the_text():
    objects = dataclasses.replace(CONFIG, vectorize_class_name=True, properties=("title",))
    doc = Purpose.DOCUMENT
    assert lane_key(prepared(), doc, KEYS) == lane_key(prepared(objects), doc, KEYS)


def test_what_changes_the_call_changes_the_lane():
    doc = Purpose.DOCUMENT
    base = lane_key(prepared(), doc, KEYS)
    others = [
        lane_key(prepared(), Purpose.QUERY, KEYS),
        lane_key(prepared(), doc, AwsCredentials("AKID2", "secret1")),
        lane_key(prepared(), doc, AwsCredentials("AKID1", "secret1", "session-token")),
        lane_key(prepared(dataclasses.replace(CONFIG, region="eu-west-1")), doc, KEYS),
        lane_key(
            prepared(dataclasses.replace(CONFIG, options=EmbedOptions(normalize=True))), doc, KEYS
        ),
    ]
    assert all(k != base for k in others)
    assert "secret1" not in repr(base) and "session-token" not in repr(others[2])


@given(st.integers(min_value=0, max_value=10**6), st.lists(st.integers(0, 96), max_size=8))
def test_split_tokens_adds_up_and_follows_counts(total, counts):
    parts = split_tokens(total, counts)
    assert len(parts) == len(counts)
    if sum(counts):
        assert sum(parts) == total
        for part, count in zip(parts, counts, strict=True):
            assert abs(part - total * count / sum(counts)) < 1
            assert count or not part
    else:
        assert parts == [0] * len(counts)
