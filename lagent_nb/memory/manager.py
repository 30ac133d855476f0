"""Per-session memories, created on first use, with change notification."""

from __future__ import annotations

import copy
import inspect
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from lagent_nb.hooks.hook import RemovableHandle
from lagent_nb.utils import create_object

from .base_memory import Memory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryEvent:
    """What changed: ``kind`` is one of ``'add'``, ``'delete'``, ``'load'``, ``'reset'``."""

    manager: MemoryManager
    session_id: Any
    kind: str


class _Notifier:
    """Tells the manager which session a ``Memory`` belongs to (picklable, unlike a lambda)."""

    __slots__ = ("manager", "session_id")

    def __init__(self, manager: MemoryManager, session_id: Any) -> None:
        self.manager = manager
        self.session_id = session_id

    def __call__(self, kind: str) -> None:
        self.manager._emit(self.session_id, kind)


class MemoryManager:
    """Maps session ids to ``Memory`` objects built from ``cfg``.

    ``cfg`` is a config dict (``dict(type=Memory, recent_n=...)``), a memory class, or a
    ready ``Memory`` used as a template (each session gets its own copy, never a shared one).
    """

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.memory_map: Dict[Any, Memory] = {}
        self._subscribers: Dict[int, Callable[[MemoryEvent], None]] = OrderedDict()

    def _build(self) -> Memory:
        if isinstance(self.cfg, dict):
            return create_object(self.cfg)
        if inspect.isclass(self.cfg):
            return self.cfg()
        memory = copy.deepcopy(self.cfg)
        memory.__dict__.pop("_on_change", None)
        return memory

    def create_instance(self, session_id: Any) -> Memory:
        """Create (or replace) the memory of ``session_id`` and return it."""
        memory = self._build()
        if self._subscribers:
            self._watch(session_id, memory)
        self.memory_map[session_id] = memory
        return memory

    def _watch(self, session_id: Any, memory: Any) -> None:
        """Route ``memory``'s changes to the subscribers.

        Done only once someone subscribes: until then every message added would pay for a
        notification nobody receives (a sizeable share of an agent turn).
        """
        if isinstance(memory, Memory):
            memory._on_change = _Notifier(self, session_id)

    def get_memory(self, session_id: Any = 0, **kwargs: Any) -> List:
        """Messages of ``session_id`` (``Memory.get_memory`` kwargs apply)."""
        memory = self.memory_map.get(session_id)
        if memory is None:
            raise KeyError(
                f"no memory for session {session_id!r}; known sessions: {list(self.memory_map)}"
            )
        return memory.get_memory(**kwargs)

    def add(self, memory: Any, session_id: Any = 0, **kwargs: Any) -> None:
        """Add to ``session_id``'s memory, creating it on first use."""
        target = self.memory_map.get(session_id)
        if target is None:
            target = self.create_instance(session_id)
        target.add(memory, **kwargs)

    def get(self, session_id: Any = 0) -> Optional[Memory]:
        """The ``Memory`` of ``session_id``, or ``None`` when the session has none yet."""
        return self.memory_map.get(session_id)

    def reset(self, session_id: Any = 0) -> None:
        """Forget ``session_id`` entirely; unknown sessions are ignored."""
        if self.memory_map.pop(session_id, None) is not None:
            self._emit(session_id, "reset")

    def subscribe(self, callback: Callable[[MemoryEvent], None]) -> RemovableHandle:
        """Call ``callback(MemoryEvent)`` after every change; the handle unsubscribes."""
        if not self._subscribers:
            for session_id, memory in self.memory_map.items():
                self._watch(session_id, memory)
        handle = RemovableHandle(self._subscribers)
        self._subscribers[handle.id] = callback
        return handle

    def _emit(self, session_id: Any, kind: str) -> None:
        if not self._subscribers:
            return
        event = MemoryEvent(self, session_id, kind)
        for callback in list(self._subscribers.values()):
            try:
                callback(event)
            except Exception:
                # A broken view must never break the conversation it is watching.
                logger.exception("memory subscriber %r failed on %s", callback, event.kind)

    def __getstate__(self) -> dict:
        """Copies and pickles carry the memories but not the subscribers (views watch the
        original, and callbacks are rarely picklable)."""
        state = self.__dict__.copy()
        state["_subscribers"] = OrderedDict()
        return state

    def __repr__(self) -> str:
        return f"MemoryManager(sessions={list(self.memory_map)})"
