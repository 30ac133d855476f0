"""Input parsers: turn the arguments a model wrote into keyword arguments for a tool API.

Each parser validates against the action's description (the parameters and required names
of every API) and raises :class:`ParseError` with a message meant for the model, which
``BaseAction`` turns into an ``ARGS_ERROR`` result instead of an exception.
"""

from __future__ import annotations

import inspect
import json
from ast import literal_eval
from typing import Any, Dict, FrozenSet, List, Set, Tuple

SESSION_PARAMETER = "session_id"
_NO_NAMES: Tuple[FrozenSet[str], FrozenSet[str]] = (frozenset(), frozenset())


class ParseError(Exception):
    """The model's arguments do not fit the API; ``err_msg`` says why, for the model to read."""

    def __init__(self, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg


def api_accepts(action: Any, api_name: str, parameter: str) -> bool:
    """Whether the method behind ``action.<api_name>`` has a parameter named ``parameter``."""
    method = getattr(action, api_name, None)
    if not callable(method):
        return False
    try:
        return parameter in inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


class BaseParser:
    """Passes the raw input as the API's first parameter and renders outputs as text items.

    Construction reads ``action.description`` once: the parameters and required names of each
    API (``run`` for a single tool, the API names of a toolkit), and checks that every
    required name is a declared parameter. A non-empty ``PARAMETER_DESCRIPTION`` is added to
    each API description so the model learns the argument format.
    """

    PARAMETER_DESCRIPTION: str = ""

    def __init__(self, action: Any) -> None:
        self.action = action
        self._api2param: Dict[str, List[dict]] = {}
        self._api2required: Dict[str, List[str]] = {}
        self._session_aware: Set[str] = set()
        description = action.description or {}
        for api in description.get("api_list", [description]):
            if not api:
                continue
            api_name = api["name"] if action.is_toolkit else "run"
            declared = {p["name"] for p in api.get("parameters", [])}
            undeclared = set(api.get("required", [])) - declared
            if undeclared:
                raise ValueError(
                    f"tool {action.name!r}, API {api['name']!r}: required parameters "
                    f"{sorted(undeclared)} are not among its parameters {sorted(declared)}"
                )
            if self.PARAMETER_DESCRIPTION:
                api["parameter_description"] = self.PARAMETER_DESCRIPTION
            self._api2param[api_name] = list(api.get("parameters", []))
            self._api2required[api_name] = list(api.get("required", []))
            if api_accepts(action, api_name, SESSION_PARAMETER):
                self._session_aware.add(api_name)
        # (allowed, required) argument names per API, for parsers that check names per call.
        self._argument_names: Dict[str, Tuple[FrozenSet[str], FrozenSet[str]]] = {
            api: (
                frozenset(p["name"] for p in params)
                | ({SESSION_PARAMETER} if self.accepts_session(api) else frozenset()),
                frozenset(self._api2required[api]),
            )
            for api, params in self._api2param.items()
        }

    def has_api(self, name: str) -> bool:
        """Whether ``name`` is an API this action describes (only those may be called)."""
        return name in self._api2param

    def accepts_session(self, name: str) -> bool:
        """Whether API ``name`` takes the ``session_id`` the executor can supply."""
        return name in self._session_aware

    def parse_inputs(self, inputs: Any, name: str = "run") -> dict:
        params = self._api2param.get(name) or []
        if not params:
            raise ParseError(f"API {name!r} takes no arguments, so a raw input cannot be passed")
        return {params[0]["name"]: inputs}

    def parse_outputs(self, outputs: Any) -> List[dict]:
        """One text item: strings as is, dicts as JSON (non-ASCII kept), others via ``str``."""
        if isinstance(outputs, dict):
            outputs = json.dumps(outputs, ensure_ascii=False, default=str)
        elif not isinstance(outputs, str):
            outputs = str(outputs)
        return [{"type": "text", "content": outputs}]


class JsonParser(BaseParser):
    """Arguments as a dict or a JSON object string (a `````json`` fence is removed).

    ``None`` means "no arguments". Errors name the offending argument names:
    ``unknown arguments: {...}`` and ``missing required arguments: {...}``. ``session_id`` is
    never unknown for an API that accepts it, so a hook may inject it.
    """

    PARAMETER_DESCRIPTION = (
        "Call this tool with a JSON object {key: value} whose keys are the parameter names."
    )

    def parse_inputs(self, inputs: Any, name: str = "run") -> dict:
        if inputs is None:
            inputs = {}
        elif isinstance(inputs, str):
            inputs = decode_json_arguments(inputs)
        if not isinstance(inputs, dict):
            raise ParseError(
                "arguments must be a JSON object {name: value}; "
                f"got {type(inputs).__name__}: {inputs!r:.200}"
            )
        allowed, required = self._argument_names.get(name, _NO_NAMES)
        if not inputs.keys() <= allowed:
            raise ParseError(f"unknown arguments: {set(inputs) - allowed}")
        if not required <= inputs.keys():
            raise ParseError(f"missing required arguments: {set(required).difference(inputs)}")
        return inputs


def strip_code_fence(text: str) -> str:
    """The body of a Markdown `````json`` (or bare `````) block; other text unchanged.

    Plain string operations rather than a regular expression: a backtracking pattern over
    the model's text is quadratic on long whitespace runs.
    """
    stripped = text.strip()
    if not stripped.endswith("\n```"):
        return text
    body = stripped[:-4]
    for opening in ("```json\n", "```\n"):
        if body.startswith(opening):
            body = body[len(opening) :]
            break
    return body.strip()


def decode_json_arguments(text: str) -> Any:
    """Decode a JSON argument string, tolerating a Markdown `````json`` fence around it."""
    body = strip_code_fence(text)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ParseError(f"invalid json format: {text}") from None


class TupleParser(BaseParser):
    """Positional arguments as a Python tuple literal ``(a, b)``; a single value is a 1-tuple."""

    PARAMETER_DESCRIPTION = (
        "Call this tool with a tuple of arguments (arg1, arg2, ...) in parameter order."
    )

    def parse_inputs(self, inputs: Any, name: str = "run") -> dict:
        if isinstance(inputs, str):
            try:
                inputs = literal_eval(inputs)
            except Exception:  # SyntaxError, ValueError, MemoryError, RecursionError...
                raise ParseError(f"invalid tuple format: {inputs}") from None
        if not isinstance(inputs, tuple):
            inputs = (inputs,)
        params = self._api2param.get(name, [])
        n_required = len(self._api2required.get(name, []))
        if len(inputs) < n_required:
            raise ParseError(
                f"API takes {n_required} required positional arguments but {len(inputs)} were given"
            )
        if len(inputs) > len(params):
            raise ParseError(
                f"API takes {len(params)} positional arguments but {len(inputs)} were given"
            )
        return {params[i]["name"]: value for i, value in enumerate(inputs)}
