"""`bulk_images`: listing a folder (order, ids, fingerprints), sniffing files,
and telling a text-only inline target from a multimodal one."""

from __future__ import annotations

import os
from pathlib import Path

from tests.images import make
from vectorizer.bulk import BulkOptions, _batches
from vectorizer.bulk_images import (
    BATCH_BYTES,
    MAX_FILE_BYTES,
    image_rows,
    journal_id,
    load,
)
from vectorizer.bulk_io import Row
from vectorizer.bulk_target import text_only_target


def test_rows_are_every_file_by_relative_path(tmp_path: Path) -> None:
    for rel in ("b.png", "a/z.jpg", "a/b/c.gif", "A.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rows = list(image_rows(tmp_path))
    assert [r.id for r in rows] == ["A.txt", "a/b/c.gif", "a/z.jpg", "b.png"]
    assert [r.index for r in rows] == [0, 1, 2, 3]
    assert all(r.text is None and not r.problem and r.path is not None for r in rows)


def test_fingerprint_follows_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(make("disc", 1, size=16))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    (before,) = image_rows(tmp_path)
    assert journal_id(before) == f"p.png#{path.stat().st_size}:1000000000"
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    (after,) = image_rows(tmp_path)
    assert journal_id(after) != journal_id(before) and after.id == before.id


def test_load_reads_images_and_names_non_images(tmp_path: Path) -> None:
    png = make("checker", 2, size=16)
    (tmp_path / "ok.png").write_bytes(png)
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "empty.jpg").write_bytes(b"")
    rows = {r.id: load(r) for r in image_rows(tmp_path)}
    assert rows["ok.png"].image == png and rows["ok.png"].sendable
    pdf = rows["doc.pdf"]
    assert not pdf.sendable and pdf.code == "IMAGE_INVALID"
    assert "doc.pdf: not an image: the file does not start like any of them" in pdf.problem
    assert "the file is empty" in rows["empty.jpg"].problem


def test_text_only_inline_targets() -> None:
    assert text_only_target({"model": "amazon.titan-embed-image-v1"}) == ""
    assert text_only_target({"model": "cohere.embed-v4:0"}) == ""
    assert "embeds text only" in text_only_target({"model": "amazon.titan-embed-text-v2:0"})
    assert "SageMaker" in text_only_target({"service": "sagemaker", "endpoint": "e"})


def test_a_file_larger_than_any_model_takes_is_not_read(tmp_path: Path) -> None:
    with (tmp_path / "huge.png").open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing to write or read
    (row,) = image_rows(tmp_path)
    loaded = load(row)
    assert loaded.image is None and loaded.code == "IMAGE_TOO_LARGE"
    assert f"huge.png: {MAX_FILE_BYTES + 1} bytes, over" in loaded.problem


def test_batches_of_images_stay_within_the_byte_budget() -> None:
    big = BATCH_BYTES // 3
    rows = [Row(i, f"f{i}", None, fingerprint="x", size=big) for i in range(7)]
    options = BulkOptions(input=Path("."), output=Path("o.npy"), batch_size=64)
    batches = list(_batches(iter(rows), done=set(), options=options))
    assert [len(b) for b in batches] == [3, 3, 1]
    texts = [Row(i, i, "t") for i in range(5)]
    small = BulkOptions(input=Path("."), output=Path("o.npy"), batch_size=2)
    assert [len(b) for b in _batches(iter(texts), set(), small)] == [2, 2, 1]
