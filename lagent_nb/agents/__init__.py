"""Agents: the ``Agent`` protocol, its twins, containers, and the stock tool-using agents.

The tool-using agents (``ReAct``, ``AgentForInternLM``, ``MathCoder``) are loaded on first use,
so importing ``lagent_nb.agents`` does not import the actions layer.
"""

from typing import Any

from .agent import (
    Agent,
    AsyncAgent,
    AsyncAgentMixin,
    AsyncStreamingAgent,
    AsyncStreamingAgentMixin,
    StreamingAgent,
    StreamingAgentMixin,
)
from .containers import (
    AgentDict,
    AgentList,
    AsyncSequential,
    AsyncStreamingSequential,
    Sequential,
    StreamingSequential,
)

_LAZY = {
    "ReAct": "react",
    "AsyncReAct": "react",
    "AgentForInternLM": "stream",
    "AsyncAgentForInternLM": "stream",
    "MathCoder": "stream",
    "AsyncMathCoder": "stream",
    "get_plugin_prompt": "stream",
}

__all__ = [
    "Agent",
    "AgentDict",
    "AgentForInternLM",
    "AgentList",
    "AsyncAgent",
    "AsyncAgentForInternLM",
    "AsyncAgentMixin",
    "AsyncMathCoder",
    "AsyncReAct",
    "AsyncSequential",
    "AsyncStreamingAgent",
    "AsyncStreamingAgentMixin",
    "AsyncStreamingSequential",
    "MathCoder",
    "ReAct",
    "Sequential",
    "StreamingAgent",
    "StreamingAgentMixin",
    "StreamingSequential",
    "get_plugin_prompt",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
