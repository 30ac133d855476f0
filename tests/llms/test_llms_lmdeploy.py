"""LMDeploy backends: gen-param mapping, the missing-install message, and the HTTP client."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from lagent_nb.llms import LMDeployClient, LMDeployPipeline
from lagent_nb.llms.lmdeploy_wrapper import (
    SSE_DONE,
    completions_payload,
    generation_kwargs,
    sse_piece,
)
from lagent_nb.schema import ModelStatusCode

GEN = dict(
    max_new_tokens=64,
    top_p=0.9,
    top_k=1,
    temperature=0.0,
    repetition_penalty=1.1,
    stop_words=["<|im_end|>"],
)


def test_generation_kwargs_follow_lagent_sampling_rule():
    greedy = generation_kwargs(dict(GEN, session_id=3))
    assert greedy == dict(
        max_new_tokens=64,
        top_p=0.9,
        top_k=1,
        temperature=0.0,
        repetition_penalty=1.1,
        stop_words=["<|im_end|>"],
        skip_special_tokens=False,
        do_sample=False,
    )
    assert generation_kwargs(dict(GEN, top_k=40))["do_sample"] is True
    assert generation_kwargs(dict(GEN, temperature=0.7))["do_sample"] is True


def test_completions_payload_uses_a_fresh_engine_session_per_request():
    first = completions_payload("m", "hi", GEN, stream=True)
    second = completions_payload("m", "hi", GEN, stream=False)
    assert first["session_id"] != second["session_id"]
    assert first["max_tokens"] == 64 and first["stop"] == ["<|im_end|>"]
    assert first["stream"] is True and second["stream"] is False


def test_sse_lines():
    assert sse_piece('data: {"choices": [{"text": "ab"}]}') == "ab"
    assert sse_piece(": keep-alive") == ""
    assert sse_piece("data: [DONE]") is SSE_DONE


@pytest.mark.skipif(importlib.util.find_spec("lmdeploy") is not None, reason="LMDeploy installed")
def test_pipeline_without_lmdeploy_says_how_to_install():
    with pytest.raises(ImportError, match=r"lagent_nb\[lmdeploy\]"):
        LMDeployPipeline("internlm/internlm2_5-7b-chat")


def test_client_error_names_the_server_url():
    client = LMDeployClient("http://127.0.0.1:9", model_name="m", timeout=2)
    with pytest.raises(RuntimeError, match=r"http://127\.0\.0\.1:9/v1/completions.*ConnectError"):
        client.chat([{"role": "user", "content": "hi"}])


def test_client_chat_and_stream_against_a_loopback_server():
    from lagent_nb.llms import AsyncLMDeployClient
    from lagent_nb.testing.openai_server import OpenAIServer

    with OpenAIServer(["1, 2, 3<|im_end|>junk", "4 5 6 7"], chunk_size=2) as server:
        client = LMDeployClient(server.base_url[: -len("/v1")], model_name="m", **GEN)
        assert client.chat([{"role": "user", "content": "count"}]) == "1, 2, 3"
        chunks = list(client.stream_chat([{"role": "user", "content": "more"}]))
    assert chunks[-1] == (ModelStatusCode.END, "4 5 6 7", None)
    assert [c[1] for c in chunks[:-1]] == ["4 ", "4 5 ", "4 5 6 ", "4 5 6 7"]
    (first, second) = [r.body for r in server.requests]
    assert first["prompt"].endswith("count") and first["stop"] == ["<|im_end|>"]
    assert second["stream"] is True and first["session_id"] != second["session_id"]

    async def run_async():
        with OpenAIServer(["async reply"]) as server:
            aclient = AsyncLMDeployClient(server.base_url[: -len("/v1")], model_name="m")
            return await aclient.chat([{"role": "user", "content": "hi"}])

    assert asyncio.run(run_async()) == "async reply"


def test_lmdeploy_check_skips_cleanly_without_a_gpu():
    """bench/lmdeploy_check.py exits 0 with the reason where LMDeploy cannot run."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "lmdeploy_check.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    if importlib.util.find_spec("lmdeploy") is None:
        assert "skipped:" in proc.stdout and "LMDeploy" in proc.stdout
