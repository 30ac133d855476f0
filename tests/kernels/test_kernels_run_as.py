"""Kernels of a root parent drop to an unprivileged user (``KernelLimits.run_as``).

Needs a root parent and the user ``nobody``; skipped otherwise.  When this Python lives where
``nobody`` cannot reach it, the kernels run a system Python of the same version on this
environment's packages (see :mod:`lagent_nb.kernels.testing`).
"""

from __future__ import annotations

import base64
import logging
import shutil
import signal
import tempfile
from pathlib import Path

import psutil
import pytest

from lagent_nb.actions.ipython_interpreter import IPythonInterpreter
from lagent_nb.kernels import KernelLimits, KernelSessions
from lagent_nb.kernels.identity import resolve_kernel_user
from lagent_nb.kernels.manager import kernel_interpreter
from lagent_nb.kernels.testing import KernelUserUnavailable, kernelspec_env_for, switchable_user

try:
    NOBODY = switchable_user("nobody")
except KernelUserUnavailable as exc:
    pytest.skip(str(exc), allow_module_level=True)


@pytest.fixture(scope="module")
def user_python(tmp_path_factory):
    """Point the ``python3`` kernelspec at a Python that ``nobody`` can run."""
    try:
        env = kernelspec_env_for(NOBODY, tmp_path_factory.mktemp("spec"))
    except KernelUserUnavailable as exc:
        pytest.skip(str(exc))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def nobody_kernels(user_python, find_kernel_processes):
    manager = KernelSessions(limits=KernelLimits(run_as="nobody"), spare=False)
    yield manager
    manager.close()
    assert find_kernel_processes(manager) == []


@pytest.fixture
def open_dir():
    """A directory of root that everybody may enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="lagent_nb-open-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def parent_secret(open_dir):
    """A 0600 file of root in a directory everybody may enter, like a dotfile with a key."""
    secret = open_dir / "api_key"
    secret.write_text("sk-root-only")
    secret.chmod(0o600)
    return secret


@pytest.fixture
def hidden_dir(open_dir):
    """A 0700 directory of root inside a directory everybody may enter."""
    hidden = open_dir / "private"
    hidden.mkdir(mode=0o700)
    hidden.chmod(0o700)
    return hidden


# -- resolving run_as: no kernel needed ------------------------------------------------------


def test_a_missing_user_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no such user.*run_as=None"):
        KernelSessions(limits=KernelLimits(run_as="lagent-nb-no-such-user"), spare=False)


def test_run_as_none_and_self_keep_this_user():
    assert resolve_kernel_user(None, dict) is None
    assert resolve_kernel_user("self", dict) is None
    with pytest.raises(TypeError, match="run_as"):
        resolve_kernel_user(True, dict)


def test_auto_drops_to_nobody_when_it_can_run_the_interpreter(user_python, hidden_dir, caplog):
    assert resolve_kernel_user("auto", lambda: {kernel_interpreter("python3"): 0o5}) == NOBODY
    python = hidden_dir / "python3"
    python.write_text("")
    python.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="lagent_nb.kernels.identity"):
        assert resolve_kernel_user("auto", lambda: {str(python): 0o5}) is None  # stays root
    assert f"cannot reach {hidden_dir}" in caplog.text
    with pytest.raises(ValueError, match=f"cannot reach {hidden_dir}"):
        resolve_kernel_user("nobody", lambda: {str(python): 0o5})  # explicit: never silent


# -- real kernels running as nobody ----------------------------------------------------------


@pytest.mark.slow
def test_kernel_runs_unprivileged_with_a_private_home(nobody_kernels):
    code = "import os, json; json.dumps([os.getuid(), os.getgid(), os.getgroups(), os.getcwd()])"
    seen = nobody_kernels.execute(code, session_id="who", timeout=60)
    assert seen.ok, seen.error
    uid, gid, groups, cwd = eval(seen.text.strip("'"))
    assert (uid, gid, groups) == (NOBODY.uid, NOBODY.gid, [])
    assert cwd == str(nobody_kernels.work_dir("who"))
    home = nobody_kernels.execute(
        "import pathlib; p = pathlib.Path.home() / 'note.txt'; p.write_text('ok'); str(p)",
        session_id="who",
    )
    assert home.ok, home.error
    assert Path(home.text.strip("'")).is_relative_to(nobody_kernels.runtime_dir)


@pytest.mark.slow
def test_kernel_cannot_read_the_parents_private_files(nobody_kernels, parent_secret):
    result = nobody_kernels.execute(f"open({str(parent_secret)!r}).read()", session_id="spy")
    assert result.error is not None and result.error.name == "PermissionError"
    assert "sk-root-only" not in repr(result)


@pytest.mark.slow
def test_connection_file_and_directories_belong_to_the_kernel_user(nobody_kernels):
    nobody_kernels.execute("open('out.txt', 'w').write('x')", session_id="files")
    connection = Path(nobody_kernels.session_kernel("files").connection_file)
    workdir = nobody_kernels.work_dir("files")
    private = [nobody_kernels.runtime_dir, nobody_kernels.work_root, workdir]
    for path, mode in [(connection, 0o600), *((p, 0o700) for p in private)]:
        info = path.stat()  # jupyter_client adds the sticky bit to the runtime dir: rwx only
        assert (info.st_uid, info.st_mode & 0o777) == (NOBODY.uid, mode), path
    assert (workdir / "out.txt").stat().st_uid == NOBODY.uid


@pytest.mark.slow
def test_sessions_cannot_list_each_others_directories(nobody_kernels):
    """Shared uid, so a session that *knows* another's path could read it (documented); what
    holds is that the directory holding the sessions cannot be listed to find them."""
    nobody_kernels.execute("open('mine.txt', 'w').write('b')", session_id="b")
    owner_dir = nobody_kernels.work_dir("b").parent
    assert (owner_dir.stat().st_uid, owner_dir.stat().st_mode & 0o777) == (0, 0o711)
    probe = (
        "import os\ntry:\n    seen = os.listdir('..')\nexcept PermissionError:\n"
        "    seen = 'denied'\nseen"
    )
    result = nobody_kernels.execute(probe, session_id="a")
    assert result.ok, result.error
    assert result.text == "'denied'"


@pytest.mark.slow
def test_figures_come_back_as_images(nobody_kernels):
    action = IPythonInterpreter(kernels=nobody_kernels)
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    ret = action({"command": code}, session_id="plot")
    images = [item for item in ret.result if item["type"] == "image"]
    assert ret.errmsg is None and len(images) == 1
    saved = Path(images[0]["content"])
    assert saved.read_bytes() == base64.b64decode(images[0]["data"])
    assert saved.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_close_leaves_no_process_of_the_kernel_user(user_python, find_kernel_processes):
    manager = KernelSessions(limits=KernelLimits(run_as="nobody"))
    started = manager.execute(
        "import subprocess; subprocess.Popen(['sleep', '600']).pid", timeout=60
    )
    assert started.ok, started.error
    pids = [*manager.kernel_pids(), int(started.text)]
    assert all(psutil.Process(p).uids().real == NOBODY.uid for p in pids)
    manager.close()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], 10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert find_kernel_processes(manager) == []
    assert not manager.runtime_dir.exists()


@pytest.mark.slow
def test_pip_runs_in_the_kernel(nobody_kernels):
    code = (
        "import subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'pip', 'list'], capture_output=True, "
        "text=True, timeout=120)\nprint(r.returncode, 'ipykernel' in r.stdout)"
    )
    result = nobody_kernels.execute(code, session_id="pip", timeout=150)
    assert result.ok, result.error
    assert result.logs.stdout.split() == ["0", "True"]


def test_a_work_root_the_user_cannot_reach_is_refused(user_python, hidden_dir):
    with pytest.raises(ValueError, match=rf"cannot reach {hidden_dir}, but .*run_as=None"):
        KernelSessions(
            limits=KernelLimits(run_as="nobody"), work_root=hidden_dir / "work", spare=False
        )


@pytest.mark.slow
def test_the_parent_death_signal_survives_the_user_switch(nobody_kernels):
    """Linux clears it when the uid changes, so it must be set after the switch; without it a
    killed parent would leave the kernel to ipykernel's slower parent poller."""
    code = (
        "import ctypes\nsig = ctypes.c_int()\n"
        "ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig))\nsig.value"
    )  # 2 = PR_GET_PDEATHSIG
    result = nobody_kernels.execute(code, session_id="orphan")
    assert result.ok, result.error
    assert result.text == str(int(signal.SIGKILL))


def test_the_environment_can_choose_the_user_for_auto(user_python, monkeypatch):
    needs = lambda: {kernel_interpreter("python3"): 0o5}  # noqa: E731
    monkeypatch.setenv("LAGENT_NB_KERNEL_USER", "self")
    assert resolve_kernel_user("auto", needs) is None
    monkeypatch.setenv("LAGENT_NB_KERNEL_USER", str(NOBODY.uid))
    assert resolve_kernel_user("auto", needs) == NOBODY
    assert resolve_kernel_user(None, needs) is None  # an explicit choice wins
    monkeypatch.setenv("LAGENT_NB_KERNEL_USER", "lagent-nb-no-such-user")
    with pytest.raises(ValueError, match="no such user"):
        resolve_kernel_user("auto", needs)
