"""Sessions are isolated from each other and from the parent's secrets and files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lagent_nb.kernels import KernelSessions

pytestmark = pytest.mark.slow


def test_sessions_do_not_share_variables(kernels):
    assert kernels.execute("secret_value = 'alpha'", session_id="a").ok
    assert kernels.execute("secret_value = 'beta'", session_id="b").ok
    assert kernels.execute("secret_value", session_id="a").text == "'alpha'"
    assert kernels.execute("secret_value", session_id="b").text == "'beta'"
    other_owner = kernels.execute("secret_value", session_id="a", owner="someone-else")
    assert other_owner.error.name == "NameError"


def test_each_session_works_in_its_own_directory(kernels):
    cwd_a = kernels.execute("import os; os.getcwd()", session_id="a").text
    cwd_b = kernels.execute("import os; os.getcwd()", session_id="b").text
    assert cwd_a.strip("'") == str(kernels.work_dir("a"))
    assert cwd_b.strip("'") == str(kernels.work_dir("b"))
    assert cwd_a != cwd_b


def test_secrets_are_not_inherited(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-kernels")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "t0k3n")
    monkeypatch.setenv("PLAIN_SETTING", "keep-me")
    monkeypatch.setenv("CUSTOM_CREDENTIAL", "listed-by-user")
    with KernelSessions(spare=False, remove_env=["CUSTOM_CREDENTIAL"]) as manager:
        result = manager.execute(
            "import os, json; json.dumps({k: os.environ.get(k) for k in "
            "['OPENAI_API_KEY', 'MY_SERVICE_TOKEN', 'PLAIN_SETTING', 'CUSTOM_CREDENTIAL']})"
        )
    seen = json.loads(result.text.strip("'"))
    assert seen == {
        "OPENAI_API_KEY": None,
        "MY_SERVICE_TOKEN": None,
        "PLAIN_SETTING": "keep-me",
        "CUSTOM_CREDENTIAL": None,
    }


def test_connection_files_are_private_and_use_ipc(kernels):
    kernels.execute("1", session_id="perm")
    kernel = kernels.session_kernel("perm")
    runtime = Path(kernels.runtime_dir)
    # jupyter_client adds the sticky bit (so tmp cleaners keep the files): only check rwx
    assert runtime.stat().st_mode & 0o777 == 0o700
    connection = Path(kernel.connection_file)
    assert connection.parent == runtime
    assert stat.S_IMODE(connection.stat().st_mode) == 0o600
    info = json.loads(connection.read_text())
    assert info["transport"] == "ipc"
    assert info["ip"].startswith(str(runtime))


def test_input_fails_fast(kernels):
    result = kernels.execute("input('name? ')", session_id="stdin", timeout=20)
    assert result.error is not None
    assert not result.timed_out
    assert "StdinNotImplementedError" in result.error.name
    assert kernels.execute("2 + 2", session_id="stdin").text == "4"


def test_parent_pid_is_exported_to_the_kernel(kernels):
    result = kernels.execute("import os; os.environ['JPY_PARENT_PID']", session_id="a")
    assert result.text.strip("'") == str(os.getpid())
