"""`make run`: the service on its embedded default, the local AWS emulator.

Starts `python -m vectorizer.emulator` on loopback, then `vectorizer-server`
wired to it exactly as to a real AWS-compatible endpoint: through the SDK
endpoint-override variables, with throwaway credentials, and the emulator's
address allowlisted for SageMaker. When moto is installed the emulator also
runs its S3 stand-in: the buckets `media-staging` and `media-output` are
made there and the server's media jobs point at them (jobs stored in
`.vectorizer-jobs/`). Ctrl-C (or SIGTERM) drains the server and stops the
emulator.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

EMULATOR_PORT = int(os.environ.get("VECTORIZER_EMULATOR_PORT", "4566"))
ROOT = Path(__file__).resolve().parent.parent


def _media_env(s3_url: str) -> dict[str, str]:
    """Buckets for media jobs in the S3 stand-in, and the server settings naming them."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEMULATOR0000",
        aws_secret_access_key="emulator-secret-not-real",
    )
    for bucket in ("media-staging", "media-output"):
        s3.create_bucket(Bucket=bucket)
    return {
        "AWS_ENDPOINT_URL_S3": s3_url,
        "VECTORIZER_MEDIA_STAGING_URI": "s3://media-staging/uploads/",
        "VECTORIZER_MEDIA_OUTPUT_URI": "s3://media-output/jobs/",
        "VECTORIZER_MEDIA_BUCKET_OWNER": "123456789012",
        "VECTORIZER_JOBS_DIR": str(ROOT / ".vectorizer-jobs"),
    }


def main() -> int:
    s3_args = ["--s3-port", "0"] if importlib.util.find_spec("moto") else []
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vectorizer.emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(EMULATOR_PORT),
            *s3_args,
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches it through us, after the server drained
    )
    assert emulator.stdout is not None
    line = emulator.stdout.readline().strip()
    if "listening on" not in line:
        print(f"emulator failed to start: {line!r}", file=sys.stderr)
        emulator.kill()
        return 1
    words = line.split()
    s3_url = next((w[3:] for w in words if w.startswith("s3=")), "")
    url = next(w for w in words if w.startswith("http://"))
    host_port = url.split("://", 1)[1]
    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url,
            # Throwaway keys: the emulator checks the signature's form, not its HMAC.
            "AWS_ACCESS_KEY_ID": "AKIDEMULATOR0000",
            "AWS_SECRET_ACCESS_KEY": "emulator-secret-not-real",
            "AWS_REGION": "us-east-1",
            "VECTORIZER_ENDPOINT_ALLOWLIST": host_port,
        }
    )
    env.setdefault("VECTORIZER_COLLECTIONS", str(ROOT / "examples" / "collections.json"))
    if s3_url:
        for key, value in _media_env(s3_url).items():
            env.setdefault(key, value)
    grpc_address = env.get("VECTORIZER_GRPC_ADDRESS", "0.0.0.0:50051")
    http_address = env.get("VECTORIZER_HTTP_ADDRESS", "0.0.0.0:8080")
    print(f"emulator (local stand-in for AWS) on {url}", flush=True)
    # Its own session: a terminal's Ctrl-C must reach it once (forwarded below),
    # not twice, since a second signal means "exit now without draining".
    server = subprocess.Popen(
        [sys.executable, "-m", "vectorizer.server"], env=env, start_new_session=True
    )
    port = grpc_address.rsplit(":", 1)[1]
    print(
        f"vectorizer: gRPC on {grpc_address}, HTTP (health, metrics) on {http_address}\n"
        "try, in another terminal:\n"
        f"  .venv/bin/vectorizer embed --address localhost:{port} --region us-east-1 "
        '--model amazon.titan-embed-text-v2:0 "some text"\n'
        f"  curl -s localhost:{http_address.rsplit(':', 1)[1]}/metrics | grep vectorizer_items\n",
        flush=True,
    )

    def forward(signum: int, _frame: object) -> None:
        server.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = server.wait()
    emulator.terminate()
    emulator.wait(timeout=10)
    return code


if __name__ == "__main__":
    sys.exit(main())
