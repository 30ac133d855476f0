"""Code tools run in sibling kernels that are private to one session and one user, that leave
nothing running once closed, and whose crashes never take the user's process down.

Everything here goes through the action API (``IPythonInterpreter`` and friends, the way an
agent uses them); the kernel-manager level is covered in ``tests/kernels``.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from lagent_nb.actions import (
    ActionExecutor,
    AsyncIPythonInterpreter,
    IPythonInteractive,
    IPythonInterpreter,
)
from lagent_nb.kernels import KernelSessions
from lagent_nb.schema import ActionStatusCode, AgentMessage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _gone(pids, timeout: float = 15) -> list:
    """Processes among ``pids`` still alive (zombies count as gone) after ``timeout`` s."""
    procs = [psutil.Process(p) for p in pids if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_kernels_behind_the_actions_are_private_and_local():
    with KernelSessions(spare=False) as kernels:
        IPythonInterpreter(kernels=kernels)({"command": "1"}, session_id="a")
        IPythonInteractive(kernels=kernels)({"command": "1"}, session_id="b")
        runtime = Path(kernels.runtime_dir)
        connection_files = sorted(runtime.glob("*.json"))
        assert len(connection_files) == 2
        assert _mode(runtime) & 0o777 == 0o700
        assert _mode(kernels.work_root) & 0o077 == 0, "work dirs are not open to other users"
        for path in connection_files:
            assert _mode(path) == 0o600, path
            info = json.loads(path.read_text())
            if info["transport"] == "tcp":
                assert info["ip"] == "127.0.0.1", info
            else:
                assert info["transport"] == "ipc" and info["ip"].startswith(str(runtime))
        # nothing a kernel listens on is reachable from the network
        for pid in kernels.kernel_pids():
            for conn in psutil.Process(pid).net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    assert conn.laddr.ip in ("127.0.0.1", "::1"), conn


def test_one_session_cannot_see_another_sessions_files_or_variables():
    with KernelSessions(spare=False) as kernels:
        action = IPythonInterpreter(kernels=kernels)
        wrote = action(
            {"command": "open('notes.txt', 'w').write('from A')\nprivate_value = 'A'"},
            session_id="A",
        )
        assert wrote.state == ActionStatusCode.SUCCESS
        assert action({"command": "open('notes.txt').read()"}, session_id="A").format_result() == (
            "'from A'"
        )
        probe = (
            "import os\n"
            "(os.path.exists('notes.txt'), 'notes.txt' in os.listdir('.'), "
            "'private_value' in globals())"
        )
        assert action({"command": probe}, session_id="B").format_result() == (
            "(False, False, False)"
        )
        # another interpreter with the same session id is another session too
        other = IPythonInterpreter(kernels=kernels)
        assert other({"command": probe}, session_id="A").format_result() == "(False, False, False)"
        assert action.work_dir("A") != action.work_dir("B") != other.work_dir("A")


def test_the_executor_routes_each_agent_session_to_its_own_kernel():
    with KernelSessions(spare=False) as kernels:
        executor = ActionExecutor([IPythonInteractive(kernels=kernels)])

        def run(code: str, session_id: int) -> str:
            call = {"name": "IPythonInteractive", "parameters": {"command": code}}
            reply = executor(AgentMessage(sender="llm", content=call), session_id)
            return reply.content.format_result()

        run("mine = 'one'", 1)
        run("mine = 'two'", 2)
        assert [run("mine", 1), run("mine", 2)] == ["'one'", "'two'"]
        assert "NameError" in run("mine", 3)


async def test_closed_kernels_and_what_they_started_leave_the_process_table(kernel_processes):
    kernels = KernelSessions(spare=False)
    action = AsyncIPythonInterpreter(kernels=kernels)
    spawn = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "os.getpid()"
    )
    pid_of = {}
    try:
        for sid in ("x", "y"):
            ret = await action({"command": spawn}, session_id=sid)
            assert ret.state == ActionStatusCode.SUCCESS, ret.errmsg
            pid_of[sid] = int(ret.format_result())
        family = {sid: _family(pid) for sid, pid in pid_of.items()}
        assert all(len(pids) == 2 for pids in family.values()), "kernel + its child"
        await action.close_session("x")
        assert _gone(family["x"]) == []
        assert all(psutil.pid_exists(p) for p in family["y"]), "the other session lives on"
        assert pid_of["x"] not in kernels.kernel_pids()
    finally:
        await kernels.aclose()
    assert _gone(family["y"]) == []
    assert kernel_processes(str(kernels.runtime_dir)) == []


def _family(pid: int) -> list:
    proc = psutil.Process(pid)
    return [pid, *(child.pid for child in proc.children(recursive=True))]


# The user's process (a notebook kernel in real life) runs every fault below through an
# interpreter, then must still be alive, with every session usable again. It runs in a child
# process so that a fault escaping its kernel (killpg, say) could not take pytest with it.
USER_PROCESS = textwrap.dedent(
    """
    import json, sys
    from lagent_nb.actions import IPythonInteractive
    from lagent_nb.kernels import KernelSessions

    faults = json.loads(sys.argv[1])
    with KernelSessions(spare=False) as kernels:
        print(json.dumps({"runtime_dir": str(kernels.runtime_dir)}), flush=True)
        action = IPythonInteractive(timeout=2, kernels=kernels)
        for name, code in faults.items():
            ret = action({"command": code}, session_id=name)
            after = action({"command": "6 * 7"}, session_id=name).format_result()
            report = {"fault": name, "state": int(ret.state), "errmsg": ret.errmsg, "after": after}
            print(json.dumps(report), flush=True)
    print(json.dumps({"alive": True}), flush=True)
    """
)
FAULTS = {
    "os._exit": "import os; os._exit(3)",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "abort": "import os; os.abort()",
    "SIGKILL itself": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "kill its process group": "import os, signal; os.killpg(0, signal.SIGTERM)",
    "SystemExit": "raise SystemExit(2)",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "ignore SIGINT and spin": (
        "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    ),
    "memory bomb": "x = bytearray(64 * 2**30)",
}


def test_the_users_process_survives_every_interpreter_fault(child_env, kernel_processes):
    child = subprocess.run(
        [sys.executable, "-c", USER_PROCESS, json.dumps(FAULTS)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    runtime_dir, *reports, last = lines
    assert last == {"alive": True}
    assert [r["fault"] for r in reports] == list(FAULTS)
    for report in reports:
        assert report["state"] == int(ActionStatusCode.API_ERROR), report
        assert report["errmsg"], report
        assert report["after"] == "42", report
    assert kernel_processes(runtime_dir["runtime_dir"]) == []
