"""Pieces of bench/RESULTS.md shared by the report modules.

- `Verdict`: one target: the figure, pass / miss / not measured, and why.
- `table(header, rows)`: Markdown table lines. `mark(passed)`: the result cell.
- `ratio_verdict`: a verdict for "value <= bound" (or ">="), the margin in the note.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Verdict:
    target: str
    measured: str
    passed: bool | None  # None: could not be measured in this run
    note: str = ""


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def mark(passed: bool | None) -> str:
    return {True: "pass", False: "**miss**", None: "n/a"}[passed]


def ratio_verdict(
    target: str, value: float, bound: float, higher_is_better: bool, measured: str, why: str
) -> Verdict:
    passed = value >= bound if higher_is_better else value <= bound
    margin = value / bound if bound else float("nan")
    if passed:
        note = f"passes ({margin:.2f}x the bound)"
    else:
        short = (bound / value if higher_is_better else margin) if value else float("inf")
        note = f"misses by {short:.2f}x. {why}"
    return Verdict(target, measured, passed, note)
