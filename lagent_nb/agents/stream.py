"""InternLM-style tool agents: plugins and a code interpreter behind one tool-call format."""

from __future__ import annotations

import inspect
import json
import warnings
from copy import deepcopy
from typing import Any, Callable, Dict, List, Optional

from lagent_nb.hooks import InternLMActionProcessor
from lagent_nb.memory import Memory
from lagent_nb.schema import AgentMessage
from lagent_nb.utils import create_object

from .agent import Agent, AsyncAgent
from .aggregator import InternLMToolAggregator

_NO_TOOL = 0  # ToolStatusCode.NO_TOOL

# Prefix for each toolkit API's description when ``api_desc_template=API_PREFIX``.
API_PREFIX = (
    "'{tool_name}' provides this function, which you may call. What it does:\n{description}"
)

MATH_CODER_INSTRUCTION = (
    "Solve the math problem by alternating step-by-step reasoning with Python code:\n"
    "- work out what the question asks, then write Jupyter code that computes it;\n"
    r"- give the final answer in LaTeX as '\boxed{{}}', without units."
    "\n"
)


def no_tool_call(message: AgentMessage) -> bool:
    """Default finish condition: the model answered without calling a tool."""
    return message.formatted["status"] == _NO_TOOL


def _default_output_format() -> Dict:
    from lagent_nb.prompts import INTERPRETER_CN, META_CN, PLUGIN_CN

    return dict(
        type="lagent_nb.prompts.parsers.MixedToolParser",
        template=META_CN,
        parsers=[
            dict(type="lagent_nb.prompts.parsers.PluginParser", template=PLUGIN_CN),
            dict(type="lagent_nb.prompts.parsers.InterpreterParser", template=INTERPRETER_CN),
        ],
    )


def get_plugin_prompt(actions: Any, api_desc_template: str = "{description}") -> str:
    """The JSON tool list for ``PLUGIN_CN``'s ``{prompt}`` slot; toolkits list each API."""
    descriptions = []
    for action in actions if isinstance(actions, list) else [actions]:
        action = create_object(action)
        description = deepcopy(action.description)
        if action.is_toolkit:
            for api in description["api_list"]:
                api["name"] = f"{action.name}.{api['name']}"
                api["description"] = api_desc_template.format(
                    tool_name=action.name, description=api["description"]
                )
                descriptions.append(api)
        else:
            descriptions.append(description)
    return json.dumps(descriptions, ensure_ascii=False, indent=4)


class _InternLMBase(Agent):
    """Construction and step logic shared by the sync and async InternLM agents.

    The inner ``agent`` talks to the model; ``plugin_executor`` and ``interpreter_executor``
    run the tool the reply names (``formatted['tool_type']``).
    """

    _AGENT_CLS: type = Agent
    _EXECUTOR_NAME = "ActionExecutor"

    def __init__(
        self,
        llm: Any,
        plugins: Any = None,
        interpreter: Any = None,
        template: Any = None,
        memory: Dict = dict(type=Memory),  # noqa: B006 - lagent's config default
        output_format: Any = None,
        aggregator: Dict = dict(type=InternLMToolAggregator),  # noqa: B006
        action_hooks: Optional[List[Any]] = None,
        finish_condition: Callable[[AgentMessage], bool] = no_tool_call,
        max_turn: int = 4,
        **kwargs: Any,
    ) -> None:
        import lagent_nb.actions as actions_module

        executor_cls = getattr(actions_module, self._EXECUTOR_NAME)
        if action_hooks is None:
            action_hooks = [InternLMActionProcessor()]
        self.agent = self._AGENT_CLS(
            llm=llm,
            template=template,
            output_format=output_format or _default_output_format(),
            memory=memory,
            aggregator=aggregator,
            hooks=kwargs.pop("hooks", None),
        )
        self.plugin_executor = plugins and executor_cls(plugins, hooks=action_hooks)
        self.interpreter_executor = interpreter and executor_cls(interpreter, hooks=action_hooks)
        if not (self.plugin_executor or self.interpreter_executor):
            warnings.warn(
                f"{type(self).__name__} has neither plugins nor an interpreter: "
                "the first tool call will fail. Pass plugins=... or interpreter=...",
                stacklevel=2,
            )
        self.finish_condition = finish_condition
        self.max_turn = max_turn
        super().__init__(**kwargs)

    def _next_executor(self, reply: AgentMessage) -> Any:
        """``None`` when the reply ends the turn, else the executor to run (or ``False``: the
        reply names no tool but is not final, so the model gets it back)."""
        if not isinstance(reply.formatted, dict):
            raise TypeError(
                f"{type(self).__name__} needs a ToolParser-style output_format; the reply's "
                f"formatted is {type(reply.formatted).__name__}"
            )
        if self.finish_condition(reply):
            return None
        tool_type = reply.formatted["tool_type"]
        if not tool_type:
            return False
        executor = getattr(self, f"{tool_type}_executor", None)
        if not executor:
            raise RuntimeError(
                f"the model called a {tool_type!r} tool but {type(self).__name__} has no "
                f"{tool_type}_executor; pass {tool_type}s=... / {tool_type}=... to the constructor"
            )
        return executor

    def get_steps(self, session_id: Any = 0) -> List[dict]:
        """The turn as thought / tool / environment steps (the few-shot format)."""
        steps: List[dict] = []
        tool_type = None
        for message in self.agent.memory.get_memory(session_id):
            if message.sender == self.agent.name:
                steps.append(dict(role="thought", content=message.formatted["thought"]))
                if message.formatted["tool_type"]:
                    tool_type = message.formatted["tool_type"]
                    steps.append(
                        dict(role="tool", content=message.formatted["action"], name=tool_type)
                    )
            elif message.sender != "user":
                feedback = dict(role="environment", content=message.content)
                if tool_type:
                    feedback["name"] = tool_type
                steps.append(feedback)
        return steps


class AgentForInternLM(_InternLMBase):
    """Calls the model, runs the tool it names, feeds the result back, up to ``max_turn`` times."""

    def forward(self, message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> AgentMessage:
        for _ in range(self.max_turn):
            message = self.agent(message, session_id=session_id, **kwargs)
            executor = self._next_executor(message)
            if executor is None:
                return message
            if executor:
                message = executor(message, session_id=session_id)
        return message


class AsyncAgentForInternLM(AsyncAgent, _InternLMBase):
    """``AgentForInternLM`` with an async LLM and async executors."""

    _AGENT_CLS = AsyncAgent
    _EXECUTOR_NAME = "AsyncActionExecutor"

    async def forward(
        self, message: AgentMessage, session_id: Any = 0, **kwargs: Any
    ) -> AgentMessage:
        for _ in range(self.max_turn):
            message = await self.agent(message, session_id=session_id, **kwargs)
            executor = self._next_executor(message)
            if executor is None:
                return message
            if executor:
                message = await executor(message, session_id=session_id)
        return message


# AgentForInternLM's parameters after ``interpreter``, in lagent's positional order.
_AFTER_INTERPRETER = (
    "template",
    "memory",
    "output_format",
    "aggregator",
    "action_hooks",
    "finish_condition",
    "max_turn",
)


def _math_coder_kwargs(interpreter: Any, args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """MathCoder = AgentForInternLM with only an interpreter, a math instruction, 6 turns."""
    if len(args) > len(_AFTER_INTERPRETER):
        raise TypeError(f"too many positional arguments: {len(args) + 2}")
    kwargs.update(zip(_AFTER_INTERPRETER[: len(args)], args, strict=True))
    kwargs.pop("plugins", None)
    kwargs.setdefault("max_turn", 6)
    if kwargs.get("output_format") is None:
        kwargs["output_format"] = dict(
            type="lagent_nb.prompts.parsers.InterpreterParser", template=MATH_CODER_INSTRUCTION
        )
    return dict(interpreter=interpreter, **kwargs)


class MathCoder(AgentForInternLM):
    """Solves math problems with a Python interpreter (default ``IPythonInteractive``).

    Takes ``AgentForInternLM``'s arguments except ``plugins``.
    """

    def __init__(
        self,
        llm: Any,
        interpreter: Any = dict(  # noqa: B006 - lagent's config default
            type="lagent_nb.actions.IPythonInteractive", timeout=20, max_out_len=8192
        ),
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(llm, **_math_coder_kwargs(interpreter, args, kwargs))


class AsyncMathCoder(AsyncAgentForInternLM):
    """``MathCoder`` on an async interpreter; the session's kernel is released after each call."""

    def __init__(
        self,
        llm: Any,
        interpreter: Any = dict(type="lagent_nb.actions.AsyncIPythonInterpreter"),  # noqa: B006
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(llm, **_math_coder_kwargs(interpreter, args, kwargs))

    async def forward(
        self, message: AgentMessage, session_id: Any = 0, **kwargs: Any
    ) -> AgentMessage:
        try:
            return await super().forward(message, session_id, **kwargs)
        finally:
            interpreter = next(iter(self.interpreter_executor.actions.values()))
            close_session = getattr(interpreter, "close_session", None)
            if close_session is not None:
                closing = close_session(session_id)
                if inspect.isawaitable(closing):
                    await closing
