"""Tools an agent can call, and the executor that runs them.

The code interpreters (``lagent_nb.actions.ipython_interpreter``) and web tools
(``lagent_nb.actions.web_browser``) are imported on first use, so importing this package stays
light and never starts Jupyter machinery.
"""

from importlib import import_module

from .action_executor import ActionExecutor, AsyncActionExecutor
from .base_action import AsyncActionMixin, BaseAction, tool_api
from .builtin_actions import FinishAction, InvalidAction, NoAction
from .parser import BaseParser, JsonParser, ParseError, TupleParser

_LAZY = {
    "IPythonInteractive": "ipython_interpreter",
    "IPythonInterpreter": "ipython_interpreter",
    "AsyncIPythonInteractive": "ipython_interpreter",
    "AsyncIPythonInterpreter": "ipython_interpreter",
    "WebBrowser": "web_browser",
    "AsyncWebBrowser": "web_browser",
}

__all__ = [
    "ActionExecutor",
    "AsyncActionExecutor",
    "AsyncActionMixin",
    "BaseAction",
    "BaseParser",
    "FinishAction",
    "InvalidAction",
    "JsonParser",
    "NoAction",
    "ParseError",
    "TupleParser",
    "tool_api",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
