"""The bulk job journal: records survive a reopen, a torn last line is cut
off, damage and a different job are refused, the last record of an id wins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorizer.bulk_journal import Journal, JournalError, id_key, load_state

JOB = {"collection": "Articles", "purpose": "document", "text_field": "text", "id_field": "id"}


def test_records_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl.journal"
    journal, state = Journal.open(path, JOB)
    assert state.done() == set() and state.dim is None
    journal.add_vector("a", [0.5, -1.5, 2.0])
    journal.add_vector(7, [1.0, 2.0, 3.0])
    journal.add_failure("b", "THROTTLED", "slow down", True)
    journal.close()

    journal, state = Journal.open(path, JOB)
    assert state.done() == {id_key("a"), id_key(7)} and state.dim == 3
    assert state.failures[id_key("b")] == {
        "id": "b",
        "code": "THROTTLED",
        "message": "slow down",
        "retryable": True,
    }
    with path.open("rb") as fh:
        np.testing.assert_array_equal(state.vector(id_key("a"), fh), [0.5, -1.5, 2.0])
    # A retry that succeeds replaces the failure; appending continues the file.
    journal.add_vector("b", [0.0, 0.0, 1.0])
    journal.close()
    state = load_state(path)
    assert state.done() == {id_key("a"), id_key(7), id_key("b")} and not state.failures


def test_float32_values_come_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "j"
    values = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    journal, _ = Journal.open(path, JOB)
    journal.add_vector("x", values.tolist())
    journal.close()
    state = load_state(path)
    with path.open("rb") as fh:
        np.testing.assert_array_equal(state.vector(id_key("x"), fh), values)


def test_a_torn_last_line_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal, _ = Journal.open(path, JOB)
    journal.add_vector("a", [1.0])
    journal.add_vector("b", [2.0])
    journal.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # killed while writing "b"
    journal, state = Journal.open(path, JOB)
    assert state.done() == {id_key("a")}
    journal.add_vector("c", [3.0])
    journal.close()
    assert load_state(path).done() == {id_key("a"), id_key("c")}


def test_damage_in_the_middle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal, _ = Journal.open(path, JOB)
    journal.add_vector("a", [1.0])
    journal.close()
    path.write_bytes(path.read_bytes() + b"garbage\n" + b'{"id":"b","v":"AACAPw=="}\n')
    with pytest.raises(JournalError, match="damaged at line 3; delete it"):
        Journal.open(path, JOB)


def test_another_job_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal.open(path, JOB)[0].close()
    with pytest.raises(JournalError, match="another job \\(different collection, purpose\\)"):
        Journal.open(path, {**JOB, "collection": "Reviews", "purpose": "query"})


def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(JournalError, match="not a vectorizer journal"):
        Journal.open(path, JOB)


def test_mixed_dimensions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal, _ = Journal.open(path, JOB)
    journal.add_vector("a", [1.0, 2.0])
    journal.add_vector("b", [1.0, 2.0, 3.0])
    journal.close()
    with pytest.raises(JournalError, match="vectors of 2 and 3 dimensions"):
        load_state(path)


def test_ids_1_and_one_are_different_keys() -> None:
    assert id_key(1) != id_key("1")
