"""One conversation's message list."""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Union

from lagent_nb.schema import AgentMessage

ChangeCallback = Callable[[str], None]


def _to_message(item: Any) -> AgentMessage:
    """Accept a dumped message (dict) or a message; anything else is a clear TypeError."""
    if isinstance(item, AgentMessage):
        return item.model_copy(deep=True)
    if isinstance(item, dict):
        return AgentMessage.model_validate(item)
    raise TypeError(
        f"Memory.load expects dicts from Memory.save() or AgentMessage objects; "
        f"got {type(item).__name__}"
    )


def parse_saved(memories: Union[dict, List[Any]]) -> List[AgentMessage]:
    """Validate ``save()`` output (a list of dicts, or one dict) into fresh messages.

    Raises ``TypeError`` for the wrong container and ``ValueError`` (pydantic's
    ``ValidationError``) for a malformed message, naming its position.
    """
    if isinstance(memories, dict):
        memories = [memories]
    elif not isinstance(memories, (list, tuple)):
        raise TypeError(
            f"a saved memory must be a list of message dicts (or one dict); "
            f"got {type(memories).__name__}"
        )
    loaded = []
    for position, item in enumerate(memories):
        try:
            loaded.append(_to_message(item))
        except TypeError as exc:
            raise TypeError(f"saved message #{position}: {exc}") from None
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ValueError(f"saved message #{position} is not an AgentMessage: {exc}") from None
    return loaded


class Memory:
    """An ordered list of ``AgentMessage`` for one session.

    ``_on_change`` is set by the owning ``MemoryManager`` so that views (widgets, displays)
    learn about every mutation without polling; a bare ``Memory`` has none.
    """

    _on_change: Optional[ChangeCallback] = None

    def __init__(self, recent_n: Optional[int] = None) -> None:
        self.memory: List[AgentMessage] = []
        self.recent_n = recent_n

    def _changed(self, kind: str) -> None:
        if self._on_change is not None:
            self._on_change(kind)

    def get_memory(
        self,
        recent_n: Optional[int] = None,
        filter_func: Optional[Callable[[int, AgentMessage], bool]] = None,
    ) -> List[AgentMessage]:
        """The last ``recent_n`` messages (all when unset), then those ``filter_func`` keeps.

        ``filter_func(i, message)`` sees indices relative to the window, not to the whole
        history.
        """
        recent_n = recent_n or self.recent_n
        messages = self.memory[-recent_n:] if recent_n is not None else self.memory
        if filter_func is not None:
            messages = [m for i, m in enumerate(messages) if filter_func(i, m)]
        return messages

    def add(self, memories: Union[AgentMessage, str, Iterable[Any], None]) -> None:
        """Append a message, a string (as a user message) or a list/tuple of them.

        Other values (``None`` included) are ignored, as in lagent, so hooks may pass through
        whatever they received.
        """
        if isinstance(memories, AgentMessage):  # the common case: one message per call
            self.memory.append(memories)
            self._changed("add")
            return
        items = memories if isinstance(memories, (list, tuple)) else [memories]
        added = False
        for item in items:
            if isinstance(item, str):
                item = AgentMessage(sender="user", content=item)
            if isinstance(item, AgentMessage):
                self.memory.append(item)
                added = True
        if added:
            self._changed("add")

    def delete(self, index: Union[int, Iterable[int]]) -> None:
        """Delete by position; a list of positions refers to the memory *before* deleting.

        (lagent deletes one by one, so later indices shift; deleting ``[0, 1]`` removed the
        first and third message there.)
        """
        if isinstance(index, int):
            del self.memory[index]
        else:
            size = len(self.memory)
            positions = sorted({i % size if -size <= i < size else i for i in index}, reverse=True)
            for i in positions:
                if not 0 <= i < size:
                    raise IndexError(f"memory index {i} out of range for {size} messages")
            for i in positions:
                del self.memory[i]
        self._changed("delete")

    def load(self, memories: Union[dict, List[Any]], overwrite: bool = True) -> None:
        """Restore from ``save()`` output (a list of dicts) or a single dict.

        All-or-nothing: every item is validated before the memory changes, so a bad state dict
        never leaves a half-loaded conversation behind.
        """
        loaded = parse_saved(memories)
        self.memory = loaded if overwrite else self.memory + loaded
        self._changed("load")

    def save(self) -> List[dict]:
        """Every message as a plain dict (``model_dump``); JSON-serializable for str content."""
        return [m.model_dump() for m in self.memory]

    def __len__(self) -> int:
        return len(self.memory)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(messages={len(self.memory)}, recent_n={self.recent_n})"
