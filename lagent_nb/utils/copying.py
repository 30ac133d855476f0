"""Deep copies of messages that are cheap for the JSON-like data they usually carry.

``copy.deepcopy`` is the most expensive step of an agent turn: it handles arbitrary object
graphs (cycles, shared references, ``__deepcopy__`` hooks) that messages almost never contain.
These helpers copy plain dicts, lists and tuples directly, share immutable values, and hand
anything else (or anything nested suspiciously deep, such as a cycle) to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from typing import Any

from lagent_nb.schema import AgentMessage

_IMMUTABLE = (str, int, float, bool, bytes, complex, type(None))
_MAX_DEPTH = 64


class _TooDeep(Exception):
    """Raised to fall back to ``copy.deepcopy`` (which also handles cycles)."""


def _copy(value: Any, depth: int) -> Any:
    if isinstance(value, _IMMUTABLE):  # includes IntEnum status codes
        return value
    if depth > _MAX_DEPTH:
        raise _TooDeep
    kind = type(value)
    if kind is dict:
        return {key: _copy(item, depth + 1) for key, item in value.items()}
    if kind is list:
        return [_copy(item, depth + 1) for item in value]
    if kind is tuple:
        return tuple(_copy(item, depth + 1) for item in value)
    if isinstance(value, AgentMessage):
        return clone_message(value)
    return copy.deepcopy(value)


def fast_deepcopy(value: Any) -> Any:
    """An independent copy of ``value`` (same result as ``copy.deepcopy`` for JSON-like data)."""
    try:
        return _copy(value, 0)
    except _TooDeep:
        return copy.deepcopy(value)


def clone_message(message: Any) -> Any:
    """A deep copy of an ``AgentMessage`` (anything else goes through ``fast_deepcopy``)."""
    if not isinstance(message, AgentMessage):
        return fast_deepcopy(message)
    update = {}
    for field in ("content", "formatted", "extra_info"):
        value = getattr(message, field)
        if not isinstance(value, _IMMUTABLE):
            update[field] = fast_deepcopy(value)
    return message.model_copy(update=update) if update else message.model_copy()
