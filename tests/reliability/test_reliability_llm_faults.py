"""An OpenAI-compatible server that misbehaves: every failure ends in bounded time, with a clear
error naming the endpoint, and an agent's memory stays consistent so a retry works later."""

from __future__ import annotations

import asyncio
import logging

import pytest

from lagent_nb.agents import Agent, AsyncAgent, StreamingAgent
from lagent_nb.llms import GPTAPI, AsyncGPTAPI
from lagent_nb.llms.retry import LLMAPIError
from lagent_nb.testing.openai_server import OpenAIServer, unused_base_url

pytestmark = pytest.mark.timeout(60)

USER = [{"role": "user", "content": "hi"}]
KEY = "sk-reliability-secret-0042"
FAST = {"key": KEY, "retry_wait": 0.05, "timeout": 0.5, "connect_timeout": 0.5}


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server():
    with OpenAIServer(chunk_size=2) as srv:
        yield srv


def _chat(url: str, *, asynchronous: bool, stream: bool, **options):
    """Run one request the way a user would, sync or async, plain or streamed."""
    cls = AsyncGPTAPI if asynchronous else GPTAPI
    llm = cls("m", api_base=url, **{**FAST, **options})
    if not asynchronous:
        return list(llm.stream_chat(USER))[-1][1] if stream else llm.chat(USER)

    async def run():
        if stream:
            return [item async for item in llm.stream_chat(USER)][-1][1]
        return await llm.chat(USER)

    return asyncio.run(run())


MODES = [
    pytest.param(False, False, id="sync"),
    pytest.param(False, True, id="sync-stream"),
    pytest.param(True, False, id="async"),
    pytest.param(True, True, id="async-stream"),
]


def _assert_clear(error: LLMAPIError, url: str, *fragments: str):
    text = str(error)
    assert url.rstrip("/") in text
    for fragment in fragments:
        assert fragment in text
    assert KEY not in text


@pytest.mark.parametrize(("asynchronous", "stream"), MODES)
def test_connection_refused(asynchronous, stream):
    url = unused_base_url()
    with pytest.raises(LLMAPIError) as caught:
        _chat(url, asynchronous=asynchronous, stream=stream)
    _assert_clear(caught.value, url, "connection failed", "2 attempts", "server running")


@pytest.mark.parametrize(("asynchronous", "stream"), MODES)
def test_http_500_is_retried_then_reported(server, asynchronous, stream):
    server.fail("http_500")
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=asynchronous, stream=stream, retry=3)
    _assert_clear(caught.value, server.chat_url, "HTTP 500", "3 attempts")
    assert len(server.chat_requests) == 3


@pytest.mark.parametrize(("asynchronous", "stream"), MODES)
def test_transient_500_recovers(server, asynchronous, stream):
    server.fail("http_500", times=1)
    assert _chat(server.base_url, asynchronous=asynchronous, stream=stream) == "echo: hi"
    assert len(server.chat_requests) == 2


@pytest.mark.parametrize(("asynchronous", "stream"), MODES)
def test_429_waits_as_told_by_retry_after(server, caplog, asynchronous, stream):
    caplog.set_level(logging.WARNING, logger="lagent_nb.llms.openai")
    server.fail("http_429", times=1, retry_after=0.2)
    answer = _chat(server.base_url, asynchronous=asynchronous, stream=stream, retry_wait=5)
    assert answer == "echo: hi"
    assert "HTTP 429: scripted rate limit); retrying in 0.2 s" in caplog.text


def test_429_asking_for_too_long_fails_at_once(server):
    server.fail("http_429", retry_after=3600)
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=False, stream=False, retry=5)
    _assert_clear(caught.value, server.chat_url, "HTTP 429", "retry after 3600 s")
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(("asynchronous", "stream"), MODES[::2])
def test_malformed_json(server, asynchronous, stream):
    server.fail("malformed_json")
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=asynchronous, stream=stream)
    _assert_clear(caught.value, server.chat_url, "malformed response")
    server.fail("malformed_json", times=1)
    assert _chat(server.base_url, asynchronous=asynchronous, stream=stream) == "echo: hi"


@pytest.mark.parametrize("asynchronous", [False, True])
def test_stream_cut_mid_way_after_output_is_not_retried(server, asynchronous):
    server.set_replies(["a long reply that will be cut"])
    server.fail("stream_cut")
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=asynchronous, stream=True)
    _assert_clear(caught.value, server.chat_url, "already streamed")
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(("asynchronous", "stream"), MODES)
def test_server_that_never_answers_times_out(server, asynchronous, stream):
    server.fail("hang")
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=asynchronous, stream=stream, timeout=0.3)
    _assert_clear(caught.value, server.chat_url, "no answer within 0.3 s", "2 attempts")


@pytest.mark.parametrize(("asynchronous", "stream"), MODES[::3])
def test_dropped_connection_is_retried(server, asynchronous, stream):
    server.fail("drop", times=1)
    assert _chat(server.base_url, asynchronous=asynchronous, stream=stream) == "echo: hi"


def test_non_retryable_errors_fail_on_the_first_attempt(server):
    server.fail("http_401")
    with pytest.raises(LLMAPIError) as caught:
        _chat(server.base_url, asynchronous=False, stream=False, retry=5)
    _assert_clear(caught.value, server.chat_url, "HTTP 401", "1 attempt;", "API key")


# -- agents over a failing LLM -------------------------------------------------------------


def _history(agent) -> list[tuple[str, str]]:
    return [(m.sender, m.content) for m in agent.memory.get_memory()]


def test_agent_keeps_the_user_message_and_no_fake_reply_then_recovers(server):
    agent = Agent(GPTAPI("m", api_base=server.base_url, **FAST), name="bot")
    server.fail("http_500")
    with pytest.raises(LLMAPIError):
        agent("hello")
    assert _history(agent) == [("user", "hello")]
    server.fail(None)
    reply = agent("again")
    sent = server.chat_requests[-1].body["messages"]
    # the failed turn's message is still part of the conversation the LLM sees
    assert [m["role"] for m in sent] == ["user"]
    assert "hello" in sent[0]["content"] and "again" in sent[0]["content"]
    assert reply.content == f"echo: {sent[0]['content']}"
    assert _history(agent) == [("user", "hello"), ("user", "again"), ("bot", reply.content)]


def test_streaming_agent_adds_no_partial_reply_when_the_stream_breaks(server):
    agent = StreamingAgent(GPTAPI("m", api_base=server.base_url, **FAST), name="bot")
    server.set_replies(["partial answer that breaks", "fine now"])
    server.fail("stream_cut", times=1)
    with pytest.raises(LLMAPIError):
        for _ in agent("hello"):
            pass
    assert _history(agent) == [("user", "hello")]
    *_, last = agent("retry")
    assert last.content == "fine now"
    assert _history(agent)[-1] == ("bot", "fine now")


async def test_async_agent_recovers_after_the_server_comes_back(server):
    agent = AsyncAgent(AsyncGPTAPI("m", api_base=server.base_url, **FAST), name="bot")
    server.fail("hang")
    with pytest.raises(LLMAPIError, match="no answer within"):
        await agent("hello", session_id=1)
    assert [m.content for m in agent.memory.get_memory(1)] == ["hello"]
    server.fail(None)
    reply = await agent("hello?", session_id=1)
    assert reply.content.startswith("echo: hello") and reply.content.endswith("hello?")
    assert [m.content for m in agent.memory.get_memory(1)] == ["hello", "hello?", reply.content]


def test_401_without_any_key_says_how_to_give_one(server):
    server.fail("http_401")
    llm = GPTAPI("m", api_base=server.base_url, key=None, retry_wait=0.05)
    with pytest.raises(LLMAPIError, match=r"No API key was given: pass key="):
        llm.chat(USER)
