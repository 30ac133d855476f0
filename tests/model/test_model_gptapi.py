"""GPTAPI / AsyncGPTAPI against the real embedded model: chat, streaming, stop words, concurrency.

Assertions are about structure (text came back, chunks grow, stops cut), never about the model
being right: a 0.5B model answers many things wrong.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from lagent_nb.llms.local import probe
from lagent_nb.schema import ModelStatusCode

pytestmark = [pytest.mark.model, pytest.mark.slow]

COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]


def test_chat_returns_text(embedded):
    llm = embedded.get_llm(max_new_tokens=24)
    reply = llm.chat([{"role": "user", "content": "Say hello in three words."}])
    assert isinstance(reply, str) and reply.strip()


def test_the_server_wants_its_key(embedded):
    body = {"model": embedded.alias, "messages": COUNT, "max_tokens": 4}
    url = f"{embedded.base_url}/chat/completions"
    assert httpx.post(url, json=body, timeout=60).status_code == 401
    auth = {"Authorization": f"Bearer {embedded.api_key}"}
    assert httpx.post(url, json=body, headers=auth, timeout=60).status_code == 200
    assert httpx.get(f"{embedded.address}/health", timeout=10).status_code == 200
    assert embedded.api_key not in repr(embedded) + repr(embedded.get_llm())


def test_multi_turn_and_batch(embedded):
    llm = embedded.get_llm(max_new_tokens=16)
    dialog = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    replies = llm.chat([dialog, COUNT])
    assert isinstance(replies, list) and len(replies) == 2
    assert all(isinstance(r, str) and r.strip() for r in replies)


def test_stream_chat_grows_then_ends(embedded):
    llm = embedded.get_llm(max_new_tokens=40)
    items = list(llm.stream_chat(COUNT))
    states = [state for state, _, _ in items]
    texts = [text for _, text, _ in items]
    assert states[-1] == ModelStatusCode.END
    assert ModelStatusCode.STREAM_ING in states[:-1]
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))  # cumulative text
    assert texts[-1] == llm.chat(COUNT)  # greedy decoding: streaming gives the same text


def test_stop_words_cut_the_reply(embedded):
    llm = embedded.get_llm(max_new_tokens=40)
    full = llm.chat(COUNT)
    words = full.split()
    assert len(words) >= 3, f"need a longer reply to pick a stop word from: {full!r}"
    stop = words[2]
    cut = llm.chat(COUNT, stop_words=[stop])
    assert stop not in cut
    assert full.startswith(cut.rstrip()) and len(cut) < len(full)
    streamed = list(llm.stream_chat(COUNT, stop_words=[stop]))
    assert stop not in streamed[-1][1] and streamed[-1][0] == ModelStatusCode.END


async def test_eight_concurrent_async_requests(embedded):
    llm = embedded.get_llm(async_=True, max_new_tokens=12)
    prompts = [[{"role": "user", "content": f"Write the number {i} in words."}] for i in range(8)]
    replies = await asyncio.wait_for(
        asyncio.gather(*(llm.chat(p, session_ids=i) for i, p in enumerate(prompts))), timeout=240
    )
    assert len(replies) == 8 and all(isinstance(r, str) and r.strip() for r in replies)


async def test_async_stream_chat(embedded):
    llm = embedded.get_llm(async_=True, max_new_tokens=24)
    items = [item async for item in llm.stream_chat(COUNT)]
    assert items[-1][0] == ModelStatusCode.END and items[-1][1].strip()
    assert len(items) > 2


def test_probe_reports_start_and_speed(embedded):
    figures = probe(embedded, max_new_tokens=16)
    assert figures["first_token_s"] > 0
    assert figures["prompt_tokens"] > 0 and figures["generated_tokens"] > 0
    assert figures["prompt_tok_per_s"] > 0 and figures["generation_tok_per_s"] > 0
    assert set(embedded.timings) == {"join_s", "load_s", "total_s"}
