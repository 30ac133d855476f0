"""ChatPanel and MemoryTree driven headlessly through their state and ``click()``."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from lagent_nb.agents import Agent, AsyncAgent, AsyncStreamingAgent, StreamingAgent
from lagent_nb.notebook import ChatPanel, MemoryTree
from lagent_nb.notebook.display import TRANSCRIPT_MIME
from lagent_nb.schema import AgentMessage
from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM


def shown(panel):
    return [v.outputs[0]["data"]["text/plain"] for v in panel.messages.children]


def echo(prefix):
    return lambda m: f"{prefix} {m[-1]['content']}"


@pytest.mark.parametrize(
    "agent",
    [
        Agent(ScriptedLLM(echo("sync")), name="bot"),
        StreamingAgent(ScriptedLLM(echo("stream")), name="bot"),
        AsyncAgent(AsyncScriptedLLM(echo("async")), name="bot"),
        AsyncStreamingAgent(AsyncScriptedLLM(echo("astream")), name="bot"),
    ],
    ids=["sync", "stream", "async", "async-stream"],
)
def test_panel_talks_to_every_kind_of_agent(agent):
    panel = ChatPanel(agent)
    panel.input.value = "héllo ☃"
    panel.send_button.click()
    assert panel.wait(10)
    assert shown(panel)[0] == "user: héllo ☃"
    assert shown(panel)[1].endswith(" héllo ☃")
    bundle = panel.messages.children[1].outputs[0]["data"]
    assert bundle[TRANSCRIPT_MIME]["messages"][0]["role"] == "assistant"
    assert panel.input.value == "" and panel.stop_button.disabled
    assert panel.stream_view.outputs == ()
    panel.close()


def test_enter_submits_and_empty_input_is_refused():
    panel = ChatPanel(Agent(ScriptedLLM(echo("r")), name="bot"))
    panel.input.value = "   "
    panel.input._handle_custom_msg({"event": "submit"}, [])
    assert "Type a message first" in panel.status.value and shown(panel) == []
    panel.input.value = "go"
    panel.input._handle_custom_msg({"event": "submit"}, [])
    assert panel.wait(10) and shown(panel) == ["user: go", "bot: r go"]


def test_view_follows_memory_and_keeps_unchanged_message_widgets():
    agent = Agent(ScriptedLLM(echo("r")), name="bot")
    panel = ChatPanel(agent)
    agent("first")  # a turn from outside the panel (a cell) shows up too
    first_views = panel.messages.children
    assert shown(panel) == ["user: first", "bot: r first"]
    agent("second")
    assert panel.messages.children[:2] == first_views  # not re-created, not re-sent
    assert len(panel.messages.children) == 4


def test_sessions_reset_and_new_session():
    agent = Agent(ScriptedLLM(echo("r")), name="bot")
    panel = ChatPanel(agent)
    panel.send("a")
    panel.wait(10)
    panel.new_button.click()
    assert panel.session_id == 1 and shown(panel) == []
    panel.send("b")
    panel.wait(10)
    assert [v for _, v in panel.session_picker.options] == [0, 1]
    panel.session_picker.value = 0
    assert shown(panel) == ["user: a", "bot: r a"]
    panel.reset_button.click()
    assert shown(panel) == [] and agent.memory.get(0) is None
    assert agent.memory.get(1) is not None


def test_errors_appear_in_the_panel():
    def broken(messages):
        raise RuntimeError("model <offline>")

    panel = ChatPanel(Agent(ScriptedLLM(broken), name="bot"))
    panel.send("hi")
    assert panel.wait(10)
    assert "RuntimeError" in panel.error_view.value and "&lt;offline&gt;" in panel.error_view.value
    assert shown(panel) == ["user: hi"]  # memory kept the message, no reply
    assert panel.stop_button.disabled  # the panel still works
    panel.send("again")
    assert "The agent is still answering" not in panel.status.value


def test_stop_interrupts_a_sync_agent_on_its_worker_thread():
    release = threading.Event()

    def slow(messages):
        for _ in range(300):
            if release.is_set():
                break
            time.sleep(0.05)
        return "late"

    agent = Agent(ScriptedLLM(slow), name="bot")
    panel = ChatPanel(agent)
    panel.send("wait")
    deadline = time.monotonic() + 10
    while panel.stop_button.disabled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not panel.send("second")  # one turn at a time
    panel.stop_button.click()
    assert panel.wait(10)
    release.set()
    assert "AgentStopped" in panel.error_view.value
    assert [m.sender for m in agent.memory.get(0).get_memory()] == ["user"]


def test_stop_cancels_an_async_agent_task():
    async def scenario():
        class Slow(AsyncScriptedLLM):
            async def chat(self, *args, **kwargs):
                await asyncio.sleep(30)

        agent = AsyncAgent(Slow(["x"]), name="bot")
        panel = ChatPanel(agent)
        panel.send("wait")  # a loop is running: the turn is a task and send returns at once
        await asyncio.sleep(0.1)
        assert not panel.stop_button.disabled
        panel.stop_button.click()
        await asyncio.sleep(0.1)
        assert panel.wait() and "AgentStopped" in panel.error_view.value
        return agent

    agent = asyncio.run(scenario())
    assert [m.sender for m in agent.memory.get(0).get_memory()] == ["user"]


def test_streaming_shows_partials_throttled():
    llm = ScriptedLLM(lambda m: " ".join(f"w{i}" for i in range(200)), chunk_size=3)
    panel = ChatPanel(StreamingAgent(llm, name="bot"), update_interval=3600)
    partials = []
    panel.stream_view.observe(lambda ch: partials.append(ch["new"]), names="outputs")
    panel.send("go")
    assert panel.wait(10)
    drawn = [p for p in partials if p]
    assert len(drawn) == 1  # the first chunk, then nothing until the final message
    assert "user" not in drawn[0][0]["data"]["text/plain"]


def test_long_sessions_draw_only_the_latest_messages():
    agent = Agent(ScriptedLLM(echo("r")), name="bot")
    agent.memory.add([AgentMessage(content=f"m{i}") for i in range(500)], session_id=0)
    panel = ChatPanel(agent, max_messages=50)
    assert len(panel.messages.children) == 50
    assert shown(panel)[-1] == "user: m499"
    assert "450 earlier messages" in panel.hidden_note.value


class Blog(Agent):
    def __init__(self):
        super().__init__(name="blog")
        self.writer = Agent(ScriptedLLM(echo("draft")), name="writer")
        self.critic = Agent(ScriptedLLM(echo("ok")), name="critic")


def labels(node):
    return [c.toggle.description for c in node.body.children]


def test_tree_shows_sub_agents_sessions_and_messages():
    blog = Blog()
    blog.writer("write about 猫", session_id=0)
    blog.writer("again", session_id=1)
    blog.critic("judge", session_id=0)
    tree = MemoryTree(blog)
    assert labels(tree.root) == ["writer (Agent) — 2 sessions", "critic (Agent) — 1 session"]
    writer = tree.node("writer")
    assert writer.body.children == ()  # nothing built before it is opened
    writer.expand()
    assert labels(writer) == ["session 0 — 2 messages", "session 1 — 2 messages"]
    session = tree.node("writer", 0)
    session.expand()
    page = session.body.children[0].value
    assert "write about 猫" in page and "<details>" in page and "draft write about 猫" in page


def test_tree_refreshes_live_and_filters_by_sender():
    blog = Blog()
    blog.writer("one")
    tree = MemoryTree(blog, refresh_interval=0.05)
    tree.node("writer").expand()
    tree.node("writer", 0).expand()
    blog.writer("two")
    deadline = time.monotonic() + 5
    while "4 messages" not in tree.node("writer", 0).toggle.description:
        assert time.monotonic() < deadline, "the tree did not refresh"
        time.sleep(0.02)
    assert "draft two" in tree.node("writer", 0).body.children[0].value
    assert set(tree.sender_filter.options) == {"(all senders)", "user", "writer"}
    tree.sender_filter.value = "writer"
    assert tree.node("writer", 0).toggle.description == "session 0 — 2 messages"
    assert "#0 <b>writer</b>" in tree.node("writer", 0).body.children[0].value
    tree.close()
    blog.writer("three")  # a closed tree no longer listens
    assert blog.writer.memory._subscribers == {}


def test_tree_paginates_ten_thousand_messages():
    agent = Agent(ScriptedLLM(echo("r")), name="big")
    agent.memory.add([AgentMessage(content=f"m{i}") for i in range(10_000)], session_id=0)
    tree = MemoryTree(agent, page_size=100)
    session = tree.node("", 0)
    session.expand()
    nav, page = session.body.children
    assert "page 100/100" in nav.children[1].value
    assert page.value.count("<details>") == 100 and "#9999" in page.value
    nav.children[0].click()  # previous page
    nav, page = session.body.children
    assert "page 99/100" in nav.children[1].value and "#9899" in page.value


def test_tree_exports_json_with_unicode(tmp_path):
    blog = Blog()
    blog.writer("naïve ☃")
    tree = MemoryTree(blog)
    tree.export_path.value = str(tmp_path / "mem.json")
    tree.export_button.click()
    assert "exported" in tree.status.value
    data = json.loads((tmp_path / "mem.json").read_text(encoding="utf-8"))
    assert data["writer"]["0"][0]["content"] == "naïve ☃"
    assert data["."] == {} and data["critic"] == {}
    tree.export_path.value = str(tmp_path / "missing" / "x.json")
    tree.export_button.click()
    assert "export failed" in tree.status.value


def test_panel_shows_and_stops_a_background_cell_turn(ip):
    """``%%agent --bg`` runs as a task; a panel on the same agent streams it and can stop it."""

    class Trickle(AsyncScriptedLLM):
        async def stream_chat(self, inputs, **kwargs):
            async for item in super().stream_chat(inputs, **kwargs):
                await asyncio.sleep(0.05)
                yield item

    agent = AsyncStreamingAgent(Trickle(lambda m: "w " * 1000), name="bot")
    ip.user_ns["bot"] = agent
    panel = ChatPanel(agent, update_interval=0.0)

    async def scenario():
        ip.run_cell_magic("agent", "bot --bg", "write a lot")  # returns at once
        await asyncio.sleep(0.5)
        assert not panel.stop_button.disabled
        assert panel.stream_view.outputs[0]["data"]["text/plain"].startswith("bot: w w")
        panel.stop_button.click()
        await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert panel.stop_button.disabled and panel.stream_view.outputs == ()
    assert shown(panel) == ["user: write a lot"]  # stopped: no partial reply in memory


def test_views_show_the_whole_session_even_with_a_recent_window():
    from lagent_nb.memory import Memory

    agent = Agent(ScriptedLLM(echo("r")), name="bot", memory=dict(type=Memory, recent_n=2))
    for i in range(3):
        agent(f"turn {i}")
    assert len(agent.memory.get(0).get_memory()) == 2  # what the LLM sees
    assert len(ChatPanel(agent).messages.children) == 6  # what the user sees
    assert MemoryTree(agent).node("", 0).toggle.description == "session 0 — 6 messages"
