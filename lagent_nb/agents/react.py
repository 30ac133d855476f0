"""ReAct: the model picks a tool (JSON), the executor runs it, until the model concludes."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional

from lagent_nb.hooks import ActionPreprocessor
from lagent_nb.memory import Memory
from lagent_nb.schema import AgentMessage
from lagent_nb.utils import create_object

from .agent import Agent, AsyncAgent
from .aggregator import DefaultAggregator

# Used when no template is given; ``{action_info}`` gets the tool list, ``{output_format}``
# the parser's format instructions.
DEFAULT_REACT_TEMPLATE = (
    "You are an assistant that can call external tools. Available tools:\n"
    "{action_info}\n{output_format}\nBegin!"
)


def has_conclusion(message: AgentMessage) -> bool:
    """Default finish condition: the reply carries a ``conclusion`` (raw text or parsed)."""
    formatted = message.formatted
    return "conclusion" in str(message.content) or (
        isinstance(formatted, dict) and "conclusion" in formatted
    )


class _ReActBase(Agent):
    """Construction shared by ``ReAct`` and ``AsyncReAct``; only the classes they use differ.

    ``template`` needs ``{action_info}`` and ``{output_format}`` slots; ``output_format`` is a
    parser (or its config) whose ``format_instruction()`` fills the second.
    """

    _AGENT_CLS: type = Agent
    _EXECUTOR_NAME = "ActionExecutor"

    def __init__(
        self,
        llm: Any,
        actions: Any,
        template: Any = None,
        memory: Dict = dict(type=Memory),  # noqa: B006 - lagent's config default
        output_format: Any = None,
        aggregator: Dict = dict(type=DefaultAggregator),  # noqa: B006
        hooks: Optional[List[Any]] = None,
        finish_condition: Callable[[AgentMessage], bool] = has_conclusion,
        max_turn: int = 5,
        **kwargs: Any,
    ) -> None:
        import lagent_nb.actions as actions_module

        hooks = [ActionPreprocessor()] if hooks is None else hooks
        self.max_turn = max_turn
        self.finish_condition = finish_condition
        self.actions = getattr(actions_module, self._EXECUTOR_NAME)(actions=actions, hooks=hooks)
        if output_format is None:
            from lagent_nb.prompts.parsers import JSONParser

            output_format = JSONParser()
        output_format = create_object(output_format)
        template = DEFAULT_REACT_TEMPLATE if template is None else template
        self.select_agent = self._AGENT_CLS(
            llm=llm,
            template=template.format(
                action_info=json.dumps(self.actions.description(), ensure_ascii=False),
                output_format=output_format.format_instruction(),
            ),
            output_format=output_format,
            memory=memory,
            aggregator=aggregator,
            hooks=hooks,
        )
        super().__init__(**kwargs)


class ReAct(_ReActBase):
    """Think → act → observe, for at most ``max_turn`` model calls."""

    def forward(self, message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> AgentMessage:
        for _ in range(self.max_turn):
            message = self.select_agent(message, session_id=session_id, **kwargs)
            if self.finish_condition(message):
                return message
            message = self.actions(message, session_id=session_id)
        return message


class AsyncReAct(AsyncAgent, _ReActBase):
    """``ReAct`` with an async LLM and an ``AsyncActionExecutor``."""

    _AGENT_CLS = AsyncAgent
    _EXECUTOR_NAME = "AsyncActionExecutor"

    async def forward(
        self, message: AgentMessage, session_id: Any = 0, **kwargs: Any
    ) -> AgentMessage:
        for _ in range(self.max_turn):
            message = await self.select_agent(message, session_id=session_id, **kwargs)
            if self.finish_condition(message):
                return message
            message = await self.actions(message, session_id=session_id)
        return message
