"""Async, streaming and async-streaming agents: same protocol, only the waiting differs."""

import asyncio

import pytest

from lagent_nb.agents import (
    AsyncAgent,
    AsyncSequential,
    AsyncStreamingAgent,
    AsyncStreamingSequential,
    StreamingAgent,
    StreamingSequential,
)
from lagent_nb.hooks import Hook
from lagent_nb.prompts.parsers import JSONParser, ToolParser
from lagent_nb.schema import AgentMessage, AgentStatusCode
from lagent_nb.testing import AsyncScriptedLLM, ScriptedLLM

END, STREAMING = AgentStatusCode.END, AgentStatusCode.STREAM_ING


def history(agent, session_id=0):
    return [(m.sender, m.content) for m in agent.memory.get_memory(session_id)]


class Upper(Hook):
    def after_agent(self, agent, message, session_id):
        return message.model_copy(update={"content": message.content.upper()})


class RecordingAsyncLLM(AsyncScriptedLLM):
    """Also records the positional session id the agent passes to ``chat``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session_args = []

    async def chat(self, inputs, session_ids=None, **gen_params):
        self.session_args.append(session_ids)
        return await super().chat(inputs, **gen_params)


class TestAsync:
    async def test_async_agent_passes_the_session_to_the_llm(self):
        llm = RecordingAsyncLLM(["pong"])
        agent = AsyncAgent(llm, "sys", hooks=[Upper()])
        reply = await agent("ping", session_id=7, temperature=0.1)
        assert reply.content == "PONG" and reply.sender == "AsyncAgent"
        assert llm.session_args == [7]
        assert llm.gen_params_log[0]["temperature"] == 0.1
        assert history(agent, 7) == [("user", "ping"), ("AsyncAgent", "pong")]

    async def test_concurrent_sessions_stay_isolated(self):
        llm = AsyncScriptedLLM(lambda messages: "re:" + messages[-1]["content"])
        agent = AsyncAgent(llm)
        replies = await asyncio.gather(*(agent(f"q{i}", session_id=i) for i in range(5)))
        assert [r.content for r in replies] == [f"re:q{i}" for i in range(5)]
        assert all(
            history(agent, i) == [("user", f"q{i}"), ("AsyncAgent", f"re:q{i}")] for i in range(5)
        )

    async def test_async_sequential(self):
        pipeline = AsyncSequential(
            AsyncAgent(AsyncScriptedLLM(["a1"]), name="a"),
            AsyncAgent(AsyncScriptedLLM(["b1"]), name="b"),
        )
        reply = await pipeline("go")
        assert (reply.sender, reply.content) == ("b", "b1")
        assert list(pipeline.state_dict()) == ["memory", "0.memory", "1.memory"]

    async def test_cancellation_keeps_the_user_message_only(self):
        started = asyncio.Event()

        class Slow(AsyncScriptedLLM):
            async def chat(self, inputs, session_ids=None, **gen_params):
                started.set()
                await asyncio.sleep(30)

        agent = AsyncAgent(Slow([]))
        task = asyncio.create_task(agent("hello"))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert history(agent) == [("user", "hello")]

    async def test_llm_error_propagates_with_no_reply_stored(self):
        def fail(messages):
            raise TimeoutError("model timed out")

        agent = AsyncAgent(AsyncScriptedLLM(fail))
        with pytest.raises(TimeoutError):
            await agent("hello")
        assert history(agent) == [("user", "hello")]


class TestStreaming:
    def test_chunks_are_cumulative_and_end_appears_once(self):
        agent = StreamingAgent(ScriptedLLM(["hello big world"]), hooks=[Upper()])
        chunks = list(agent("x", session_id=2))
        assert [(c.content, c.stream_state) for c in chunks] == [
            ("hello ", STREAMING),
            ("hello big ", STREAMING),
            ("hello big world", STREAMING),
            ("HELLO BIG WORLD", END),
        ]
        assert history(agent, 2) == [("user", "x"), ("StreamingAgent", "hello big world")]

    def test_each_chunk_is_an_independent_copy(self):
        chunks = list(StreamingAgent(ScriptedLLM(["a b"]))("x"))
        chunks[0].content = "mutated"
        assert chunks[1].content == "a b"

    def test_formatted_is_reparsed_per_chunk(self):
        parser = ToolParser(tool_type="code", begin="<code>", end="</code>")
        agent = StreamingAgent(
            ScriptedLLM(["think <code>x=1</code>"], chunk_size=8), output_format=parser
        )
        chunks = list(agent("q"))
        assert chunks[0].formatted["status"] == 0 and chunks[0].content == "think <c"
        assert chunks[-1].formatted == {
            "tool_type": "code",
            "thought": "think ",
            "action": "x=1",
            "status": 1,
        }
        assert sum(c.stream_state == END for c in chunks) == 1

    def test_unparseable_partial_chunks_have_no_formatted_but_the_end_is_strict(self):
        from pydantic import BaseModel

        class Answer(BaseModel):
            answer: str

        parser = JSONParser("{a}", a=Answer)
        agent = StreamingAgent(
            ScriptedLLM(['{"answer": "yes"}'], chunk_size=5), output_format=parser
        )
        chunks = list(agent("q"))
        assert chunks[0].formatted is None
        assert chunks[-1].formatted == {"answer": "yes"} and chunks[-1].stream_state == END
        broken = StreamingAgent(ScriptedLLM(['{"answer": '], chunk_size=5), output_format=parser)
        with pytest.raises(ValueError, match="not a valid JSON"):
            list(broken("q"))
        assert history(broken) == [("user", "q")]

    def test_interrupted_stream_stores_no_partial_reply(self):
        agent = StreamingAgent(ScriptedLLM(["one two three four"]))
        stream = agent("q")
        assert next(stream).content == "one "
        next(stream)
        stream.close()
        assert history(agent) == [("user", "q")]

    def test_error_mid_stream_propagates_and_stores_no_reply(self):
        class Broken(ScriptedLLM):
            def stream_chat(self, inputs, **gen_params):
                yield AgentStatusCode.STREAM_ING, "partial", None
                raise ConnectionResetError("stream cut")

        agent = StreamingAgent(Broken([]))
        with pytest.raises(ConnectionResetError):
            list(agent("q"))
        assert history(agent) == [("user", "q")]

    def test_streaming_sequential_ends_each_agent_once(self):
        pipeline = StreamingSequential(
            StreamingAgent(ScriptedLLM(["a b"]), name="A"),
            StreamingAgent(ScriptedLLM(["c d"]), name="B"),
        )
        seen = [(c.sender, c.content, c.stream_state) for c in pipeline("go")]
        assert seen == [
            ("A", "a ", STREAMING),
            ("A", "a b", STREAMING),
            ("A", "a b", END),
            ("B", "c ", STREAMING),
            ("B", "c d", STREAMING),
            ("B", "c d", END),
        ]
        state = pipeline.state_dict()
        assert [m["content"] for m in state["memory"]] == ["go", "c d"]
        assert [m["content"] for m in state["1.memory"]] == ["a b", "c d"]

    def test_an_llm_without_stream_chat_is_a_clear_error(self):
        class ChatOnly:
            def chat(self, messages, **kwargs):
                return "x"

        agent = StreamingAgent(ChatOnly())
        with pytest.raises(TypeError, match="has no stream_chat"):
            list(agent("q"))
        assert history(agent) == [("user", "q")]

    def test_a_forward_that_yields_nothing_stores_an_empty_reply(self):
        class Silent(StreamingAgent):
            def forward(self, *message, session_id=0, **kwargs):
                return iter(())

        agent = Silent()
        chunks = list(agent("q"))
        assert [(c.content, c.stream_state) for c in chunks] == [("", END)]
        assert history(agent) == [("user", "q"), ("Silent", "")]


class TestAsyncStreaming:
    async def test_chunks_end_once_and_memory_gets_the_final(self):
        agent = AsyncStreamingAgent(AsyncScriptedLLM(["x y z"]), hooks=[Upper()])
        chunks = [c async for c in agent("q", session_id=1)]
        assert [(c.content, c.stream_state) for c in chunks] == [
            ("x ", STREAMING),
            ("x y ", STREAMING),
            ("x y z", STREAMING),
            ("X Y Z", END),
        ]
        assert history(agent, 1) == [("user", "q"), ("AsyncStreamingAgent", "x y z")]

    async def test_cancelled_consumer_leaves_no_partial_reply(self):
        agent = AsyncStreamingAgent(AsyncScriptedLLM(["one two three four five"]))
        first = asyncio.Event()

        async def consume():
            async for _ in agent("q"):
                first.set()
                await asyncio.sleep(30)

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert history(agent) == [("user", "q")]

    async def test_an_llm_without_stream_chat_is_a_clear_error(self):
        agent = AsyncStreamingAgent(object())
        with pytest.raises(TypeError, match="has no stream_chat"):
            [c async for c in agent("q")]

    async def test_async_streaming_sequential(self):
        pipeline = AsyncStreamingSequential(
            AsyncStreamingAgent(AsyncScriptedLLM(["a"]), name="A"),
            AsyncStreamingAgent(AsyncScriptedLLM(["b"]), name="B"),
        )
        seen = [(c.sender, c.content, c.stream_state) async for c in pipeline("go")]
        assert seen == [
            ("A", "a", STREAMING),
            ("A", "a", END),
            ("B", "b", STREAMING),
            ("B", "b", END),
        ]


class PrefixedMessageHook(Hook):
    """README hook: mutates the incoming messages in place and returns nothing."""

    def __init__(self, prefix, senders=None):
        self.prefix = prefix
        self.senders = senders or []

    def before_agent(self, agent, messages, session_id):
        for message in messages:
            if message.sender in self.senders:
                message.content = self.prefix + message.content


class AsyncBlogger(AsyncAgent):
    """README's self-refining blog writer, with a scripted model instead of GPT."""

    def __init__(self, llm, critic_prefix="", max_turn=2):
        super().__init__()
        self.writer = AsyncAgent(llm, "write posts", name="writer")
        self.critic = AsyncAgent(
            llm, "criticise", name="critic", hooks=[PrefixedMessageHook(critic_prefix, ["writer"])]
        )
        self.max_turn = max_turn

    async def forward(self, message, session_id=0):
        for _ in range(self.max_turn):
            message = await self.writer(message, session_id=session_id)
            message = await self.critic(message, session_id=session_id)
        return await self.writer(message, session_id=session_id)


async def test_readme_async_blogger_sessions_and_state_dict_keys():
    def reply(messages):
        system = messages[0]["content"]
        last = messages[-1]["content"]
        return f"{'draft' if system == 'write posts' else 'critique'}({last[:12]})"

    blogger = AsyncBlogger(AsyncScriptedLLM(reply), critic_prefix="Reflect: ")
    topics = ["AI", "生物技术", "New Energy 🔋"]
    replies = await asyncio.gather(
        *(
            blogger(AgentMessage(sender="user", content=t), session_id=i)
            for i, t in enumerate(topics)
        )
    )
    assert all(r.sender == "writer" for r in replies)
    state = blogger.state_dict(session_id=1)
    assert list(state) == ["memory", "writer.memory", "critic.memory"]
    writer_turns = [m["content"] for m in state["writer.memory"]]
    assert writer_turns[:2] == ["生物技术", "draft(生物技术)"] and len(writer_turns) == 6
    critic_inputs = [m["content"] for m in state["critic.memory"] if m["sender"] == "writer"]
    assert critic_inputs and all(c.startswith("Reflect: draft(") for c in critic_inputs)
    assert blogger.state_dict(session_id=2)["memory"][0]["content"] == "New Energy 🔋"
