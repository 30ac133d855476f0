"""The decisions of one agent turn, as plain functions that do no I/O.

``Agent``, ``AsyncAgent``, ``StreamingAgent`` and ``AsyncStreamingAgent`` all follow the same
protocol (hooks → memory → forward → memory → hooks); they differ only in how they wait for
``forward``. Keeping every decision here means the four ``__call__`` methods are a few lines of
waiting each and cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from lagent_nb.schema import AgentMessage, AgentStatusCode
from lagent_nb.utils.copying import clone_message, make_message, shallow_copy_model

if TYPE_CHECKING:
    from .agent import Agent


def _hooks_of(agent: Agent) -> Iterable[Any]:
    """A snapshot of the hooks (one may remove itself while running); most agents have none."""
    return list(agent._hooks.values()) if agent._hooks else ()


def begin_turn(agent: Agent, messages: Iterable[Any], session_id: Any) -> List[Any]:
    """Normalise the inputs, run ``before_agent`` hooks, store the result in memory."""
    inputs: Any = [
        make_message(sender="user", content=m) if isinstance(m, str) else clone_message(m)
        for m in messages
    ]
    for hook in _hooks_of(agent):
        replaced = hook.before_agent(agent, inputs, session_id)
        if replaced:
            inputs = replaced
    agent.update_memory(inputs, session_id=session_id)
    return inputs


def as_reply(agent: Agent, result: Any) -> AgentMessage:
    """Whatever ``forward`` returned, as a message from this agent."""
    if isinstance(result, AgentMessage):
        return result
    return make_message(sender=agent.name, content=result)


def end_turn(agent: Agent, reply: Any, session_id: Any) -> AgentMessage:
    """Store the reply, then hand a copy to the ``after_agent`` hooks.

    Memory keeps the version ``forward`` produced: hooks only change what the caller sees.
    """
    reply = as_reply(agent, reply)
    agent.update_memory(reply, session_id=session_id)
    reply = clone_message(reply)
    for hook in _hooks_of(agent):
        replaced = hook.after_agent(agent, reply, session_id)
        if replaced:
            reply = replaced
    return reply


def require_prompt_parts(agent: Agent) -> None:
    """The default ``forward`` needs an LLM and a memory: say so instead of an AttributeError."""
    if agent.llm is None:
        raise RuntimeError(
            f"agent {agent.name!r} has no llm: pass llm=... to the constructor, "
            "or override forward() for an agent that does not call a model"
        )
    if agent.memory is None:
        raise RuntimeError(
            f"agent {agent.name!r} was built with memory=None, but the default forward() "
            "builds the prompt from memory: pass memory=dict(type=Memory) or override forward()"
        )


def build_prompt(agent: Agent, session_id: Any) -> List[dict]:
    """The chat messages for this turn, as the aggregator renders them."""
    require_prompt_parts(agent)
    return agent.aggregator.aggregate(
        agent.memory.get(session_id), agent.name, agent.output_format, agent.template
    )


def stream_of(agent: Agent) -> Any:
    """The LLM's ``stream_chat``; backends without one (e.g. vLLM) get a clear error."""
    stream_chat = getattr(agent.llm, "stream_chat", None)
    if stream_chat is None:
        raise TypeError(
            f"{type(agent).__name__} {agent.name!r} streams, but its llm "
            f"{type(agent.llm).__name__} has no stream_chat(); use a non-streaming agent class"
        )
    return stream_chat


def reply_from_text(agent: Agent, text: Any) -> Any:
    """A finished LLM reply: parsed into ``formatted`` when the agent has an output format."""
    if agent.output_format:
        return make_message(
            sender=agent.name, content=text, formatted=agent.output_format.parse_response(text)
        )
    return text


def chunk_from_stream(agent: Agent, state: Any, text: Any) -> Any:
    """One streamed LLM chunk.

    Partial output often does not parse yet (half a JSON object), so a parse error on a chunk
    that is still streaming leaves ``formatted`` empty; the final chunk parses strictly.
    """
    if not agent.output_format:
        return state, text
    try:
        formatted = agent.output_format.parse_response(text)
    except Exception:
        if state != AgentStatusCode.END:
            formatted = None
        else:
            raise
    return make_message(sender=agent.name, content=text, formatted=formatted, stream_state=state)


class StreamRelay:
    """Decides what a streaming agent yields for each chunk ``forward`` produces.

    Every chunk is yielded as a copy with cumulative content, except that an ``END`` chunk is
    held back: if more chunks follow (a sub-agent finished inside a container) it is released
    then; if it is the last one, the caller yields the post-hook final message instead. So a
    stream ends with exactly one ``END`` message (lagent yields it twice).
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.last: Optional[AgentMessage] = None
        self._held: Optional[AgentMessage] = None

    def push(self, chunk: Any) -> List[AgentMessage]:
        """The messages to yield now for ``chunk``."""
        if not isinstance(chunk, AgentMessage):
            state, text = chunk
            chunk = make_message(sender=self.agent.name, content=text, stream_state=state)
        out = [] if self._held is None else [self._held]
        self._held = None
        self.last = chunk
        if chunk.stream_state == AgentStatusCode.END:
            self._held = shallow_copy_model(chunk)
        else:
            out.append(shallow_copy_model(chunk))
        return out

    def final(self) -> AgentMessage:
        """The message to store: the last chunk, marked END when the stream simply stopped."""
        final = self.last
        if final is None:
            return make_message(sender=self.agent.name, content="")
        if final.stream_state == AgentStatusCode.STREAM_ING:
            final = final.model_copy(update={"stream_state": AgentStatusCode.END})
        return final
