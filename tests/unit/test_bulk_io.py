"""Bulk CLI files: reading every input format, ids, bad input, and writing
every output format (read back with numpy / pyarrow)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.bulk_io import (
    InputError,
    Row,
    input_format,
    output_format,
    read_rows,
    scan_ids,
    sidecar_paths,
    write_failed,
    write_output,
)


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def rows(path: Path, fmt: str, **kw: str) -> list[Row]:
    return list(read_rows(path, fmt, **kw))


# --- formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,fmt",
    [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.csv", "csv"), ("a.parquet", "parquet")]
    + [("a.txt", "lines"), ("notes", "lines"), ("a.md", "lines")],
)
def test_input_format_by_extension(name: str, fmt: str) -> None:
    assert input_format(Path(name)) == fmt


def test_formats_by_flag_and_bad_names() -> None:
    assert input_format(Path("x.jsonl"), "csv") == "csv"
    assert output_format(Path("vectors.bin"), "npy") == "npy"
    with pytest.raises(InputError, match="use a .jsonl, .npy or .parquet name"):
        output_format(Path("vectors.csv"))
    with pytest.raises(InputError, match="not one of"):
        input_format(Path("x"), "xml")


def test_sidecar_paths_sit_next_to_the_output() -> None:
    paths = sidecar_paths(Path("/data/out/vectors.npy"))
    assert paths.ids == Path("/data/out/vectors.ids.jsonl")
    assert paths.failed == Path("/data/out/vectors.failed.jsonl")
    assert paths.journal == Path("/data/out/vectors.npy.journal")


# --- reading -------------------------------------------------------------------


def test_jsonl_text_and_id_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "text": "alpha"},
            {"id": 7, "text": "seven"},
            {"text": "no id"},
            {"id": "b", "body": "no text"},
            {"id": "c", "text": 12},
            {"id": "d", "text": None},
        ],
    )
    got = rows(path, "jsonl")
    assert [(r.id, r.text) for r in got[:3]] == [("a", "alpha"), (7, "seven"), (3, "no id")]
    assert got[3].text is None and "line 4: no 'text' field (fields: body, id)" in got[3].problem
    assert "'text' is int, not text" in got[4].problem
    assert "'text' is null" in got[5].problem
    assert [r.index for r in got] == list(range(6))


def test_jsonl_named_fields_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"key": "k1", "body": "one"}\n\n{"key": "k2", "body": "two"}\n')
    got = rows(path, "jsonl", text_field="body", id_field="key")
    assert [(r.index, r.id, r.text) for r in got] == [(0, "k1", "one"), (1, "k2", "two")]


@pytest.mark.parametrize(
    "content,complaint",
    [
        ('{"text": "ok"}\n{not json}\n', "line 2: not JSON"),
        ('["a list"]\n', "line 1: expected a JSON object"),
        ('{"id": 1.5, "text": "x"}\n', "line 1: id must be a string or an integer, got 1.5"),
        ('{"id": true, "text": "x"}\n', "id must be a string or an integer, got true"),
    ],
)
def test_jsonl_damage_names_the_line(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=complaint.replace("[", r"\[")):
        rows(path, "jsonl")


def test_csv_column_flag_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "title", "body"])
        w.writerow(["x1", "T1", 'multi\nline, with "quotes"'])
        w.writerow(["", "T2", "no id"])
    got = rows(path, "csv", text_field="body")
    assert [(r.id, r.text) for r in got] == [("x1", 'multi\nline, with "quotes"'), (2, "no id")]
    with pytest.raises(InputError, match="no 'text' column \\(columns: id, title, body\\)"):
        rows(path, "csv")


def test_csv_extra_cells_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("text\nfine\nbad,extra\n")
    with pytest.raises(InputError, match="line 3: more cells"):
        rows(path, "csv")


def test_plain_lines_keep_every_line(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("first\r\n\nthird  \n")
    got = rows(path, "lines")
    assert [(r.id, r.text) for r in got] == [(1, "first"), (2, ""), (3, "third  ")]


def test_parquet_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    table = pa.table({"doc": ["a", None, "c"], "id": [10, 11, 12], "n": [1, 2, 3]})
    pq.write_table(table, path, row_group_size=2)
    got = rows(path, "parquet", text_field="doc")
    assert [(r.id, r.text) for r in got] == [(10, "a"), (11, None), (12, "c")]
    assert "row 2: 'doc' is null" in got[1].problem
    no_id = tmp_path / "no-id.parquet"
    pq.write_table(pa.table({"text": ["x", "y"]}), no_id)
    assert [r.id for r in rows(no_id, "parquet")] == [1, 2]
    with pytest.raises(InputError, match="no 'body' column"):
        rows(path, "parquet", text_field="body")


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    path.write_text("plain text")
    with pytest.raises(InputError, match="not a Parquet file"):
        rows(path, "parquet")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"ok\n\xff\xfe bad\n")
    with pytest.raises(InputError, match="not UTF-8"):
        rows(path, "lines")


def test_repeated_ids_are_refused() -> None:
    got = [Row(0, "a", "x"), Row(1, 1, "y"), Row(2, "1", "z")]
    assert scan_ids(got) == ["a", 1, "1"]  # 1 and "1" are different ids
    with pytest.raises(InputError, match='id "a" appears twice \\(items 1 and 3\\)'):
        scan_ids([Row(0, "a", "x"), Row(1, "b", "y"), Row(2, "a", "z")])


# --- writing -------------------------------------------------------------------

VECTORS = [np.array([0.5, -1.0, 0.25], dtype=np.float32), np.array([1, 2, 3], dtype=np.float32)]


def test_write_jsonl_keeps_id_types(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    write_output(out, "jsonl", ["a", 2], iter(VECTORS), 3)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        {"id": "a", "vector": [0.5, -1.0, 0.25]},
        {"id": 2, "vector": [1.0, 2.0, 3.0]},
    ]


def test_write_npy_with_ids_sidecar(tmp_path: Path) -> None:
    out = tmp_path / "out.npy"
    write_output(out, "npy", ["a", 2], iter(VECTORS), 3)
    array = np.load(out)
    assert array.dtype == np.float32 and array.shape == (2, 3)
    np.testing.assert_array_equal(array, np.stack(VECTORS))
    ids = [json.loads(x) for x in (tmp_path / "out.ids.jsonl").read_text().splitlines()]
    assert ids == ["a", 2]


def test_write_npy_empty(tmp_path: Path) -> None:
    out = tmp_path / "out.npy"
    write_output(out, "npy", [], iter([]), 3)
    assert np.load(out).shape == (0, 3)


@pytest.mark.parametrize("ids,id_type", [(["a", 2], pa.string()), ([1, 2], pa.int64())])
def test_write_parquet(tmp_path: Path, ids: list, id_type: pa.DataType) -> None:
    out = tmp_path / "out.parquet"
    write_output(out, "parquet", ids, iter(VECTORS), 3)
    table = pq.read_table(out)
    assert table.schema.field("id").type == id_type
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 3)
    assert table.column("id").to_pylist() == [str(i) if id_type == pa.string() else i for i in ids]
    np.testing.assert_array_equal(np.array(table.column("vector").to_pylist()), np.stack(VECTORS))


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=20_000))
def test_parquet_chunks_keep_every_row_in_order(count: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"
        vectors = (np.full(2, i, dtype=np.float32) for i in range(count))
        write_output(out, "parquet", list(range(count)), vectors, 2)
        table = pq.read_table(out)
        assert table.num_rows == count
        if count:
            assert table.column("id").to_pylist()[-1] == count - 1
            assert table.column("vector").to_pylist()[-1] == [count - 1.0] * 2


def test_failed_file_is_removed_when_nothing_failed(tmp_path: Path) -> None:
    path = tmp_path / "out.failed.jsonl"
    assert write_failed(path, [{"id": 1, "code": "X", "message": "m", "retryable": False}]) == 1
    assert json.loads(path.read_text())["code"] == "X"
    assert write_failed(path, []) == 0 and not path.exists()
