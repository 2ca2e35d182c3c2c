"""The emulator's S3: moto's S3 server, reached through boto3.

S3 is not hand-written here: `S3Standin.start(host, port)` runs moto's
`ThreadedMotoServer` on a loopback port inside the emulator process (or
`S3Standin.connect(url)` uses an S3-compatible endpoint already running).
The emulated models read their inputs and write their outputs through a
boto3 S3 client pointed at it, and the sidecar reaches the same server
through `AWS_ENDPOINT_URL_S3`, as it would reach S3.

- `read(uri, bucket_owner)`: an object's bytes, or `S3ReadError` with S3's
  code (`NoSuchKey`, `NoSuchBucket`, `AccessDenied`). A `bucket_owner` other
  than the bucket's account is refused AccessDenied, as S3 refuses a request
  whose expected bucket owner does not match (moto does not check it).
- `write(uri, data, content_type)`: one object; `S3ReadError` on failure.

Calls block (boto3): the async emulator runs them in a thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vectorizer.emulator.wire import ACCOUNT_ID

_URI = re.compile(r"^s3://([^/]+)/(.*)$")
# The stand-in's buckets all belong to the emulator's one account.
BUCKET_ACCOUNT = ACCOUNT_ID


class S3ReadError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def split_uri(uri: str) -> tuple[str, str]:
    m = _URI.match(uri)
    if not m:
        raise S3ReadError("InvalidURI", f"{uri[:120]} is not s3://bucket/key")
    return m.group(1), m.group(2)


@dataclass
class S3Standin:
    url: str
    _server: object | None = None

    def __post_init__(self) -> None:
        self._client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEMULATORS3",
            aws_secret_access_key="emulator-not-a-secret",
            config=Config(retries={"total_max_attempts": 2}, s3={"addressing_style": "path"}),
        )

    @staticmethod
    def start(host: str = "127.0.0.1", port: int = 0) -> S3Standin:
        from moto.server import ThreadedMotoServer

        # werkzeug logs a line per request to stderr: keep the emulator's log readable.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        bound_host, bound_port = server.get_host_and_port()
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return S3Standin(f"http://{shown}:{bound_port}", server)

    @staticmethod
    def connect(url: str) -> S3Standin:
        return S3Standin(url.rstrip("/"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]

    def read(self, uri: str, bucket_owner: str = "") -> bytes:
        bucket, key = split_uri(uri)
        if bucket_owner and bucket_owner != BUCKET_ACCOUNT:
            raise S3ReadError("AccessDenied", "Access Denied")
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise S3ReadError(str(err.get("Code", "Error")), str(err.get("Message", ""))) from None
        except BotoCoreError as exc:
            raise S3ReadError("InternalError", type(exc).__name__) from None

    def write(self, uri: str, data: bytes, content_type: str = "application/json") -> None:
        bucket, key = split_uri(uri)
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise S3ReadError(str(err.get("Code", "Error")), str(err.get("Message", ""))) from None
        except BotoCoreError as exc:
            raise S3ReadError("InternalError", type(exc).__name__) from None
