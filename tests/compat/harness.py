"""Run the scenarios under both packages and compare their JSON, minus the allow-listed paths.

Kept apart from the test module so the same functions serve the tests and manual runs
(``python tests/compat/harness.py [scenario ...]``, see ``main``).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIOS = HERE / "scenarios"
ALLOWLIST = HERE / "allowlist.json"
RUNNER = SCENARIOS / "_run_all.py"
RUN_TIMEOUT_S = float(os.environ.get("LAGENT_NB_COMPAT_TIMEOUT", "300"))
# Variables that would leak into or change the child interpreters (and secrets they never need).
_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "OPENAI_API_KEY", "OPENAI_BASE_URL")


def scenario_names() -> List[str]:
    return sorted(p.stem for p in SCENARIOS.glob("sc_*.py"))


def echo_request(body: dict) -> str:
    """The loopback server's reply: the request body itself (see ``sc_gptapi_http``).

    The stop word ``<END>`` is spelled differently in the echo, or clients that cut stop words
    on their side would cut the echoed ``"stop": ["<END>"]``.
    """
    messages = body.get("messages") or [{}]
    if "STOPTEST" in str(messages[-1].get("content")):
        return "kept<END>dropped"
    return json.dumps(body, sort_keys=True).replace("<END>", "<E_N_D>")


def run_scenarios(
    python: os.PathLike,
    package: str,
    names: Optional[List[str]] = None,
    extra_env: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Run the scenarios with ``python`` importing ``package``; return {scenario: output}."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(extra_env or {})
    if package == "lagent_nb":
        # Test the working tree, whether or not (or however) the venv installed it.
        env["PYTHONPATH"] = str(REPO)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONWARNINGS"] = "ignore"
    cmd = [str(python), str(RUNNER), package, *(names or [])]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=RUN_TIMEOUT_S,
            cwd=str(SCENARIOS),
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"scenarios under {package} did not finish within {RUN_TIMEOUT_S:.0f}s "
            "(raise LAGENT_NB_COMPAT_TIMEOUT if the machine is slow)"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"scenario runner for {package} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout)


@dataclass(frozen=True)
class Allowed:
    """One documented, deliberate difference.

    Either a *path* entry (this JSON pointer in this scenario may differ; ``*`` matches one
    segment) or a *wording* entry (``replace``: lagent_nb's text and the lagent text it stands
    for, substituted in every string of lagent_nb's output before comparing, so a rephrased
    prompt sentence does not hide other changes in the same prompt).
    """

    scenario: str
    path: str
    reason: str
    doc: str
    expected: Any = None
    has_expected: bool = False
    replace: Optional[Tuple[str, str]] = None

    def covers(self, scenario: str, path: str) -> bool:
        if self.replace is not None or scenario != self.scenario:
            return False
        want, got = self.path.split("/"), path.split("/")
        return len(got) >= len(want) and all(w in ("*", g) for w, g in zip(want, got, strict=False))

    def applies_to(self, scenario: str) -> bool:
        return self.scenario in ("*", scenario)


def load_allowlist(path: pathlib.Path = ALLOWLIST) -> List[Allowed]:
    entries = json.loads(path.read_text(encoding="utf-8"))
    allowed = []
    for entry in entries:
        missing = {"scenario", "reason", "doc"} - set(entry)
        if "path" not in entry and "replace" not in entry:
            missing.add("path or replace")
        if missing:
            raise ValueError(f"allow-list entry {entry} lacks {sorted(missing)}")
        allowed.append(
            Allowed(
                scenario=entry["scenario"],
                path=entry.get("path", ""),
                reason=entry["reason"],
                doc=entry["doc"],
                expected=entry.get("lagent_nb"),
                has_expected="lagent_nb" in entry,
                replace=tuple(entry["replace"]) if "replace" in entry else None,
            )
        )
    return allowed


def normalise(scenario: str, output: Any, allowed: List[Allowed]) -> Any:
    """lagent_nb's output with the allow-listed rewordings mapped back to lagent's text."""
    swaps = [e.replace for e in allowed if e.replace is not None and e.applies_to(scenario)]
    if not swaps:
        return output

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            for ours, theirs in swaps:
                value = value.replace(ours, theirs)
            return value
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(output)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _is_crash(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"crashed"}


def _is_raised(value: Any) -> bool:
    return isinstance(value, dict) and "raised" in value and set(value) <= {"raised", "message"}


def diff(left: Any, right: Any, path: str = "") -> Iterator[Tuple[str, Any, Any]]:
    """Yield (json_pointer, left_value, right_value) for every leaf where the two differ.

    A crashed case is one difference at its own path, not one per leaf the other side produced.
    """
    whole = _is_crash(left) or _is_crash(right) or _is_raised(left) != _is_raised(right)
    if whole and left != right:
        yield path, left, right
    elif isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            sub = f"{path}/{_escape(key)}"
            if key not in left or key not in right:
                yield sub, left.get(key, "<absent>"), right.get(key, "<absent>")
            else:
                yield from diff(left[key], right[key], sub)
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            yield from diff(a, b, f"{path}/{i}")
    elif left != right or type(left) is not type(right):
        yield path, left, right


def expand(document: Any, pattern: str) -> List[str]:
    """The concrete pointers in ``document`` that a pattern (``*`` = any one segment) names."""
    found = [("", document)]
    for raw in pattern.split("/")[1:]:
        step = []
        for prefix, node in found:
            if isinstance(node, dict):
                keys = list(node) if raw == "*" else [k for k in node if _escape(k) == raw]
                step += [(f"{prefix}/{_escape(k)}", node[k]) for k in keys]
            elif isinstance(node, list):
                indices = range(len(node)) if raw == "*" else [int(raw)] if raw.isdigit() else []
                step += [(f"{prefix}/{i}", node[i]) for i in indices if i < len(node)]
        found = step
    return [prefix or "/" for prefix, _ in found]


def resolve(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``KeyError`` if absent)."""
    node = document
    for raw in pointer.split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


_PENDING = re.compile(
    r"ModuleNotFoundError: No module named '(lagent_nb[\w.]*)'"
    r"|AttributeError: module '(lagent_nb[\w.]*)' has no attribute '(\w+)'"
)


def pending(output: Any, path: str = "") -> Dict[str, str]:
    """Cases lagent_nb could not run because a module or export of ours is not written yet.

    Maps each such case's path to what is missing. Other engineers are building those areas
    while this suite runs; the tests skip these cases by name instead of failing on them.
    """
    if _is_crash(output):
        found = _PENDING.search(output["crashed"])
        if found:
            missing = found.group(1) or f"{found.group(2)}.{found.group(3)}"
            return {path or "/": missing}
        return {}
    found: Dict[str, str] = {}
    if isinstance(output, dict):
        for key, value in output.items():
            found.update(pending(value, f"{path}/{_escape(key)}"))
    return found


def unexplained(
    scenario: str,
    lagent_out: Any,
    ours: Any,
    allowed: List[Allowed],
    skipped: Iterable[str] = (),
) -> List[str]:
    """Readable lines for the differences no allow-list entry covers (``skipped`` paths aside)."""
    skipped = list(skipped)
    lines = []
    for path, a, b in diff(lagent_out, normalise(scenario, ours, allowed)):
        if any(path == s or path.startswith(s.rstrip("/") + "/") for s in skipped):
            continue
        if not any(entry.covers(scenario, path) for entry in allowed):
            lines.append(
                f"{scenario}{path or '/'}:\n    lagent:    {_short(a)}\n    lagent_nb: {_short(b)}"
            )
    return lines


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def main() -> None:
    """``python tests/compat/harness.py [scenario ...]`` prints the differences not allowed."""
    sys.path.insert(0, str(REPO))
    from lagent_nb.testing.lagent_env import ensure_lagent_python
    from lagent_nb.testing.openai_server import OpenAIServer

    names = sys.argv[1:] or scenario_names()
    with OpenAIServer(echo_request, chunk_size=16) as server:
        extra = {"LAGENT_NB_COMPAT_OPENAI_BASE": server.base_url}
        theirs = run_scenarios(ensure_lagent_python(), "lagent", names, extra)
        ours = run_scenarios(sys.executable, "lagent_nb", names, extra)
    allowed = load_allowlist()
    for name in names:
        for line in unexplained(name, theirs.get(name), ours.get(name), allowed):
            print(line)


if __name__ == "__main__":
    main()
