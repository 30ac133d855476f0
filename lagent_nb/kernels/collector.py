"""Fold the Jupyter messages of one ``execute`` request into an :class:`Execution`.

This module does no I/O: the execution loop hands it every message it reads and asks whether the
request is finished.  Keeping the decisions here makes them testable without a kernel and keeps
the loop itself short.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .results import BoundedText, Execution, ExecutionError, Logs, Result, strip_ansi


def error_from_content(content: Dict[str, Any]) -> ExecutionError:
    """Build an error from an ``error`` message or an ``execute_reply`` with status ``error``."""
    return ExecutionError(
        name=content.get("ename", "Error"),
        value=content.get("evalue", ""),
        traceback=strip_ansi("\n".join(content.get("traceback") or [])),
    )


class OutputCollector:
    """Accumulate the outputs whose ``parent_header.msg_id`` is ``msg_id``.

    Messages of other requests (an earlier, interrupted one; a silent set-up call) are ignored,
    the mistake open-interpreter makes by stopping at the first ``idle`` it sees.  Streams keep
    at most ``max_output_chars`` each; rich outputs beyond ``max_results`` are counted, not kept.
    """

    def __init__(
        self, msg_id: str, max_output_chars: Optional[int] = None, max_results: int = 64
    ) -> None:
        self.msg_id = msg_id
        self.max_results = max_results
        self.stdout = BoundedText(max_output_chars)
        self.stderr = BoundedText(max_output_chars)
        self.results: list[Result] = []
        self.omitted_results = 0
        self.error: Optional[ExecutionError] = None
        self.execution_count: Optional[int] = None
        self.idle = False
        self.replied = False
        self._clear_pending = False

    def owns(self, msg: Dict[str, Any]) -> bool:
        return msg.get("parent_header", {}).get("msg_id") == self.msg_id

    def feed(self, msg: Dict[str, Any]) -> bool:
        """Take one iopub message; return True once the kernel went idle for this request."""
        if not self.owns(msg):
            return self.idle
        kind = msg["msg_type"]
        content = msg.get("content", {})
        if kind == "status":
            self.idle = content.get("execution_state") == "idle"
        elif kind == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
        elif kind == "update_display_data":
            self._update_display(content)
        elif kind in ("stream", "execute_result", "display_data", "error"):
            if self._clear_pending:
                self._clear()
            self._add(kind, content)
        return self.idle

    def feed_reply(self, reply: Dict[str, Any]) -> None:
        """Take the shell ``execute_reply`` (its count, and an error iopub did not carry)."""
        content = reply.get("content", {})
        self.replied = True
        self.execution_count = content.get("execution_count", self.execution_count)
        status = content.get("status")
        if status == "error" and self.error is None:
            self.error = error_from_content(content)
        elif status == "aborted" and self.error is None:
            self.error = ExecutionError("Aborted", "the kernel aborted this request")

    def _add(self, kind: str, content: Dict[str, Any]) -> None:
        if kind == "stream":
            target = self.stderr if content.get("name") == "stderr" else self.stdout
            target.append(content.get("text", ""))
        elif kind == "error":
            self.error = error_from_content(content)
        elif len(self.results) >= self.max_results:
            self.omitted_results += 1
        else:
            if kind == "execute_result":
                self.execution_count = content.get("execution_count")
            self.results.append(
                Result(
                    data=dict(content.get("data", {})),
                    metadata=dict(content.get("metadata", {})),
                    is_main_result=kind == "execute_result",
                    display_id=content.get("transient", {}).get("display_id"),
                )
            )

    def _update_display(self, content: Dict[str, Any]) -> None:
        display_id = content.get("transient", {}).get("display_id")
        for result in self.results:
            if display_id and result.display_id == display_id:
                result.data = dict(content.get("data", {}))
                result.metadata = dict(content.get("metadata", {}))

    def _clear(self) -> None:
        self._clear_pending = False
        self.stdout.clear()
        self.stderr.clear()
        self.results.clear()

    def execution(self) -> Execution:
        stderr = str(self.stderr)
        if self.omitted_results:
            stderr += f"\n[{self.omitted_results} more rich outputs omitted]"
        return Execution(
            results=list(self.results),
            logs=Logs(stdout=str(self.stdout), stderr=stderr),
            error=self.error,
            execution_count=self.execution_count,
        )
