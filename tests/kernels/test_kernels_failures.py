"""Timeouts, crashes and resource limits are reported as results; the next call works."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lagent_nb.kernels import ExecutionPolicy, KernelLimits, KernelSessions

pytestmark = pytest.mark.slow


def test_busy_loop_times_out_and_the_session_survives(kernels):
    kernels.execute("kept = 7", session_id="busy")
    started = time.monotonic()
    result = kernels.execute("while True: pass", session_id="busy", timeout=2)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.error.name == "TimeoutError"
    assert "2 s" in result.error.value
    assert elapsed < 10
    assert not result.kernel_restarted  # the interrupt worked, so the variables survive
    assert kernels.execute("kept * 6", session_id="busy").text == "42"


@pytest.mark.parametrize(
    "crash", ["import os; os._exit(1)", "import ctypes; ctypes.string_at(0)"], ids=["exit", "segv"]
)
def test_crash_is_reported_and_the_next_call_gets_a_fresh_kernel(kernels, crash):
    kernels.execute("before_crash = 1", session_id="crash")
    old_pid = kernels.session_kernel("crash").pid
    result = kernels.execute(crash, session_id="crash", timeout=30)
    assert result.error.name == "KernelDied"
    assert result.kernel_restarted
    after = kernels.execute("'before_crash' in globals()", session_id="crash")
    assert after.ok and after.text == "False"
    assert kernels.session_kernel("crash").pid != old_pid


def test_kill_between_calls_is_reported_then_recovered(kernels):
    kernels.execute("x = 1", session_id="killed")
    os.kill(kernels.session_kernel("killed").pid, signal.SIGKILL)
    time.sleep(0.2)
    reported = kernels.execute("x", session_id="killed")
    assert reported.error.name == "KernelDied"
    assert "SIGKILL" in reported.error.value
    assert kernels.execute("1 + 1", session_id="killed").text == "2"


def test_allocation_past_the_memory_limit_fails_inside_the_kernel():
    limits = KernelLimits(address_space=1 << 30)
    with KernelSessions(limits=limits, spare=False) as manager:
        result = manager.execute("block = bytearray(4 << 30)", timeout=30)
        assert result.error.name == "MemoryError"
        assert manager.execute("sum(range(10))").text == "45"  # same kernel, still alive


def test_large_output_is_bounded(kernels):
    code = "for _ in range(50):\n    print('y' * 100_000)\nprint('THE END')"
    result = kernels.execute(code, session_id="big", timeout=60)
    assert result.ok
    assert len(result.logs.stdout) < kernels.policy.max_output_chars + 200
    assert result.logs.stdout.startswith("yyyy")
    assert result.logs.stdout.rstrip().endswith("THE END")
    assert "characters omitted" in result.logs.stdout


def test_kernel_ignoring_the_interrupt_is_restarted():
    policy = ExecutionPolicy(interrupt_grace=1.0)
    with KernelSessions(spare=False, policy=policy) as manager:
        manager.execute("state = 1")
        code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)"
        started = time.monotonic()
        result = manager.execute(code, timeout=1)
        assert time.monotonic() - started < 15
        assert result.timed_out and result.kernel_restarted
        assert "restarted" in result.error.value
        fresh = manager.execute("'state' in globals()")
        assert fresh.ok and fresh.text == "False"
