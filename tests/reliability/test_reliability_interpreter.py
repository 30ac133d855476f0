"""Hostile code against the sibling-kernel interpreters: every case ends in a clear result,
the next call works, and no process is left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

from lagent_nb.actions.ipython_interpreter import AsyncIPythonInterpreter, IPythonInteractive
from lagent_nb.kernels import KernelLimits, KernelSessions
from lagent_nb.kernels import limits as limits_module
from lagent_nb.kernels.limits import descendants
from lagent_nb.kernels.testing import KernelUserUnavailable, kernelspec_env_for, switchable_user
from lagent_nb.schema import ActionStatusCode

pytestmark = pytest.mark.slow

# Children reset SIGINT so the interrupt at the deadline ends them; they never return into the
# kernel's code (which would talk on its sockets), they only keep forking until refused.
FORK_BOMB = """\
import os, signal, time
forked = 0
try:
    while True:
        if os.fork() == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
        forked += 1
except OSError as exc:
    print(f"fork refused after {forked}: {type(exc).__name__}", flush=True)
time.sleep(1000)
"""


@pytest.fixture(scope="module")
def manager():
    with KernelSessions(spare=False) as kernels:
        yield kernels


def test_endless_sleep_times_out_and_the_session_continues(manager):
    action = IPythonInteractive(timeout=2, kernels=manager)
    action({"command": "kept = 'yes'"})
    started = time.monotonic()
    ret = action({"command": "import time; time.sleep(10**9)"})
    assert time.monotonic() - started < 10
    assert ret.state == ActionStatusCode.API_ERROR and "TimeoutError" in ret.errmsg
    assert action({"command": "kept"}).format_result() == "'yes'"


@pytest.fixture(params=["default", "nobody-rlimit"])
def fork_bomb_limits(request, monkeypatch, tmp_path):
    """The limits as configured by default, and (root only) kernels dropped to ``nobody``
    with the pids cgroup out of reach, so RLIMIT_NPROC of that user is what stops the bomb."""
    if request.param == "default":
        return KernelLimits(max_processes=64)
    try:
        user = switchable_user("nobody")
        env = kernelspec_env_for(user, tmp_path)
    except KernelUserUnavailable as exc:
        pytest.skip(str(exc))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(limits_module, "_make_pids_cgroup", lambda max_processes: None)
    return KernelLimits(max_processes=64, run_as="nobody")


def test_fork_bomb_is_bounded_by_the_process_cap(fork_bomb_limits):
    with KernelSessions(limits=fork_bomb_limits, spare=False) as kernels:
        kernels.execute("1")
        kernel = kernels.session_kernel()
        if kernel.cap.mode is None:
            pytest.skip("running as root without a writable pids cgroup: no process cap")
        if fork_bomb_limits.run_as == "nobody":
            assert kernel.cap.mode == "rlimit"
            assert psutil.Process(kernel.pid).uids().real != 0
        result = kernels.execute(FORK_BOMB, timeout=5)
        assert result.timed_out
        assert "fork refused after" in result.logs.stdout
        assert descendants(kernel.pid, kernel.cap) == []
        assert kernels.execute("sum([1, 2, 3])").text == "6"


def test_hundred_megabytes_of_stdout_stay_bounded(manager):
    before = psutil.Process().memory_info().rss
    code = "import sys\nfor _ in range(100):\n    sys.stdout.write('z' * 1_000_000)\nprint('END')"
    result = manager.execute(code, session_id="flood", timeout=180)
    assert result.ok
    stdout = result.logs.stdout
    assert len(stdout) <= manager.policy.max_output_chars + 100
    assert stdout.rstrip().endswith("END") and "characters omitted" in stdout
    assert psutil.Process().memory_info().rss - before < 1 << 30
    assert manager.execute("'still here'", session_id="flood").text == "'still here'"


async def test_kernel_killed_between_calls(manager):
    action = AsyncIPythonInterpreter(kernels=manager)
    await action({"command": "value = 1"}, session_id="victim")
    kernel = manager.session_kernel("victim", action._owner)
    os.kill(kernel.pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    ret = await action({"command": "value"}, session_id="victim")
    assert ret.state == ActionStatusCode.API_ERROR and "KernelDied" in ret.errmsg
    again = await action({"command": "'fresh'"}, session_id="victim")
    assert again.format_result() == "'fresh'"


def test_input_is_refused_quickly(manager):
    started = time.monotonic()
    ret = IPythonInteractive(timeout=30, kernels=manager)({"command": "input('password: ')"})
    assert time.monotonic() - started < 15
    assert ret.state == ActionStatusCode.API_ERROR and "StdinNotImplementedError" in ret.errmsg


async def test_thirty_two_concurrent_sessions_keep_their_own_state():
    kernels = KernelSessions(spare=False)
    action = AsyncIPythonInterpreter(kernels=kernels)

    async def session(i: int) -> str:
        await action({"command": f"acc = [{i}]"}, session_id=i)
        await action(
            {"command": f"import time; time.sleep(0.01 * {i % 4}); acc.append({i} * 2)"},
            session_id=i,
        )
        return (await action({"command": "acc"}, session_id=i)).format_result()

    try:
        results = await asyncio.wait_for(asyncio.gather(*(session(i) for i in range(32))), 240)
        pids = kernels.kernel_pids()
        assert results == [f"[{i}, {i * 2}]" for i in range(32)]
        assert len(set(pids)) == 32
    finally:
        await kernels.aclose()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], 10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
