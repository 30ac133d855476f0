"""``Agent`` and its async / streaming twins.

An agent is a node in a tree (PyTorch ``nn.Module`` style): agent-valued attributes become
children, ``state_dict`` walks the tree and names each memory by its dotted path, and hooks
registered on a node return handles that undo the registration.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from lagent_nb.hooks import Hook, RemovableHandle
from lagent_nb.memory import Memory, MemoryManager, parse_saved
from lagent_nb.schema import AgentMessage
from lagent_nb.utils import create_object

from . import _protocol as protocol
from .aggregator import DefaultAggregator


def _children(agent: Agent) -> Mapping[str, Agent]:
    return getattr(agent, "_agents", None) or {}


def named_agents(agent: Agent, prefix: str = "") -> Iterator[Tuple[str, Agent]]:
    """``(dotted prefix, agent)`` for ``agent`` and every descendant, depth-first pre-order."""
    yield prefix, agent
    for name, child in _children(agent).items():
        yield from named_agents(child, f"{prefix}{name}.")


class Agent:
    """The basic unit: an LLM, a per-session memory, an aggregator and an optional parser.

    Args:
        llm: a model or a config dict for one.
        template: system instruction(s) handed to the aggregator (str, dict or list of dicts).
        memory: config of each session's memory; ``None`` for a stateless container.
        output_format: a parser (or its config) whose ``parse_response`` fills ``formatted``.
        aggregator: turns memory into the message list the LLM reads.
        name: sender name of this agent's replies; defaults to the class name.
        description: free text, e.g. for a router choosing between agents.
        hooks: ``Hook`` objects or config dicts, registered in order.
    """

    def __init__(
        self,
        llm: Any = None,
        template: Any = None,
        memory: Optional[Dict] = dict(type=Memory),  # noqa: B006 - lagent's config default
        output_format: Any = None,
        aggregator: Any = dict(type=DefaultAggregator),  # noqa: B006
        name: Optional[str] = None,
        description: Optional[str] = None,
        hooks: Union[List[Any], Any, None] = None,
    ) -> None:
        self.name = name or type(self).__name__
        self.llm = create_object(llm)
        self.memory: Optional[MemoryManager] = MemoryManager(memory) if memory else None
        self.output_format = create_object(output_format)
        self.template = template
        self.description = description
        self.aggregator = create_object(aggregator)
        self._hooks: Dict[int, Hook] = OrderedDict()
        if hooks:
            for hook in hooks if isinstance(hooks, (list, tuple)) else [hooks]:
                self.register_hook(create_object(hook))

    # -- the call protocol (see _protocol for the decisions) ---------------------------------

    def __call__(self, *message: Any, session_id: Any = 0, **kwargs: Any) -> AgentMessage:
        inputs = protocol.begin_turn(self, message, session_id)
        reply = self.forward(*inputs, session_id=session_id, **kwargs)
        return protocol.end_turn(self, reply, session_id)

    def forward(self, *message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> Any:
        """Default step: aggregate memory, ask the LLM (``kwargs`` override generation settings)."""
        prompt = protocol.build_prompt(self, session_id)
        return protocol.reply_from_text(self, self.llm.chat(prompt, **kwargs))

    def update_memory(self, message: Any, session_id: Any = 0) -> None:
        """Add to this agent's memory of ``session_id`` (no-op for memoryless agents)."""
        if self.memory is not None:
            self.memory.add(message, session_id=session_id)

    # -- the agent tree ----------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        children = self.__dict__.get("_agents")
        if isinstance(value, Agent):
            if children is None:
                children = self.__dict__["_agents"] = OrderedDict()
            children[name] = value
        elif children is not None and name != "_agents":
            children.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        self.__dict__.get("_agents", {}).pop(name, None)

    def state_dict(self, session_id: Any = 0) -> Dict[str, List[dict]]:
        """``{'memory': [...], 'child.memory': [...], ...}`` for one session.

        Agents without memory (``AgentList``/``AgentDict``) contribute no key; a session an
        agent has not seen yet is saved as ``[]`` with a warning.
        """
        state: Dict[str, List[dict]] = {}
        for prefix, agent in named_agents(self):
            if agent.memory is None:
                continue
            key = prefix + "memory"
            memory = agent.memory.get(session_id)
            if memory is None:
                warnings.warn(f"No session id {session_id} in {key}", stacklevel=2)
                state[key] = []
            else:
                state[key] = memory.save()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], session_id: Any = 0) -> None:
        """Restore every memory of ``session_id`` from ``state_dict``; all or nothing.

        Missing keys raise ``KeyError('Missing keys: ...')``; unused keys warn. Every value is
        validated before any memory changes, so a bad entry leaves the agent as it was.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict expects a mapping like agent.state_dict(); "
                f"got {type(state_dict).__name__}"
            )
        targets = {
            prefix + "memory": agent
            for prefix, agent in named_agents(self)
            if agent.memory is not None
        }
        missing = [key for key in targets if key not in state_dict]
        if missing:
            raise KeyError(f"Missing keys: {missing}")
        extra = [key for key in state_dict if key not in targets]
        if extra:
            warnings.warn(f"Mismatch keys which are not used: {extra}", stacklevel=2)
        loaded = {}
        for key in targets:
            try:
                loaded[key] = parse_saved(state_dict[key] or [])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"state_dict[{key!r}]: {exc}") from None
        for key, agent in targets.items():
            memory = agent.memory.get(session_id) or agent.memory.create_instance(session_id)
            memory.load(loaded[key])

    def reset(
        self, session_id: Any = 0, keypath: Optional[str] = None, recursive: bool = False
    ) -> None:
        """Forget ``session_id``: here, in the sub-agent at ``keypath``, or in the whole tree."""
        if keypath and recursive:
            raise ValueError("reset() takes keypath or recursive=True, not both")
        if keypath:
            agent = self
            for key in keypath.split("."):
                children = _children(agent)
                if key not in children:
                    raise KeyError(f"No sub-agent named {key!r} in {agent}")
                agent = children[key]
            agent.reset(session_id)
            return
        if self.memory is not None:
            self.memory.reset(session_id=session_id)
        if recursive:
            for child in _children(self).values():
                child.reset(session_id, recursive=True)

    def register_hook(self, hook: Hook) -> RemovableHandle:
        """Run ``hook`` on every call of this agent, after those registered before it."""
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def __repr__(self) -> str:
        return _tree_repr(self, 1)


def _tree_repr(agent: Agent, depth: int) -> str:
    head = type(agent).__name__ + (f"(name='{agent.name}')" if agent.name else "")
    lines = [
        f"{'  ' * depth}({name}): {_tree_repr(child, depth + 1)}"
        for name, child in _children(agent).items()
    ]
    if lines:
        return head + "(\n" + "\n".join(lines) + "\n" + "  " * (depth - 1) + ")"
    return head if head.endswith(")") else head + "()"


class AsyncAgentMixin:
    """``await agent(...)``: the same protocol, with an awaited ``forward``."""

    async def __call__(self, *message: Any, session_id: Any = 0, **kwargs: Any) -> AgentMessage:
        inputs = protocol.begin_turn(self, message, session_id)
        reply = await self.forward(*inputs, session_id=session_id, **kwargs)
        return protocol.end_turn(self, reply, session_id)

    async def forward(self, *message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> Any:
        """Like ``Agent.forward``; async LLMs also receive the session id (request routing)."""
        prompt = protocol.build_prompt(self, session_id)
        return protocol.reply_from_text(self, await self.llm.chat(prompt, session_id, **kwargs))


class AsyncAgent(AsyncAgentMixin, Agent):
    """An agent whose call is a coroutine; give it an async LLM."""


class StreamingAgentMixin:
    """``for chunk in agent(...)``: copies with cumulative content, then one final END message.

    Memory receives only the final message; a consumer that stops early (or an error in
    ``forward``) leaves the user's message in memory and no partial reply.
    """

    def __call__(self, *message: Any, session_id: Any = 0, **kwargs: Any) -> Iterator[AgentMessage]:
        inputs = protocol.begin_turn(self, message, session_id)
        relay = protocol.StreamRelay(self)
        for chunk in self.forward(*inputs, session_id=session_id, **kwargs):
            yield from relay.push(chunk)
        yield protocol.end_turn(self, relay.final(), session_id)

    def forward(self, *message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> Iterator[Any]:
        prompt = protocol.build_prompt(self, session_id)
        stream_chat = protocol.stream_of(self)
        for state, text, *_ in stream_chat(prompt, session_id=session_id, **kwargs):
            yield protocol.chunk_from_stream(self, state, text)


class AsyncStreamingAgentMixin:
    """``async for chunk in agent(...)``: the async twin of ``StreamingAgentMixin``."""

    async def __call__(
        self, *message: Any, session_id: Any = 0, **kwargs: Any
    ) -> AsyncIterator[AgentMessage]:
        inputs = protocol.begin_turn(self, message, session_id)
        relay = protocol.StreamRelay(self)
        async for chunk in self.forward(*inputs, session_id=session_id, **kwargs):
            for out in relay.push(chunk):
                yield out
        yield protocol.end_turn(self, relay.final(), session_id)

    async def forward(
        self, *message: AgentMessage, session_id: Any = 0, **kwargs: Any
    ) -> AsyncIterator[Any]:
        prompt = protocol.build_prompt(self, session_id)
        stream_chat = protocol.stream_of(self)
        async for state, text, *_ in stream_chat(prompt, session_id=session_id, **kwargs):
            yield protocol.chunk_from_stream(self, state, text)


class StreamingAgent(StreamingAgentMixin, Agent):
    """An agent whose call is a generator of partial replies."""


class AsyncStreamingAgent(AsyncStreamingAgentMixin, Agent):
    """An agent whose call is an async generator of partial replies."""


_CONTAINERS = (
    "Sequential",
    "AsyncSequential",
    "StreamingSequential",
    "AsyncStreamingSequential",
    "AgentList",
    "AgentDict",
)


def __getattr__(name: str) -> Any:
    """lagent defines the containers in this module; they live in ``containers`` here."""
    if name in _CONTAINERS:
        from . import containers

        return getattr(containers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
