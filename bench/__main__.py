"""Run every benchmark and write ``bench/results.md``.

Usage: ``python -m bench [--quick] [--out PATH] [NAME ...]`` (``make bench`` runs them all).
Each topic module exposes ``run(quick: bool) -> str`` and measures its own baseline in the same
run, so the ratios it prints stay meaningful on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

TOPICS = (
    "agent_overhead",
    "kernels",
    "async_concurrency",
    "streaming",
    "memory_tree",
    "vllm_check",
    "lmdeploy_check",
)


def machine_line() -> str:
    """One line naming the machine, since absolute numbers only mean something next to it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def run_topic(name: str, quick: bool) -> str:
    """Run one topic; a failure becomes a section of the report instead of ending the run."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{name}")
        body = module.run(quick=quick)
    except Exception:  # a broken topic must not hide the others' numbers
        body = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n"
    return f"{body.rstrip()}\n\n_{name}: {time.perf_counter() - started:.1f} s wall_\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="topics (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke tests")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(TOPICS))
    if unknown:
        parser.error(f"unknown topic(s) {unknown}; choose from {TOPICS}")
    names = args.names or list(TOPICS)
    command = (
        "python -m bench"
        + (" --quick" if args.quick else "")
        + "".join(f" {n}" for n in args.names)
    )
    header = (
        "# Benchmark results\n\n"
        f"- date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}\n"
        f"- machine: {machine_line()}\n"
        f"- command: `{command}`\n"
    )
    sections = []
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        sections.append(run_topic(name, args.quick))
        print(sections[-1])
    args.out.write_text(header + "\n" + "\n".join(sections), encoding="utf-8")
    print(f"[bench] wrote {args.out}", file=sys.stderr)
    return 0 if not any("FAILED:" in s for s in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
