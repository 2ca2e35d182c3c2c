"""`vectorizer embed --input DIR --output FILE`: a folder of images, end to
end through the real CLI process, server and emulator.

Good images get the emulator's image vectors (which depend on the bytes),
a non-image file and a truncated image are failed items with reasons, a
text-only target is refused before any call, and an interrupted run resumes
without sending a done image again (the emulator's record of what it got).
"""

from __future__ import annotations

import base64
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.images import make
from tests.integration.test_cli_bulk import (
    assert_close,
    interrupt_midway,
    journal_records,
    read_jsonl,
    run_cli,
    start_cli,
)
from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer.emulator.image_vectors import image_vector

pytestmark = pytest.mark.timeout(120)

TITAN_IMAGE = ["--model", "amazon.titan-embed-image-v1", "--dimensions", "256"]


def sent_images(emulator: Emulator) -> list[bytes]:
    return [
        base64.b64decode(r["body"]["inputImage"])
        for r in emulator.requests()
        if r["service"] == "bedrock" and "inputImage" in r["body"]
    ]


@pytest.fixture()
def folder(tmp_path: Path) -> dict[str, bytes]:
    """A few small PNG/JPEG images, a nested one, a text file and a truncated PNG."""
    root = tmp_path / "pics"
    (root / "sub").mkdir(parents=True)
    files = {
        "b-disc.png": make("disc", 1, size=32),
        "a-checker.jpg": make("checker", 2, size=32, fmt="jpeg"),
        "sub/c-stripes.png": make("h-stripes", 3, size=32),
        "notes.txt": b"not an image at all\n",
        "truncated.png": make("gradient", 4, size=32)[:60],
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return files


def test_folder_of_images_with_bad_files(
    sidecar: Sidecar, emulator: Emulator, folder: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    args = ["--input", str(tmp_path / "pics"), "--output", str(out)]
    args += ["--address", sidecar.grpc_address, *TITAN_IMAGE, "--batch-size", "2"]
    done = run_cli(*args)
    assert done.returncode == 1, done.stderr
    assert "3 embedded, 2 failed" in done.stderr and "image/s" in done.stderr
    lines = read_jsonl(out)
    good = ["a-checker.jpg", "b-disc.png", "sub/c-stripes.png"]  # by relative path
    assert [line["id"] for line in lines] == good
    for line in lines:
        assert_close(line["vector"], image_vector(folder[line["id"]], 256))
    failed = {f["id"]: f for f in read_jsonl(tmp_path / "out.failed.jsonl")}
    assert set(failed) == {"notes.txt", "truncated.png"}
    assert failed["notes.txt"]["code"] == "IMAGE_INVALID"
    assert "notes.txt: not an image" in failed["notes.txt"]["message"]
    assert failed["truncated.png"]["code"] == "IMAGE_INVALID"
    assert "truncated" in failed["truncated.png"]["message"]
    assert not any(f["retryable"] for f in failed.values())
    # Only the good images reached AWS; the bad ones were stopped before.
    assert sorted(sent_images(emulator)) == sorted(folder[g] for g in good)

    # Fix the truncated file, drop the text file: only the changed file is sent.
    (tmp_path / "pics" / "truncated.png").write_bytes(make("gradient", 4, size=32))
    os.remove(tmp_path / "pics" / "notes.txt")
    emulator.clear()
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "resuming: 3 of 4 items already embedded" in again.stderr
    assert sent_images(emulator) == [make("gradient", 4, size=32)]
    assert [line["id"] for line in read_jsonl(out)] == [*good, "truncated.png"]
    assert not (tmp_path / "out.failed.jsonl").exists()


def test_text_only_targets_are_refused_up_front(
    sidecar: Sidecar, emulator: Emulator, folder: dict[str, bytes], tmp_path: Path
) -> None:
    base = ["--input", str(tmp_path / "pics"), "--address", sidecar.grpc_address]
    by_model = run_cli(
        *base, "--output", str(tmp_path / "a.npy"), "--model", "amazon.titan-embed-text-v2:0"
    )
    assert by_model.returncode == 2
    assert "embeds text only" in by_model.stderr and "multimodal model" in by_model.stderr
    # A named collection: the server refuses the images before any AWS call.
    by_name = run_cli(*base, "--output", str(tmp_path / "b.npy"), "--collection", "Articles")
    assert by_name.returncode == 2, by_name.stderr
    assert "the model refuses images: titan-text-v2 embeds text only" in by_name.stderr
    assert "titan-multimodal-g1" in by_name.stderr
    assert emulator.requests() == []
    assert not (tmp_path / "b.npy.journal").exists()  # nothing done, nothing kept
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "b.npy").exists()


TOTAL = 40


@pytest.fixture()
def uncached_sidecar(emulator: Emulator) -> Iterator[Sidecar]:
    side = start_sidecar(emulator, "--cache-max-bytes", "0")
    yield side
    side.terminate()


def test_ctrl_c_then_resume_sends_no_image_twice(
    emulator: Emulator, uncached_sidecar: Sidecar, tmp_path: Path
) -> None:
    root = tmp_path / "many"
    root.mkdir()
    images = {f"img-{i:03d}.png": make("disc", 100 + i, size=16) for i in range(TOTAL)}
    for name, data in images.items():
        (root / name).write_bytes(data)
    emulator.faults(latency_ms=60)
    out = tmp_path / "out.npy"
    args = [
        *("--input", str(root), "--output", str(out), *TITAN_IMAGE),
        *("--address", uncached_sidecar.grpc_address, "--batch-size", "2", "--concurrency", "2"),
    ]
    proc = start_cli(*args)
    journal = tmp_path / "out.npy.journal"
    interrupt_midway(proc, journal, signal.SIGINT, at=TOTAL // 4)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    done_before = journal_records(journal)
    assert TOTAL // 4 <= done_before < TOTAL

    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done_before} of {TOTAL} items already embedded" in resumed.stderr
    array = np.load(out)
    ids = read_jsonl(tmp_path / "out.ids.jsonl")
    assert ids == sorted(images) and array.shape == (TOTAL, 256)
    for row, name in zip(array, ids, strict=True):
        assert_close(row, image_vector(images[name], 256))
    counts = Counter(sent_images(emulator))
    assert set(counts) == set(images.values()) and max(counts.values()) == 1
