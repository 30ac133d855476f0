"""Interrupting a running ``%%agent`` cell in a real kernel (the ■ button).

Each test starts a real ipykernel with jupyter_client, runs a cell whose agent blocks in the
LLM, in the middle of a stream, or in a tool running in a sibling kernel, and interrupts the
kernel. The cell must end with one short line (``AgentStopped``), the kernel must stay alive
and usable, the sibling kernel must be idle again with its state intact, and the agent's
memory must hold the user's message and no partial reply.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from jupyter_client import KernelManager

import lagent_nb

ROOT = Path(lagent_nb.__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


class Kernel:
    """A parent kernel driven like a front end: execute, watch iopub, interrupt."""

    def __init__(self, cwd: Path):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def submit(self, code: str) -> str:
        return self.kc.execute(code, allow_stdin=False, stop_on_error=False)

    def outputs_until(self, msg_id: str, done, timeout: float) -> list:
        """iopub messages of ``msg_id`` until ``done(msg)`` is true (or idle)."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no matching output within {timeout} s: {seen}"
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(msg)
            if done(msg):
                return seen

    def finish(self, msg_id: str, timeout: float = 60) -> tuple:
        """``(reply_content, iopub_messages)`` once the cell is idle."""
        seen = self.outputs_until(
            msg_id,
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
            timeout,
        )
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"], seen

    def run(self, code: str, timeout: float = 60) -> str:
        """Run a cell that must succeed; its stdout."""
        reply, seen = self.finish(self.submit(code), timeout)
        assert reply["status"] == "ok", reply
        return "".join(m["content"]["text"] for m in seen if m["msg_type"] == "stream")

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(tmp_path):
    k = Kernel(tmp_path)
    k.run(
        "%load_ext lagent_nb\n"
        "import asyncio, time\n"
        "from lagent_nb.agents import Agent, AsyncAgent, StreamingAgent\n"
        "from lagent_nb.schema import AgentMessage\n"
        "from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM\n"
    )
    yield k
    k.close()


def printed(text: str):
    return lambda m: m["msg_type"] == "stream" and text in m["content"]["text"]


def interrupt_and_check(kernel: Kernel, msg_id: str, agent: str) -> list:
    kernel.km.interrupt_kernel()
    reply, seen = kernel.finish(msg_id, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "AgentStopped", reply
    (error,) = [m["content"] for m in seen if m["msg_type"] == "error"]
    assert len(error["traceback"]) == 1 and "memory keeps your message" in error["traceback"][0]
    senders = kernel.run(f"print([m.sender for m in {agent}.memory.get(0).get_memory()])")
    assert senders.strip() == "['user']"  # no half-written reply
    assert "echo: alive" in kernel.run(  # the kernel is alive and agents still work
        "ok = Agent(ScriptedLLM(lambda m: 'echo: ' + m[-1]['content']), name='ok')\n"
        "print(ok('alive').content)"
    )
    return seen


def test_interrupt_while_the_llm_blocks(kernel):
    kernel.run(
        "def blocking(messages):\n"
        "    print('llm started', flush=True)\n"
        "    time.sleep(120)\n"
        "    return 'too late'\n"
        "slow = Agent(ScriptedLLM(blocking), name='slow')"
    )
    msg_id = kernel.submit("%%agent slow\nhello")
    kernel.outputs_until(msg_id, printed("llm started"), 60)
    interrupt_and_check(kernel, msg_id, "slow")


def test_interrupt_an_async_agent_on_the_kernel_loop(kernel):
    kernel.run(
        "class Sleepy(AsyncScriptedLLM):\n"
        "    async def chat(self, *args, **kwargs):\n"
        "        print('llm started', flush=True)\n"
        "        await asyncio.sleep(120)\n"
        "slow = AsyncAgent(Sleepy(['x']), name='slow')"
    )
    msg_id = kernel.submit("%%agent slow\nhello")
    kernel.outputs_until(msg_id, printed("llm started"), 60)
    interrupt_and_check(kernel, msg_id, "slow")
    assert "tasks: 0" in kernel.run(  # the cancelled turn left no task behind
        "pending = [t for t in asyncio.all_tasks() if 'call_async' in repr(t.get_coro())]\n"
        "print('tasks:', len(pending))"
    )


def test_interrupt_while_the_llm_streams(kernel):
    kernel.run(
        "class Trickle(ScriptedLLM):\n"
        "    def stream_chat(self, inputs, **kwargs):\n"
        "        for item in super().stream_chat(inputs, **kwargs):\n"
        "            time.sleep(0.2)\n"
        "            yield item\n"
        "talker = StreamingAgent(Trickle(lambda m: ' '.join(['word'] * 500)), name='talker')"
    )
    msg_id = kernel.submit("%%agent talker\nspeak")
    partial = kernel.outputs_until(msg_id, lambda m: m["msg_type"] == "display_data", 60)
    assert "talker" in partial[-1]["content"]["data"]["text/plain"]  # tokens were on screen
    interrupt_and_check(kernel, msg_id, "talker")


def start_tool_and_interrupt(kernel: Kernel, tmp_path: Path) -> None:
    # The sibling kernel may run as another user (``nobody`` under a root parent): give it a
    # directory it can write, outside pytest's private tmp tree.
    marker_dir = Path(tempfile.mkdtemp(prefix="lagent_nb-marker-"))
    marker_dir.chmod(0o777)
    marker = marker_dir / "tool-started"
    kernel.run(
        "from lagent_nb.actions import IPythonInterpreter\n"
        "class Coder(Agent):\n"
        "    def __init__(self):\n"
        "        super().__init__(name='coder')\n"
        "        self.tool = IPythonInterpreter(timeout=300)\n"
        "    def forward(self, *messages, session_id=0):\n"
        "        ret = self.tool.run(messages[-1].content)\n"
        "        return AgentMessage(sender=self.name, content=ret.format_result())\n"
        "coder = Coder()\n"
        "print(coder.tool.run('x = 41').state)"
    )
    msg_id = kernel.submit(
        f"%%agent coder\nimport time\nopen({str(marker)!r}, 'w').close()\ntime.sleep(300)"
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the tool never started in the sibling kernel"
            time.sleep(0.05)
    finally:
        shutil.rmtree(marker_dir, ignore_errors=True)
    interrupt_and_check(kernel, msg_id, "coder")


def test_interrupt_while_a_tool_runs_in_the_sibling_kernel(kernel, tmp_path):
    start_tool_and_interrupt(kernel, tmp_path)
    started = time.monotonic()
    out = kernel.run("print(coder.tool.run('x + 1').format_result())", timeout=60)
    assert out.strip() == "42"  # the same sibling kernel, idle again, its state intact
    assert time.monotonic() - started < 30


def click(kernel: Kernel, model_id: str) -> None:
    """What the front end sends when a Button is clicked."""
    data = {"method": "custom", "content": {"event": "click"}}
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": model_id, "data": data})
    kernel.kc.shell_channel.send(msg)


def test_chat_panel_stop_button_works_while_the_agent_runs(kernel):
    """The panel's turn runs as a task on the kernel loop, so the Stop click is handled."""
    kernel.run(
        "from lagent_nb.notebook import ChatPanel\n"
        "class Sleepy(AsyncScriptedLLM):\n"
        "    async def chat(self, *args, **kwargs):\n"
        "        await asyncio.sleep(120)\n"
        "slow = AsyncAgent(Sleepy(['x']), name='slow')\n"
        "panel = ChatPanel(slow)\n"
        "display(panel)"
    )
    stop_id = kernel.run("panel.send('hello'); print(panel.stop_button.model_id)").strip()
    click(kernel, stop_id)
    deadline = time.monotonic() + 30
    while "AgentStopped" not in kernel.run("print(panel.error_view.value)"):
        assert time.monotonic() < deadline, "the Stop click was not handled"
        time.sleep(0.2)
    out = kernel.run("print([m.sender for m in slow.memory.get(0).get_memory()])")
    assert out.strip() == "['user']"
    assert kernel.run("print(panel.stop_button.disabled)").strip() == "True"


def test_timeout_stops_a_blocked_sync_agent_in_a_real_kernel(kernel):
    kernel.run("slow = Agent(ScriptedLLM(lambda m: time.sleep(120) or 'late'), name='slow')")
    started = time.monotonic()
    reply, _ = kernel.finish(kernel.submit("%%agent slow --timeout 1\nhello"), timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "AgentTimeout"
    assert time.monotonic() - started < 30
    out = kernel.run("print([m.sender for m in slow.memory.get(0).get_memory()])")
    assert out.strip() == "['user']"
