"""A folder of images for `vectorizer embed --input DIR --output FILE`.

- `image_rows(root)`: every regular file under `root`, recursively, ordered
  by relative path (POSIX form, which is also the item id). Each `Row`
  carries the file's path and a fingerprint (size and modification time),
  so a file changed since a run journaled it is embedded again.
- `load(row)` / `load_all(rows)`: the row with the file's bytes, or with `problem` set when
  the file cannot be read or its first bytes are no image format the
  sidecar takes (`media.sniff_format`), or it is larger than any model takes
  (`MAX_FILE_BYTES`); nothing is skipped silently. The server checks the
  rest (truncated data, the model's own limits) per item.
- `BATCH_BYTES`: the most image bytes `bulk` puts in one request.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from vectorizer.backends.families.image_limits import BODY_LIMIT, BODY_OVERHEAD, IMAGE_TOO_LARGE
from vectorizer.bulk_io import InputError, Row
from vectorizer.media import IMAGE_INVALID, MIME_TYPES, sniff_format

NOT_AN_IMAGE = IMAGE_INVALID
# No model takes a bigger file: base64 of it overflows Bedrock's request body.
MAX_FILE_BYTES = (BODY_LIMIT - BODY_OVERHEAD) * 3 // 4
# Image bytes per request: under the server's default --max-request-bytes
# (32 MiB) and gRPC message limit (64 MiB), whatever --batch-size says.
BATCH_BYTES = 16 * 1024 * 1024
_SNIFF_BYTES = 16


def journal_id(row: Row) -> str | int:
    """What the journal records a row under: its id, plus the file's
    fingerprint for images (a changed file is a new item)."""
    return f"{row.id}#{row.fingerprint}" if row.fingerprint else row.id


def image_rows(root: Path) -> Iterator[Row]:
    files: list[tuple[str, Path]] = []
    try:
        for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
            dirnames.sort()
            for name in filenames:
                path = Path(dirpath, name)
                if path.is_file():  # not sockets, fifos or dangling links
                    files.append((path.relative_to(root).as_posix(), path))
    except OSError as exc:
        raise InputError(f"{root}: cannot list: {exc.strerror or exc}") from None
    files.sort()
    for index, (rel, path) in enumerate(files):
        try:
            st = path.stat()
        except OSError as exc:
            yield Row(index, rel, None, f"{rel}: cannot read: {exc.strerror or exc}")
            continue
        fingerprint = f"{st.st_size}:{st.st_mtime_ns}"
        yield Row(index, rel, None, path=path, fingerprint=fingerprint, size=st.st_size)


def _raise(exc: OSError) -> None:
    raise exc


def load_all(rows: list[Row]) -> list[Row]:
    return [load(r) for r in rows]


def load(row: Row) -> Row:
    """`row` with its file's bytes, or with why it has none."""
    if row.path is None:
        return row
    if row.size > MAX_FILE_BYTES:
        return dataclasses.replace(
            row,
            code=IMAGE_TOO_LARGE,
            problem=f"{row.id}: {row.size} bytes, over the {MAX_FILE_BYTES} bytes any model "
            "takes (Bedrock's 25 MB request body, base64 encoded); scale it down",
        )
    try:
        data = row.path.read_bytes()
    except OSError as exc:
        return dataclasses.replace(row, problem=f"{row.id}: cannot read: {exc.strerror or exc}")
    if sniff_format(data[:_SNIFF_BYTES]) is None:
        kinds = ", ".join(f.upper() for f in MIME_TYPES)
        what = "is empty" if not data else "does not start like any of them"
        return dataclasses.replace(
            row,
            code=NOT_AN_IMAGE,
            problem=f"{row.id}: not an image: the file {what} ({kinds} are taken); "
            "remove it from the folder or convert it",
        )
    return dataclasses.replace(row, image=data)
