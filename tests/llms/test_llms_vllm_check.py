"""bench/vllm_check.py skips cleanly (exit 0, a clear reason) where vLLM cannot run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "vllm_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("vllm_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skip_reasons(monkeypatch):
    check = _load()
    monkeypatch.setattr(check.shutil, "which", lambda name: None)
    monkeypatch.setattr(check, "Path", lambda p: type("P", (), {"exists": lambda self: False})())
    assert "no NVIDIA GPU" in check.skip_reason()
    monkeypatch.setattr(check.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(check.importlib.util, "find_spec", lambda name: None)
    assert "vLLM is not installed" in check.skip_reason()
    assert "skipped: vLLM is not installed" in check.run(quick=True)


def test_script_exits_zero_with_a_skip_message_without_gpu():
    if _load().skip_reason() is None:
        pytest.skip("this machine has a GPU and vLLM: the real check runs in the bench suite")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "skipped:" in proc.stdout


def test_measure_reports_both_paths_when_the_engine_runs():
    """The non-skipped path both GPU checks share, with stand-in engines."""
    check = _load()

    def batch(model, count, max_new):
        assert (count, max_new) == (8, 64)  # quick sizes
        return 2.0, 100, "a reply"

    async def streams(model, count, max_new):
        return 4.0, 0.5, 40

    text = check.measure("## T", None, "m", True, (batch, "Batch", "tokens"), (streams, "Streams"))
    assert "| Batch | 2.00 | 100 tokens | 50 tokens/s |" in text
    assert "| Streams x8 concurrent | 4.00 | 40 chunks, first after 0.50 s | 10 chunks/s |" in text
    assert "sample reply: 'a reply'" in text
    assert check.measure("## T", "no GPU", "m", True, (batch, "", ""), (streams, "")).endswith(
        "skipped: no GPU.\n"
    )
