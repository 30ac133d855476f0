"""Helpers shared by the differential scenarios; importable under lagent *and* lagent_nb.

A scenario is a plain script: ``python <scenario>.py lagent`` or ``python <scenario>.py lagent_nb``
imports the package named on the command line and prints one JSON document. The same file runs
in lagent's venv and in ours, so this module may only use the standard library and whatever the
package under test provides.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import sys
import traceback
from typing import Any, Callable, Dict, List


def mod(pkg: str, name: str):
    """``{pkg}.{name}``, e.g. ``mod('lagent_nb', 'agents')``."""
    return importlib.import_module(f"{pkg}.{name}")


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` that does not depend on which package built it."""
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return {k: jsonable(getattr(value, k)) for k in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__type__": type(value).__name__}


def outcome(fn: Callable[[], Any], *, message: bool = True) -> Any:
    """Run ``fn`` and return its JSON-ready result, or a description of what it raised.

    With ``message=False`` only the exception type is kept (for errors whose wording is free).
    """
    try:
        return jsonable(fn())
    except Exception as exc:  # the raised error *is* the observable behaviour here
        raised: Dict[str, Any] = {"raised": type(exc).__name__}
        if message:
            raised["message"] = str(exc)
        return raised


def run_cases(cases: Dict[str, Callable[[], Any]]) -> Dict[str, Any]:
    """Run each case on its own so one failure does not hide the others' results.

    A case that crashes (as opposed to a case whose *result* is an exception, see ``outcome``)
    is reported with its traceback under ``"crashed"``, which never matches the other package.
    """
    results: Dict[str, Any] = {}
    for name, case in cases.items():
        try:
            results[name] = jsonable(case())
        except Exception:
            results[name] = {"crashed": traceback.format_exc(limit=6)}
    return results


class Script:
    """Replies served in order, with a record of every prompt and per-call setting received."""

    def __init__(self, replies: List[str]) -> None:
        self.replies = list(replies)
        self.calls: List[Dict[str, Any]] = []

    def next(self, prompt: Any, gen_params: Dict[str, Any]) -> str:
        self.calls.append({"prompt": jsonable(prompt), "gen_params": jsonable(gen_params)})
        if not self.replies:
            raise IndexError("scripted LLM has no reply left")
        return self.replies.pop(0)


def scripted_llm(
    pkg: str,
    replies: List[str],
    *,
    asynchronous: bool = False,
    chunk: int = 4,
    meta_template: Any = "internlm2",
    **gen_params,
):
    """A fake LLM subclassing ``{pkg}.llms.BaseLLM`` (or ``AsyncBaseLLM``).

    It implements only ``generate`` and ``stream_chat``, the two methods lagent's docs tell users
    to override, so everything else (``chat``, template parsing, gen_params) is the package's own.
    ``stream_chat`` yields the cumulative text ``chunk`` characters at a time, then END.
    The default meta template is the package's INTERNLM2_META, so recorded prompts show every
    message (lagent's template-less rendering drops the contents).
    """
    llms = mod(pkg, "llms")
    if meta_template == "internlm2":
        meta_template = llms.INTERNLM2_META
    status = mod(pkg, "schema").ModelStatusCode
    script = Script(replies)

    def chunks(text: str):
        for end in range(chunk, len(text), chunk):
            yield status.STREAM_ING, text[:end], None
        yield status.END, text, None

    if asynchronous:

        class FakeLLM(llms.AsyncBaseLLM):
            async def generate(self, inputs, session_ids=None, **kw):
                return script.next(inputs, kw)

            async def stream_chat(self, inputs, session_ids=None, **kw):
                for item in chunks(script.next(self.template_parser(inputs), kw)):
                    yield item

    else:

        class FakeLLM(llms.BaseLLM):
            def generate(self, inputs, **kw):
                return script.next(inputs, kw)

            def stream_chat(self, inputs, **kw):
                yield from chunks(script.next(self.template_parser(inputs), kw))

    llm = FakeLLM(path="fake", meta_template=meta_template, **gen_params)
    llm.script = script
    return llm


def main(run: Callable[[str], Any]) -> None:
    """Command-line entry of a scenario: ``python scenario.py <package>`` prints its JSON."""
    if len(sys.argv) != 2 or sys.argv[1] not in ("lagent", "lagent_nb"):
        raise SystemExit(f"usage: python {sys.argv[0]} lagent|lagent_nb")
    json.dump(run(sys.argv[1]), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
