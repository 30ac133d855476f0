"""The structured outcome of running code in a sibling kernel.

Modelled on e2b's ``Execution``: ``results`` (every rich output, the cell's value included),
``logs`` (stdout/stderr) and ``error``.  Everything is plain data so the action layer can turn
it into text for an LLM while the notebook layer displays the rich parts untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

_ANSI = re.compile(r"(?:\x1B[@-_]|[\x80-\x9F])[0-?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, which only waste an LLM's context."""
    return _ANSI.sub("", text)


class BoundedText:
    """Append-only text that keeps at most ``limit`` characters: the head and the tail.

    A runaway ``print`` loop can emit gigabytes; keeping the beginning (usually the interesting
    part) and the end (the latest state) bounds memory while staying useful.  ``limit=None``
    keeps everything.
    """

    def __init__(self, limit: Optional[int] = None) -> None:
        self.limit = limit
        self.clear()

    def clear(self) -> None:
        self._head: List[str] = []
        self._head_len = 0
        self._tail: List[str] = []
        self._tail_len = 0
        self.dropped = 0

    def append(self, text: str) -> None:
        if not text:
            return
        if self.limit is None:
            self._head.append(text)
            self._head_len += len(text)
            return
        head_room = self.limit // 2 - self._head_len
        if head_room > 0:
            self._head.append(text[:head_room])
            self._head_len += min(head_room, len(text))
            text = text[head_room:]
            if not text:
                return
        self._tail.append(text)
        self._tail_len += len(text)
        tail_limit = self.limit - self.limit // 2
        if self._tail_len > tail_limit:
            joined = "".join(self._tail)
            excess = len(joined) - tail_limit
            self.dropped += excess
            self._tail = [joined[excess:]]
            self._tail_len = tail_limit

    def __str__(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)
        if self.dropped:
            return f"{head}\n... [{self.dropped} characters omitted] ...\n{tail}"
        return head + tail


@dataclass
class ExecutionError:
    """An exception raised by the code, or a failure of the kernel running it."""

    name: str
    value: str
    traceback: str = ""

    def __str__(self) -> str:
        """The traceback, ending with ``name: value`` (added when the traceback lacks it, as
        for a timeout, whose traceback ends with the KeyboardInterrupt that stopped it)."""
        summary = f"{self.name}: {self.value}"
        lines = self.traceback.rstrip().splitlines()
        if lines and lines[-1].startswith(self.name):
            return self.traceback
        return "\n".join([*lines, summary])


@dataclass
class Result:
    """One rich output: an ``execute_result`` (``is_main_result``) or a ``display_data``.

    ``data`` maps mime types to values exactly as the kernel sent them (images are base64).
    """

    data: Dict[str, Any]
    metadata: Dict[str, Any] = field(default_factory=dict)
    is_main_result: bool = False
    display_id: Optional[str] = None

    @property
    def text(self) -> Optional[str]:
        return self.data.get("text/plain")

    @property
    def png(self) -> Optional[str]:
        return self.data.get("image/png")

    @property
    def jpeg(self) -> Optional[str]:
        return self.data.get("image/jpeg")

    @property
    def html(self) -> Optional[str]:
        return self.data.get("text/html")

    @property
    def markdown(self) -> Optional[str]:
        return self.data.get("text/markdown")

    @property
    def svg(self) -> Optional[str]:
        return self.data.get("image/svg+xml")

    def formats(self) -> List[str]:
        return list(self.data)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.data, self.metadata


@dataclass
class Logs:
    stdout: str = ""
    stderr: str = ""


@dataclass
class Execution:
    """Everything one ``execute`` request produced.

    ``kernel_restarted`` is set when the kernel had to be replaced (it crashed, or ignored the
    interrupt after a timeout): the session's variables are gone.
    """

    results: List[Result] = field(default_factory=list)
    logs: Logs = field(default_factory=Logs)
    error: Optional[ExecutionError] = None
    execution_count: Optional[int] = None
    timed_out: bool = False
    kernel_restarted: bool = False

    @property
    def main_result(self) -> Optional[Result]:
        return next((r for r in self.results if r.is_main_result), None)

    @property
    def text(self) -> Optional[str]:
        """The ``text/plain`` of the cell's value (``None`` when the cell has no value)."""
        main = self.main_result
        return main.text if main else None

    @property
    def ok(self) -> bool:
        return self.error is None
