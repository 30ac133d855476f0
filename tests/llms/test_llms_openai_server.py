"""The loopback OpenAI-compatible server itself: protocol shape, script control, capacity."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from lagent_nb.testing.openai_server import OpenAIServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "two words"}]}


def test_models_and_unknown_routes(server):
    models = httpx.get(f"{server.base_url}/models").json()
    assert models["data"][0]["id"] == "scripted-model"
    missing = httpx.post(f"{server.base_url}/embeddings", json={})
    assert missing.status_code == 404 and "no route" in missing.json()["error"]["message"]


def test_completion_shape_usage_and_exhausted_script():
    with OpenAIServer(["hello there"]) as srv:
        reply = httpx.post(srv.chat_url, json=BODY).json()
        assert reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"] == {"role": "assistant", "content": "hello there"}
        assert reply["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
        exhausted = httpx.post(srv.chat_url, json=BODY)
        assert exhausted.status_code == 500
        assert "ran out of scripted replies" in exhausted.json()["error"]["message"]


def test_sse_stream_format():
    with OpenAIServer(["a b"]) as srv:
        body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        text = httpx.post(srv.chat_url, json=body).text
    events = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    deltas = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert deltas == "a b"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 2


def test_fault_control(server):
    with pytest.raises(ValueError, match="unknown fault"):
        server.fail("explode")
    server.fail("http_429", times=2, retry_after=7)
    first = httpx.post(server.chat_url, json=BODY)
    assert first.status_code == 429 and first.headers["retry-after"] == "7"
    assert httpx.post(server.chat_url, json=BODY).status_code == 429
    assert httpx.post(server.chat_url, json=BODY).status_code == 200  # recovered after 2


async def test_serves_256_concurrent_connections_in_parallel():
    with OpenAIServer(delay=1.0) as srv:
        host, port = "127.0.0.1", srv.port
        payload = json.dumps(BODY).encode()
        request = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload

        async def one() -> bytes:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status = await reader.readline()
            writer.close()
            return status

        statuses = await asyncio.gather(*(one() for _ in range(256)))
        assert all(b" 200 " in status for status in statuses)
        assert srv.peak_concurrency >= 200


def test_command_line_server_prints_its_address_and_stops_with_stdin():
    proc = subprocess.Popen(
        [sys.executable, "-m", "lagent_nb.testing.openai_server", "--delay", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:")
        reply = httpx.post(line.split()[1] + "/chat/completions", json=BODY).json()
        assert reply["choices"][0]["message"]["content"] == "echo: two words"
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
        proc.stdout.close()
