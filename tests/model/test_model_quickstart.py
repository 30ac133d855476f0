"""``python -m lagent_nb.quickstart`` runs the quick-start notebook on the embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _tagged_processes(tag: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["environ"]):
        environ = process.info.get("environ") or {}
        if environ.get("LAGENT_NB_TEST_RUN") == tag:
            found.append(process)
    return found


@pytest.mark.model
def test_quickstart_notebook_runs_and_leaves_nothing(needs_local_model, tmp_path):
    notebook = tmp_path / NOTEBOOK.name
    notebook.write_bytes(NOTEBOOK.read_bytes())
    tag = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["LAGENT_NB_TEST_RUN"] = tag  # inherited by the kernel, the model server, sibling kernels
    done = subprocess.run(
        [sys.executable, "-m", "lagent_nb.quickstart", str(notebook)],
        capture_output=True,
        text=True,
        cwd=REPO,  # runs this checkout of lagent_nb, installed or not
        env=env,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    transcript = done.stdout
    assert "%%agent chat" in transcript and "quickstart OK" in transcript
    assert "ActionExecutor" in transcript  # the coder's code ran in a sibling kernel
    assert "embedded model: ready at http://127.0.0.1:" in transcript  # progress display

    executed = nbformat.read(tmp_path / "quickstart.executed.ipynb", as_version=4)
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    assert not any(o.output_type == "error" for c in code_cells for o in c.outputs)
    progress = [
        o
        for c in code_cells
        for o in c.outputs
        if o.output_type == "display_data" and "embedded model: ready" in o.data["text/plain"]
    ]
    assert len(progress) == 1  # one display, updated in place until the server was ready

    leftovers = [p for p in _tagged_processes(tag) if p.status() != psutil.STATUS_ZOMBIE]
    assert not leftovers, f"processes left behind: {[p.cmdline() for p in leftovers]}"


def test_a_failing_cell_fails_the_run(tmp_path):
    notebook = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('before')"), nbformat.v4.new_code_cell("1/0")]
    nbformat.write(nb, notebook)
    done = subprocess.run(
        [sys.executable, "-m", "lagent_nb.quickstart", str(notebook)],
        capture_output=True,
        text=True,
        cwd=REPO,  # runs this checkout of lagent_nb, installed or not
        timeout=120,
    )
    assert done.returncode == 1
    assert "before" in done.stdout
    assert "ZeroDivisionError" in done.stderr
    assert (tmp_path / "broken.executed.ipynb").is_file()
