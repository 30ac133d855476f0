"""Message and status types shared by every layer.

Field names, defaults and enum values match lagent 0.5.0rc3 so that serialized memories
(``state_dict``) and user code written against lagent keep working unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any, Dict, List, Optional, Union

from pydantic import BaseModel


class AgentStatusCode(IntEnum):
    """Where a message sits in a (possibly streamed) exchange."""

    END = 0
    STREAM_ING = 1
    SERVER_ERR = -1
    SESSION_CLOSED = -2
    SESSION_OUT_OF_LIMIT = -3
    SESSION_INVALID_ARG = -4
    SESSION_READY = 2
    PLUGIN_START = 3
    PLUGIN_END = 4
    PLUGIN_RETURN = 5
    CODING = 6
    CODE_END = 7
    CODE_RETURN = 8


class ModelStatusCode(IntEnum):
    """Status reported by an LLM backend while generating."""

    END = 0
    STREAM_ING = 1
    SERVER_ERR = -1
    SESSION_CLOSED = -2
    SESSION_OUT_OF_LIMIT = -3
    SESSION_INVALID_ARG = -4
    SESSION_READY = 2


class ActionStatusCode(IntEnum):
    ING = 1
    SUCCESS = 0
    HTTP_ERROR = -1000
    ARGS_ERROR = -1001
    API_ERROR = -1002


class ActionValidCode(IntEnum):
    FINISH = 1
    OPEN = 0
    CLOSED = -1
    INVALID = -2
    ABSENT = -3


@dataclass
class FunctionCall:
    """A request to run tool ``name`` with keyword ``parameters``."""

    name: str
    parameters: Union[Dict, str, None] = None


def dataclass2dict(data: Any) -> dict:
    """Convert a dataclass (recursively) to a plain dict, keeping enums as ints."""
    return asdict(data)


@dataclass
class ActionReturn:
    """What a tool call produced, in the shape the LLM and the UI both read.

    ``result`` is a list of items ``{'type': 'text'|'image'|..., 'content': ...}``; non-text items
    stay structured so images are never silently dropped.
    """

    args: Optional[dict] = None
    url: Optional[str] = None
    type: Optional[str] = None
    result: Optional[List[dict]] = None
    errmsg: Optional[str] = None
    state: Union[ActionStatusCode, int] = ActionStatusCode.SUCCESS
    thought: Optional[str] = None
    valid: Optional[ActionValidCode] = ActionValidCode.OPEN

    def format_result(self) -> str:
        """Render ``result`` as the text an LLM reads: text items verbatim, others as links."""
        parts = []
        for item in self.result or []:
            if item.get("type") == "text":
                parts.append(str(item.get("content")))
            else:
                parts.append(f"[{item.get('type')}]({item.get('content')})")
        return "\n".join(parts)


class AgentMessage(BaseModel):
    """The unit of communication between agents, tools and memory."""

    content: Any
    sender: str = "user"
    formatted: Optional[Any] = None
    extra_info: Optional[Any] = None
    type: Optional[str] = None
    receiver: Optional[str] = None
    stream_state: Union[ModelStatusCode, AgentStatusCode] = AgentStatusCode.END

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Rich display hook; the notebook layer supplies the renderer when it is installed.

        Kept here (a lazy import, no Jupyter dependency in the core) so that a bare
        ``msg`` at the end of a cell renders as Markdown even before ``%load_ext``.
        """
        try:
            from lagent_nb.notebook.display import message_mimebundle
        except ImportError:  # the notebook layer needs IPython; plain Python gets repr()
            return {"text/plain": repr(self)}
        return message_mimebundle(self)
