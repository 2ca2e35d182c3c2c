"""Files in and out of `vectorizer embed --input FILE --output FILE`.

- `Row`: one input item: its position, its id, its text or image (or why
  it has none).
- `input_format(path, given)` / `output_format(path, given)`: the format by
  flag, else by file extension.
- `read_rows(path, fmt, text_field, id_field)`: the items of a JSONL, CSV,
  plain-lines or Parquet file, in order. A row without a usable text is a
  `Row` with `problem` set (it becomes a failed item); a file that cannot be
  read as its format raises `InputError` naming the line.
- `sidecar_paths(output)`: where the ids (NPY), failed items and journal go,
  next to the output.
- `write_output(path, fmt, ids, vectors)`: JSONL, NPY (+ ids sidecar) or
  Parquet, written to a temporary name and moved into place.
- `write_failed(path, failures)`: one JSON object per failed item.

Ids are a row's `id` field (JSONL, Parquet), its id column (CSV), else its
1-based row number; they must be unique strings or integers, and keep their
type in JSONL outputs.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

INPUT_FORMATS = ("jsonl", "csv", "lines", "parquet")
OUTPUT_FORMATS = ("jsonl", "npy", "parquet")
_BY_EXTENSION = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".txt": "lines",
    ".parquet": "parquet",
    ".npy": "npy",
}
# Output rows per Parquet row group (and per in-memory chunk while writing).
_PARQUET_CHUNK = 8192

Id = str | int


class InputError(Exception):
    """The input file cannot be read as its format (message names where)."""


@dataclass(frozen=True)
class Row:
    index: int  # 0-based position in the file's items
    id: Id
    text: str | None
    problem: str = ""  # why there is no text to embed
    code: str = ""  # the item code of `problem` ("" : BAD_INPUT)
    # Image folders (`bulk_images`): the file, its size:mtime, then its bytes.
    path: Path | None = None
    fingerprint: str = ""
    size: int = 0  # the file's bytes
    image: bytes | None = field(default=None, repr=False)

    @property
    def sendable(self) -> bool:
        return not self.problem and (self.text is not None or self.image is not None)


@dataclass(frozen=True)
class SidecarPaths:
    ids: Path  # NPY output: row i's id on line i (JSON)
    failed: Path
    journal: Path


def sidecar_paths(output: Path) -> SidecarPaths:
    stem = output.with_suffix("") if output.suffix else output
    return SidecarPaths(
        ids=Path(f"{stem}.ids.jsonl"),
        failed=Path(f"{stem}.failed.jsonl"),
        journal=Path(f"{output}.journal"),
    )


def _by_extension(path: Path, allowed: Sequence[str], what: str, given: str) -> str:
    if given:
        if given not in allowed:
            raise InputError(f"{what} format {given!r} is not one of: {', '.join(allowed)}")
        return given
    fmt = _BY_EXTENSION.get(path.suffix.lower(), "")
    if fmt not in allowed:
        if what == "input":
            return "lines"  # any other text file: one text per line
        raise InputError(
            f"cannot tell the output format of {path.name}: use a .jsonl, .npy or .parquet "
            "name, or --output-format"
        )
    return fmt


def input_format(path: Path, given: str = "") -> str:
    return _by_extension(path, INPUT_FORMATS, "input", given)


def output_format(path: Path, given: str = "") -> str:
    return _by_extension(path, OUTPUT_FORMATS, "output", given)


# --- reading -------------------------------------------------------------------


def _check_id(value: Any, where: str) -> Id:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: id must be a string or an integer, got {json.dumps(value)}")
    return value


def _row(index: int, record: Any, text_field: str, id_field: str, where: str) -> Row:
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    raw_id = record.get(id_field)
    row_id = index + 1 if raw_id is None else _check_id(raw_id, where)
    if text_field not in record:
        fields = ", ".join(sorted(map(str, record))[:10])
        return Row(index, row_id, None, f"{where}: no {text_field!r} field (fields: {fields})")
    text = record[text_field]
    if not isinstance(text, str):
        kind = "null" if text is None else type(text).__name__
        return Row(index, row_id, None, f"{where}: {text_field!r} is {kind}, not text")
    return Row(index, row_id, text)


def _jsonl_rows(path: Path, text_field: str, id_field: str) -> Iterator[Row]:
    index = 0
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue  # blank lines separate nothing in JSONL
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path.name} line {number}: not JSON ({exc})") from None
            yield _row(index, record, text_field, id_field, f"{path.name} line {number}")
            index += 1


def _csv_rows(path: Path, text_field: str, id_field: str) -> Iterator[Row]:
    csv.field_size_limit(sys.maxsize)  # a text may be long
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if text_field not in header:
            raise InputError(
                f"{path.name}: no {text_field!r} column (columns: {', '.join(header)}); "
                "name the text column with --text-field"
            )
        try:
            for index, record in enumerate(reader):
                where = f"{path.name} line {reader.line_num}"
                if None in record:  # more cells than the header has names
                    raise InputError(f"{where}: more cells than the header's {len(header)}")
                raw_id = record.get(id_field) if id_field in header else None
                row_id: Id = index + 1 if raw_id in (None, "") else str(raw_id)
                text = record.get(text_field)
                if text is None:
                    yield Row(index, row_id, None, f"{where}: no {text_field!r} cell")
                else:
                    yield Row(index, row_id, text)
        except csv.Error as exc:
            raise InputError(f"{path.name} line {reader.line_num}: {exc}") from None


def _line_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        for index, line in enumerate(fh):
            yield Row(index, index + 1, line.rstrip("\r\n"))


def _parquet_rows(path: Path, text_field: str, id_field: str) -> Iterator[Row]:
    pq = _pyarrow_parquet()
    try:
        pfile = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise InputError(f"{path.name}: not a Parquet file ({exc})") from None
    names = pfile.schema_arrow.names
    if text_field not in names:
        raise InputError(
            f"{path.name}: no {text_field!r} column (columns: {', '.join(names)}); "
            "name the text column with --text-field"
        )
    columns = [text_field] + ([id_field] if id_field in names and id_field != text_field else [])
    index = 0
    for batch in pfile.iter_batches(columns=columns):
        texts = batch.column(text_field).to_pylist()
        ids = batch.column(id_field).to_pylist() if len(columns) > 1 else [None] * len(texts)
        for text, raw_id in zip(texts, ids, strict=True):
            where = f"{path.name} row {index + 1}"
            row_id = index + 1 if raw_id is None else _check_id(raw_id, where)
            if isinstance(text, str):
                yield Row(index, row_id, text)
            else:
                kind = "null" if text is None else type(text).__name__
                yield Row(index, row_id, None, f"{where}: {text_field!r} is {kind}, not text")
            index += 1


def read_rows(
    path: Path, fmt: str, text_field: str = "text", id_field: str = "id"
) -> Iterator[Row]:
    """The items of `path`, in order (see the module docstring)."""
    try:
        if fmt == "jsonl":
            yield from _jsonl_rows(path, text_field, id_field)
        elif fmt == "csv":
            yield from _csv_rows(path, text_field, id_field)
        elif fmt == "parquet":
            yield from _parquet_rows(path, text_field, id_field)
        else:
            yield from _line_rows(path)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def scan_ids(rows: Iterable[Row]) -> list[Id]:
    """Every row's id, in order; InputError on the first repeated id."""
    ids: list[Id] = []
    seen: dict[Id, int] = {}
    for row in rows:
        if row.id in seen:
            raise InputError(
                f"id {json.dumps(row.id)} appears twice (items {seen[row.id] + 1} and "
                f"{row.index + 1}): ids must be unique to resume; fix the input or name "
                "another --id-field"
            )
        seen[row.id] = row.index
        ids.append(row.id)
    return ids


# --- writing -------------------------------------------------------------------


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def write_output(
    path: Path, fmt: str, ids: Sequence[Id], vectors: Iterable[np.ndarray], dim: int
) -> None:
    """Write `vectors` (float32 rows of `dim`, in the order of `ids`) as `fmt`."""
    import numpy as np  # here: `vectorizer embed TEXT` and `validate` start faster without it

    tmp = _temporary(path)
    if fmt == "npy":
        if ids:
            shape = (len(ids), dim)
            array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
            for i, vector in enumerate(vectors):
                array[i] = vector
            array.flush()
            del array
        else:  # memmap cannot map an empty file
            with tmp.open("wb") as fh:
                np.save(fh, np.zeros((0, dim), dtype=np.float32))
        _write_lines(sidecar_paths(path).ids, (json.dumps(i) for i in ids))
    elif fmt == "parquet":
        _write_parquet(tmp, ids, vectors, dim)
    else:
        with tmp.open("w", encoding="utf-8") as fh:
            for row_id, vector in zip(ids, vectors, strict=True):
                fh.write(json.dumps({"id": row_id, "vector": vector.tolist()}) + "\n")
    os.replace(tmp, path)


def _write_parquet(tmp: Path, ids: Sequence[Id], vectors: Iterable[np.ndarray], dim: int) -> None:
    import numpy as np

    pq = _pyarrow_parquet()
    import pyarrow as pa

    id_type = pa.int64() if all(isinstance(i, int) for i in ids) else pa.string()
    schema = pa.schema([("id", id_type), ("vector", pa.list_(pa.float32(), dim))])
    it = iter(vectors)
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, len(ids), _PARQUET_CHUNK):
            chunk_ids = list(ids[start : start + _PARQUET_CHUNK])
            block = np.stack([next(it) for _ in chunk_ids]).astype(np.float32, copy=False)
            column = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), dim)
            ids_array = pa.array(
                [i if id_type == pa.int64() else str(i) for i in chunk_ids], type=id_type
            )
            writer.write_table(pa.Table.from_arrays([ids_array, column], schema=schema))
        if not ids:
            writer.write_table(schema.empty_table())


def write_failed(path: Path, failures: Iterable[dict[str, Any]]) -> int:
    """One JSON object per failed item; the file is removed when there are none."""
    count = _write_lines(path, (json.dumps(f, ensure_ascii=False) for f in failures))
    if count == 0:
        path.unlink(missing_ok=True)
    return count


def _write_lines(path: Path, lines: Iterable[str]) -> int:
    tmp = _temporary(path)
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet files need pyarrow: pip install 'vectorizer[parquet]'") from None
    return pq
