"""Agents holding agents: pipelines (``Sequential``) and collections (``AgentList``/``Dict``)."""

from __future__ import annotations

from collections import OrderedDict, UserDict, UserList
from functools import wraps
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, List, Mapping, Optional, Union

from lagent_nb.schema import AgentMessage

from .agent import (
    Agent,
    AsyncAgentMixin,
    AsyncStreamingAgentMixin,
    StreamingAgentMixin,
)


def _as_inputs(message: Any) -> tuple:
    return (message,) if isinstance(message, AgentMessage) else tuple(message)


def _is_agent_collection(value: Any) -> bool:
    """A list/dict of agents passed as the only argument (a ``(name, agent)`` pair is not)."""
    return isinstance(value, Iterable) and not isinstance(value, (Agent, tuple, str))


class Sequential(Agent):
    """Passes the message through its agents in order; the last reply is the result.

    ``forward(..., exit_at=k)`` runs ``k + 1`` steps, cycling through the agents, so
    ``exit_at`` larger than ``len(self) - 1`` repeats the pipeline round-robin.
    """

    def __init__(self, *agents: Union[Agent, Iterable], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.__dict__.setdefault("_agents", OrderedDict())
        if len(agents) == 1 and _is_agent_collection(agents[0]):
            agents = agents[0]
        if not agents:
            raise ValueError("Sequential needs at least one agent")
        if isinstance(agents, Mapping):
            entries = list(agents.items())
        else:
            entries = [a if isinstance(a, tuple) else (i, a) for i, a in enumerate(agents)]
        for key, agent in entries:
            self.add_agent(key, agent)

    def add_agent(self, name: Union[str, int], agent: Agent) -> None:
        """Append ``agent`` to the pipeline under ``name`` (its state-dict prefix)."""
        if not isinstance(agent, Agent):
            raise TypeError(f"{type(agent).__name__} is not an Agent subclass")
        self._agents[str(name)] = agent

    def _schedule(self, exit_at: Optional[int]) -> List[Agent]:
        """The agents to run, in order (plain logic shared by the four twins)."""
        if exit_at is not None and exit_at < 0:
            raise ValueError(f"exit_at should be >= 0, got {exit_at}")
        agents = list(self._agents.values())
        steps = len(agents) if exit_at is None else exit_at + 1
        return [agents[i % len(agents)] for i in range(steps)]

    def forward(
        self, *message: Any, session_id: Any = 0, exit_at: Optional[int] = None, **kwargs: Any
    ) -> Any:
        for agent in self._schedule(exit_at):
            message = agent(*_as_inputs(message), session_id=session_id, **kwargs)
        return message

    def __getitem__(self, key: Union[int, str]) -> Agent:
        """By position (negative allowed, whatever the names) or by name."""
        if isinstance(key, int):
            agents = list(self._agents.values())
            if not -len(agents) <= key < len(agents):
                raise IndexError(f"index {key} out of range for {len(agents)} agents")
            return agents[key]
        return self._agents[str(key)]

    def __len__(self) -> int:
        return len(self._agents)


class AsyncSequential(AsyncAgentMixin, Sequential):
    async def forward(
        self, *message: Any, session_id: Any = 0, exit_at: Optional[int] = None, **kwargs: Any
    ) -> Any:
        for agent in self._schedule(exit_at):
            message = await agent(*_as_inputs(message), session_id=session_id, **kwargs)
        return message


class StreamingSequential(StreamingAgentMixin, Sequential):
    def forward(
        self, *message: Any, session_id: Any = 0, exit_at: Optional[int] = None, **kwargs: Any
    ) -> Iterator[AgentMessage]:
        for agent in self._schedule(exit_at):
            for chunk in agent(*_as_inputs(message), session_id=session_id, **kwargs):
                message = chunk
                yield chunk


class AsyncStreamingSequential(AsyncStreamingAgentMixin, Sequential):
    async def forward(
        self, *message: Any, session_id: Any = 0, exit_at: Optional[int] = None, **kwargs: Any
    ) -> AsyncIterator[AgentMessage]:
        for agent in self._schedule(exit_at):
            async for chunk in agent(*_as_inputs(message), session_id=session_id, **kwargs):
                message = chunk
                yield chunk


# -- collections ------------------------------------------------------------------------------


def _check_agent(item: Any) -> None:
    if not isinstance(item, Agent):
        raise TypeError(f"{type(item).__name__} is not an Agent subclass")


def _check_key(key: Any) -> None:
    """Keys become state-dict path segments, so they must be non-empty strings without dots."""
    if not isinstance(key, str):
        raise KeyError(f"agent name should be a string, got {type(key).__name__}")
    if not key or "." in key:
        raise KeyError(f"agent name must be non-empty and can't contain '.', got {key!r}")


def _guarded(method: Callable) -> Callable:
    """Run a mutating method, then validate; on failure restore the previous contents."""

    @wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        snapshot = self.data.copy()
        result = method(self, *args, **kwargs)
        try:
            self._validate()
        except (KeyError, TypeError):
            self.data = snapshot
            raise
        return result

    return wrapper


class _AgentCollection(Agent):
    """Shared parts of ``AgentList``/``AgentDict``: no memory, no name, children = the items."""

    data: Any

    def _init_collection(self) -> None:
        Agent.__init__(self, memory=None)
        self.name = None

    @property
    def _agents(self) -> Mapping[str, Agent]:
        items = self.data.items() if isinstance(self.data, dict) else enumerate(self.data)
        return OrderedDict((str(key), agent) for key, agent in items)

    def _validate(self) -> None:
        raise NotImplementedError


class AgentList(_AgentCollection, UserList):
    """A list of agents whose memories appear in ``state_dict`` as ``<index>.memory``."""

    def __init__(self, agents: Optional[Iterable[Agent]] = None) -> None:
        self._init_collection()
        UserList.__init__(self, agents)
        self._validate()

    def _validate(self) -> None:
        for item in self.data:
            _check_agent(item)

    # Every way a new item can enter the list is checked (the others build a new AgentList).
    append = _guarded(UserList.append)
    insert = _guarded(UserList.insert)
    extend = _guarded(UserList.extend)
    __setitem__ = _guarded(UserList.__setitem__)
    __iadd__ = _guarded(UserList.__iadd__)


class AgentDict(_AgentCollection, UserDict):
    """A name → agent mapping whose memories appear as ``<name>.memory``."""

    def __init__(self, agents: Optional[Mapping[str, Agent]] = None) -> None:
        self._init_collection()
        UserDict.__init__(self)
        if agents is not None:
            self.update(agents)

    def _validate(self) -> None:
        for key, item in self.data.items():
            _check_key(key)
            _check_agent(item)

    # ``setdefault`` and ``MutableMapping`` helpers go through ``__setitem__``.
    __setitem__ = _guarded(UserDict.__setitem__)
    __ior__ = _guarded(UserDict.__ior__)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """All-or-nothing: one bad entry leaves the dict unchanged."""
        snapshot = self.data.copy()
        try:
            for key, value in dict(*args, **kwargs).items():
                _check_key(key)
                _check_agent(value)
                self.data[key] = value
        except (KeyError, TypeError):
            self.data = snapshot
            raise
