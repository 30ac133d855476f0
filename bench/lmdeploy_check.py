"""LMDeploy through lagent_nb's wrappers: batch chat, streaming, and throughput on a real GPU.

``python bench/lmdeploy_check.py [--quick] [--model NAME]``, the sibling of ``vllm_check.py``.
Needs an NVIDIA GPU and LMDeploy; anywhere else it prints why it skipped and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.vllm_check import DEFAULT_MODEL, main, measure, prompts, skip_reason
from lagent_nb.llms import INTERNLM2_META
from lagent_nb.schema import ModelStatusCode

TITLE = "## LMDeploy check (LMDeployPipeline / AsyncLMDeployPipeline)"
SETTINGS = dict(meta_template=INTERNLM2_META, stop_words=["<|im_end|>"], temperature=0.0, top_k=1)


def _batch_chat(model: str, count: int, max_new_tokens: int) -> tuple[float, int, str]:
    from lagent_nb.llms import LMDeployPipeline

    llm = LMDeployPipeline(model, max_new_tokens=max_new_tokens, **SETTINGS)
    llm.chat(prompts(1))  # warm-up
    started = time.perf_counter()
    replies = llm.chat(prompts(count))
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(r.split()) for r in replies), replies[0]


async def _streams(model: str, count: int, max_new_tokens: int) -> tuple[float, float, int]:
    from lagent_nb.llms import AsyncLMDeployPipeline

    llm = AsyncLMDeployPipeline(model, max_new_tokens=max_new_tokens, **SETTINGS)
    first_chunk: list[float] = []
    started = time.perf_counter()

    async def one(conversation: list[dict]) -> int:
        chunks = 0
        async for status, _text, _ in llm.stream_chat(conversation):
            if chunks == 0:
                first_chunk.append(time.perf_counter() - started)
            chunks += int(status == ModelStatusCode.STREAM_ING)
        return chunks

    chunks = await asyncio.gather(*(one(c) for c in prompts(count)))
    return time.perf_counter() - started, min(first_chunk), sum(chunks)


def run(quick: bool = False, model: str = DEFAULT_MODEL) -> str:
    batch = (_batch_chat, "LMDeployPipeline.chat (batch)", "words")
    streams = (_streams, "AsyncLMDeployPipeline.stream_chat")
    return measure(TITLE, skip_reason("lmdeploy", "LMDeploy"), model, quick, batch, streams)


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
