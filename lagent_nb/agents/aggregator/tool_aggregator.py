"""Aggregation for InternLM-style tool use: tool instructions, few-shot turns, environment turns."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from lagent_nb.memory import Memory

from .default_aggregator import DefaultAggregator, SystemInstruction, _memory_messages

_PARSING_ERROR = -1  # ToolStatusCode.PARSING_ERROR; a turn the model garbled is not replayed
_PLAIN_ROLES = ("assistant", "user", "system")


class InternLMToolAggregator(DefaultAggregator):
    """Builds the prompt for agents whose replies are parsed by a ``ToolParser``.

    Own replies are re-rendered from ``formatted`` with ``parser.format_response`` so the model
    always sees its tool calls in canonical form; tool results become ``environment`` turns
    named after the tool that produced them.
    """

    def __init__(
        self,
        environment_role: str = "environment",
        environment_begin: str = "",
        environment_end: str = "",
        user_names: Optional[List[str]] = None,
        few_shot: Optional[List[List[dict]]] = None,
    ) -> None:
        self.environment_role = environment_role
        self.environment_begin = environment_begin
        self.environment_end = environment_end
        self.user_names = user_names or ["user"]
        self.few_shot = few_shot or []

    def _wrap_environment(self, content: str) -> str:
        if not content.startswith(self.environment_begin):
            content = self.environment_begin + content
        if not content.endswith(self.environment_end):
            content += self.environment_end
        return content

    def _tool_instruction(self, parser: Any) -> List[dict]:
        instruction = parser.format_instruction()
        if not instruction:
            return []
        if isinstance(instruction, str):
            message = {"role": "system", "content": instruction}
            if getattr(parser, "tool_type", None):
                message["name"] = parser.tool_type
            return [message]
        if isinstance(instruction, dict):
            return [dict(instruction)]
        return [dict(item) for item in instruction]

    def _shot_messages(self, shot: List[dict], parser: Any) -> List[dict]:
        """Render one few-shot dialogue; ``thought``/``language`` + ``tool`` pairs fuse."""
        rendered, i = [], 0
        while i < len(shot):
            message = shot[i]
            role = message["role"]
            if role in _PLAIN_ROLES:
                rendered.append(dict(message))
            elif role == self.environment_role:
                rendered.append(dict(message, content=self._wrap_environment(message["content"])))
            elif role in ("thought", "language"):
                tool = shot[i + 1] if i + 1 < len(shot) and shot[i + 1]["role"] == "tool" else None
                parsed = {
                    "tool_type": tool["name"] if tool else None,
                    "thought": message["content"],
                    "action": tool["content"] if tool else None,
                    "status": None,
                }
                rendered.append({"role": "assistant", "content": parser.format_response(parsed)})
                i += 1 if tool else 0
            else:
                raise KeyError(f"Unknown role in few-shot example: {role!r}")
            i += 1
        return rendered

    def aggregate(
        self,
        messages: Optional[Memory],
        name: str,
        parser: Any,
        system_instruction: SystemInstruction = None,
    ) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = []
        if system_instruction:
            result.extend(self.aggregate_system_intruction(system_instruction))
        result.extend(self._tool_instruction(parser))
        for shot in self.few_shot:
            result.extend(self._shot_messages(shot, parser))

        # The loop below runs over the whole history on every model call: keep it lean.
        append = result.append
        render = parser.format_response
        user_names = self.user_names
        role, begin, end = self.environment_role, self.environment_begin, self.environment_end
        tool_type = None
        for message in _memory_messages(messages):
            sender = message.sender
            if sender == name:
                parsed = message.formatted
                if isinstance(parsed, dict):
                    if parsed["status"] == _PARSING_ERROR:
                        continue
                    append({"role": "assistant", "content": render(parsed)})
                    tool_type = parsed["tool_type"]
                else:
                    append({"role": "assistant", "content": str(message.content)})
            elif sender in user_names:
                append({"role": "user", "content": message.content})
            else:
                turn = {"role": role, "content": f"{begin}{message.content}{end}"}
                if tool_type:
                    turn["name"] = tool_type
                append(turn)
        return result
