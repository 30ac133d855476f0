"""Finding agents: in the user namespace, by dotted path, and inside a composite agent.

A composite agent's structure is read from its ``state_dict`` keys (``writer.memory``,
``members.0.memory``), the same addresses ``load_state_dict`` and ``reset(keypath=)`` use, so
the magics, the memory tree and the agent core agree on what ``blogger.writer`` means.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, List, Tuple

from IPython.core.error import UsageError

SYNC, ASYNC, STREAM, ASYNC_STREAM = "sync", "async", "stream", "async-stream"


def is_agent(obj: Any) -> bool:
    """Duck-typed: anything callable with lagent's memory and state_dict API is an agent."""
    return (
        not isinstance(obj, type)
        and callable(obj)
        and all(hasattr(obj, a) for a in ("memory", "state_dict", "load_state_dict", "reset"))
    )


def agent_kind(agent: Any) -> str:
    """How an agent answers: a value, a coroutine, a generator or an async generator."""
    call = type(agent).__call__
    if inspect.isasyncgenfunction(call):
        return ASYNC_STREAM
    if inspect.iscoroutinefunction(call):
        return ASYNC
    if inspect.isgeneratorfunction(call):
        return STREAM
    return SYNC


def child(node: Any, key: str) -> Any:
    """One step of a dotted path: a registered sub-agent, an attribute, or a container item."""
    registered = getattr(node, "_agents", None)
    if isinstance(registered, Mapping) and key in registered:
        return registered[key]
    if hasattr(node, key) and not key.isdigit():
        return getattr(node, key)
    try:
        return node[int(key)] if key.lstrip("-").isdigit() else node[key]
    except (LookupError, TypeError) as exc:
        raise KeyError(key) from exc


def sub_agent_paths(agent: Any) -> List[str]:
    """Dotted paths of the agent ('' for itself) and every sub-agent that has a memory."""
    with warnings.catch_warnings():  # a session missing from a memory only warns
        warnings.simplefilter("ignore")
        keys = list(agent.state_dict(session_id=0))
    return [key[: -len("memory")].rstrip(".") for key in keys]


def walk(agent: Any) -> Iterator[Tuple[str, Any]]:
    """``(path, sub_agent)`` for the agent and each sub-agent with a memory, in state_dict order."""
    for path in sub_agent_paths(agent):
        node = agent
        for key in path.split(".") if path else []:
            node = child(node, key)
        yield path, node


def namespace_agents(namespace: Mapping[str, Any]) -> List[Tuple[str, Any]]:
    """Agents bound to public names in the namespace, sorted by name."""
    return sorted(
        (name, obj)
        for name, obj in list(namespace.items())
        if not name.startswith("_") and is_agent(obj)
    )


def resolve(namespace: Mapping[str, Any], name: str) -> Any:
    """The agent ``name`` (or ``name.sub.path``) names; a UsageError that helps otherwise."""
    head, *rest = name.split(".")
    if head not in namespace:
        known = [n for n, _ in namespace_agents(namespace)]
        close = difflib.get_close_matches(head, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        listing = f" Agents defined: {', '.join(known)}." if known else " No agent is defined yet."
        raise UsageError(f"No agent named {head!r}.{hint}{listing}")
    node, walked = namespace[head], head
    for key in rest:
        try:
            node = child(node, key)
        except KeyError:
            subs = [p for p, _ in walk(node)] if is_agent(node) else []
            close = difflib.get_close_matches(key, [p.split(".")[0] for p in subs if p])
            hint = f" Did you mean {walked}.{close[0]}?" if close else ""
            raise UsageError(f"{walked!r} has no sub-agent {key!r}.{hint}") from None
        walked += f".{key}"
    if not is_agent(node):
        raise UsageError(
            f"{name!r} is a {type(node).__name__}, not an agent: %%agent needs an object "
            "with lagent's interface (call, memory, state_dict)."
        )
    return node


def session_ids(agent: Any) -> List[Any]:
    """Every session id that the agent or any of its sub-agents holds, in first-seen order."""
    seen: dict = {}
    for _, node in walk(agent):
        if node.memory is not None:
            seen.update(dict.fromkeys(node.memory.memory_map))
    return list(seen)


def session_messages(agent: Any, session_id: Any) -> List[Any]:
    """Every message of one session in the agent's own memory (``[]`` when it has none).

    Read from ``Memory.memory``, the full list, rather than ``get_memory()``, which a
    ``recent_n`` window would cut: views show the whole conversation.
    """
    manager = getattr(agent, "memory", None)
    memory = manager.get(session_id) if manager is not None else None
    return list(memory.memory) if memory is not None else []


def message_count(agent: Any, session_id: Any) -> int:
    """Messages of one session in the memories of the agent and all its sub-agents."""
    return sum(len(session_messages(node, session_id)) for _, node in walk(agent))
