"""bench.scale's report: a row without a measurement says pending, never a number."""

from __future__ import annotations

from bench.scale import Options, Row, render


def test_pending_rows_carry_no_figures() -> None:
    pending = Row("replicas", "3 replicas, shared budget on, cold", 6000, note="needs it")
    assert pending.cells()[3:7] == ["pending", "", "", ""]
    done = Row("replicas", "off", 6000, wall=21.0, bound=20.0, upstream=6100, throttled=61,
               lost=0)  # fmt: skip
    assert done.cells()[3:7] == ["21.00 s", "1.05x", "6,100 / 61 (1.0%)", "0"]
    text = render(Options(texts=6000, worker_texts=0, quota_start="empty"), [pending, done])
    assert "| replicas | 3 replicas, shared budget on, cold | 6,000 | pending |" in text
    assert "not given: those rows are pending" in text
