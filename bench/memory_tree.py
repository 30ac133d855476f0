"""Building and rendering ``MemoryTree`` for big memories, against a naive full render.

For 100, 1,000 and 10,000 messages in one session: the time to build the widget, open the
session, and serialize the state of every widget the front end would receive
(``get_state`` of each, as ``Widget.open`` sends it), and the size of that state. The naive
tree builds one HTML widget per message, like a straightforward ``VBox`` of messages.
Target: 10,000 messages in ≤ 1 s.

Usage: ``python bench/memory_tree.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's lagent_nb

FULL_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)


def _agent(n_messages: int):
    from lagent_nb.agents import Agent
    from lagent_nb.schema import AgentMessage

    agent = Agent(name="bot")
    agent.memory.add(
        [
            AgentMessage(
                content=f"message {i}: " + "lorem ipsum dolor sit amet " * 4,
                sender="user" if i % 2 else "bot",
                formatted={"thought": f"step {i}"} if i % 2 == 0 else None,
            )
            for i in range(n_messages)
        ],
        session_id=0,
    )
    return agent


def _state_bytes(widget) -> int:
    """JSON bytes of the state of ``widget`` and every widget below it."""
    from ipywidgets import Widget

    total, stack, seen = 0, [widget], set()
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        state = w.get_state()
        total += len(json.dumps(state, default=str))
        for value in w.__dict__.get("_trait_values", {}).values():
            items = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(v for v in items if isinstance(v, Widget))
    return total


def lagent_nb_tree(n: int) -> Tuple[float, int]:
    from lagent_nb.notebook import MemoryTree

    agent = _agent(n)
    start = time.perf_counter()
    tree = MemoryTree(agent, page_size=50)
    tree.node("", 0).expand()
    size = _state_bytes(tree)
    elapsed = time.perf_counter() - start
    tree.close()
    return elapsed, size


def naive_tree(n: int) -> Tuple[float, int]:
    import ipywidgets as widgets

    from lagent_nb.notebook.memory_tree import message_html

    agent = _agent(n)
    start = time.perf_counter()
    msgs = agent.memory.get(0).get_memory()
    tree = widgets.VBox([widgets.HTML(message_html(i, m)) for i, m in enumerate(msgs)])
    size = _state_bytes(tree)
    elapsed = time.perf_counter() - start
    for child in tree.children:
        child.close()
    tree.close()
    return elapsed, size


def run(quick: bool = False) -> str:
    lines = [
        "## MemoryTree: build and render",
        "",
        "Build the widget, open one session, serialize every widget's state. Naive: one HTML "
        "widget per message. Target: 10,000 messages in ≤ 1 s.",
        "",
        "| messages | lagent_nb time (s) | lagent_nb state (bytes) | naive time (s) "
        "| naive state (bytes) | speed-up |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in QUICK_SIZES if quick else FULL_SIZES:
        ours, ours_size = lagent_nb_tree(n)
        naive, naive_size = naive_tree(n)
        lines.append(
            f"| {n:,} | {ours:.3f} | {ours_size:,} | {naive:.3f} | {naive_size:,} "
            f"| {naive / ours:,.1f}× |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 messages only")
    print(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
