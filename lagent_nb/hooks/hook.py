"""Extension points around agent and tool calls, and handles that undo a registration."""

from __future__ import annotations

from itertools import count
from typing import Any, MutableMapping, Optional, Sequence

from lagent_nb.schema import AgentMessage


class Hook:
    """Base class for callbacks that observe or rewrite messages around a call.

    Every method may return a replacement (a truthy value replaces what it was given) or
    ``None`` to keep the original, which lets a hook be a pure observer (a logger) or a
    transformer (an action preprocessor) with the same interface.
    """

    def before_agent(
        self, agent: Any, messages: Sequence[AgentMessage], session_id: Any
    ) -> Optional[Sequence[AgentMessage]]:
        """Called with the incoming messages before they reach memory."""
        return None

    def after_agent(
        self, agent: Any, message: AgentMessage, session_id: Any
    ) -> Optional[AgentMessage]:
        """Called with a copy of the reply after it was stored in memory."""
        return None

    def before_action(
        self, executor: Any, message: AgentMessage, session_id: Any
    ) -> Optional[AgentMessage]:
        """Called before an ``ActionExecutor`` dispatches a tool call."""
        return None

    def after_action(
        self, executor: Any, message: AgentMessage, session_id: Any
    ) -> Optional[AgentMessage]:
        """Called with the executor's result message before it is returned."""
        return None


class RemovableHandle:
    """Undoes one registration in a hook table (PyTorch style).

    Ids come from a process-wide counter, so two handles never collide even when they point at
    different tables; removing a handle twice is harmless, which keeps cleanup code in
    ``finally`` blocks simple.
    """

    _ids = count(0)

    def __init__(self, hooks_dict: MutableMapping[int, Any]) -> None:
        self.hooks_dict = hooks_dict
        self.id: int = next(self._ids)

    def remove(self) -> None:
        """Unregister the hook; a second call does nothing."""
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"RemovableHandle(id={self.id}, active={self.id in self.hooks_dict})"
