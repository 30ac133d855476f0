"""Hooks that translate between parser output and the ``{name, parameters}`` tool-call shape."""

from __future__ import annotations

from typing import Any, Tuple

from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage, FunctionCall
from lagent_nb.utils.copying import clone_message

from .hook import Hook

_INTERPRETERS_WITH_SESSIONS = ("AsyncIPythonInterpreter",)


def _extract_call(formatted: Any) -> Tuple[str, Any]:
    """Return ``(name, parameters)`` from any of the shapes parsers produce.

    Accepted: a ``FunctionCall``, ``{'name', 'parameters'}``, or ``{'action': {'name',
    'parameters'}}`` (the ReAct JSON format); anything else is a clear ``ValueError``.
    """
    if isinstance(formatted, FunctionCall):
        return formatted.name, formatted.parameters
    if isinstance(formatted, dict):
        if "name" in formatted and "parameters" in formatted:
            return formatted["name"], formatted["parameters"]
        action = formatted.get("action")
        if isinstance(action, dict) and "name" in action and "parameters" in action:
            return action["name"], action["parameters"]
    raise ValueError(
        "ActionPreprocessor expects message.formatted to be a FunctionCall, "
        "{'name', 'parameters'} or {'action': {'name', 'parameters'}}; "
        f"got {type(formatted).__name__}: {formatted!r:.200}"
    )


def action_return_to_text(content: Any) -> Any:
    """What the LLM reads back from a tool: the result text, or the error message."""
    if isinstance(content, ActionReturn):
        if content.state == ActionStatusCode.SUCCESS:
            return content.format_result()
        return content.errmsg
    return content


class ActionPreprocessor(Hook):
    """Turns a parsed reply into a tool call, and a tool result back into text."""

    def before_action(self, executor: Any, message: AgentMessage, session_id: Any) -> AgentMessage:
        name, parameters = _extract_call(message.formatted)
        message.content = {"name": name, "parameters": parameters}
        return message

    def after_action(self, executor: Any, message: AgentMessage, session_id: Any) -> AgentMessage:
        message.content = action_return_to_text(message.content)
        return message


class InternLMActionProcessor(ActionPreprocessor):
    """Adapts ``ToolParser`` output, where code arrives as a bare string, to a tool call.

    The code goes to the executor's first action under ``code_parameter``; session-aware
    interpreters also receive the session id so each conversation keeps its own kernel.
    """

    def __init__(self, code_parameter: str = "command") -> None:
        self.code_parameter = code_parameter

    def before_action(self, executor: Any, message: AgentMessage, session_id: Any) -> AgentMessage:
        message = clone_message(message)
        formatted = message.formatted
        required = {"tool_type", "thought", "action", "status"}
        if not (isinstance(formatted, dict) and required <= set(formatted)):
            raise ValueError(
                "InternLMActionProcessor expects a ToolParser result with keys "
                f"{sorted(required)}; got {formatted!r:.200}"
            )
        if isinstance(formatted["action"], str):
            action_name = next(iter(executor.actions))
            parameters = {self.code_parameter: formatted["action"]}
            if action_name in _INTERPRETERS_WITH_SESSIONS:
                parameters["session_id"] = session_id
            formatted["action"] = {"name": action_name, "parameters": parameters}
        return super().before_action(executor, message, session_id)
