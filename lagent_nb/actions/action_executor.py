"""``ActionExecutor``: routes a tool call message to the right action and returns its result.

The routing decisions (which action, which API, is the call well-formed) are plain functions
shared by the sync and async executors; the two classes differ only in awaiting.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

from lagent_nb.hooks import Hook, RemovableHandle
from lagent_nb.schema import (
    ActionReturn,
    ActionStatusCode,
    ActionValidCode,
    AgentMessage,
    FunctionCall,
)
from lagent_nb.utils import create_object, make_message

from .base_action import BaseAction, discard_awaitable, is_awaitable
from .builtin_actions import FinishAction, InvalidAction, NoAction
from .parser import SESSION_PARAMETER
from .tool_schema import OPENAI_NAME_SEPARATOR, openai_tools


class MalformedToolCall(ValueError):
    """A message whose content is not a tool call; the text is shown to the model."""


def read_tool_call(content: Any) -> Tuple[str, Any]:
    """``(name, parameters)`` from a ``FunctionCall`` or a ``{'name', 'parameters'}`` dict."""
    if isinstance(content, FunctionCall):
        name, parameters = content.name, content.parameters
    elif isinstance(content, dict) and "name" in content and "parameters" in content:
        name, parameters = content["name"], content["parameters"]
    else:
        raise MalformedToolCall(
            "malformed tool call: expected a FunctionCall or {'name': ..., 'parameters': ...}; "
            f"got {type(content).__name__}: {content!r:.200}"
        )
    if not isinstance(name, str) or not name:
        raise MalformedToolCall(f"malformed tool call: the tool name must be text, got {name!r}")
    return name, parameters


def split_tool_name(name: str, actions: Dict[str, Any]) -> Tuple[str, str]:
    """``'Tool.api'`` -> ``('Tool', 'api')``; ``'Tool'`` -> ``('Tool', 'run')``.

    ``'Tool__api'`` (the OpenAI-safe spelling produced by ``openai_tools``) is read as
    ``Tool.api`` when ``Tool`` is a registered toolkit and ``Tool__api`` itself is not a tool.
    """
    if "." in name:
        action_name, api_name = name.split(".", 1)
        return action_name, api_name
    if name not in actions and OPENAI_NAME_SEPARATOR in name:
        prefix, api_name = name.split(OPENAI_NAME_SEPARATOR, 1)
        if prefix in actions and getattr(actions[prefix], "is_toolkit", False):
            return prefix, api_name
    return name, "run"


class Route(NamedTuple):
    """Where a call goes: the action, its API, and whether it is a registered tool."""

    action: Any
    api: str
    registered: bool


def _takes_session(action: Any) -> bool:
    """Whether calling ``action`` accepts the ``session_id`` keyword (``BaseAction`` does)."""
    return _accepts_session(type(action).__call__)


@functools.lru_cache(maxsize=256)
def _accepts_session(call: Any) -> bool:
    """Cached per ``__call__`` function: ``inspect.signature`` on every tool call was a tenth of
    a tool turn. A call resolves ``__call__`` on the type, so that is the one inspected."""
    try:
        return SESSION_PARAMETER in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False


class ActionExecutor:
    """Holds the tools of an agent and runs the tool calls the agent's messages contain.

    Args:
        actions: an action, a list of actions, or config dicts (``dict(type=Cls, ...)``).
        invalid_action: answers calls to unknown tools and malformed calls.
        no_action: answers calls named after it (an agent's "no tool" signal).
        finish_action: answers calls named after it (the final answer).
        finish_in_action: also register ``finish_action`` as a regular tool.
        hooks: ``Hook`` objects (or configs) whose ``before_action``/``after_action`` run
            around every call, in registration order.

    ``executor(message, session_id)``: runs ``before_action`` hooks (a truthy return
    replaces the message), reads ``message.content`` as a ``FunctionCall`` or ``{'name',
    'parameters'}``, calls :meth:`forward`, wraps the ``ActionReturn`` in
    ``AgentMessage(sender=<executor class name>)`` and runs ``after_action`` hooks.

    A content that is not a tool call (lagent asserts here) is answered by ``invalid_action``
    with a message saying what was expected, so a confused model cannot stop the agent loop.

    **Session routing**: ``session_id`` reaches the action as the keyword argument
    ``session_id`` of ``action(parameters, api_name, session_id=...)``; ``BaseAction`` passes
    it on to an API that declares a ``session_id`` parameter, unless the call's own parameters
    set it (as lagent's ``InternLMActionProcessor`` does).
    """

    def __init__(
        self,
        actions: Union[BaseAction, Dict, List[Union[BaseAction, Dict]]],
        # Config-dict defaults mirror lagent's signature; create_object never mutates them.
        invalid_action: Union[BaseAction, Dict] = dict(type=InvalidAction),  # noqa: B006
        no_action: Union[BaseAction, Dict] = dict(type=NoAction),  # noqa: B006
        finish_action: Union[BaseAction, Dict] = dict(type=FinishAction),  # noqa: B006
        finish_in_action: bool = False,
        hooks: Optional[List[Union[Hook, Dict]]] = None,
    ) -> None:
        actions = list(actions) if isinstance(actions, (list, tuple)) else [actions]
        self.finish_action = create_object(finish_action)
        if finish_in_action:
            actions.append(self.finish_action)
        self.actions: Dict[str, Any] = {}
        for action in actions:
            action = create_object(action)
            self.actions[action.name] = action
        self.invalid_action = create_object(invalid_action)
        self.no_action = create_object(no_action)
        self._hooks: Dict[int, Any] = OrderedDict()
        for hook in hooks or []:
            self.register_hook(create_object(hook))

    # -- the tool table ------------------------------------------------------------------

    def description(self) -> List[dict]:
        """Every API in lagent's format, toolkit APIs named ``Tool.api``."""
        described = []
        for action_name, action in self.actions.items():
            if action.is_toolkit:
                for api in action.description["api_list"]:
                    described.append({**api, "name": f"{action_name}.{api['name']}"})
            else:
                described.append(dict(action.description))
        return described

    def openai_tools(self) -> List[dict]:
        """Every API as an OpenAI ``tools`` entry with JSON Schema parameters.

        Pass the result as ``tools=`` to an OpenAI-compatible chat API; the function names it
        calls back with (``Tool`` or ``Tool__api``) are routed by this executor.
        """
        return [entry for action in self.actions.values() for entry in openai_tools(action)]

    def __contains__(self, name: str) -> bool:
        return name in self.actions

    def keys(self) -> List[str]:
        return list(self.actions)

    def __getitem__(self, name: str) -> Any:
        return self.actions[name]

    def __setitem__(self, name: str, action: Union[BaseAction, Dict]) -> None:
        """Register ``action`` under its own ``name`` (as lagent does; the key is ignored)."""
        action = create_object(action)
        self.actions[action.name] = action

    def __delitem__(self, name: str) -> None:
        del self.actions[name]

    def register_hook(self, hook: Any) -> RemovableHandle:
        """Add a hook; ``handle.remove()`` takes it out again."""
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    # -- routing (no I/O, shared by both executors) -----------------------------------------

    def route(self, name: str) -> Route:
        """Decide which action and API a tool name means."""
        action_name, api_name = split_tool_name(name, self.actions)
        if action_name in self.actions:
            return Route(self.actions[action_name], api_name, True)
        if name == self.no_action.name:
            return Route(self.no_action, "run", False)
        if name == self.finish_action.name:
            return Route(self.finish_action, "run", False)
        return Route(self.invalid_action, "run", False)

    @staticmethod
    def _call_kwargs(route: Route, session_id: Any) -> dict:
        if route.registered and session_id is not None and _takes_session(route.action):
            return {SESSION_PARAMETER: session_id}
        return {}

    @staticmethod
    def _settle(route: Route, action_return: ActionReturn) -> ActionReturn:
        if route.registered:
            action_return.valid = ActionValidCode.OPEN
        return action_return

    def _call_of(self, message: AgentMessage) -> Tuple[str, Any]:
        """The call a message asks for; a malformed one becomes a call to ``invalid_action``."""
        try:
            return read_tool_call(message.content)
        except MalformedToolCall as exc:
            return self.invalid_action.name, str(exc)

    def _reply(self, result: Any) -> AgentMessage:
        """The result as a message from this executor (sender = its class name, as lagent)."""
        if isinstance(result, AgentMessage):
            return result
        return make_message(sender=type(self).__name__, content=result)

    # -- running -------------------------------------------------------------------------

    def forward(
        self, name: str, parameters: Any, session_id: Any = None, **kwargs: Any
    ) -> ActionReturn:
        """Run tool ``name`` (``Tool`` or ``Tool.api``) with ``parameters``."""
        route = self.route(name)
        result = route.action(parameters, route.api, **self._call_kwargs(route, session_id))
        if is_awaitable(result):
            discard_awaitable(result)
            result = ActionReturn(
                {"inputs": parameters, "name": route.api},
                type=getattr(route.action, "name", None),
                errmsg=f"{name} is an async tool; run it with an AsyncActionExecutor",
                state=ActionStatusCode.API_ERROR,
            )
        return self._settle(route, result)

    def __call__(self, message: AgentMessage, session_id: Any = 0, **kwargs: Any) -> AgentMessage:
        for hook in list(self._hooks.values()):
            message = hook.before_action(self, message, session_id) or message
        name, parameters = self._call_of(message)
        response = self._reply(self.forward(name, parameters, session_id=session_id, **kwargs))
        for hook in list(self._hooks.values()):
            response = hook.after_action(self, response, session_id) or response
        return response


async def _resolve(value: Any) -> Any:
    return await value if is_awaitable(value) else value


class AsyncActionExecutor(ActionExecutor):
    """``ActionExecutor`` for async code: awaits async actions and async hook methods.

    Synchronous actions and hooks are called directly, so one executor can mix both.
    """

    async def forward(
        self, name: str, parameters: Any, session_id: Any = None, **kwargs: Any
    ) -> ActionReturn:
        route = self.route(name)
        result = route.action(parameters, route.api, **self._call_kwargs(route, session_id))
        return self._settle(route, await _resolve(result))

    async def __call__(
        self, message: AgentMessage, session_id: Any = 0, **kwargs: Any
    ) -> AgentMessage:
        for hook in list(self._hooks.values()):
            message = await _resolve(hook.before_action(self, message, session_id)) or message
        name, parameters = self._call_of(message)
        result = await self.forward(name, parameters, session_id=session_id, **kwargs)
        response = self._reply(result)
        for hook in list(self._hooks.values()):
            response = await _resolve(hook.after_action(self, response, session_id)) or response
        return response
