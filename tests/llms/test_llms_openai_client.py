"""GPTAPI and AsyncGPTAPI against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from lagent_nb.llms import GPTAPI, AsyncGPTAPI
from lagent_nb.llms.retry import LLMAPIError
from lagent_nb.schema import ModelStatusCode
from lagent_nb.testing.openai_server import OpenAIServer

USER = [{"role": "user", "content": "hi"}]
SECRET = "sk-test-9f8e7d6c5b4a-DO-NOT-LEAK"


def _texts(items):
    return [text for _, text, _ in items]


def test_chat_sends_mapped_payload_and_key(server):
    server.set_replies(["  hello there  "])
    llm = GPTAPI("tiny-model", key=SECRET, api_base=server.chat_url, max_new_tokens=64)
    assert llm.chat(USER, temperature=0.1) == "hello there"
    (request,) = server.chat_requests
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.body["model"] == "tiny-model"
    assert request.body["max_tokens"] == 64 and request.body["temperature"] == 0.1
    assert request.body["messages"] == USER
    assert "top_k" not in request.body and "stop" not in request.body


def test_chat_batch_returns_one_answer_per_conversation(server):
    server.set_replies(lambda body: body["messages"][-1]["content"].upper())
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url)
    batch = [[{"role": "user", "content": word}] for word in ("a", "b", "c")]
    assert llm.chat(batch) == ["A", "B", "C"]


def test_stop_words_are_cut_on_the_client(server):
    server.set_replies(["answer<|im_end|>junk"])
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url, stop_words="<|im_end|>")
    assert llm.chat(USER) == "answer"
    assert server.chat_requests[0].body["stop"] == ["<|im_end|>"]


def test_stream_chat_is_cumulative_and_cuts_split_stop_words():
    with OpenAIServer(["one two<|im_end|>three"], chunk_size=3) as srv:
        llm = GPTAPI("m", key=SECRET, api_base=srv.base_url, stop_words=["<|im_end|>"])
        items = list(llm.stream_chat(USER))
    assert items[-1] == (ModelStatusCode.END, "one two", None)
    assert all(status == ModelStatusCode.STREAM_ING for status, _, _ in items[:-1])
    texts = _texts(items)
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))
    assert not any("<|" in text for text in texts)
    assert srv.chat_requests[0].body["stream"] is True


def test_stream_chat_word_chunks(server):
    server.set_replies(["a b c"])
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url)
    assert _texts(llm.stream_chat(USER)) == ["a ", "a b ", "a b c", "a b c"]


async def test_async_chat_and_stream(server):
    server.set_replies(["first", "x y"])
    llm = AsyncGPTAPI("m", key=SECRET, api_base=server.base_url)
    assert await llm.chat(USER, 0) == "first"
    items = [item async for item in llm.stream_chat(USER, session_id=0)]
    assert _texts(items) == ["x ", "x y", "x y"]
    assert items[-1][0] == ModelStatusCode.END


async def test_eight_concurrent_async_requests_overlap():
    with OpenAIServer(lambda body: body["messages"][-1]["content"], delay=0.5) as srv:
        llm = AsyncGPTAPI("m", key=SECRET, api_base=srv.base_url)
        prompts = [f"q{i}" for i in range(8)]
        answers = await asyncio.gather(
            *(llm.chat([{"role": "user", "content": p}]) for p in prompts)
        )
        await llm.aclose()
        assert answers == prompts
        assert srv.peak_concurrency >= 6  # served side by side, not one after another


async def test_async_client_survives_a_new_event_loop(server):
    llm = AsyncGPTAPI("m", key=SECRET, api_base=server.base_url)
    assert await llm.chat(USER) == "echo: hi"

    def in_fresh_loop():
        return asyncio.run(llm.chat(USER))

    assert await asyncio.to_thread(in_fresh_loop) == "echo: hi"


def test_keys_rotate_round_robin(server):
    llm = GPTAPI("m", key=["k-1", "k-2", "k-3"], api_base=server.base_url)
    for _ in range(4):
        llm.chat(USER)
    used = [r.headers["authorization"] for r in server.chat_requests]
    assert used == ["Bearer k-1", "Bearer k-2", "Bearer k-3", "Bearer k-1"]


def test_orgs_rotate_in_the_organization_header(server):
    llm = GPTAPI("m", key=SECRET, org=["org-a", "org-b"], api_base=server.base_url)
    llm.chat(USER)
    llm.chat(USER)
    assert [r.headers["openai-organization"] for r in server.chat_requests] == ["org-a", "org-b"]


def test_insufficient_quota_retires_the_key(server):
    llm = GPTAPI("m", key=["k-1", "k-2"], api_base=server.base_url, retry=1)
    server.fail("insufficient_quota", times=1)
    assert llm.chat(USER) == "echo: hi"
    assert llm.chat(USER) == "echo: hi"
    used = [r.headers["authorization"] for r in server.chat_requests]
    assert used == ["Bearer k-1", "Bearer k-2", "Bearer k-2"]
    server.fail("insufficient_quota")
    with pytest.raises(LLMAPIError, match="insufficient quota"):
        llm.chat(USER)


def test_env_key_is_read(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    GPTAPI("m", api_base=server.base_url).chat(USER)
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_key_never_in_repr_errors_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url, retry=2, retry_wait=0.1)
    async_llm = AsyncGPTAPI("m", key=SECRET, api_base=server.base_url)
    assert SECRET not in repr(llm) and SECRET not in repr(async_llm)
    assert SECRET not in str(vars(llm).get("_keys"))
    llm.chat(USER)
    server.fail("http_500", times=1)
    llm.chat(USER)  # one retry, logged
    server.fail("http_401")
    with pytest.raises(LLMAPIError) as caught:
        llm.chat(USER)
    assert "HTTP 401" in str(caught.value) and "API key" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert "retrying" in caplog.text
    assert SECRET not in caplog.text
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in server.chat_requests)


def test_redaction_scrubs_keys_from_server_messages():
    from lagent_nb.llms.credentials import REDACTED, KeyRing

    ring = KeyRing(["sk-aaaa1111", "sk-bbbb2222"])
    assert ring.redact("bad key sk-bbbb2222 given") == f"bad key {REDACTED} given"
    assert "sk-" not in repr(ring)
    key = ring.next()
    assert key == "sk-aaaa1111" and f"Bearer {key}" == "Bearer sk-aaaa1111"
    assert repr(key) == REDACTED and "sk-" not in repr({"locals": [key]})


def test_tools_pass_through(server):
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url)
    llm.chat(USER, tools=tools)
    assert server.chat_requests[0].body["tools"] == tools


def test_streamed_tool_calls_arrive_in_the_end_item(server):
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    server.set_replies([{"content": "", "tool_calls": [call], "finish_reason": "tool_calls"}])
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url)
    *_, (status, text, extra) = llm.stream_chat(USER, tools=[{"type": "function"}])
    assert (status, text) == (ModelStatusCode.END, "")
    assert extra == {"tool_calls": [call]}


async def test_async_pools_grow_with_concurrency_only():
    with OpenAIServer(delay=0.3) as srv:
        llm = AsyncGPTAPI("m", key=SECRET, api_base=srv.base_url)
        for _ in range(3):
            await llm.chat(USER)
        (pools,) = llm._loop_pools.values()
        assert len(pools) == 1  # sequential calls reuse one pool and its connection
        await asyncio.gather(*(llm.chat(USER) for _ in range(4 * llm.requests_per_pool)))
        assert len(pools) >= 4
        assert all(pool.in_flight == 0 for pool in pools)
        await llm.aclose()
        assert not llm._loop_pools
        assert await llm.chat(USER) == "echo: hi"  # reopens on demand
        await llm.aclose()


def test_close_releases_connections_and_reopens_on_demand(server):
    llm = GPTAPI("m", key=SECRET, api_base=server.base_url)
    assert llm.chat(USER) == "echo: hi"
    llm.close()
    assert llm.chat(USER) == "echo: hi"
    llm.close()


def test_proxies_route_requests_through_the_proxy(server):
    # The loopback server accepts absolute-form request targets, so it can stand in for an
    # HTTP proxy: the endpoint host below does not exist, only the proxy can answer.
    proxy = server.base_url.rsplit("/v1", 1)[0]
    llm = GPTAPI("m", key=SECRET, api_base="http://llm.invalid/v1", proxies={"http": proxy})
    assert llm.chat(USER) == "echo: hi"
    assert server.chat_requests[0].path == "http://llm.invalid/v1/chat/completions"
