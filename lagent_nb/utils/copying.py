"""Building messages, and deep copies of them that are cheap for the JSON-like data they carry.

``copy.deepcopy`` is the most expensive step of an agent turn: it handles arbitrary object
graphs (cycles, shared references, ``__deepcopy__`` hooks) that messages almost never contain.
These helpers copy plain dicts, lists and tuples directly, share immutable values, and hand
anything else (or anything nested suspiciously deep, such as a cycle) to ``copy.deepcopy``.

An agent turn copies every message it hands out (so a hook or a caller can never change what
memory holds), which makes these copies the hottest code of the framework: hence the inline
``isinstance`` tests below, each worth a measured share of a turn (``bench/agent_overhead.py``).
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any

from pydantic import BaseModel

from lagent_nb.schema import AgentMessage

_IMMUTABLE = (str, int, float, bool, bytes, complex, type(None))
# Exact types whose values are shared rather than copied, looked up in a set before the slower
# ``isinstance`` walks. Enum classes join it when first met: ``copy.deepcopy`` returns enum
# members as they are too, and every message carries a status enum.
_ATOMIC = set(_IMMUTABLE)
# The ``AgentMessage`` fields typed ``Any``: the others hold validated str/enum values.
_ANY_FIELDS = ("content", "formatted", "extra_info")
_MAX_DEPTH = 64
_new_object = object.__new__
_set_slot = object.__setattr__


class _TooDeep(Exception):
    """Raised to fall back to ``copy.deepcopy`` (which also handles cycles)."""


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if depth > _MAX_DEPTH:
        raise _TooDeep
    # Atomic items are tested inline: a call per string would double the cost of a copy.
    depth += 1
    if kind is dict:
        return {
            key: item if type(item) in _ATOMIC else _copy(item, depth)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _ATOMIC else _copy(item, depth) for item in value]
    if kind is tuple:
        return tuple(item if type(item) in _ATOMIC else _copy(item, depth) for item in value)
    if isinstance(value, _IMMUTABLE):  # subclasses of str, int...
        return value
    if isinstance(value, Enum):
        _ATOMIC.add(kind)
        return value
    if isinstance(value, AgentMessage):
        return clone_message(value)
    return copy.deepcopy(value)


def fast_deepcopy(value: Any) -> Any:
    """An independent copy of ``value`` (same result as ``copy.deepcopy`` for JSON-like data)."""
    try:
        return _copy(value, 0)
    except _TooDeep:
        return copy.deepcopy(value)


def make_message(**fields: Any) -> AgentMessage:
    """``AgentMessage(**fields)``, validated the same way at about half the cost.

    The framework builds several messages per turn; pydantic's ``__init__`` spends as long on
    its keyword-argument plumbing as on validation. Calling the model's validator with a dict
    (what ``model_validate`` does, minus its own wrapper) gives the identical, fully validated
    message.
    """
    return AgentMessage.__pydantic_validator__.validate_python(fields)


def shallow_copy_model(model: BaseModel) -> BaseModel:
    """``model.model_copy()`` for a plain model: same field values, in a new instance.

    pydantic's ``__copy__`` goes through ``copy.copy`` for each of its internal containers and
    costs about twice as much; this fills the same slots (field values, the set of explicitly
    set fields, no extra or private values) directly. Models that do carry extra or private
    values take pydantic's own path.
    """
    if model.__pydantic_extra__ is not None or model.__pydantic_private__ is not None:
        return model.model_copy()
    new = _new_object(type(model))
    _set_slot(new, "__dict__", model.__dict__.copy())
    _set_slot(new, "__pydantic_fields_set__", model.__pydantic_fields_set__.copy())
    _set_slot(new, "__pydantic_extra__", None)
    _set_slot(new, "__pydantic_private__", None)
    return new


def clone_message(message: Any) -> Any:
    """A deep copy of an ``AgentMessage`` (anything else goes through ``fast_deepcopy``).

    Field values that may be mutable are copied as ``fast_deepcopy`` would: for a plain
    ``AgentMessage`` the ``Any`` fields, for a subclass (which may add fields of any type)
    all of them; subclasses with extra or private values take ``model_copy(deep=True)``.
    """
    if not isinstance(message, AgentMessage):
        return fast_deepcopy(message)
    if message.__pydantic_extra__ is not None or message.__pydantic_private__ is not None:
        return message.model_copy(deep=True)  # rare subclasses: pydantic's own deep copy
    clone = shallow_copy_model(message)
    fields = clone.__dict__
    for name in _ANY_FIELDS if type(message) is AgentMessage else list(fields):
        value = fields[name]
        if type(value) not in _ATOMIC:
            fields[name] = fast_deepcopy(value)
    return clone
