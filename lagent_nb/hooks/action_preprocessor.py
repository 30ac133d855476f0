"""Hooks that translate between parser output and the ``{name, parameters}`` tool-call shape."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage, FunctionCall
from lagent_nb.utils.copying import clone_message

from .hook import Hook

_INTERPRETERS_WITH_SESSIONS = ("AsyncIPythonInterpreter",)
_TOOL_PARSER_KEYS = frozenset({"tool_type", "thought", "action", "status"})
_PARSING_ERROR = -1  # ToolStatusCode.PARSING_ERROR (prompts is a sibling layer: not imported)


def _extract_call(formatted: Any) -> Optional[Tuple[str, Any]]:
    """``(name, parameters)`` from any of the shapes parsers produce, or ``None``.

    Accepted: a ``FunctionCall``, ``{'name', 'parameters'}``, or ``{'action': {'name',
    'parameters'}}`` (the ReAct JSON format).
    """
    if isinstance(formatted, FunctionCall):
        return formatted.name, formatted.parameters
    if isinstance(formatted, dict):
        if "name" in formatted and "parameters" in formatted:
            return formatted["name"], formatted["parameters"]
        action = formatted.get("action")
        if isinstance(action, dict) and "name" in action and "parameters" in action:
            return action["name"], action["parameters"]
    return None


def action_return_to_text(content: Any) -> Any:
    """What the LLM reads back from a tool: the result text, or the error message."""
    if isinstance(content, ActionReturn):
        if content.state == ActionStatusCode.SUCCESS:
            return content.format_result()
        return content.errmsg
    return content


class ActionPreprocessor(Hook):
    """Turns a parsed reply into a tool call, and a tool result back into text.

    A reply whose ``formatted`` holds no call (the model garbled it, or left the action out)
    passes through unchanged: the executor then answers it with an ``InvalidAction`` result
    that names the expected shape, which the model reads and can correct. Raising here, as
    lagent does, would end the whole agent loop over one bad reply.
    """

    def before_action(
        self, executor: Any, message: AgentMessage, session_id: Any
    ) -> Optional[AgentMessage]:
        call = _extract_call(message.formatted)
        if call is None:
            return None
        name, parameters = call
        message.content = {"name": name, "parameters": parameters}
        return message

    def after_action(self, executor: Any, message: AgentMessage, session_id: Any) -> AgentMessage:
        message.content = action_return_to_text(message.content)
        return message


class InternLMActionProcessor(ActionPreprocessor):
    """Adapts ``ToolParser`` output, where code arrives as a bare string, to a tool call.

    The code goes to the executor's first action under ``code_parameter``; session-aware
    interpreters also receive the session id so each conversation keeps its own kernel.
    A reply that is not a valid ``ToolParser`` call (another parser's output, or
    ``PARSING_ERROR``: the action failed the parser's validation) passes through, so the
    executor's malformed-call answer reaches the model instead of the raw text being sent to
    the first tool as code.
    """

    def __init__(self, code_parameter: str = "command") -> None:
        self.code_parameter = code_parameter

    def before_action(
        self, executor: Any, message: AgentMessage, session_id: Any
    ) -> Optional[AgentMessage]:
        formatted = message.formatted
        if not (
            isinstance(formatted, dict)
            and formatted.keys() >= _TOOL_PARSER_KEYS
            and formatted["status"] != _PARSING_ERROR
        ):
            return None
        message = clone_message(message)
        formatted = message.formatted
        if isinstance(formatted["action"], str):
            action_name = next(iter(executor.actions))
            parameters = {self.code_parameter: formatted["action"]}
            if action_name in _INTERPRETERS_WITH_SESSIONS:
                parameters["session_id"] = session_id
            formatted["action"] = {"name": action_name, "parameters": parameters}
        return super().before_action(executor, message, session_id)
