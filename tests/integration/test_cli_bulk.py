"""`vectorizer embed --input FILE --output FILE` end to end: the real CLI
process, the real server, the real emulator.

Each format in and out, failed items with their reasons, exit codes, the
checks made before any work, and resuming after an interruption (Ctrl-C,
and a hard kill) without sending what is done again, proven by the
emulator's own record of the texts it received.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support import ROOT, Emulator, Sidecar, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector

pytestmark = pytest.mark.timeout(120)

CLI = [sys.executable, "-m", "vectorizer.cli", "embed"]


def run_cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def bedrock_texts(emulator: Emulator) -> list[str]:
    return [r["body"]["inputText"] for r in emulator.requests() if r["service"] == "bedrock"]


def assert_close(got: Any, want: list[float]) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, atol=1e-6)


# --- formats ---------------------------------------------------------------------


def test_jsonl_to_jsonl_with_failed_items(
    sidecar: Sidecar, emulator: Emulator, tmp_path: Path
) -> None:
    records = [{"id": f"a{i}", "text": f"bulk jsonl text {i}"} for i in range(40)]
    records[5] = {"id": "a5", "body": "the text is under another name"}
    records[9] = {"id": "a9", "text": "   "}
    src = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    args = ["--input", str(src), "--output", str(out), "--address", sidecar.grpc_address]
    args += ["--collection", "Articles", "--batch-size", "8", "--concurrency", "3"]
    done = run_cli(*args)
    assert done.returncode == 1, done.stderr
    assert "38 embedded, 2 failed" in done.stderr and "out.failed.jsonl" in done.stderr
    assert "text/s" in done.stderr and "failed=2" in done.stderr  # the progress bar
    lines = read_jsonl(out)
    expected = [r for r in records if r["id"] not in ("a5", "a9")]
    assert [line["id"] for line in lines] == [r["id"] for r in expected]  # input order
    for line, record in zip(lines, expected, strict=True):
        assert_close(line["vector"], deterministic_vector(record["text"], 512))
    failed = {f["id"]: f for f in read_jsonl(tmp_path / "out.failed.jsonl")}
    assert set(failed) == {"a5", "a9"}
    assert (
        failed["a5"]["code"] == "BAD_INPUT" and "line 6: no 'text' field" in failed["a5"]["message"]
    )
    assert failed["a9"]["code"] == "BLANK_TEXT" and failed["a9"]["retryable"] is False
    assert (tmp_path / "out.jsonl.journal").exists()  # kept: a rerun sends only the failures

    # Fix the two items and run again: only they are embedded, nothing else is sent.
    records[5] = {"id": "a5", "text": "fixed text five"}
    records[9] = {"id": "a9", "text": "fixed text nine"}
    write_jsonl(src, records)
    emulator.clear()
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "resuming: 38 of 40 items already embedded" in again.stderr
    assert sorted(bedrock_texts(emulator)) == ["fixed text five", "fixed text nine"]
    lines = read_jsonl(out)
    assert [line["id"] for line in lines] == [r["id"] for r in records]
    assert_close(lines[5]["vector"], deterministic_vector("fixed text five", 512))
    assert not (tmp_path / "out.failed.jsonl").exists()
    assert not (tmp_path / "out.jsonl.journal").exists()


def test_csv_column_to_npy_with_ids(sidecar: Sidecar, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    texts = [f"csv row {i}, with a comma and\na newline" for i in range(25)]
    with src.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", "body"])
        writer.writerows([[f"k{i}", t] for i, t in enumerate(texts)])
    out = tmp_path / "vectors.npy"
    done = run_cli(
        *("--input", str(src), "--output", str(out), "--address", sidecar.grpc_address),
        *("--model", "amazon.titan-embed-text-v2:0", "--dimensions", "256"),
        *("--column", "body", "--id-field", "key", "--no-progress"),
    )
    assert done.returncode == 0, done.stderr
    assert "25 embedded into" in done.stderr and "text/s" not in done.stderr
    array = np.load(out)
    assert array.shape == (25, 256) and array.dtype == np.float32
    ids = read_jsonl(tmp_path / "vectors.ids.jsonl")
    assert ids == [f"k{i}" for i in range(25)]
    for row, text in zip(array, texts, strict=True):
        assert_close(row, deterministic_vector(text, 256))


def test_plain_lines_to_parquet_on_sagemaker(sidecar: Sidecar, tmp_path: Path) -> None:
    texts = [f"plain line number {i}" for i in range(30)]
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "vectors.parquet"
    done = run_cli(
        *("--input", str(src), "--output", str(out), "--address", sidecar.grpc_address),
        *("--collection", "Products", "--batch-size", "7"),
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == list(range(1, 31))
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 384)
    for vector, text in zip(table.column("vector").to_pylist(), texts, strict=True):
        assert_close(vector, deterministic_vector(text, 384))


def test_parquet_to_jsonl_as_queries(sidecar: Sidecar, emulator: Emulator, tmp_path: Path) -> None:
    texts = [f"parquet query {i}" for i in range(12)]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"doc_id": list(range(100, 112)), "q": texts}), src)
    out = tmp_path / "out.jsonl"
    done = run_cli(
        *("--input", str(src), "--output", str(out), "--address", sidecar.grpc_address),
        *("--collection", "Reviews", "--purpose", "query"),
        *("--text-field", "q", "--id-field", "doc_id"),
    )
    assert done.returncode == 0, done.stderr
    lines = read_jsonl(out)
    assert [line["id"] for line in lines] == list(range(100, 112))
    for line, text in zip(lines, texts, strict=True):
        assert_close(line["vector"], purposed_vector(text, 1024, "search_query"))
    sent = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert sent and all(b["input_type"] == "search_query" for b in sent)


# --- refused before any work ----------------------------------------------------------


@pytest.fixture()
def small_input(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"t{i}"} for i in range(3)])


def test_unknown_collection_stops_before_any_call(
    sidecar: Sidecar, emulator: Emulator, small_input: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    done = run_cli(
        *("--input", str(small_input), "--output", str(out)),
        *("--address", sidecar.grpc_address, "--collection", "Nope"),
    )
    assert done.returncode == 2
    assert "no collection 'Nope' (known: Articles, Products, Reviews)" in done.stderr
    assert emulator.requests() == [] and not out.exists()
    assert not (tmp_path / "out.jsonl.journal").exists()


def test_bad_config_file_stops_before_any_call(
    sidecar: Sidecar, emulator: Emulator, small_input: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"text2vec-aws": {"region": "us-east-1", "model": "acme.x"}}))
    done = run_cli(
        *("--input", str(small_input), "--output", str(tmp_path / "o.jsonl")),
        *("--address", sidecar.grpc_address, "--config", str(config)),
    )
    assert done.returncode == 2 and "bad config: wrong model" in done.stderr
    assert emulator.requests() == []


def test_unreachable_server(small_input: Path, tmp_path: Path) -> None:
    done = run_cli(
        *("--input", str(small_input), "--output", str(tmp_path / "o.jsonl")),
        *("--address", "127.0.0.1:1", "--collection", "Articles"),
    )
    assert done.returncode == 2 and "cannot reach the vectorizer server" in done.stderr


def test_repeated_ids_and_existing_output(sidecar: Sidecar, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}])
    out = tmp_path / "o.jsonl"
    base = ["--address", sidecar.grpc_address, "--collection", "Articles"]
    done = run_cli("--input", str(src), "--output", str(out), *base)
    assert done.returncode == 2 and 'id "x" appears twice (items 1 and 2)' in done.stderr
    out.write_text("precious\n")
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "text": "a"}])
    done = run_cli("--input", str(src), "--output", str(out), *base)
    assert done.returncode == 2 and "exists; pass --overwrite" in done.stderr
    assert out.read_text() == "precious\n"
    done = run_cli("--input", str(src), "--output", str(out), "--overwrite", *base)
    assert done.returncode == 0 and read_jsonl(out)[0]["id"] == "x"


def test_a_journal_of_another_job_is_not_mixed_in(sidecar: Sidecar, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"id": 2, "text": " "}])
    out = tmp_path / "o.jsonl"
    base = ["--input", str(src), "--output", str(out), "--address", sidecar.grpc_address]
    assert run_cli(*base, "--collection", "Articles").returncode == 1  # journal kept
    done = run_cli(*base, "--collection", "Reviews")
    assert done.returncode == 2 and "another job (different collection)" in done.stderr
    done = run_cli(*base, "--collection", "Reviews", "--restart")
    assert done.returncode == 1 and "1 embedded, 1 failed" in done.stderr


def test_single_text_form_still_works(sidecar: Sidecar) -> None:
    done = run_cli("--address", sidecar.grpc_address, "--collection", "Articles", "one text")
    assert done.returncode == 0, done.stderr
    assert "dimensions: 512" in done.stdout and "'one text': dim=512" in done.stdout


# --- interrupted and resumed ---------------------------------------------------------


@pytest.fixture()
def uncached_sidecar(emulator: Emulator) -> Iterator[Sidecar]:
    """A server without a vector cache: anything sent twice reaches the emulator twice."""
    side = start_sidecar(
        emulator, "--collections", "examples/collections.json", "--cache-max-bytes", "0"
    )
    yield side
    side.terminate()


def journal_records(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def interrupt_midway(proc: subprocess.Popen[str], journal: Path, sig: int, at: int) -> None:
    deadline = time.monotonic() + 60
    while journal_records(journal) < at:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    proc.send_signal(sig)


TOTAL = 400
BATCH, CONCURRENCY = 10, 3


@pytest.fixture()
def slow_job(emulator: Emulator, uncached_sidecar: Sidecar, tmp_path: Path) -> list[str]:
    emulator.faults(latency_ms=60)  # about 3 s for the whole job
    src = write_jsonl(
        tmp_path / "in.jsonl", [{"id": i, "text": f"resumable text {i}"} for i in range(TOTAL)]
    )
    return [
        *("--input", str(src), "--output", str(tmp_path / "out.npy")),
        *("--address", uncached_sidecar.grpc_address, "--collection", "Articles"),
        *("--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY)),
    ]


def check_complete(tmp_path: Path) -> None:
    array = np.load(tmp_path / "out.npy")
    ids = read_jsonl(tmp_path / "out.ids.jsonl")
    assert ids == list(range(TOTAL)) and array.shape == (TOTAL, 512)
    for i in (0, TOTAL // 2, TOTAL - 1):
        assert_close(array[i], deterministic_vector(f"resumable text {i}", 512))
    assert not (tmp_path / "out.npy.journal").exists()


def test_ctrl_c_then_resume_sends_no_text_twice(
    emulator: Emulator, slow_job: list[str], tmp_path: Path
) -> None:
    journal = tmp_path / "out.npy.journal"
    proc = start_cli(*slow_job)
    interrupt_midway(proc, journal, signal.SIGINT, at=TOTAL // 4)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    assert not (tmp_path / "out.npy").exists()
    done_before = journal_records(journal)
    assert TOTAL // 4 <= done_before < TOTAL

    resumed = run_cli(*slow_job)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done_before} of {TOTAL} items already embedded" in resumed.stderr
    check_complete(tmp_path)
    # The emulator saw every text exactly once over both runs.
    counts = Counter(bedrock_texts(emulator))
    assert set(counts) == {f"resumable text {i}" for i in range(TOTAL)}
    assert max(counts.values()) == 1


def test_hard_kill_then_resume_loses_at_most_the_batches_in_flight(
    emulator: Emulator, slow_job: list[str], tmp_path: Path
) -> None:
    proc = start_cli(*slow_job)
    interrupt_midway(proc, tmp_path / "out.npy.journal", signal.SIGKILL, at=TOTAL // 3)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    resumed = run_cli(*slow_job)
    assert resumed.returncode == 0, resumed.stderr
    check_complete(tmp_path)
    counts = Counter(bedrock_texts(emulator))
    assert set(counts) == {f"resumable text {i}" for i in range(TOTAL)}
    # Only texts in flight when the process died can have been sent twice.
    assert sum(1 for c in counts.values() if c > 1) <= BATCH * CONCURRENCY
    assert max(counts.values()) <= 2


def test_server_restart_mid_job_stops_then_resumes_elsewhere(
    emulator: Emulator, slow_job: list[str], uncached_sidecar: Sidecar, tmp_path: Path
) -> None:
    proc = start_cli(*slow_job)
    journal = tmp_path / "out.npy.journal"
    deadline = time.monotonic() + 60
    while journal_records(journal) < TOTAL // 4:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    assert uncached_sidecar.terminate() == 0  # drains in-flight calls, then goes away
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert "is unavailable" in stderr and "run the same command again to resume" in stderr
    assert not (tmp_path / "out.failed.jsonl").exists()  # nothing blamed on the items

    # A new server, on another port: the same job resumes there.
    side = start_sidecar(
        emulator, "--collections", "examples/collections.json", "--cache-max-bytes", "0"
    )
    try:
        args = list(slow_job)
        args[args.index("--address") + 1] = side.grpc_address
        resumed = run_cli(*args)
    finally:
        side.terminate()
    assert resumed.returncode == 0, resumed.stderr
    check_complete(tmp_path)


def test_token_file_for_a_server_that_wants_one(emulator: Emulator, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("bulk-cli-token-0001\n")
    side = start_sidecar(
        emulator, "--collections", "examples/collections.json", "--auth-token-file", str(token)
    )
    try:
        src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "with a token"}])
        base = ["--input", str(src), "--address", side.grpc_address, "--collection", "Articles"]
        refused = run_cli(*base, "--output", str(tmp_path / "a.jsonl"))
        assert refused.returncode == 2 and "UNAUTHENTICATED" in refused.stderr
        done = run_cli(*base, "--output", str(tmp_path / "b.jsonl"), "--token-file", str(token))
        assert done.returncode == 0, done.stderr
        assert read_jsonl(tmp_path / "b.jsonl")[0]["id"] == 1
    finally:
        side.terminate()
    assert "bulk-cli-token-0001" not in refused.stderr + done.stderr
