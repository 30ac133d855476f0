"""Fixtures for the notebook layer: a headless IPython shell with the extension loaded."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


@pytest.fixture
def ip():
    """The process's InteractiveShell with ``lagent_nb`` loaded and a clean namespace."""
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "lagent_nb")
    yield shell
    shell.run_line_magic("unload_ext", "lagent_nb")
    shell.config.pop("AgentMagics", None)  # %config settings outlive the magics instance
    shell.reset(new_session=False)


@pytest.fixture
def run(ip):
    """Run a cell, capturing displays; returns ``(result, captured)``."""

    def _run(cell: str):
        with capture_output() as captured:
            result = ip.run_cell(cell)
        return result, captured

    return _run
