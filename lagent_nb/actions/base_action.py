"""``BaseAction``: a Python class whose methods a model can call, and ``tool_api``.

A class with a ``run`` method is one tool; a class whose methods are decorated with
:func:`tool_api` is a *toolkit*, called as ``ClassName.method``. The description the model
reads is built when the class is created (``__tool_description__``), from signatures and
Google-style docstrings (see :mod:`lagent_nb.actions.tool_schema`).

Calling an action never raises for a bad call: unknown API, bad arguments and exceptions
inside the tool all come back as an :class:`~lagent_nb.schema.ActionReturn` with an error
state, which the agent shows to the model so it can correct itself.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABCMeta
from copy import deepcopy
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, Union

from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentMessage

from .parser import SESSION_PARAMETER, BaseParser, JsonParser, ParseError
from .tool_schema import describe_function, openai_tools, parse_docstring


def tool_api(
    func: Optional[Callable] = None,
    *,
    explode_return: bool = False,
    returns_named_value: bool = False,
    include_arguments: Optional[Iterable[str]] = None,
    exclude_arguments: Optional[Iterable[str]] = None,
) -> Callable:
    """Mark a function (or method) as a tool API and attach its ``api_description``.

    Usable bare (``@tool_api``) or with options (``@tool_api(explode_return=True)``).

    Args:
        func: the function, when used bare.
        explode_return: describe the members of a returned dict, listed as bullet lines
            (``- name (type): text``) under the first line of the ``Returns:`` section, as
            ``return_data``.
        returns_named_value: read each ``Returns:`` line as ``name (type): text`` into
            ``return_data``.
        include_arguments: describe only these parameters.
        exclude_arguments: leave these parameters out (``self`` always is, unless
            ``include_arguments`` lists it).

    The wrapper keeps the function's behaviour (sync or async) and metadata.
    """
    options = dict(
        explode_return=explode_return,
        returns_named_value=returns_named_value,
        include_arguments=include_arguments,
        exclude_arguments=exclude_arguments,
    )

    def decorate(function: Callable) -> Callable:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def wrapper(*args, **kwargs):
                return await function(*args, **kwargs)

        else:

            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                return function(*args, **kwargs)

        wrapper.api_description = describe_function(function, **options)
        return wrapper

    return decorate(func) if callable(func) else decorate


class ToolMeta(ABCMeta):
    """Builds ``__tool_description__`` and ``_is_toolkit`` when a tool class is created.

    * ``run`` decorated with ``tool_api`` (or plain, which is then decorated): a single tool,
      flattened to ``{name, description, parameters, required, return_data?}``; the class
      docstring is the description unless ``run`` has one.
    * other ``tool_api`` methods: a toolkit ``{name, description, api_list}``.
    * both: ``KeyError``, since the model could not tell which one a call means.

    Unlike lagent, APIs inherited from a tool base class are kept, so subclassing a tool to
    change its constructor does not silently empty its description.
    """

    def __new__(mcs, name, bases, attrs):
        cls = super().__new__(mcs, name, bases, attrs)
        namespace: Dict[str, Any] = {}  # members as the class sees them, following its MRO
        for klass in reversed(cls.__mro__[:-1]):
            namespace.update(vars(klass))
        run = namespace.get("run")
        apis = [
            value.api_description
            for key, value in namespace.items()
            if key != "run" and callable(value) and hasattr(value, "api_description")
        ]
        run_is_api = callable(run) and hasattr(run, "api_description")
        if run_is_api and apis:
            raise KeyError(
                f"{name}: `run` and other tool APIs cannot be implemented at the same time; "
                "make `run` a plain helper or turn it into a named API"
            )
        class_doc = (parse_docstring(attrs.get("__doc__")).description or "").strip()
        description: Dict[str, Any] = {"name": name, "description": class_doc}
        if apis:
            description["api_list"] = apis
        else:
            if callable(run) and not run_is_api:
                run = tool_api(run)
                cls.run = run
            run_desc = run.api_description if callable(run) else {}
            description["parameters"] = run_desc.get("parameters", [])
            description["required"] = run_desc.get("required", [])
            if run_desc.get("description"):
                description["description"] = run_desc["description"]
            if run_desc.get("return_data"):
                description["return_data"] = run_desc["return_data"]
        cls._is_toolkit = bool(apis)
        cls.__tool_description__ = description
        return cls


class BaseAction(metaclass=ToolMeta):
    """Base class of tools: subclass it and write ``run`` or ``@tool_api`` methods.

    Args:
        description: overrides the description built from the class (its shape must match).
        parser: the input parser class, instantiated with the action (``JsonParser``: the
            model passes a JSON object of named arguments).

    ``action(inputs, name='run')`` parses ``inputs`` for API ``name``, calls it and returns an
    ``ActionReturn``:

    * ``name`` is not a described API -> ``API_ERROR`` ``invalid API: <name>`` (only described
      APIs are callable, so a model cannot reach other methods such as ``__init__``);
    * the parser rejects the arguments -> ``ARGS_ERROR`` with its message (for ``JsonParser``
      ``unknown arguments: {...}`` / ``missing required arguments: {...}``);
    * the API raises -> ``API_ERROR`` with ``str(exc)`` (the exception type when empty);
    * the API returns an ``ActionReturn`` -> returned with ``args``/``type`` filled in;
    * anything else -> ``[{'type': 'text', 'content': ...}]`` with all characters kept.

    **Sessions.** When the caller passes ``session_id`` (``ActionExecutor`` always passes the
    ``session_id`` it was called with) and the API has a parameter named ``session_id`` that
    the arguments do not already set, ``session_id`` is added to its keyword arguments. So a
    stateful tool only declares ``def run(self, command: str, session_id=None)``.
    """

    def __init__(
        self, description: Optional[dict] = None, parser: Type[BaseParser] = JsonParser
    ) -> None:
        self._description = deepcopy(description or self.__tool_description__)
        self._name = self._description["name"]
        self._parser = parser(self)

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_toolkit(self) -> bool:
        return self._is_toolkit

    @property
    def description(self) -> dict:
        """The lagent-format description the model reads (see ``tool_schema``)."""
        return self._description

    def openai_tools(self) -> List[dict]:
        """This tool's APIs as OpenAI function-calling entries (JSON Schema parameters).

        Toolkit APIs are named ``Tool__api`` (see ``tool_schema.openai_tools``).
        """
        return openai_tools(self)

    def __call__(self, inputs: Any, name: str = "run", *, session_id: Any = None) -> ActionReturn:
        prepared = self._prepare_call(inputs, name, session_id)
        if isinstance(prepared, ActionReturn):
            return prepared
        method, kwargs = prepared
        try:
            outputs = method(**kwargs)
        except Exception as exc:
            return self._error_return(exc, kwargs)
        if is_awaitable(outputs):
            discard_awaitable(outputs)
            return self._error_return(
                TypeError(
                    f"API {name!r} of {self.name} is async; mix in AsyncActionMixin and call it "
                    "through an AsyncActionExecutor"
                ),
                kwargs,
            )
        return self._wrap_outputs(outputs, kwargs)

    # The decisions below do no I/O, so the sync and async ``__call__`` share them.

    def _prepare_call(
        self, inputs: Any, name: str, session_id: Any
    ) -> Union[ActionReturn, Tuple[Callable, dict]]:
        """The bound API and its keyword arguments, or the error ``ActionReturn``."""
        fallback_args = {"inputs": inputs, "name": name}
        if not self._parser.has_api(name) or not callable(getattr(self, name, None)):
            return ActionReturn(
                fallback_args,
                type=self.name,
                errmsg=f"invalid API: {name}",
                state=ActionStatusCode.API_ERROR,
            )
        try:
            kwargs = self._parser.parse_inputs(inputs, name)
        except ParseError as exc:
            return ActionReturn(
                fallback_args, type=self.name, errmsg=exc.err_msg, state=ActionStatusCode.ARGS_ERROR
            )
        if (
            session_id is not None
            and self._parser.accepts_session(name)
            and SESSION_PARAMETER not in kwargs
        ):
            kwargs = {**kwargs, SESSION_PARAMETER: session_id}
        return getattr(self, name), kwargs

    def _error_return(self, exc: BaseException, kwargs: dict) -> ActionReturn:
        return ActionReturn(
            kwargs,
            type=self.name,
            errmsg=str(exc) or type(exc).__name__,
            state=ActionStatusCode.API_ERROR,
        )

    def _wrap_outputs(self, outputs: Any, kwargs: dict) -> ActionReturn:
        if isinstance(outputs, ActionReturn):
            if not outputs.args:
                outputs.args = kwargs
            if not outputs.type:
                outputs.type = self.name
            return outputs
        return ActionReturn(kwargs, type=self.name, result=self._parser.parse_outputs(outputs))

    def __repr__(self) -> str:
        return f"{self.description}"

    __str__ = __repr__


# What sync tools and hooks return; never awaitable, so ``is_awaitable`` answers at once.
_PLAIN_VALUES = (ActionReturn, AgentMessage, str, dict, list, tuple, int, float, type(None))


def is_awaitable(value: Any) -> bool:
    """``inspect.isawaitable``, answered without its ``Awaitable`` ABC check for plain values.

    The ABC check cost as much as the rest of a tool call's dispatch, and the executor asks
    it about every result and every hook's return value.
    """
    return not isinstance(value, _PLAIN_VALUES) and inspect.isawaitable(value)


def discard_awaitable(awaitable: Any) -> None:
    """Close a coroutine we will not await, so Python does not warn it was never awaited."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


class AsyncActionMixin:
    """Put before ``BaseAction`` to make ``__call__`` a coroutine (``async def`` APIs).

    Synchronous APIs of such a class work too: their result is used directly.
    """

    async def __call__(
        self, inputs: Any, name: str = "run", *, session_id: Any = None
    ) -> ActionReturn:
        prepared = self._prepare_call(inputs, name, session_id)
        if isinstance(prepared, ActionReturn):
            return prepared
        method, kwargs = prepared
        try:
            outputs = method(**kwargs)
            if is_awaitable(outputs):
                outputs = await outputs
        except Exception as exc:
            return self._error_return(exc, kwargs)
        return self._wrap_outputs(outputs, kwargs)
