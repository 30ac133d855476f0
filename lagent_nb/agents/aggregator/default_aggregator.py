"""Turn a session's memory into the OpenAI-style message list an LLM reads."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from lagent_nb.memory import Memory

SystemInstruction = Union[str, dict, List[dict], None]


def _memory_messages(messages: Optional[Memory]) -> list:
    """A missing session (``None``) reads as an empty conversation."""
    return [] if messages is None else messages.get_memory()


def _join(previous: Any, addition: Any) -> Any:
    """Concatenate two consecutive user contents the way lagent does (no separator)."""
    if isinstance(previous, str) and isinstance(addition, str):
        return previous + addition
    return f"{previous}{addition}"


class DefaultAggregator:
    """Own messages become ``assistant`` turns; everything else becomes ``user`` turns.

    Consecutive non-own messages are merged into one user turn because most chat templates
    reject two user turns in a row.
    """

    def aggregate(
        self,
        messages: Optional[Memory],
        name: str,
        parser: Any = None,
        system_instruction: SystemInstruction = None,
    ) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = []
        if system_instruction:
            result.extend(self.aggregate_system_intruction(system_instruction))
        append = result.append
        last_user = result[-1] if result and result[-1]["role"] == "user" else None
        for message in _memory_messages(messages):
            if message.sender == name:
                append({"role": "assistant", "content": str(message.content)})
                last_user = None
            elif last_user is not None:
                last_user["content"] = _join(last_user["content"], message.content)
            else:
                last_user = {"role": "user", "content": message.content}
                append(last_user)
        return result

    @staticmethod
    def aggregate_system_intruction(system_instruction: SystemInstruction) -> List[dict]:
        """Normalise a template (str, dict or list of dicts) into system messages.

        The spelling is lagent's (subclasses call it by that name); ``aggregate_system_instruction``
        is the same function. The dicts returned are copies: later merging never writes into
        the caller's template.
        """
        if isinstance(system_instruction, str):
            return [{"role": "system", "content": system_instruction}]
        items = [system_instruction] if isinstance(system_instruction, dict) else system_instruction
        if not isinstance(items, (list, tuple)):
            raise TypeError(
                "a system instruction must be a str, a dict or a list of dicts; "
                f"got {type(system_instruction).__name__}"
            )
        normalised = []
        for item in items:
            if not isinstance(item, dict):
                raise TypeError(f"Unsupported message type: {type(item).__name__}")
            if "role" not in item or "content" not in item:
                raise KeyError(f"Missing required key 'role' or 'content': {item}")
            normalised.append(dict(item))
        return normalised

    aggregate_system_instruction = aggregate_system_intruction
