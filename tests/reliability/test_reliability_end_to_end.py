"""Whole turns under faults: a ``%%agent`` cell against an LLM server that is down or hangs,
and many concurrent sessions of one tool-using agent, each with its own sibling kernel.

The LLM-level faults themselves are in ``test_reliability_llm_faults.py``; here they travel
through the notebook layer (magic, runner, display) and through a real agent tool loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, List
from urllib.parse import urlsplit

import psutil
import pytest
from IPython.utils.capture import capture_output
from pydantic import BaseModel

from lagent_nb.agents import AsyncReAct
from lagent_nb.llms.retry import LLMAPIError
from lagent_nb.notebook import AgentTimeout
from lagent_nb.notebook.display import TRANSCRIPT_MIME
from lagent_nb.prompts.parsers import JSONParser
from lagent_nb.testing import AsyncScriptedLLM
from lagent_nb.testing.openai_server import OpenAIServer, unused_base_url

pytestmark = pytest.mark.timeout(180)

AGENT_CLASSES = ["Agent", "AsyncAgent", "StreamingAgent", "AsyncStreamingAgent"]
# Generous bound: with default settings a refused connection fails in about a second (two
# attempts); this only catches a hang.
DEADLINE = 30.0


def _run(ip, cell: str):
    with capture_output() as captured:
        result = ip.run_cell(cell)
    return result, captured


def _define_bot(ip, cls: str, url: str, **llm_options: Any) -> None:
    llm = "AsyncGPTAPI" if cls.startswith("Async") else "GPTAPI"
    ip.user_ns.update(URL=url, OPTIONS={"key": "k", **llm_options})
    ip.run_cell(
        f"from lagent_nb.agents import {cls}\nfrom lagent_nb.llms import {llm}\n"
        f"bot = {cls}({llm}('m', api_base=URL, **OPTIONS), name='bot')"
    )


def _history(ip) -> List[tuple]:
    return [(m.sender, m.content) for m in ip.user_ns["bot"].memory.get_memory(0)]


def _shown_transcript(captured) -> List[tuple]:
    (data,) = [o.data[TRANSCRIPT_MIME] for o in captured.outputs if TRANSCRIPT_MIME in o.data]
    return [(m["role"], m["content"]) for m in data["messages"]]


@pytest.mark.parametrize("cls", AGENT_CLASSES)
def test_cell_against_a_server_that_is_down_then_back(shell, cls):
    url = unused_base_url()
    _define_bot(shell, cls, url)  # default timeouts and retries, as a user would have them
    started = time.monotonic()
    result, captured = _run(shell, "%%agent bot\nhello")
    assert time.monotonic() - started < DEADLINE
    error = result.error_in_exec
    assert isinstance(error, LLMAPIError), repr(error)
    assert url in str(error) and "connection failed" in str(error)
    assert url in captured.stdout + captured.stderr, "the user sees which endpoint failed"
    assert _history(shell) == [("user", "hello")], "no fake assistant reply"

    with OpenAIServer(port=urlsplit(url).port):  # the same endpoint comes back
        result, captured = _run(shell, "%%agent bot\nhello")
    assert result.error_in_exec is None
    assert _history(shell)[:2] == [("user", "hello"), ("user", "hello")]
    (sender, reply), *rest = _history(shell)[2:]
    assert rest == [] and sender == "bot" and reply.startswith("echo: ")
    assert _shown_transcript(captured) == [("user", "hello"), ("assistant", reply)]


@pytest.mark.parametrize("cls", ["Agent", "AsyncStreamingAgent"])
def test_cell_timeout_against_a_hanging_server_then_retry(shell, cls):
    with OpenAIServer() as server:
        _define_bot(shell, cls, server.base_url, retry=1, timeout=60)
        server.fail("hang", times=1)
        started = time.monotonic()
        result, _ = _run(shell, "%%agent bot --timeout 1\nhello")
        assert time.monotonic() - started < DEADLINE
        assert isinstance(result.error_in_exec, AgentTimeout), repr(result.error_in_exec)
        assert _history(shell) == [("user", "hello")]
        result, _ = _run(shell, "%%agent bot --timeout 20\nhello")
        assert result.error_in_exec is None
        assert _history(shell)[-1][0] == "bot" and len(_history(shell)) == 3


def test_background_cell_reports_the_down_server_in_place_then_recovers(shell):
    url = unused_base_url()
    _define_bot(shell, "AsyncAgent", url)
    result, captured = _run(shell, "%%agent bot --bg\nhello")
    assert result.error_in_exec is None, "a background turn does not fail the cell"
    final = captured.outputs[-1]
    assert final.update and "LLMAPIError" in final.data["text/plain"]
    assert url in final.data["text/plain"]
    assert _history(shell) == [("user", "hello")]
    with OpenAIServer(port=urlsplit(url).port):
        result, captured = _run(shell, "%%agent bot --bg\nhello")
    assert result.error_in_exec is None
    assert _shown_transcript(captured)[-1][1].startswith("echo: ")
    assert [s for s, _ in _history(shell)] == ["user", "user", "bot"]


@pytest.mark.slow
@pytest.mark.parametrize("cls", ["Agent", "AsyncAgent"])
def test_chat_panel_against_a_down_server_then_back(cls):
    from lagent_nb.agents import Agent, AsyncAgent
    from lagent_nb.llms import GPTAPI, AsyncGPTAPI
    from lagent_nb.notebook import ChatPanel

    url = unused_base_url()
    llm = (AsyncGPTAPI if cls == "AsyncAgent" else GPTAPI)("m", api_base=url, key="k")
    agent = {"Agent": Agent, "AsyncAgent": AsyncAgent}[cls](llm, name="bot")
    panel = ChatPanel(agent)
    try:
        assert panel.send("hello")
        assert panel.wait(DEADLINE)
        assert url in panel.error_view.value, "the panel names the endpoint that failed"
        assert [(m.sender, m.content) for m in agent.memory.get_memory(0)] == [("user", "hello")]
        with OpenAIServer(port=urlsplit(url).port):
            assert panel.send("hello")
            assert panel.wait(DEADLINE)
        assert url not in panel.error_view.value, "the old error is cleared"
        senders = [m.sender for m in agent.memory.get_memory(0)]
        assert senders == ["user", "user", "bot"]
        assert agent.memory.get_memory(0)[-1].content.startswith("echo: ")
    finally:
        panel.close()


# -- 32 concurrent sessions of one tool-using agent ------------------------------------------


class _Call(BaseModel):
    name: str
    parameters: dict


class _Act(BaseModel):
    thought_process: str
    action: _Call


class _Finish(BaseModel):
    thought_process: str
    conclusion: str


def _script(messages: List[dict]) -> str:
    """The model: run code for 'session N: store|recall', then report the tool's output."""
    last = messages[-1]
    if last["role"] == "user" and last["content"].startswith("session "):
        n, verb = last["content"][len("session ") :].split(": ")
        code = {
            "store": f"value = {n} * 1000\n_ = open('own.txt', 'w').write('{n}')",
            "recall": "print(value, open('own.txt').read())",
        }[verb]
        call = {"name": "AsyncIPythonInteractive", "parameters": {"command": code}}
        return json.dumps({"thought_process": f"{verb} {n}", "action": call})
    return json.dumps({"thought_process": "done", "conclusion": last["content"].strip()})


@pytest.mark.slow
async def test_thirty_two_sessions_of_one_agent_keep_their_memory_and_kernel(kernel_processes):
    from lagent_nb.actions import AsyncIPythonInteractive
    from lagent_nb.kernels import KernelSessions

    kernels = KernelSessions(spare=False)
    parser = JSONParser("{function_format} or {finish_format}", function_format=_Act,
                        finish_format=_Finish)  # fmt: skip
    agent = AsyncReAct(
        llm=AsyncScriptedLLM(_script),
        actions=[AsyncIPythonInteractive(kernels=kernels)],
        template="{action_info}\n{output_format}",
        output_format=parser,
    )

    async def session(n: int) -> List[str]:
        first = await agent(f"session {n}: store", session_id=n)
        await asyncio.sleep(0)
        second = await agent(f"session {n}: recall", session_id=n)
        return [first.formatted["conclusion"], second.formatted["conclusion"]]

    sessions = range(32)
    try:
        results = await asyncio.wait_for(asyncio.gather(*(session(n) for n in sessions)), 150)
        pids = kernels.kernel_pids()
    finally:
        await kernels.aclose()
    assert results == [["", f"{n * 1000} {n}"] for n in sessions]
    assert len(set(pids)) == 32, "one kernel per session"
    for n in sessions:
        state = agent.state_dict(n)
        users = [m["content"] for m in state["memory"] if m["sender"] == "user"]
        assert users == [f"session {n}: store", f"session {n}: recall"]
        tool_outputs = [
            m["content"] for m in state["select_agent.memory"] if "Executor" in m["sender"]
        ]
        assert tool_outputs == ["", f"{n * 1000} {n}"]
    assert kernel_processes(str(kernels.runtime_dir)) == []
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
