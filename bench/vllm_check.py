"""vLLM through lagent_nb's wrappers: batch chat, streaming, and throughput on a real GPU.

``python bench/vllm_check.py [--quick] [--model NAME]``. Needs an NVIDIA GPU and vLLM; anywhere
else it prints why it skipped and exits 0, so the benchmark suite runs on every machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lagent_nb.llms import INTERNLM2_META
from lagent_nb.schema import ModelStatusCode

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
TITLE = "## vLLM check (VllmModel / AsyncVllmModel)"


def skip_reason(module: str = "vllm", label: str = "vLLM") -> str | None:
    """Why this machine cannot run the check of engine ``module``, or None when it can."""
    if shutil.which("nvidia-smi") is None and not Path("/dev/nvidia0").exists():
        return f"no NVIDIA GPU on this machine ({label} needs one)"
    if importlib.util.find_spec(module) is None:
        return f"{label} is not installed (`pip install {module}`)"
    return None


def prompts(count: int) -> list[list[dict]]:
    topics = ["rivers", "prime numbers", "the moon", "bread", "jazz", "volcanoes", "chess"]
    return [
        [{"role": "user", "content": f"Write three sentences about {topics[i % len(topics)]}."}]
        for i in range(count)
    ]


def _batch_chat(model: str, count: int, max_new_tokens: int) -> tuple[float, int, str]:
    from lagent_nb.llms import VllmModel

    llm = VllmModel(
        model,
        vllm_cfg={"gpu_memory_utilization": 0.4, "enforce_eager": True},
        meta_template=INTERNLM2_META,
        stop_words=["<|im_end|>"],
        max_new_tokens=max_new_tokens,
        temperature=0.0,
    )
    rendered = [llm.render(conversation) for conversation in prompts(count)]
    llm.generate(rendered[:1])  # warm-up
    started = time.perf_counter()
    details = llm.generate(rendered, return_dict=True)
    elapsed = time.perf_counter() - started
    tokens = sum(len(d["token_ids"] or ()) for d in details)
    sample = details[0]["text"]
    del llm
    gc.collect()
    return elapsed, tokens, sample


async def _streams(model: str, count: int, max_new_tokens: int) -> tuple[float, float, int]:
    from lagent_nb.llms import AsyncVllmModel

    llm = AsyncVllmModel(
        model,
        vllm_cfg={"gpu_memory_utilization": 0.4, "enforce_eager": True},
        meta_template=INTERNLM2_META,
        stop_words=["<|im_end|>"],
        max_new_tokens=max_new_tokens,
        temperature=0.0,
    )
    first_chunk: list[float] = []
    started = time.perf_counter()

    async def one(conversation: list[dict]) -> int:
        chunks = 0
        async for status, _text, _ in llm.stream_chat(conversation, session_id=0):
            if chunks == 0:
                first_chunk.append(time.perf_counter() - started)
            chunks += int(status == ModelStatusCode.STREAM_ING)
        return chunks

    chunks = await asyncio.gather(*(one(c) for c in prompts(count)))
    return time.perf_counter() - started, min(first_chunk), sum(chunks)


def report(title: str, model: str, count: int, max_new: int, rows: list, sample: str) -> str:
    """The Markdown section both GPU checks print: one row per path measured."""
    lines = [
        title,
        "",
        f"model `{model}`, {count} conversations, max_new_tokens={max_new}, greedy",
        "",
        "| path | wall (s) | output | rate |",
        "|---|---|---|---|",
        *(f"| {path} | {wall:.2f} | {output} | {rate} |" for path, wall, output, rate in rows),
        "",
        f"sample reply: {sample[:120]!r}",
        "",
    ]
    return "\n".join(lines)


def measure(
    title: str,
    reason: str | None,
    model: str,
    quick: bool,
    batch: tuple[Callable, str, str],
    streams: tuple[Callable, str],
) -> str:
    """Run one engine's batch and concurrent-stream checks and report them (or why not).

    ``batch`` is ``(fn, label, unit)`` with ``fn(model, count, max_new) -> (seconds, amount,
    sample)``; ``streams`` is ``(async fn, label)`` with ``fn(...) -> (seconds, first, chunks)``.
    """
    if reason:
        return f"{title}\n\nskipped: {reason}.\n"
    count, max_new = (8, 64) if quick else (64, 256)
    batch_fn, batch_label, unit = batch
    stream_fn, stream_label = streams
    elapsed, amount, sample = batch_fn(model, count, max_new)
    stream_s, first_s, chunks = asyncio.run(stream_fn(model, count, max_new))
    rows = [
        (batch_label, elapsed, f"{amount} {unit}", f"{amount / elapsed:.0f} {unit}/s"),
        (
            f"{stream_label} x{count} concurrent",
            stream_s,
            f"{chunks} chunks, first after {first_s:.2f} s",
            f"{chunks / stream_s:.0f} chunks/s",
        ),
    ]
    return report(title, model, count, max_new, rows, sample)


def run(quick: bool = False, model: str = DEFAULT_MODEL) -> str:
    batch = (_batch_chat, "VllmModel.generate (batch)", "tokens")
    streams = (_streams, "AsyncVllmModel.stream_chat")
    return measure(TITLE, skip_reason(), model, quick, batch, streams)


def main(run: Callable[..., str], doc: str, argv: list[str] | None = None) -> int:
    """The command line both GPU checks share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter requests")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    args = parser.parse_args(argv)
    print(run(quick=args.quick, model=args.model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(run, __doc__))
