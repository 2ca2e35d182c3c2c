"""The emulator's asynchronous invoke, driven by boto3 (real botocore
serialisation and error parsing) with moto's S3 server as its S3."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.emulator.conftest import client
from tests.media import mp4, wav
from tests.support import Emulator, start_emulator

NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
MARENGO27 = "twelvelabs.marengo-embed-2-7-v1:0"
OWNER = "123456789012"
OUT = {"s3OutputDataConfig": {"s3Uri": "s3://out/runs/"}}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = start_emulator("--s3-port", "0", "--async-delay", "0.3")
    s3 = client("s3", emulator._call("GET", "/_emulator/async")["s3"])
    s3.create_bucket(Bucket="media")
    s3.create_bucket(Bucket="out")
    s3.put_object(Bucket="media", Key="v.mp4", Body=mp4(11.0))
    s3.put_object(Bucket="media", Key="a.wav", Body=wav(4.0))
    yield emulator
    emulator.stop()


@pytest.fixture()
def bedrock(emu: Emulator) -> Any:
    return client("bedrock-runtime", emu.url)


@pytest.fixture()
def s3(emu: Emulator) -> Any:
    return client("s3", emu._call("GET", "/_emulator/async")["s3"])


def _nova_video(mode: str = "AUDIO_VIDEO_SEPARATE", **seg: int) -> dict[str, Any]:
    return {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SEGMENTED_EMBEDDING",
        "segmentedEmbeddingParams": {
            "embeddingPurpose": "GENERIC_INDEX",
            "embeddingDimension": 256,
            "video": {
                "format": "mp4",
                "source": {"s3Location": {"uri": "s3://media/v.mp4"}},
                "embeddingMode": mode,
                "segmentationConfig": seg,
            },
        },
    }


def _finish(bedrock: Any, arn: str) -> dict[str, Any]:
    for _ in range(50):
        got = bedrock.get_async_invoke(invocationArn=arn)
        if got["status"] != "InProgress":
            return got
        time.sleep(0.1)
    raise AssertionError("invocation never finished")


def test_nova_video_separate_in_progress_then_completed_with_output(bedrock: Any, s3: Any) -> None:
    arn = bedrock.start_async_invoke(
        modelId=NOVA, modelInput=_nova_video(durationSeconds=4), outputDataConfig=OUT
    )["invocationArn"]
    first = bedrock.get_async_invoke(invocationArn=arn)
    assert first["status"] == "InProgress"
    assert first["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}"
    assert first["outputDataConfig"] == OUT
    done = _finish(bedrock, arn)
    assert done["status"] == "Completed" and done["endTime"] >= done["submitTime"]
    folder = "runs/" + arn.rsplit("/", 1)[1]
    result = json.loads(
        s3.get_object(Bucket="out", Key=f"{folder}/segmented-embedding-result.json")["Body"].read()
    )
    assert result["sourceFileUri"] == "s3://media/v.mp4" and result["embeddingDimension"] == 256
    kinds = {r["embeddingType"]: r for r in result["embeddingResults"]}
    assert set(kinds) == {"VIDEO", "AUDIO"} and all(
        r["status"] == "SUCCESS" for r in kinds.values()
    )
    key = kinds["VIDEO"]["outputFileUri"].split("/", 3)[3]
    lines = [
        json.loads(x) for x in s3.get_object(Bucket="out", Key=key)["Body"].read().splitlines()
    ]
    assert [line["segmentMetadata"] for line in lines] == [
        {"segmentIndex": 0, "segmentStartSeconds": 0.0, "segmentEndSeconds": 4.0},
        {"segmentIndex": 1, "segmentStartSeconds": 4.0, "segmentEndSeconds": 8.0},
        {"segmentIndex": 2, "segmentStartSeconds": 8.0, "segmentEndSeconds": 11.0},
    ]
    assert all(len(line["embedding"]) == 256 and line["status"] == "SUCCESS" for line in lines)


def test_same_token_same_invocation_different_request_conflicts(bedrock: Any) -> None:
    kw = {"modelId": NOVA, "outputDataConfig": OUT, "clientRequestToken": "token-1"}
    first = bedrock.start_async_invoke(modelInput=_nova_video(), **kw)["invocationArn"]
    again = bedrock.start_async_invoke(modelInput=_nova_video(), **kw)["invocationArn"]
    assert again == first
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.start_async_invoke(modelInput=_nova_video("AUDIO_VIDEO_COMBINED"), **kw)


@pytest.mark.parametrize(
    ("model_input", "words"),
    [
        ({**_nova_video(), "taskType": "SINGLE_EMBEDDING"}, "must be SEGMENTED_EMBEDDING"),
        (_nova_video(durationSeconds=31), "durationSeconds: 31 is not in the range 1-30"),
        ({**_nova_video(), "extra": 1}, "extraneous key [extra]"),
        (
            {"inputType": "video", "mediaSource": {"s3Location": {"uri": "s3://media/v.mp4"}}},
            "required key [bucketOwner] not found",
        ),
    ],
    ids=["single-task", "segment-range", "extraneous", "marengo-owner"],
)
def test_bad_model_input_is_a_validation_exception(
    bedrock: Any, model_input: dict[str, Any], words: str
) -> None:
    model = MARENGO27 if "inputType" in model_input else NOVA
    with pytest.raises(bedrock.exceptions.ValidationException) as err:
        bedrock.start_async_invoke(modelId=model, modelInput=model_input, outputDataConfig=OUT)
    assert words in str(err.value)


def _raw(emu: Emulator, method: str, path: str, body: Any = None) -> tuple[int, str, dict]:
    """A signed request botocore would refuse to send (missing required members)."""
    data = json.dumps(body).encode() if body is not None else b""
    req = AWSRequest(method=method, url=emu.url + path, data=data)
    SigV4Auth(Credentials("AKIDRAW", "secret"), "bedrock", "us-east-1").add_auth(req)
    raw = urllib.request.Request(
        emu.url + path, data=data or None, method=method, headers=dict(req.headers.items())
    )
    try:
        with urllib.request.urlopen(raw, timeout=10) as resp:
            return resp.status, "", json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["x-amzn-ErrorType"].split(":")[0], json.loads(exc.read())


def test_api_level_validation(emu: Emulator) -> None:
    status, code, body = _raw(
        emu, "POST", "/async-invoke", {"modelId": NOVA, "outputDataConfig": OUT}
    )
    assert (status, code) == (400, "ValidationException")
    assert body["message"].startswith("1 validation error detected: Value null at 'modelInput'")
    bad_out = {"s3OutputDataConfig": {"s3Uri": "https://out/x"}}
    status, code, body = _raw(
        emu,
        "POST",
        "/async-invoke",
        {"modelId": NOVA, "modelInput": {}, "outputDataConfig": bad_out},
    )
    assert (status, code) == (400, "ValidationException") and "s3Uri" in body["message"]


def test_unknown_and_malformed_arns(emu: Emulator, bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ClientError) as err:
        bedrock.get_async_invoke(
            invocationArn="arn:aws:bedrock:us-east-1:123456789012:async-invoke/aaaaaaaaaaaa"
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.get_async_invoke(invocationArn="arn:aws:bedrock:us-east-1:1:async-invoke/NOPE")


def test_models_without_async(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as err:
        bedrock.start_async_invoke(
            modelId="amazon.titan-embed-text-v2:0", modelInput={}, outputDataConfig=OUT
        )
    assert "does not support asynchronous invocation" in str(err.value)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.start_async_invoke(modelId="acme.unknown-v1", modelInput={}, outputDataConfig=OUT)


@pytest.mark.parametrize(
    ("uri", "owner", "out", "words"),
    [
        ("s3://media/none.wav", OWNER, "s3://out/x", "NoSuchKey"),
        ("s3://media/a.wav", "210987654321", "s3://out/x", "AccessDenied"),
        ("s3://media/a.wav", OWNER, "s3://no-such-bucket/x", "Unable to write the output"),
        ("s3://media/v.mp4", OWNER, "s3://out/x", "Unsupported media format: mp4"),
    ],
    ids=["missing-input", "other-account", "no-output-bucket", "video-as-audio"],
)
def test_failures_surface_through_get_async_invoke(
    bedrock: Any, uri: str, owner: str, out: str, words: str
) -> None:
    arn = bedrock.start_async_invoke(
        modelId=MARENGO27,
        modelInput={
            "inputType": "audio",
            "mediaSource": {"s3Location": {"uri": uri, "bucketOwner": owner}},
        },
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": out}},
    )["invocationArn"]
    done = _finish(bedrock, arn)
    assert done["status"] == "Failed"
    assert words in done["failureMessage"]


def test_list_filters_and_pages(bedrock: Any) -> None:
    for _ in range(2):
        bedrock.start_async_invoke(modelId=NOVA, modelInput=_nova_video(), outputDataConfig=OUT)
    page = bedrock.list_async_invokes(maxResults=1, sortOrder="Descending")
    assert len(page["asyncInvokeSummaries"]) == 1 and page["nextToken"]
    rest = bedrock.list_async_invokes(maxResults=1000, nextToken=page["nextToken"])
    assert len(rest["asyncInvokeSummaries"]) >= 1
    in_progress = bedrock.list_async_invokes(statusEquals="InProgress")["asyncInvokeSummaries"]
    assert all(s["status"] == "InProgress" for s in in_progress)
