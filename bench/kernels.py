"""Sibling-kernel code execution: lagent_nb against lagent 0.5.0rc3 and raw jupyter_client.

Usage: ``python bench/kernels.py [--quick]``.  Every column is measured in this run; lagent runs
in its own venv (``lagent_nb.testing.lagent_env``) through a child process that prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Optional

FIGURE = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.show()"
ONE_MB = "print('x' * 1_000_000)"
ROWS = (
    ("cold", "cold start + first call"),
    ("spare", "first call, new session (warm spare)"),
    ("rt", "warm `1+1` round trip (median)"),
    ("stdout", "1 MB stdout"),
    ("png", "PNG figure"),
)


def _median_ms(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _once_ms(fn: Callable[[], object]) -> float:
    return _median_ms(fn, 1)


def measure_lagent_nb(n: int) -> Dict[str, float]:
    from lagent_nb.actions.ipython_interpreter import IPythonInteractive
    from lagent_nb.kernels import KernelSessions

    out: Dict[str, float] = {}
    with KernelSessions(spare=False) as cold:
        action = IPythonInteractive(kernels=cold)
        out["cold"] = _once_ms(lambda: action({"command": "1+1"}))
    with KernelSessions() as kernels:
        action = IPythonInteractive(kernels=kernels)
        kernels.prewarm(60)
        out["spare"] = _once_ms(lambda: action({"command": "1+1"}))
        out["rt"] = _median_ms(lambda: action({"command": "1+1"}), n)
        out["stdout"] = _median_ms(lambda: action({"command": ONE_MB}), max(3, n // 20))
        action({"command": FIGURE})  # import matplotlib once
        out["png"] = _median_ms(lambda: action({"command": FIGURE}), max(3, n // 20))
    return out


def measure_raw(n: int) -> Dict[str, float]:
    """The floor: jupyter_client's blocking client and ``execute_interactive``."""
    from jupyter_client import KernelManager

    out: Dict[str, float] = {}
    km = KernelManager(transport="ipc", ip=f"/tmp/lagent_nb-bench-{os.getpid()}")

    def start():
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(60)
        kc.execute_interactive("1+1", timeout=60, output_hook=lambda m: None)
        return kc

    start_t = time.perf_counter()
    kc = start()
    out["cold"] = (time.perf_counter() - start_t) * 1000
    try:

        def run(code: str) -> None:
            kc.execute_interactive(code, timeout=60, output_hook=lambda m: None)

        out["rt"] = _median_ms(lambda: run("1+1"), n)
        out["stdout"] = _median_ms(lambda: run(ONE_MB), max(3, n // 20))
        run(FIGURE)
        out["png"] = _median_ms(lambda: run(FIGURE), max(3, n // 20))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return out


# Runs inside lagent's venv: prints {"async": {...}, "interactive": {...}} in milliseconds.
_LAGENT_SCRIPT = r"""
import asyncio, json, statistics, sys, time
n, FIGURE, ONE_MB = int(sys.argv[1]), sys.argv[2], sys.argv[3]
from lagent.actions import IPythonInteractive
from lagent.actions.ipython_interpreter import AsyncIPythonInterpreter

def med(samples):
    return statistics.median(samples) * 1000

async def timed(call):
    t = time.perf_counter(); await call(); return time.perf_counter() - t

async def run_async():
    action = AsyncIPythonInterpreter()
    call = lambda code: action({"command": code, "session_id": "0"})
    out = {"cold": med([await timed(lambda: call("1+1"))])}
    out["rt"] = med([await timed(lambda: call("1+1")) for _ in range(n)])
    out["stdout"] = med([await timed(lambda: call(ONE_MB)) for _ in range(max(3, n // 20))])
    await call(FIGURE)
    out["png"] = med([await timed(lambda: call(FIGURE)) for _ in range(max(3, n // 20))])
    await action.shutdown("0")
    return out

def timed_sync(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t

def run_interactive():
    holder = {}
    def make():
        holder["a"] = IPythonInteractive(use_signals=False)
        holder["a"]({"command": "1+1"})
    out = {"cold": med([timed_sync(make)])}
    call = lambda code: holder["a"]({"command": code})
    out["rt"] = med([timed_sync(lambda: call("1+1")) for _ in range(n)])
    out["stdout"] = med([timed_sync(lambda: call(ONE_MB)) for _ in range(max(3, n // 20))])
    call(FIGURE)
    out["png"] = med([timed_sync(lambda: call(FIGURE)) for _ in range(max(3, n // 20))])
    return out

result = {"async": asyncio.run(run_async())}
result["interactive"] = run_interactive()
print("LAGENT_JSON" + json.dumps(result))
"""


def lagent_python() -> Optional[str]:
    try:
        from lagent_nb.testing.lagent_env import ensure_lagent_python

        return str(ensure_lagent_python())
    except Exception:
        venv = os.environ.get("LAGENT_NB_LAGENT_VENV", "/work/lagent-venv")
        python = os.path.join(venv, "bin", "python")
        return python if os.path.exists(python) else None


def measure_lagent(n: int) -> Dict[str, Dict[str, float]]:
    python = lagent_python()
    if python is None:
        return {}
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [python, "-c", _LAGENT_SCRIPT, str(n), FIGURE, ONE_MB],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("LAGENT_JSON"):
            return json.loads(line[len("LAGENT_JSON") :])
    sys.stderr.write(proc.stderr[-2000:])
    return {}


def _cell(value: Optional[float], base: Optional[float]) -> str:
    if value is None:
        return "n/a"
    if base:
        return f"{value:.1f} ms ({value / base:.2f}x)"
    return f"{value:.1f} ms"


def run(quick: bool = False) -> str:
    n = 30 if quick else 300
    ours = measure_lagent_nb(n)
    raw = measure_raw(n)
    lagent = measure_lagent(n)
    columns = [
        ("lagent 0.5.0rc3 AsyncIPythonInterpreter", lagent.get("async", {})),
        ("lagent 0.5.0rc3 IPythonInteractive (in-process)", lagent.get("interactive", {})),
        ("raw jupyter_client execute_interactive", raw),
    ]
    lines = [
        "## Sibling kernels (`bench/kernels.py`)",
        "",
        f"Median of {n} round trips; other rows median of {max(3, n // 20)} (cold/spare: one).",
        "Ratios are against lagent_nb (above 1x: lagent_nb is faster).",
        "",
        "| measurement | lagent_nb | " + " | ".join(name for name, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for key, label in ROWS:
        base = ours.get(key)
        cells = [_cell(col.get(key), base) for _, col in columns]
        lines.append(f"| {label} | {_cell(base, None)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Targets: warm round trip <= 5 ms, first call with a warm spare <= 100 ms. "
        "lagent's interpreters have no warm spare; its IPythonInteractive runs in-process "
        "(no isolation), so it is a lower bound rather than a peer.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    print(run(parser.parse_args().quick))
