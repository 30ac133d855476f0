"""Concurrent agent sessions over one AsyncGPTAPI: are they served side by side?

N sessions of one ``AsyncAgent`` each send a message at the same time to an OpenAI-compatible
server that answers after a fixed delay. With no serialisation anywhere (connection pool, event
loop, agent memory) N sessions take about as long as one. The server runs in its own process so
its threads do not compete with the client for the GIL.

``python bench/async_concurrency.py [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lagent_nb.agents import AsyncAgent
from lagent_nb.llms import AsyncGPTAPI

TITLE = "## Async concurrency (AsyncAgent + AsyncGPTAPI, loopback OpenAI server)"


class _ServerProcess:
    """The loopback server in a child process; its address is the first line it prints."""

    def __init__(self, delay: float):
        self._command = [
            sys.executable,
            "-m",
            "lagent_nb.testing.openai_server",
            "--delay",
            str(delay),
        ]
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        self._process = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self._process.stdout.readline().strip()
        if not line.startswith("listening "):
            self.__exit__()
            raise RuntimeError(f"the benchmark server did not start (said {line!r})")
        return line.split(" ", 1)[1]

    def __exit__(self, *exc) -> None:
        process = self._process
        process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.stdout.close()


async def _timed(make_calls) -> tuple[float, float]:
    """Wall and process-CPU seconds of one concurrent round."""
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*make_calls())
    return time.perf_counter() - wall, time.process_time() - cpu


def _agent_calls(agent: AsyncAgent, sessions: int, tag: str):
    async def one(i: int) -> None:
        reply = await agent(f"{tag} session {i}", session_id=f"{tag}-{i}")
        assert reply.content.endswith(f"session {i}"), reply.content

    return lambda: [one(i) for i in range(sessions)]


def _llm_calls(llm: AsyncGPTAPI, sessions: int):
    return lambda: [llm.chat([{"role": "user", "content": f"q{i}"}]) for i in range(sessions)]


async def _median(make_calls, repeats: int) -> tuple[float, float]:
    runs = [await _timed(make_calls) for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


async def _measure(url: str, counts: list[int], repeats: int) -> list[tuple]:
    llm = AsyncGPTAPI("bench-model", key="sk-bench", api_base=url)
    one_pool = AsyncGPTAPI("bench-model", key="sk-bench", api_base=url)
    one_pool.max_pools = 1  # ablation: a single httpx pool, as the openai client has
    agent = AsyncAgent(llm, name="bench")
    for client in (llm, one_pool):  # open the pools' connections once
        await _timed(_llm_calls(client, max(counts)))
    rows = []
    for n in counts:
        agent_wall, agent_cpu = await _median(_agent_calls(agent, n, f"n{n}"), repeats)
        llm_wall, _ = await _median(_llm_calls(llm, n), repeats)
        pool_wall, _ = await _median(_llm_calls(one_pool, n), repeats)
        rows.append((n, agent_wall, agent_cpu / n * 1000, llm_wall, pool_wall))
    await asyncio.gather(llm.aclose(), one_pool.aclose())
    return rows


def run(quick: bool = False) -> str:
    delay = 0.2
    counts, repeats = ([1, 8, 64], 2) if quick else ([1, 8, 64, 256], 5)
    load_before = os.getloadavg()[0]
    with _ServerProcess(delay) as url:
        rows = asyncio.run(_measure(url, counts, repeats))
    base = rows[0][1]
    lines = [
        TITLE,
        "",
        f"server delay {delay * 1000:.0f} ms per request (server in its own process); median of "
        f"{repeats} rounds; target: 64 sessions <= 1.5x one session; load average "
        f"{load_before:.1f} on {os.cpu_count()} cores when it started",
        "",
        "| sessions | agent wall (s) | x one session | client CPU per session (ms) "
        "| LLM-only wall (s) | LLM-only, one pool (s) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {wall:.3f} | {wall / base:.2f} | {cpu:.2f} | {llm:.3f} | {pool:.3f} |"
        for n, wall, cpu, llm, pool in rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sessions and rounds")
    print(run(quick=parser.parse_args(argv).quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
