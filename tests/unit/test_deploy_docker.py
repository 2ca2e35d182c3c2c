"""Dockerfile, .dockerignore and docker-compose.yml: the compose file is
valid for `docker-compose config` (no engine needed) and wires what it
promises; the image is non-root, exposes both ports, health-checks itself
and gets every file it copies past .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vectorizer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None,
    reason="docker-compose not installed (Debian package docker-compose; scripts/test-deps.sh "
    "installs it)",
)


def compose(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    return subprocess.run(
        [COMPOSE, "-f", str(cwd / "docker-compose.yml"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_compose
def test_compose_file_is_valid() -> None:
    out = compose("config", "-q")
    assert out.returncode == 0, out.stderr


@needs_compose
def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validation can fail: a service with an unknown key is refused."""
    text = (ROOT / "docker-compose.yml").read_text()
    (tmp_path / "docker-compose.yml").write_text(
        text.replace("  vectorizer:\n", "  vectorizer:\n    no_such_key: 1\n", 1)
    )
    out = compose("config", "-q", cwd=tmp_path)
    assert out.returncode != 0


@needs_compose
def test_compose_wires_the_stack() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads the resolved compose file")
    out = compose("config")
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    services = cfg["services"]
    assert {"vectorizer", "emulator", "prometheus", "grafana", "weaviate"} <= set(services)

    side = services["vectorizer"]["environment"]
    assert side["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://emulator:4566"
    assert side["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://emulator:4566"
    assert side["VECTORIZER_ENDPOINT_ALLOWLIST"] == "emulator:4566"
    assert side["AWS_ACCESS_KEY_ID"] and side["AWS_SECRET_ACCESS_KEY"]
    emulator = services["emulator"]
    assert emulator["entrypoint"][-1] == "vectorizer.emulator"
    assert emulator["command"] == ["--host", "0.0.0.0", "--port", "4566"]

    weaviate = services["weaviate"]
    image = re.fullmatch(
        r"(?:cr\.weaviate\.io/)?semitechnologies/weaviate:1\.(\d+)\.\d+", weaviate["image"]
    )
    assert image and int(image.group(1)) >= 39, weaviate["image"]  # a current version
    env = weaviate["environment"]
    modules = set(env["ENABLE_MODULES"].split(","))
    assert {"text2vec-transformers", "text2vec-openai", "text2vec-cohere"} <= modules
    assert "text2vec-ollama" in modules
    assert env["TRANSFORMERS_INFERENCE_API"] == "http://vectorizer:8080"
    assert env["OPENAI_APIKEY"] and env["COHERE_APIKEY"]  # the modules refuse to call without
    # Weaviate's module timeout outlasts the sidecar's default deadline.
    assert float(env["MODULES_CLIENT_TIMEOUT"].removesuffix("s")) > Settings().default_deadline

    # Every bind mount exists in the repository.
    for name in ("prometheus", "grafana"):
        for vol in services[name]["volumes"]:
            # Long syntax (compose v2) or "source:target[:mode]" (docker-compose 1.x).
            source = vol["source"] if isinstance(vol, dict) else vol.split(":")[0]
            assert Path(source).is_absolute() and Path(source).exists(), source
    prom_targets = (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    assert '"vectorizer:8080"' in prom_targets


def test_compose_collection_file_exists_in_the_image() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    path = re.search(r"VECTORIZER_COLLECTIONS: (\S+)", text)
    assert path is not None and path.group(1) == "/app/examples/collections.json"
    names = json.loads((ROOT / "examples" / "collections.json").read_text())
    default = re.search(r"VECTORIZER_DEFAULT_COLLECTION: (\S+)", text)
    assert default is not None and default.group(1) in names


# -- Dockerfile -------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runtime_stage() -> None:
    steps = instructions()
    froms = [i for i, (w, _) in enumerate(steps) if w == "FROM"]
    assert all(steps[i][1].startswith("python:3.11-slim") for i in froms)
    final = steps[froms[-1] :]
    users = [a for w, a in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    exposed = {p for w, a in final if w == "EXPOSE" for p in a.split()}
    assert {"50051", "8080"} <= exposed
    assert ("ENTRYPOINT", '["vectorizer-server"]') in final
    health = [a for w, a in final if w == "HEALTHCHECK"]
    assert health and "/healthz" in health[0] and "curl" not in health[0]


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copied = [
        src
        for w, a in instructions()
        if w == "COPY" and "--from" not in a
        for src in a.split()[:-1]
    ]
    assert "vectorizer" in copied and "pyproject.toml" in copied
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not any(fnmatch.fnmatch(src, p) for p in patterns), src
    # The generated stubs are in the package the image installs.
    assert (ROOT / "vectorizer" / "v1" / "vectorizer_pb2.py").exists()
    for heavy in (".venv", ".git", "tests"):
        assert heavy in patterns
