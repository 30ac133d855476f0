"""Turns in progress, so every view of an agent can show and stop them.

A turn started by a ``%%agent`` cell (``--bg`` included) or by a chat panel registers a
``Run`` here. Views listen for runs of the agent they show: they draw the streamed message
and their Stop button calls ``Run.cancel``. Memory stays the record of finished messages;
this registry only carries what memory never holds (the partial reply, the way to stop).
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Callable, Dict, List, Optional

logger = logging.getLogger(__name__)

Listener = Callable[["Run", str], None]  # (run, event) with event in 'start', 'update', 'end'

_listeners: Dict[int, Listener] = {}
_runs: Dict[int, Run] = {}
_ids = itertools.count()
_lock = threading.Lock()


class Handle:
    """Removes a listener; removing twice is harmless."""

    def __init__(self, key: int):
        self.key = key

    def remove(self) -> None:
        _listeners.pop(self.key, None)


class Run:
    """One turn of ``agent`` in ``session_id``: its latest partial reply and how to stop it."""

    def __init__(self, agent: Any, session_id: Any, cancel: Optional[Callable[[], None]] = None):
        self.agent, self.session_id = agent, session_id
        self.partial: Any = None
        self.error: Optional[BaseException] = None
        self.done = False
        self._cancel = cancel
        self.key = next(_ids)

    def set_cancel(self, cancel: Callable[[], None]) -> None:
        self._cancel = cancel

    def cancel(self) -> bool:
        """Ask the turn to stop; False when it has already ended or cannot be stopped."""
        if self.done or self._cancel is None:
            return False
        self._cancel()
        return True

    def update(self, partial: Any) -> None:
        self.partial = partial
        _notify(self, "update")

    def finish(self, error: Optional[BaseException] = None) -> None:
        self.done, self.error = True, error
        with _lock:
            _runs.pop(self.key, None)
        _notify(self, "end")


def start(agent: Any, session_id: Any, cancel: Optional[Callable[[], None]] = None) -> Run:
    """Register a new turn and tell the listeners."""
    run = Run(agent, session_id, cancel)
    with _lock:
        _runs[run.key] = run
    _notify(run, "start")
    return run


def running(agent: Any = None) -> List[Run]:
    """Turns in progress, of one agent or of all."""
    with _lock:
        runs = list(_runs.values())
    return [r for r in runs if agent is None or r.agent is agent]


def listen(callback: Listener) -> Handle:
    """Call ``callback(run, event)`` for every start, update and end."""
    key = next(_ids)
    _listeners[key] = callback
    return Handle(key)


def cancel_all() -> int:
    """Stop every turn in progress (used when the extension unloads); returns how many."""
    return sum(run.cancel() for run in running())


def _notify(run: Run, event: str) -> None:
    for callback in list(_listeners.values()):
        try:
            callback(run, event)
        except Exception:  # a broken view must not break the turn it watches
            logger.exception("activity listener %r failed on %s", callback, event)
