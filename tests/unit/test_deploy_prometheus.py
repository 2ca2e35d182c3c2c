"""deploy/prometheus/: the scrape config and the rules pass promtool's own
checks, and the rules' unit tests (rules_test.yml: alerts fire on the
conditions they name, and only then) pass `promtool test rules`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package prometheus; scripts/test-deps.sh installs it)",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=30)


def test_scrape_config_is_valid() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 rule files found" in out.stdout


def test_rules_are_valid() -> None:
    out = promtool("check", "rules", "rules.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_rules_unit_tests_pass() -> None:
    out = promtool("test", "rules", "rules_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The check is not vacuous: promtool rejects bad PromQL."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - record: a:b:c\n"
        "        expr: sum by (method (rate(vectorizer_grpc_requests_total[5m]))\n"
    )
    out = promtool("check", "rules", str(bad))
    assert out.returncode != 0
