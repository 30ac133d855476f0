"""Streaming a reply to the front end: updates and bytes, lagent_nb against naive re-display.

A scripted streaming agent emits N tokens at a simulated 100 tokens/s (a simulated clock, so
the numbers do not depend on this machine's speed). We count what reaches the front end:

* cell: ``%%agent``'s path (``Turn`` + ``CellView``), display messages captured from IPython's
  display publisher, against the naive pattern (update the display with the whole message
  bundle on every token, as genai does);
* widget: ``ChatPanel``'s streamed message, the ``outputs`` states its widget syncs, against
  setting the whole message on every token.

Bytes are the JSON size of each message's data. Targets: at most 20 updates per second of
streaming, and total bytes that grow linearly with the output: each update re-sends the
current message, so the throttle waits longer as the message grows (``max_bytes_per_second``,
default 100 kB/s of message text), which bounds the bytes per token by about
2 × 100,000 / 100 = 2,000 (text/plain + text/markdown) however long the reply.

Usage: ``python bench/streaming.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's lagent_nb

TOKENS_PER_SECOND = 100.0
FULL_SIZES = (1_000, 10_000)
QUICK_SIZES = (1_000,)


class SimulatedClock:
    """Time that moves only when a token arrives."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _agent(n_tokens: int, clock: SimulatedClock):
    from lagent_nb.agents import StreamingAgent
    from lagent_nb.testing import ScriptedLLM

    class TickingLLM(ScriptedLLM):
        def stream_chat(self, inputs, **kwargs):
            for item in super().stream_chat(inputs, **kwargs):
                clock.now += 1.0 / TOKENS_PER_SECOND
                yield item

    return StreamingAgent(TickingLLM(lambda m: "tok " * n_tokens), name="bot")


def _size(data: dict) -> int:
    return len(json.dumps(data, ensure_ascii=False, default=str).encode())


def cell_lagent_nb(n_tokens: int) -> Tuple[int, int, float]:
    """``(updates, bytes, seconds streamed)`` through the ``%%agent`` streaming path."""
    from IPython.utils.capture import capture_output

    from lagent_nb.notebook.display import Transcript
    from lagent_nb.notebook.magics import CellView
    from lagent_nb.notebook.runner import Throttle, Turn, run_blocking

    clock = SimulatedClock()
    agent = _agent(n_tokens, clock)
    view = CellView()
    turn = Turn(agent, "go", on_update=view.stream, throttle=Throttle(clock=clock))
    with capture_output() as captured:
        run_blocking(turn)
        view.show(Transcript(agent.memory.get(0).get_memory(), "bot")._repr_mimebundle_())
    return len(captured.outputs), sum(_size(o.data) for o in captured.outputs), clock.now


def cell_naive(n_tokens: int) -> Tuple[int, int, float]:
    """Re-display the whole message bundle on every token."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    from lagent_nb.notebook.display import message_mimebundle

    clock = SimulatedClock()
    handle = None
    with capture_output() as captured:
        for chunk in _agent(n_tokens, clock)("go"):
            if handle is None:
                handle = display(message_mimebundle(chunk), raw=True, display_id=True)
            else:
                handle.update(message_mimebundle(chunk), raw=True)
    return len(captured.outputs), sum(_size(o.data) for o in captured.outputs), clock.now


def _record_outputs(widget) -> List[int]:
    sizes: List[int] = []
    widget.observe(lambda ch: sizes.append(_size({"outputs": ch["new"]})), names="outputs")
    return sizes


def widget_lagent_nb(n_tokens: int) -> Tuple[int, int, float]:
    """``ChatPanel``: the streamed message's widget states, plus the final message's widget."""
    from lagent_nb.notebook import ChatPanel

    clock = SimulatedClock()
    panel = ChatPanel(_agent(n_tokens, clock), update_interval=0.05, clock=clock)
    sizes = _record_outputs(panel.stream_view)
    panel.send("go")
    panel.wait(600)
    final = [_size({"outputs": v.outputs}) for v in panel.messages.children]
    sent = [s for s in sizes if s > len('{"outputs": []}')] + final
    panel.close()
    return len(sent), sum(sent), clock.now


def widget_naive(n_tokens: int) -> Tuple[int, int, float]:
    """An Output widget whose whole message is set again on every token."""
    import ipywidgets as widgets

    from lagent_nb.notebook.display import message_mimebundle

    clock = SimulatedClock()
    out = widgets.Output()
    sizes = _record_outputs(out)
    for chunk in _agent(n_tokens, clock)("go"):
        data = message_mimebundle(chunk)
        out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
    return len(sizes), sum(sizes), clock.now


CASES: Dict[str, Tuple[Callable, Callable]] = {
    "cell (%%agent)": (cell_lagent_nb, cell_naive),
    "widget (ChatPanel)": (widget_lagent_nb, widget_naive),
}


def run(quick: bool = False) -> str:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()  # display() needs a shell; the output is captured
    sizes = QUICK_SIZES if quick else FULL_SIZES
    lines = [
        "## Streaming to the front end",
        "",
        f"Simulated stream of {TOKENS_PER_SECOND:g} tokens/s; naive = whole message re-sent "
        "on every token. Target: ≤ 20 updates/s, bytes linear in the output (bytes/token "
        "bounded, here by about 2,000, by the 100 kB/s cap).",
        "",
        "| path | tokens | lagent_nb updates | updates/s | lagent_nb bytes | bytes/token "
        "| naive updates | naive bytes | bytes ratio (naive / lagent_nb) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, (ours, naive) in CASES.items():
        for n in sizes:
            updates, sent, seconds = ours(n)
            n_updates, n_sent, _ = naive(n)
            lines.append(
                f"| {label} | {n:,} | {updates:,} | {updates / seconds:.1f} | {sent:,} "
                f"| {sent / n:,.0f} | {n_updates:,} | {n_sent:,} | {n_sent / sent:,.1f}× |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 tokens only")
    print(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
