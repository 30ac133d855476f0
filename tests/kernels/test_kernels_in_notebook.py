"""The interpreters work from inside a running Jupyter kernel, blocking and awaited."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

CELLS = [
    "import sys; sys.path.insert(0, {root!r})\n"
    "from lagent_nb.actions import ipython_interpreter as tools\n"
    "sync_tool, async_tool = tools.IPythonInteractive(), tools.AsyncIPythonInterpreter()",
    "print(sync_tool({{'command': 'x = 20; x + 1'}}).format_result())",
    "ret = await async_tool({{'command': 'y = 5; y * 2'}}, session_id='nb')\n"
    "print(ret.format_result())",
    "import lagent_nb.kernels\nlagent_nb.kernels.shutdown_all()\nprint('closed')",
]


def test_blocking_and_awaited_calls_inside_a_kernel(tmp_path):
    root = str(Path(__file__).resolve().parents[2])
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c.format(root=root)) for c in CELLS]
    )
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert texts[1:] == ["21\n", "10\n", "closed\n"]
