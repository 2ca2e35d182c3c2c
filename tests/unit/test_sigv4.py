"""vectorizer.sigv4 signs exactly as botocore's SigV4Auth does, with the key kept."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.sigv4 import Signer, url_parts
from vectorizer.transport import AwsCredentials

WHEN = datetime.datetime(2025, 3, 9, 23, 59, 58, tzinfo=datetime.timezone.utc)
CREDS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TOKEN_CREDS = AwsCredentials("ASIAEXAMPLE", "secret/with+chars", "FwoGZXIvYXdzE//token==")
BASE = {"Content-Type": "application/json", "Accept": "application/json"}

URLS = [
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke",
    "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A"
    "123456789012%3Aapplication-inference-profile%2Fabc/invoke",
    "https://runtime.sagemaker.us-west-2.amazonaws.com/endpoints/my-endpoint/invocations",
    "http://127.0.0.1:8123/model/cohere.embed-english-v3/invoke",
    "https://Bedrock-Runtime.US-EAST-1.amazonaws.com:443/model/a%20b/invoke",
    "https://example.com/a/./b/../c//d/?b=2&a=1&a=0",
    "https://[::1]:9000/x",
]


def _botocore(url, headers, body, creds, region, service, monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN)
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(
        BotoCredentials(creds.access_key, creds.secret_key, creds.token), service, region
    ).add_auth(request)
    return dict(request.headers.items())


def _ours(url, headers, body, creds, region, service):
    return Signer(clock=WHEN.timestamp).sign("POST", url, headers, body, creds, region, service)


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("creds", [CREDS, TOKEN_CREDS], ids=["keys", "session"])
def test_same_headers_as_botocore(url, creds, monkeypatch):
    body = b'{"inputText": "h\xc3\xa9llo"}'
    expected = _botocore(url, BASE, body, creds, "us-east-1", "bedrock", monkeypatch)
    got = _ours(url, BASE, body, creds, "us-east-1", "bedrock")
    assert got["Authorization"] == expected["Authorization"]
    assert got["X-Amz-Date"] == expected["X-Amz-Date"] == "20250309T235958Z"
    assert got.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token")
    assert got["Host"] == url_parts(url).host


@settings(max_examples=60, deadline=None)
@given(
    extra=st.dictionaries(
        st.sampled_from(
            [
                "X-Amzn-SageMaker-Target-Model",
                "X-Amzn-SageMaker-Custom-Attributes",
                "X-Amzn-SageMaker-Inference-Component",
                "User-Agent",
                "X-Amzn-Trace-Id",
            ]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30),
        max_size=4,
    ),
    body=st.binary(max_size=200),
    region=st.sampled_from(["us-east-1", "eu-central-1", "ap-southeast-2"]),
    service=st.sampled_from(["bedrock", "sagemaker"]),
)
def test_any_headers_and_body_sign_as_botocore(extra, body, region, service):
    url = URLS[2]
    headers = {**BASE, **extra}
    with pytest.MonkeyPatch.context() as mp:
        expected = _botocore(url, headers, body, TOKEN_CREDS, region, service, mp)
    got = _ours(url, headers, body, TOKEN_CREDS, region, service)
    assert got["Authorization"] == expected["Authorization"]


def test_signing_key_is_derived_once_per_credential_day_region_and_service():
    now = [WHEN.timestamp()]
    signer = Signer(clock=lambda: now[0])
    for _ in range(5):
        signer.sign("POST", URLS[0], BASE, b"{}", CREDS, "us-east-1", "bedrock")
    assert signer.keys.derived == 1
    signer.sign("POST", URLS[0], BASE, b"{}", TOKEN_CREDS, "us-east-1", "bedrock")
    signer.sign("POST", URLS[2], BASE, b"{}", CREDS, "us-east-1", "sagemaker")
    assert signer.keys.derived == 3
    now[0] += 2  # past midnight UTC: a new date, a new key
    signer.sign("POST", URLS[0], BASE, b"{}", CREDS, "us-east-1", "bedrock")
    assert signer.keys.derived == 4


def test_a_callers_own_auth_headers_are_replaced():
    headers = {**BASE, "Authorization": "x", "host": "evil", "X-Amz-Date": "1"}
    got = _ours(URLS[0], headers, b"{}", CREDS, "us-east-1", "bedrock")
    assert got["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250309/")
    assert "host" not in got and got["Host"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert got["X-Amz-Date"] == "20250309T235958Z"
