"""Run several scenarios in one interpreter: ``python _run_all.py <package> [scenario ...]``.

Importing lagent takes seconds, so the test suite runs every scenario in one process per package
instead of one process per scenario; each scenario file still runs alone as a script. Prints one
JSON object mapping scenario name to its output (or to ``{"crashed": traceback}``).
"""

from __future__ import annotations

import importlib
import json
import pathlib
import sys
import traceback

HERE = pathlib.Path(__file__).resolve().parent


def scenario_names() -> list:
    return sorted(p.stem for p in HERE.glob("sc_*.py"))


def main() -> None:
    pkg, names = sys.argv[1], sys.argv[2:] or scenario_names()
    sys.path.insert(0, str(HERE))
    results = {}
    for name in names:
        try:
            results[name] = importlib.import_module(name).run(pkg)
        except Exception:
            results[name] = {"crashed": traceback.format_exc(limit=8)}
    json.dump(results, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
