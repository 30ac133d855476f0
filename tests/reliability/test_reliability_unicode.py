"""Text in any script survives every round trip the package makes, code point for code point.

Chinese, emoji (ZWJ sequences, skin tones, flags), right-to-left scripts with bidi controls and
combining characters go through memory save/load, state_dict files, tool results (a plain
action and a sibling kernel), display bundles and notebook files, ``%agent save/load`` and a
real HTTP round trip to an OpenAI-compatible server, including UTF-8 split between packets.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import nbformat
import pytest
from IPython.utils.capture import capture_output

from lagent_nb.actions import ActionExecutor, BaseAction, tool_api
from lagent_nb.agents import Agent
from lagent_nb.llms import GPTAPI, AsyncGPTAPI
from lagent_nb.memory import Memory
from lagent_nb.notebook.display import TRANSCRIPT_MIME, Transcript, message_mimebundle
from lagent_nb.schema import AgentMessage
from lagent_nb.testing.openai_server import OpenAIServer

pytestmark = pytest.mark.timeout(120)

TEXTS = {
    "chinese": "你好，世界！机器学习与自然语言处理。𠜎𠜱𠝹",  # last three are outside the BMP
    "emoji": "👩‍👩‍👧‍👦 👍🏽 🇨🇳🇧🇷 🏳️‍🌈 ❤️‍🔥",
    "rtl": "مرحبا بالعالم \u200fשלום עולם\u202e reversed\u202c end",
    "combining": "e\u0301 é n\u0303 Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356",
    "mixed": "Résumé: 中文 + English + العربية + עברית + русский + हिन्दी + 🎉\tend",
}
PARAMS = [pytest.param(text, id=name) for name, text in TEXTS.items()]


def test_the_samples_are_what_they_claim():
    """Guards the fixtures: NFC and NFD forms differ, so any normalisation would be caught."""
    combining = TEXTS["combining"]
    assert unicodedata.normalize("NFC", combining) != combining
    assert any(ord(c) > 0xFFFF for c in TEXTS["chinese"] + TEXTS["emoji"])
    assert any(unicodedata.bidirectional(c) in ("R", "AL") for c in TEXTS["rtl"])


# -- memory and state ---------------------------------------------------------------------------


class Pair(Agent):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.helper = Agent(name="助手")


@pytest.mark.parametrize("text", PARAMS)
def test_memory_save_and_load(text):
    memory = Memory()
    memory.add(AgentMessage(sender="专家 🧠", content=text, formatted={"原文": text}))
    restored = Memory()
    restored.load(json.loads(json.dumps(memory.save(), ensure_ascii=False)))
    (message,) = restored.get_memory()
    assert (message.sender, message.content, message.formatted) == ("专家 🧠", text, {"原文": text})


@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["utf8", "ascii-escaped"])
def test_state_dict_through_a_json_file(tmp_path, ensure_ascii):
    source = Pair()
    for name, text in TEXTS.items():
        source.memory.add(AgentMessage(sender=name, content=text), session_id="会话")
        source.helper.memory.add(AgentMessage(sender="助手", content=text[::-1]), session_id="会话")
    path = tmp_path / "状态 🎉.json"
    path.write_text(json.dumps(source.state_dict("会话"), ensure_ascii=ensure_ascii), "utf-8")
    restored = Pair()
    restored.load_state_dict(json.loads(path.read_text("utf-8")), session_id="会话")
    assert [m.content for m in restored.memory.get_memory("会话")] == list(TEXTS.values())
    helper_texts = [m.content for m in restored.helper.memory.get_memory("会话")]
    assert helper_texts == [t[::-1] for t in TEXTS.values()]


# -- tool results -------------------------------------------------------------------------------


class Echo(BaseAction):
    """Repeats its input."""

    @tool_api
    def run(self, text: str) -> dict:
        """Return the text unchanged.

        Args:
            text (str): what to repeat
        """
        return {"原文": text}


@pytest.mark.parametrize("text", PARAMS)
def test_action_results(text):
    executor = ActionExecutor([Echo()])
    call = {"name": "Echo", "parameters": {"text": text}}
    ret = executor(AgentMessage(sender="llm", content=call)).content
    assert json.loads(ret.format_result()) == {"原文": text}
    assert json.dumps(text, ensure_ascii=False)[1:-1] in ret.format_result(), (
        "readable, not \\u-escaped"
    )


@pytest.fixture(scope="module")
def kernels():
    from lagent_nb.kernels import KernelSessions

    with KernelSessions(spare=False) as manager:
        yield manager


@pytest.mark.slow
def test_sibling_kernel_output(kernels):
    from lagent_nb.actions import IPythonInterpreter

    action = IPythonInterpreter(kernels=kernels)
    for name, text in TEXTS.items():
        code = f"import sys\nvalue = {text!r}\nprint(value)\nprint(value, file=sys.stderr)\nvalue"
        ret = action({"command": code}, session_id="会话 🎉")
        outputs = ret.result[0]["outputs"]
        stdout, stderr, value = (o.get("text") or o["data"]["text/plain"] for o in outputs)
        assert (stdout, stderr, value) == (text + "\n", text + "\n", repr(text)), name
        assert text in ret.format_result()
    # the kernel's own view: lengths in code points agree with ours
    lengths = action({"command": f"[len(t) for t in {list(TEXTS.values())!r}]"}, session_id="u")
    assert lengths.format_result() == repr([len(t) for t in TEXTS.values()])


@pytest.mark.slow
def test_subprocess_output_in_a_tool_keeps_multibyte_characters():
    """Model-written code often shells out (``subprocess``, ``!cmd``); that output reaches the
    kernel through a pipe, not through ``sys.stdout``."""
    from lagent_nb.actions import IPythonInterpreter
    from lagent_nb.kernels import KernelSessions

    # ipykernel does not capture fd-level output under pytest: hide pytest from the kernel
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    text = TEXTS["chinese"] * 300  # ~6 kB of 3- and 4-byte characters
    child = f"print({text!r})"
    code = (
        f"import subprocess, sys\n_ = subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    )
    with KernelSessions(spare=False, env=env) as kernels:
        ret = IPythonInterpreter(kernels=kernels)({"command": code})
    assert "\ufffd" not in ret.format_result()
    assert ret.format_result().strip() == text


# -- display ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", PARAMS)
def test_display_bundle(text):
    bundle = message_mimebundle(AgentMessage(sender="助手", content=text))
    assert text in bundle["text/plain"] and text in bundle["text/markdown"]
    (entry,) = bundle[TRANSCRIPT_MIME]["messages"]
    assert entry["content"] == text and entry["sender"] == "助手"
    assert json.loads(json.dumps(bundle)) == bundle


def test_transcript_survives_a_notebook_file(tmp_path):
    messages = [AgentMessage(sender=name, content=text) for name, text in TEXTS.items()]
    bundle = Transcript(messages, title="对话 💬", session_id="会话")._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    output = nbformat.v4.new_output("display_data", data=bundle)
    nb.cells.append(nbformat.v4.new_code_cell("%%agent bot\n" + TEXTS["mixed"], outputs=[output]))
    path = tmp_path / "笔记本.ipynb"
    nbformat.write(nb, str(path))
    reread = nbformat.read(str(path), as_version=4)
    data = reread.cells[0].outputs[0].data[TRANSCRIPT_MIME]
    assert data["title"] == "对话 💬"
    assert [(m["sender"], m["content"]) for m in data["messages"]] == list(TEXTS.items())
    assert reread.cells[0].source.endswith(TEXTS["mixed"])


# -- %agent save / load -------------------------------------------------------------------------


def _run(ip, cell: str):
    with capture_output() as captured:
        result = ip.run_cell(cell)
    return result, captured


def test_agent_save_and_load_magics(shell, tmp_path):
    shell.run_cell(
        "from lagent_nb.agents import Agent\nfrom lagent_nb.testing import ScriptedLLM\n"
        "bot = Agent(ScriptedLLM(lambda m: '答: ' + m[-1]['content']), name='bot')\n"
        "copy = Agent(ScriptedLLM(['unused']), name='copy')"
    )
    for text in TEXTS.values():
        result, _ = _run(shell, f"%%agent bot --no-interpolate\n{text}")
        assert result.error_in_exec is None
    path = tmp_path / "记录 🎉 שלום.json"
    result, captured = _run(shell, f"%agent save bot '{path}'")
    assert result.error_in_exec is None and "saved 10 messages" in captured.stdout
    assert TEXTS["chinese"] in path.read_text("utf-8"), "kept readable, not \\u-escaped"
    result, captured = _run(shell, f"%agent load copy '{path}' -s 会话")
    assert result.error_in_exec is None and "loaded 10 messages" in captured.stdout
    contents = [m.content for m in shell.user_ns["copy"].memory.get_memory("会话")]
    expected = [c for t in TEXTS.values() for c in (t, f"答: {t}")]
    assert contents == expected


def test_agent_save_with_a_lone_surrogate_round_trips_or_refuses_cleanly(shell, tmp_path):
    from IPython.core.error import UsageError

    shell.run_cell(
        "from lagent_nb.agents import Agent\nfrom lagent_nb.testing import ScriptedLLM\n"
        "bot = Agent(ScriptedLLM(['ok']), name='bot')\n"
        "bot('half of a pair: \\ud83d')"
    )
    path = tmp_path / "s.json"
    result, _ = _run(shell, f"%agent save bot '{path}'")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "s.json"]
    assert leftovers == [], "no temporary file is left behind"
    if result.error_in_exec is not None:
        assert isinstance(result.error_in_exec, UsageError)
        assert not path.exists()
        return
    _run(shell, f"%agent load bot '{path}' -s 2")
    assert shell.user_ns["bot"].memory.get_memory(2)[0].content == "half of a pair: \ud83d"


def test_a_reply_streamed_one_code_point_at_a_time_is_shown_whole(shell):
    shell.user_ns["REPLY"] = "".join(TEXTS.values())
    shell.run_cell(
        "from lagent_nb.agents import StreamingAgent\nfrom lagent_nb.testing import ScriptedLLM\n"
        "bot = StreamingAgent(ScriptedLLM(lambda m: REPLY, chunk_size=1), name='bot')"
    )
    result, captured = _run(shell, "%%agent bot\n你好")
    assert result.error_in_exec is None
    final = captured.outputs[-1].data[TRANSCRIPT_MIME]["messages"][-1]
    assert final["content"] == shell.user_ns["REPLY"]
    assert shell.user_ns["bot"].memory.get_memory(0)[-1].content == shell.user_ns["REPLY"]


@pytest.mark.slow
def test_widgets_show_the_text_unchanged():
    import ipywidgets

    from lagent_nb.notebook import ChatPanel, MemoryTree

    agent = Agent(name="bot")
    for name, text in TEXTS.items():
        agent.memory.add(AgentMessage(sender=name, content=text), session_id="会话")
    panel, tree = ChatPanel(agent, session_id="会话"), MemoryTree(agent)
    try:
        tree.node("", "会话").expand()
        shown = [html.unescape(t) for w in list(ipywidgets.widgets.widget._instances.values())
                 for t in _strings(w.get_state())]  # fmt: skip
    finally:
        panel.close()
        tree.close()
    for name, text in TEXTS.items():
        assert any(text in t for t in shown), f"{name} is shown unchanged"


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a widget state (outputs nest mime bundles in lists and dicts)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(chunk_size=1) as srv:  # one code point per chunk: pairs are split
        yield srv


def _user(text: str) -> list:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("mode", ["chat", "stream", "async-chat", "async-stream"])
def test_gptapi_round_trip(server, mode):
    sync = not mode.startswith("async")
    llm = (GPTAPI if sync else AsyncGPTAPI)("m", api_base=server.base_url, key="k", retry=1)

    async def ask_async(text: str) -> str:
        if mode.endswith("stream"):
            return [item async for item in llm.stream_chat(_user(text))][-1][1]
        return await llm.chat(_user(text))

    def ask(text: str) -> str:
        if not sync:
            return asyncio.run(ask_async(text))
        return (
            list(llm.stream_chat(_user(text)))[-1][1] if mode == "stream" else llm.chat(_user(text))
        )

    for name, text in TEXTS.items():
        assert ask(text) == f"echo: {text}", name
        assert server.chat_requests[-1].body["messages"][-1]["content"] == text


class _RawUTF8Stream(BaseHTTPRequestHandler):
    """Streams a reply as raw UTF-8 (no \\u escapes) and cuts the bytes inside characters."""

    protocol_version = "HTTP/1.1"
    reply = ""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [{"role": "assistant", "content": ""}, {"content": self.reply}]
        payload = b"".join(
            b"data: "
            + json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "m",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                },
                ensure_ascii=False,
            ).encode()
            + b"\n\n"
            for delta in events
        )
        payload += b'data: {"id": "x", "object": "chat.completion.chunk", "created": 0, '
        payload += b'"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}'
        payload += b"\n\ndata: [DONE]\n\n"
        for start in range(0, len(payload), 3):  # 3 bytes per packet: most characters split
            piece = payload[start : start + 3]
            self.wfile.write(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
            time.sleep(0.0005)
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def raw_server() -> Iterator[type]:
    handler = type("Handler", (_RawUTF8Stream,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_utf8_split_between_packets_is_reassembled(raw_server):
    text = "".join(TEXTS.values())
    raw_server.reply = text
    llm = GPTAPI("m", api_base=raw_server.url, key="k", retry=1)
    items = list(llm.stream_chat(_user("hi")))
    assert items[-1][1] == text
    assert all("\ufffd" not in item[1] for item in items), "no replacement characters"
