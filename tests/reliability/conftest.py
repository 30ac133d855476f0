"""Shared fixtures of the reliability suite: a headless IPython shell with lagent_nb loaded, a
way to find the sibling-kernel processes a test started, and an environment for child Python
processes that play the user's process (so a fault that escapes cannot take pytest along)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import psutil
import pytest

import lagent_nb


def _kernel_processes(marker: str) -> List[psutil.Process]:
    """Live (non-zombie) processes whose command line mentions ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture
def kernel_processes() -> Callable[[str], List[psutil.Process]]:
    """``kernel_processes(runtime_dir)``: the kernels whose connection file lies there."""
    return _kernel_processes


@pytest.fixture
def child_env() -> Dict[str, str]:
    """An environment in which a child ``python`` imports this checkout of lagent_nb."""
    root = str(Path(lagent_nb.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


@pytest.fixture
def shell() -> Iterator[object]:
    """The process's InteractiveShell with ``lagent_nb`` loaded; unloaded and reset after."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "lagent_nb")
    yield ip
    ip.run_line_magic("unload_ext", "lagent_nb")
    ip.reset(new_session=False)
