"""The example notebooks, executed in a real ipykernel with scripted LLMs (nbclient)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import lagent_nb
from lagent_nb.notebook.display import TRANSCRIPT_MIME

ROOT = Path(lagent_nb.__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "notebooks").glob("0*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture
def scripted_env(monkeypatch):
    """Kernels started now use scripted LLMs and import this checkout of lagent_nb."""
    monkeypatch.setenv("LAGENT_NB_SCRIPTED", "1")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path])))


def execute(nb, tmp_path):
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb


def outputs(nb):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def texts(nb):
    return "\n".join(
        o.get("text", "")
        if o["output_type"] == "stream"
        else o.get("data", {}).get("text/plain", "")
        for o in outputs(nb)
    )


def transcripts(nb):
    return [o["data"][TRANSCRIPT_MIME] for o in outputs(nb) if TRANSCRIPT_MIME in o.get("data", {})]


def test_one_notebook_per_readme_example():
    assert [p.name for p in EXAMPLES] == [
        "01_simple_agent.ipynb",
        "02_memory_inspection.ipynb",
        "03_fewshot_aggregator.ipynb",
        "04_tool_parser.ipynb",
        "05_action_executor_hooks.ipynb",
        "06_math_coder.ipynb",
        "07_async_blogger.ipynb",
        "08_multi_agent_workflow.ipynb",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_notebook_runs(path, tmp_path, scripted_env):
    nb = execute(nbformat.read(path, as_version=4), tmp_path)
    errors = [o for o in outputs(nb) if o["output_type"] == "error"]
    assert errors == []
    out = texts(nb)
    if path.stem != "05_action_executor_hooks":  # the one example without an LLM
        assert "(LAGENT_NB_SCRIPTED=1)" in out  # the switch says which LLM runs
    data = transcripts(nb)
    if path.stem == "01_simple_agent":
        assert "content='急' sender='Agent'" in out
        assert [m["content"] for m in data[0]["messages"]] == ["明天天气情况", "典"]
    if path.stem == "04_tool_parser":
        calls = [m["tool_call"] for t in data for m in t["messages"] if m["tool_call"]]
        assert calls and calls[0]["name"] == "code interpreter"
        assert "factors = [d for d in range(1, 64)" in calls[0]["arguments"]
    if path.stem == "05_action_executor_hooks":
        images = [
            i
            for t in data
            for m in t["messages"]
            for i in (m["tool_result"] or {}).get("images", [])
        ]
        assert images and images[0]["mime"] == "image/png" and len(images[0]["data"]) > 1000
    if path.stem == "06_math_coder":
        assert "[ 0.2 -0.6]" in out  # the code really ran in a sibling kernel
    if path.stem == "08_multi_agent_workflow":
        assert "offline sample web" in out
        # the collector's table came from the page the researcher selected and read
        assert '{"Germany": 15, "China": 250, "United States": 40}' in out
        # the chart was drawn in the chart maker's sibling kernel and shown here as a PNG
        pngs = [o["data"]["image/png"] for o in outputs(nb) if "image/png" in o.get("data", {})]
        assert len(pngs) == 1 and len(pngs[0]) > 1000
        results = [m["tool_result"] for m in data[0]["messages"] if m["tool_result"]]
        assert results[-1]["ok"] and results[-1]["images"][0]["mime"] == "image/png"
    if path.stem == "07_async_blogger":
        assert "blogger  AsyncBlogger  async  writer, critic" in out
        assert "'writer'" in out  # top-level await returned the writer's final message


def test_magics_in_a_real_kernel(tmp_path, scripted_env):
    cells = [
        "%load_ext lagent_nb\n"
        "import asyncio, os, psutil, time\n"
        "from lagent_nb.agents import AsyncAgent, StreamingAgent\n"
        "from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM\n"
        "from lagent_nb.actions import IPythonInterpreter\n"
        "slow = AsyncAgent(AsyncScriptedLLM(lambda m: 'async ok'), name='slow')\n"
        "words = StreamingAgent(ScriptedLLM(lambda m: 'a b c d e f'), name='words')",
        "%%agent slow -o r1\nhello",
        "assert r1.content == 'async ok'\n"
        "r2 = asyncio.get_event_loop().run_until_complete(slow('verbatim lagent style'))\n"
        "r3 = await slow('top-level await')\n"
        "print(r2.content, r3.content)",
        "%%agent words -o r4\nstream please",
        "%%agent slow --bg -s bg\nin the background",
        "await asyncio.sleep(0.3)\nprint('bg:', slow.memory.get('bg').get_memory()[-1].content)",
        "tool = IPythonInterpreter()\n"
        "tool.run('x = 1')\n"
        "from lagent_nb.kernels import default_kernels\n"
        "pids = default_kernels().kernel_pids()\n"
        "assert pids\n"
        "%unload_ext lagent_nb\n"
        "deadline = time.monotonic() + 30\n"
        "alive = lambda p: psutil.pid_exists(p) and psutil.Process(p).status() != 'zombie'\n"
        "while any(alive(p) for p in pids):\n"
        "    assert time.monotonic() < deadline, 'sibling kernels still running after unload'\n"
        "    time.sleep(0.1)\n"
        "print('siblings closed')",
        "%%agent slow\nafter unload",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    out = texts(nb)
    errors = [o for o in outputs(nb) if o["output_type"] == "error"]
    assert "async ok" in json.dumps(transcripts(nb))
    assert "verbatim lagent style" not in out and "async ok async ok" in out
    assert "bg: async ok" in out
    assert "siblings closed" in out
    assert [m["content"] for m in transcripts(nb)[1]["messages"]] == [
        "stream please",
        "a b c d e f",
    ]
    assert errors == []
    assert "Cell magic `%%agent` not found" in out  # %unload_ext removed the magic
