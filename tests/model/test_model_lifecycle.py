"""The model server process never outlives its owner: close(), interpreter exit, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import psutil
import pytest

from lagent_nb.llms.local import EmbeddedLLM, ServerStartError

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.model, pytest.mark.slow]

# A parent process that starts a server (from its main thread or from a worker thread that then
# ends), prints the server's pid and address, and then waits or exits.
PARENT = textwrap.dedent(
    """
    import sys, threading
    from lagent_nb.llms.local import EmbeddedLLM
    spawn_from, then = sys.argv[1], sys.argv[2]
    server = EmbeddedLLM(progress=False, startup_timeout=120)
    if spawn_from == "thread":
        worker = threading.Thread(target=server.start)
        worker.start()
        worker.join()
    else:
        server.start()
    print(server.pid, server.address, flush=True)
    if then == "wait":
        threading.Event().wait(300)
    """
)


def _start_parent(spawn_from: str, then: str) -> tuple[subprocess.Popen, int, str]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, spawn_from, then],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,  # runs this checkout of lagent_nb, installed or not
    )
    line = parent.stdout.readline().split()
    assert line, f"parent exited with {parent.wait(timeout=30)} before starting the server"
    return parent, int(line[0]), line[1]


def _gone_within(pid: int, timeout: float) -> bool:
    try:
        process = psutil.Process(pid)
        process.wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return process.status() == psutil.STATUS_ZOMBIE
    return True


@pytest.mark.parametrize("spawn_from", ["main", "thread"])
def test_sigkill_of_the_parent_takes_the_server_down(needs_local_model, spawn_from):
    parent, server_pid, address = _start_parent(spawn_from, "wait")
    try:
        # Started from a thread that has ended, the server must still be serving.
        assert httpx.get(f"{address}/health", timeout=5).status_code == 200
        assert psutil.Process(server_pid).ppid() == parent.pid
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert _gone_within(server_pid, timeout=15), "model server outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        if psutil.pid_exists(server_pid):
            psutil.Process(server_pid).kill()


def test_interpreter_exit_stops_the_server(needs_local_model):
    parent, server_pid, _ = _start_parent("main", "exit")
    assert parent.wait(timeout=30) == 0
    # atexit already waited for it: the server is gone the moment the parent has exited.
    assert _gone_within(server_pid, timeout=1)


def test_close_stops_and_start_restarts(needs_local_model):
    server = EmbeddedLLM(progress=False)
    try:
        first = server.start().pid
        assert server.start().pid == first  # already running: the same process
        server.close()
        assert not server.running and _gone_within(first, timeout=1)
        assert server.start().pid != first
        assert httpx.get(f"{server.address}/health", timeout=5).status_code == 200
    finally:
        server.close()
    server.close()  # idempotent


def test_a_file_that_is_not_a_model_fails_with_its_log(needs_local_model, tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF but not really" * 100)
    server = EmbeddedLLM(bogus, progress=False, startup_timeout=60)
    with pytest.raises(ServerStartError, match=r"(?s)bogus.*exited with code.*log ends with"):
        server.start()
    assert not server.running


def test_startup_timeout_is_bounded_and_cleans_up(needs_local_model):
    server = EmbeddedLLM(progress=False, startup_timeout=0.05)
    with pytest.raises(ServerStartError, match=r"did not load within 0\.05 s"):
        server.start()
    assert server.pid is None
