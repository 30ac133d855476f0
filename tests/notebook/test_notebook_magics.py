"""``%%agent`` / ``%agent`` / ``%agent_reset`` driven through a headless InteractiveShell."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from lagent_nb.notebook.display import TRANSCRIPT_MIME

SETUP = """
from lagent_nb.agents import Agent, AsyncAgent, StreamingAgent, AsyncStreamingAgent
from lagent_nb.testing import ScriptedLLM, AsyncScriptedLLM
"""


def transcripts(captured):
    return [o.data[TRANSCRIPT_MIME] for o in captured.outputs if TRANSCRIPT_MIME in o.data]


def last_error(result):
    return result.error_in_exec or result.error_before_exec


@pytest.fixture
def agents(ip):
    ip.run_cell(SETUP)
    ip.run_cell(
        "a = Agent(ScriptedLLM(lambda m: 'echo: ' + m[-1]['content']), name='a')\n"
        "s = StreamingAgent(ScriptedLLM(lambda m: 'one two three four five'), name='s')\n"
        "b = AsyncAgent(AsyncScriptedLLM(lambda m: 'async ' + m[-1]['content']), name='b')\n"
        "bs = AsyncStreamingAgent(AsyncScriptedLLM(lambda m: 'x y z'), name='bs')\n"
    )
    return ip


def test_sync_agent_turn_is_shown_as_a_transcript_and_stored(agents, run):
    result, captured = run("%%agent a -o reply\nhello Ünïcode ☃")
    assert last_error(result) is None
    (data,) = transcripts(captured)
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("user", "hello Ünïcode ☃"),
        ("assistant", "echo: hello Ünïcode ☃"),
    ]
    assert agents.user_ns["reply"].content == "echo: hello Ünïcode ☃"
    assert captured.outputs[-1].metadata == {"lagent_nb": {"agent": "a", "session_id": "0"}}
    assert len(agents.user_ns["a"].memory.get(0).get_memory()) == 2


def test_interpolation_and_its_opt_out(agents, run):
    agents.user_ns["topic"] = "cats"
    run("%%agent a -o r1\nabout {topic} and {'k': {topic}} {nope}")
    assert agents.user_ns["r1"].content == "echo: about cats and {'k': cats} {nope}"
    run("%%agent a -o r2 --no-interpolate\nabout {topic}")
    assert agents.user_ns["r2"].content == "echo: about {topic}"


def test_async_agents_finish_inside_the_cell(agents, run):
    result, captured = run("%%agent b -o r\nping")
    assert last_error(result) is None
    assert agents.user_ns["r"].content == "async ping"
    result, captured = run("%%agent bs -o r\nping")
    assert agents.user_ns["r"].content == "x y z"
    assert transcripts(captured)[-1]["messages"][-1]["content"] == "x y z"


def test_top_level_await_works(agents):
    result = agents.run_cell("r = await b('direct')")
    assert last_error(result) is None
    assert agents.user_ns["r"].content == "async direct"


def test_streaming_updates_only_the_current_message_and_respect_the_interval(agents, run):
    agents.run_line_magic("config", "AgentMagics.update_interval = 1000")
    _, captured = run("%%agent s\ngo")
    # one display for the first chunk, then the final transcript replaces it in place
    assert [o.update for o in captured.outputs] == [False, True]
    assert TRANSCRIPT_MIME not in captured.outputs[0].data  # partials carry one message only
    agents.run_line_magic("config", "AgentMagics.update_interval = 0.0")
    agents.run_line_magic("config", "AgentMagics.max_bytes_per_second = 0.0")
    _, captured = run("%%agent s -s 1\ngo")
    partials = [o.data["text/plain"] for o in captured.outputs[:-1]]
    assert partials[0] == "s: one" and partials[-1] == "s: one two three four five"
    assert all("user" not in p for p in partials)
    _, captured = run("%%agent s -s 2 --no-stream\ngo")
    assert len(captured.outputs) == 1


def test_formats(agents, run):
    agents.user_ns["c"] = agents.user_ns["Agent"](
        agents.user_ns["ScriptedLLM"](
            [
                "Here:\n```python\nprint(1)\n```\nand\n```\nx = 2\n```",
                '```json\n{"k": [1, "é"]}\n```',
                "plain",
            ]
        ),
        name="c",
    )
    run("%%agent c -f code\nwrite code")
    assert agents.rl_next_input == "print(1)\n\nx = 2"
    _, captured = run("%%agent c -f json\nas json")
    assert captured.outputs[-1].data["application/json"] == {"k": [1, "é"]}
    _, captured = run("%%agent c -f text\ntext please")
    assert captured.outputs[-1].data == {"text/plain": "plain"}


def test_config_sets_default_session_and_format(agents, run):
    agents.run_line_magic("config", "AgentMagics.default_session = 'work'")
    agents.run_line_magic("config", "AgentMagics.default_format = 'text'")
    _, captured = run("%%agent a\nhi")
    assert captured.outputs[-1].data == {"text/plain": "echo: hi"}
    assert list(agents.user_ns["a"].memory.memory_map) == ["work"]


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        ("%%agent a\n   \n", "the cell is empty"),
        ("%%agent aa\nhi", "Did you mean a"),
        ("%%agent number\nhi", "not an agent"),
        ("%%agent a --frobnicate\nhi", "unrecognized arguments"),
        ("%%agent\nhi", "name the agent"),
        ("%%agent a -f html\nhi", "invalid choice"),
        ("%agent lst", "Did you mean %agent list"),
        ("%agent_reset", "name the agent"),
        ("%%agent a --bg\nhi", "--bg runs async agents"),
        ("%%agent a.writer\nhi", "has no sub-agent"),
    ],
)
def test_bad_input_is_one_line_usage_error(agents, run, cell, fragment):
    agents.user_ns["number"] = 5
    result, captured = run(cell)
    assert isinstance(result.error_in_exec, UsageError)
    assert fragment in captured.stderr  # IPython prints a UsageError as one line
    assert "Traceback" not in captured.stderr


def test_dotted_sub_agent(agents, run):
    agents.run_cell(
        "class Blog(Agent):\n"
        "    def __init__(self):\n"
        "        super().__init__(name='blog')\n"
        "        self.writer = Agent(ScriptedLLM(['draft']), name='writer')\n"
        "        self.critic = Agent(ScriptedLLM(['ok']), name='critic')\n"
        "blog = Blog()\n"
    )
    run("%%agent blog.writer -o r\nwrite")
    assert agents.user_ns["r"].content == "draft"
    assert agents.user_ns["blog"].writer.memory.get(0) is not None
    assert agents.user_ns["blog"].memory.get(0) is None
    _, captured = run("%agent list")
    table = captured.outputs[-1].data["text/markdown"]
    assert "| `blog` | Blog | sync | writer, critic | 0: 2 |" in table
    _, captured = run("%%agent blog.writr\nx")
    assert "Did you mean blog.writer" in captured.stderr


def test_reset_one_session_and_all(agents, run):
    for sid in (0, 1, 2):
        run(f"%%agent a -s {sid}\nhi")
    run("%agent_reset a -s 1")
    assert sorted(agents.user_ns["a"].memory.memory_map) == [0, 2]
    run("%%agent b\nhi")
    run("%agent_reset --all")
    assert not agents.user_ns["a"].memory.memory_map
    assert not agents.user_ns["b"].memory.memory_map


def test_save_and_load_keep_unicode(agents, run, tmp_path):
    path = tmp_path / "mem é.json"
    run("%%agent a -s 3\n你好, wörld 🎉 {'a': 1}")
    _result, captured = run(f"%agent save a '{path}' -s 3")
    assert "saved 2 messages" in captured.stdout
    text = path.read_text(encoding="utf-8")
    assert "你好, wörld 🎉" in text  # stored readable, not as \\u escapes
    assert json.loads(text)["memory"][1]["content"] == "echo: 你好, wörld 🎉 {'a': 1}"
    run("%agent_reset a -s 3")
    run(f"%agent load a '{path}' -s 9")
    msgs = agents.user_ns["a"].memory.get(9).get_memory()
    assert [m.content for m in msgs] == ["你好, wörld 🎉 {'a': 1}", "echo: 你好, wörld 🎉 {'a': 1}"]
    _, captured = run("%agent show a -s 9")
    assert transcripts(captured)[0]["messages"][0]["content"] == "你好, wörld 🎉 {'a': 1}"
    _, captured = run(f"%agent load a '{tmp_path / 'missing.json'}'")
    assert "cannot load" in captured.stderr


def test_sync_timeout_stops_the_turn_and_keeps_memory_consistent(agents, run):
    agents.user_ns["slow"] = agents.user_ns["Agent"](
        agents.user_ns["ScriptedLLM"](lambda m: time.sleep(30) or "late"), name="slow"
    )
    started = time.monotonic()
    result, _captured = run("%%agent slow --timeout 0.5\nhi")
    assert time.monotonic() - started < 20
    assert type(result.error_in_exec).__name__ == "AgentTimeout"
    assert "--timeout 0.5" in str(result.error_in_exec)
    assert [m.sender for m in agents.user_ns["slow"].memory.get(0).get_memory()] == ["user"]


def test_async_timeout_cancels_the_agent(agents, run):
    agents.run_cell(
        "import asyncio\n"
        "class SlowLLM(AsyncScriptedLLM):\n"
        "    async def chat(self, *a, **k):\n"
        "        await asyncio.sleep(30)\n"
        "slow = AsyncAgent(SlowLLM(['x']), name='slow')\n"
    )
    result, _ = run("%%agent slow --timeout 0.3\nhi")
    assert type(result.error_in_exec).__name__ == "AgentTimeout"
    assert [m.sender for m in agents.user_ns["slow"].memory.get(0).get_memory()] == ["user"]


def test_background_turn_and_stop(agents, run):
    result, captured = run("%%agent b --bg -s bg\nlater")
    assert last_error(result) is None
    assert captured.outputs[0].data["text/plain"].startswith("b is working")
    # with no kernel loop running the task completes before the magic returns
    assert agents.user_ns["b"].memory.get("bg").get_memory()[-1].content == "async later"
    _, captured = run("%agent stop")
    assert "nothing is running" in captured.stdout


def test_help_shows_the_options(agents, run):
    doc = agents.find_cell_magic("agent").__doc__
    for option in (
        "--session",
        "--output",
        "--no-stream",
        "--timeout",
        "--format",
        "--bg",
        "--no-interpolate",
        "%agent list",
    ):
        assert option in doc
    assert "--all" in agents.find_line_magic("agent_reset").__doc__


def test_unload_removes_everything(ip):
    ip.run_line_magic("unload_ext", "lagent_nb")
    assert "agent" not in ip.magics_manager.magics["cell"]
    assert "agent_reset" not in ip.magics_manager.magics["line"]
    assert not any(type(c).__name__ == "AgentMagics" for c in ip.configurables)
    ip.run_line_magic("load_ext", "lagent_nb")
    ip.run_line_magic("reload_ext", "lagent_nb")
    assert "agent" in ip.magics_manager.magics["cell"]
    assert sum(type(c).__name__ == "AgentMagics" for c in ip.configurables) == 1


def test_memory_objects_display_as_transcripts(agents, run):
    run("%%agent a\nshow me")
    data, _ = agents.display_formatter.format(agents.user_ns["a"].memory.get(0))
    assert [m["content"] for m in data[TRANSCRIPT_MIME]["messages"]] == ["show me", "echo: show me"]
    agents.run_line_magic("unload_ext", "lagent_nb")
    data, _ = agents.display_formatter.format(agents.user_ns["a"].memory.get(0))
    assert TRANSCRIPT_MIME not in data  # the formatter left with the extension
    agents.run_line_magic("load_ext", "lagent_nb")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [
                "list",
                "show",
                "save",
                "load",
                "stop",
                "a",
                "b",
                "nope",
                "a.x",
                "-s",
                "1",
                "s x",
                "--all",
                "f.json",
                "'d/f.json'",
                '"',
                "--bogus",
                "-",
                "--",
                "é",
            ]
        ),
        max_size=6,
    )
)
def test_any_agent_line_is_a_result_or_a_usage_error(agents, tmp_path, monkeypatch, words):
    monkeypatch.chdir(tmp_path)
    for magic in ("agent", "agent_reset"):
        with contextlib.suppress(UsageError):
            agents.run_line_magic(magic, " ".join(words))


def test_default_timeout_from_config(agents, run):
    agents.user_ns["slow"] = agents.user_ns["Agent"](
        agents.user_ns["ScriptedLLM"](lambda m: time.sleep(30) or "late"), name="slow"
    )
    agents.run_line_magic("config", "AgentMagics.default_timeout = 0.3")
    result, _ = run("%%agent slow\nhi")
    assert type(result.error_in_exec).__name__ == "AgentTimeout"
    assert "--timeout 0.3" in str(result.error_in_exec)
