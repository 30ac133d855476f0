"""vLLM wrappers, driven through a stand-in ``vllm`` module (real vLLM needs an NVIDIA GPU;
``bench/vllm_check.py`` exercises the real thing where one exists)."""

from __future__ import annotations

import asyncio
import itertools
import sys
import types
from dataclasses import dataclass, field

import pytest

from lagent_nb.llms.vllm_wrapper import (
    AsyncVllmModel,
    VllmModel,
    import_vllm,
    new_request_id,
    sampling_kwargs,
)
from lagent_nb.schema import ModelStatusCode

USER = [{"role": "user", "content": "hi"}]


@dataclass
class _Output:
    text: str
    token_ids: list = field(default_factory=list)
    cumulative_logprob: float = 0.0
    logprobs: None = None
    finish_reason: str = "stop"
    stop_reason: None = None


@dataclass
class _Result:
    outputs: list
    finished: bool


def _fake_vllm(reply):
    """A ``vllm`` module whose engines answer ``reply(prompt)`` a few characters at a time."""
    module = types.ModuleType("vllm")
    module.log = {"params": [], "request_ids": [], "aborted": [], "engine": None}

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs
            module.log["params"].append(kwargs)

    class LLM:
        def __init__(self, **kwargs):
            module.log["engine"] = kwargs

        def generate(self, prompts, sampling_params):
            return [_Result([_Output(reply(p))], True) for p in prompts]

    class AsyncEngineArgs:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    class AsyncLLMEngine:
        def __init__(self):
            self.active = set()

        @classmethod
        def from_engine_args(cls, args):
            module.log["engine"] = args.kwargs
            return cls()

        async def generate(self, prompt, sampling_params, request_id):
            if request_id in self.active:
                raise ValueError(f"request {request_id} already exists")
            self.active.add(request_id)
            module.log["request_ids"].append(request_id)
            text = reply(prompt)
            try:
                for end in range(2, len(text) + 2, 2):
                    await asyncio.sleep(0.01)
                    yield _Result([_Output(text[:end])], end >= len(text))
            finally:
                self.active.discard(request_id)

        async def abort(self, request_id):
            module.log["aborted"].append(request_id)

    module.SamplingParams, module.LLM = SamplingParams, LLM
    module.AsyncEngineArgs, module.AsyncLLMEngine = AsyncEngineArgs, AsyncLLMEngine
    return module


@pytest.fixture
def vllm(monkeypatch):
    module = _fake_vllm(lambda prompt: f"re:{prompt}<stop>tail")
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_missing_vllm_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match="pip install vllm"):
        import_vllm()
    with pytest.raises(ImportError, match="NVIDIA GPU"):
        VllmModel("some/model")


def test_sampling_kwargs_mapping():
    params = {
        "max_new_tokens": 10,
        "top_p": 0.5,
        "top_k": 3,
        "temperature": 0.2,
        "repetition_penalty": 1.1,
        "stop_words": ["<s>"],
        "session_id": 4,
    }
    assert sampling_kwargs(params, skip_special_tokens=True) == {
        "skip_special_tokens": True,
        "max_tokens": 10,
        "stop": ["<s>"],
        "top_p": 0.5,
        "top_k": 3,
        "temperature": 0.2,
        "repetition_penalty": 1.1,
    }


def test_request_ids_are_unique_per_call():
    assert new_request_id(3) != new_request_id(3)
    assert new_request_id(3).startswith("s3-")


def test_offline_model_generate_batch_dict_and_stop_words(vllm):
    llm = VllmModel("org/model", tp=2, vllm_cfg={"gpu_memory_utilization": 0.5})
    assert vllm.log["engine"]["tensor_parallel_size"] == 2
    assert vllm.log["engine"]["gpu_memory_utilization"] == 0.5
    assert llm.chat(USER, stop_words=["<stop>"]) == "re:hi"
    assert vllm.log["params"][-1]["stop"] == ["<stop>"]
    assert llm.generate(["a", "b"], stop_words="<stop>") == ["re:a", "re:b"]
    details = llm.generate("a", return_dict=True, stop_words="<stop>")
    assert details["text"] == "re:a" and details["finish_reason"] == "stop"
    items = list(llm.stream_chat(USER, stop_words="<stop>"))
    assert items[-1] == (ModelStatusCode.END, "re:hi", None)


async def test_async_same_session_requests_do_not_collide(vllm):
    llm = AsyncVllmModel("org/model", stop_words="<stop>")
    answers = await asyncio.gather(llm.chat(USER, 7), llm.chat(USER, 7), llm.chat(USER, 7))
    assert answers == ["re:hi"] * 3
    assert len(set(vllm.log["request_ids"])) == 3
    assert await llm.generate(["x", "y"], session_ids=[1, 2]) == ["re:x", "re:y"]


async def test_async_stream_is_cumulative_and_aborts_at_a_stop_word(vllm):
    llm = AsyncVllmModel("org/model", stop_words=["<stop>"])
    items = [item async for item in llm.stream_chat(USER, session_id=1)]
    texts = [text for _, text, _ in items]
    assert len(items) > 2 and texts[-1] == "re:hi"
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))
    assert not any("<" in text for text in texts)
    assert items[-1][0] == ModelStatusCode.END
    assert vllm.log["aborted"] == vllm.log["request_ids"]  # stopped early: request aborted
