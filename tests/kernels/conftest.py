"""Fixtures for the sibling-kernel tests: real ipykernel processes, always cleaned up."""

from __future__ import annotations

from typing import Iterator, List

import psutil
import pytest

from lagent_nb.kernels import KernelSessions


def kernel_processes(manager: KernelSessions) -> List[psutil.Process]:
    """Live processes whose command line names a connection file of ``manager``."""
    marker = str(manager.runtime_dir)
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def kernels() -> Iterator[KernelSessions]:
    """One manager per test module (kernel starts are the expensive part)."""
    manager = KernelSessions()
    yield manager
    manager.close()
    assert kernel_processes(manager) == []


@pytest.fixture(scope="session")
def find_kernel_processes():
    """:func:`kernel_processes` for test modules (conftest cannot be imported by name)."""
    return kernel_processes
