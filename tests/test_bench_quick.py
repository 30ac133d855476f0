"""Every benchmark script runs in quick mode and prints its table.

Timings are never asserted here (the machine is shared and noisy); the numbers live in
bench/README.md. This only keeps the scripts from rotting.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.__main__ import TOPICS  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("topic", TOPICS)
def test_bench_topic_runs_in_quick_mode(topic: str, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), topic],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = out.read_text(encoding="utf-8")
    assert "FAILED" not in report
    # Each topic either prints a Markdown table or says clearly why it was skipped.
    assert "|" in report or "skipped" in report.lower(), report
