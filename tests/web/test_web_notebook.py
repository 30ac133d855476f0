"""The multi-agent workflow notebook runs in a real kernel, offline, and shows its chart."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import lagent_nb
from lagent_nb.notebook.display import TRANSCRIPT_MIME

ROOT = Path(lagent_nb.__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "multi_agent_workflow.ipynb"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_multi_agent_notebook_plots_in_a_sibling_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("LAGENT_NB_SCRIPTED", "1")
    monkeypatch.delenv("LAGENT_NB_WEB", raising=False)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o for o in outputs if o["output_type"] == "error"] == []
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "offline sample web" in text
    # the collector's table came from the page the researcher selected and read
    assert '{"Germany": 15, "China": 250, "United States": 40}' in text
    # the chart was drawn in the chart maker's sibling kernel and shown here as a PNG
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and len(pngs[0]) > 1000
    # the %%agent cell's transcript carries the tool result with the same image
    (transcript,) = [
        o["data"][TRANSCRIPT_MIME] for o in outputs if TRANSCRIPT_MIME in o.get("data", {})
    ]
    results = [m["tool_result"] for m in transcript["messages"] if m["tool_result"]]
    assert results[-1]["ok"] and results[-1]["images"][0]["mime"] == "image/png"
