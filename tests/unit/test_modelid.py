"""Every accepted form of a Bedrock model identifier, parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.backends.modelid import ModelRef, parse_model_id

ACCT = "123456789012"

# (model, kind, base_id, geo_prefix, region, partition)
CASES = [
    ("amazon.titan-embed-text-v1", "base", "amazon.titan-embed-text-v1", "", "", ""),
    ("amazon.titan-embed-text-v2:0", "base", "amazon.titan-embed-text-v2:0", "", "", ""),
    ("amazon.titan-embed-text-v1:2:8k", "base", "amazon.titan-embed-text-v1:2:8k", "", "", ""),
    ("cohere.embed-english-v3", "base", "cohere.embed-english-v3", "", "", ""),
    ("  cohere.embed-v4:0 ", "base", "cohere.embed-v4:0", "", "", ""),
    ("gpt-4", "base", "gpt-4", "", "", ""),
    ("", "base", "", "", "", ""),
    # A lower-case prefix before an unknown provider is not a geography.
    ("us.acme.embed-v1", "base", "us.acme.embed-v1", "", "", ""),
    ("us.cohere.embed-v4:0", "profile", "cohere.embed-v4:0", "us", "", ""),
    ("eu.cohere.embed-multilingual-v3", "profile", "cohere.embed-multilingual-v3", "eu", "", ""),
    (
        "apac.amazon.titan-embed-text-v2:0",
        "profile",
        "amazon.titan-embed-text-v2:0",
        "apac",
        "",
        "",
    ),
    (
        "us-gov.amazon.titan-embed-text-v2:0",
        "profile",
        "amazon.titan-embed-text-v2:0",
        "us-gov",
        "",
        "",
    ),
    ("ca.cohere.embed-v4:0", "profile", "cohere.embed-v4:0", "ca", "", ""),
    ("jp.cohere.embed-v4:0", "profile", "cohere.embed-v4:0", "jp", "", ""),
    ("au.cohere.embed-v4:0", "profile", "cohere.embed-v4:0", "au", "", ""),
    ("global.cohere.embed-v4:0", "profile", "cohere.embed-v4:0", "global", "", ""),
    (
        "us.twelvelabs.marengo-embed-2-7-v1:0",
        "profile",
        "twelvelabs.marengo-embed-2-7-v1:0",
        "us",
        "",
        "",
    ),
    (
        "eu.twelvelabs.marengo-embed-3-0-v1:0",
        "profile",
        "twelvelabs.marengo-embed-3-0-v1:0",
        "eu",
        "",
        "",
    ),
    ("twelvelabs.marengo-embed-3-0-v1:0", "base", "twelvelabs.marengo-embed-3-0-v1:0", "", "", ""),
    # A geography that does not exist yet still works.
    (
        "mars-1.amazon.nova-2-multimodal-embeddings-v1:0",
        "profile",
        "amazon.nova-2-multimodal-embeddings-v1:0",
        "mars-1",
        "",
        "",
    ),
    (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
        "arn-foundation",
        "amazon.titan-embed-text-v2:0",
        "",
        "us-east-1",
        "aws",
    ),
    (
        "arn:aws-cn:bedrock:cn-north-1::foundation-model/amazon.titan-embed-text-v1",
        "arn-foundation",
        "amazon.titan-embed-text-v1",
        "",
        "cn-north-1",
        "aws-cn",
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCT}:inference-profile/us.cohere.embed-v4:0",
        "arn-inference-profile",
        "cohere.embed-v4:0",
        "us",
        "us-east-1",
        "aws",
    ),
    (
        f"arn:aws-us-gov:bedrock:us-gov-west-1:{ACCT}:inference-profile/"
        "us-gov.amazon.titan-embed-text-v2:0",
        "arn-inference-profile",
        "amazon.titan-embed-text-v2:0",
        "us-gov",
        "us-gov-west-1",
        "aws-us-gov",
    ),
    (
        f"arn:aws:bedrock:eu-west-1:{ACCT}:inference-profile/global.cohere.embed-v4:0",
        "arn-inference-profile",
        "cohere.embed-v4:0",
        "global",
        "eu-west-1",
        "aws",
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCT}:application-inference-profile/a1b2c3d4e5",
        "arn-application-profile",
        "",
        "",
        "us-east-1",
        "aws",
    ),
    (
        f"arn:aws:bedrock:us-west-2:{ACCT}:provisioned-model/abcd1234",
        "arn-provisioned",
        "",
        "",
        "us-west-2",
        "aws",
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCT}:custom-model/amazon.titan-embed-text-v1:2:8k/ly16",
        "arn-custom",
        "",
        "",
        "us-east-1",
        "aws",
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCT}:imported-model/xyz987",
        "arn-imported",
        "",
        "",
        "us-east-1",
        "aws",
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCT}:prompt-router/abc",
        "arn-other",
        "",
        "",
        "us-east-1",
        "aws",
    ),
    (
        f"arn:aws:sagemaker:us-east-1:{ACCT}:endpoint/my-endpoint",
        "arn-other",
        "",
        "",
        "us-east-1",
        "aws",
    ),
    ("arn:aws:bedrock:us-east-1", "arn-other", "", "", "", ""),
    (
        "arn:notaws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1",
        "arn-other",
        "",
        "",
        "",
        "",
    ),
]


@pytest.mark.parametrize("model,kind,base_id,geo,region,partition", CASES)
def test_parse_model_id(model, kind, base_id, geo, region, partition):
    ref = parse_model_id(model)
    assert (ref.kind, ref.base_id, ref.geo_prefix, ref.region, ref.partition) == (
        kind,
        base_id,
        geo,
        region,
        partition,
    )
    assert ref.names_model == bool(base_id)


def test_arn_keeps_account_and_resource():
    ref = parse_model_id(f"arn:aws:bedrock:us-east-1:{ACCT}:provisioned-model/abcd1234")
    assert (ref.account, ref.resource) == (ACCT, "abcd1234")


@given(st.text(max_size=200))
def test_parse_never_raises(model):
    assert isinstance(parse_model_id(model), ModelRef)


@given(
    st.sampled_from(["us", "eu", "apac", "us-gov", "global", "ab-cd9"]),
    st.sampled_from(["amazon", "cohere", "twelvelabs"]),
    st.from_regex(r"[a-z0-9-]{1,20}(:[0-9a-z]{1,3}){0,2}", fullmatch=True),
)
def test_profile_ids_round_trip(geo, provider, name):
    base = f"{provider}.{name}"
    ref = parse_model_id(f"{geo}.{base}")
    assert (ref.kind, ref.geo_prefix, ref.base_id) == ("profile", geo, base)
    assert parse_model_id(base).base_id == base
