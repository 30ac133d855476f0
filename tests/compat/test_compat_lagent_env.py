"""lagent's private venv: reuse, adoption, half-built detection, locking, failures, fresh build."""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import urllib.request

import pytest

from lagent_nb.testing import lagent_env
from lagent_nb.testing.lagent_env import (
    LAGENT_VERSION,
    MARKER_NAME,
    LagentUnavailable,
    default_venv_dir,
    ensure_lagent_python,
    venv_python,
)


def fake_venv(root, version: str, *, pyvenv: bool = True, marker: bool = False):
    """A directory shaped like a venv whose python only prints a lagent version."""
    python = venv_python(root)
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho {version}\n")
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    if pyvenv:
        (root / "pyvenv.cfg").write_text("home = /nowhere\n")
    if marker:
        (root / MARKER_NAME).write_text("ready\n")
    return python


def test_env_var_chooses_the_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("LAGENT_NB_LAGENT_VENV", str(tmp_path / "v"))
    assert default_venv_dir() == tmp_path / "v"
    monkeypatch.delenv("LAGENT_NB_LAGENT_VENV")
    assert default_venv_dir().name == f"lagent-{LAGENT_VERSION}-venv"


def test_ready_venv_is_reused_without_running_anything(tmp_path):
    venv = tmp_path / "venv"
    python = fake_venv(venv, "not-even-checked", marker=True)
    assert ensure_lagent_python(venv) == python


def test_hand_built_venv_with_the_right_lagent_is_adopted(tmp_path):
    venv = tmp_path / "venv"
    python = fake_venv(venv, LAGENT_VERSION)
    assert ensure_lagent_python(venv, timeout=30) == python
    assert (venv / MARKER_NAME).is_file()


def test_directory_that_is_not_a_venv_is_never_deleted(tmp_path):
    venv = tmp_path / "precious"
    fake_venv(venv, "0.2.4", pyvenv=False)  # wrong lagent, and no pyvenv.cfg
    with pytest.raises(LagentUnavailable, match="not a virtual environment"):
        ensure_lagent_python(venv, timeout=30)
    assert venv_python(venv).exists()


def test_a_build_in_progress_elsewhere_times_out_cleanly(tmp_path):
    venv = tmp_path / "venv"
    with open(tmp_path / "venv.lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(LagentUnavailable, match="still building"):
            ensure_lagent_python(venv, timeout=1.0)


def _refused_index() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"


@pytest.mark.slow
def test_unreachable_registry_is_reported_and_the_venv_rebuilt_later(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", _refused_index())
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    venv = tmp_path / "venv"
    with pytest.raises(LagentUnavailable, match="pip install") as info:
        ensure_lagent_python(venv, timeout=240)
    assert info.value.reason == str(info.value)
    # The half-built venv has no marker, so the next call does not trust it.
    assert venv_python(venv).exists() and not (venv / MARKER_NAME).exists()
    assert not lagent_env._is_ready(venv)


def _registry_reachable() -> bool:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/lagent/", timeout=15) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.compat
@pytest.mark.timeout(900)
def test_fresh_build_from_the_registry(tmp_path):
    if not _registry_reachable():
        pytest.skip("the package registry is unreachable: cannot test building lagent's venv")
    venv = tmp_path / "fresh"
    python = ensure_lagent_python(venv, timeout=850)
    assert (venv / MARKER_NAME).is_file()
    assert ensure_lagent_python(venv) == python  # second call: reused, not rebuilt
