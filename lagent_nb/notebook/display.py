"""Rich display of agent messages and transcripts (see docs/transcript-mime.md).

Every function here is pure: it turns messages into plain data (a transcript entry, Markdown,
a mime bundle). The magics, the chat panel and ``AgentMessage._repr_mimebundle_`` all render
through these functions, so a message looks the same wherever it appears.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
from collections.abc import Iterable
from typing import Any, Dict, List, Optional

from lagent_nb.schema import ActionReturn, ActionStatusCode, AgentStatusCode, FunctionCall

TRANSCRIPT_MIME = "application/vnd.lagent-nb.transcript+json"
TRANSCRIPT_VERSION = 1

_TOOL_SENDERS = ("ActionExecutor",)
_SYSTEM_SENDERS = ("system",)
_USER_SENDERS = ("user",)
_VALID_TOOL = 1  # ToolStatusCode.VALID_TOOL; the parser module is not needed to read it


def role_of(msg: Any) -> str:
    """The transcript role of a message: who speaks, not which agent's memory holds it."""
    sender = getattr(msg, "sender", "user")
    if sender in _TOOL_SENDERS or _as_action_return(getattr(msg, "content", None)) is not None:
        return "tool"
    if sender in _SYSTEM_SENDERS:
        return "system"
    if sender in _USER_SENDERS:
        return "user"
    return "assistant"


def _as_action_return(content: Any) -> Optional[Dict[str, Any]]:
    """An ActionReturn as a dict, also after a JSON round trip (``state_dict`` / ``load``)."""
    if isinstance(content, ActionReturn):
        return dataclasses.asdict(content)
    if isinstance(content, dict) and "result" in content and "state" in content:
        return content
    return None


def _image_data(item: Dict[str, Any]) -> Optional[str]:
    """Base64 of an image item: inline ``data`` (the interpreter sends it), else ``content``
    as base64, a data URI, or the path of a file the tool wrote."""
    value = item.get("data") or item.get("content")
    if isinstance(value, dict):
        value = value.get("data")
    if not isinstance(value, str):
        return None
    if value.startswith("data:") and "," in value:
        return value.split(",", 1)[1]
    if len(value) < 4096 and os.path.isfile(value):
        with open(value, "rb") as f:
            return base64.b64encode(f.read()).decode("ascii")
    return value


def _image_mime(item: Dict[str, Any]) -> str:
    kind = str(item.get("type", "image"))
    if item.get("mime_type"):
        return str(item["mime_type"])
    if "/" in kind:
        return kind
    content = item.get("content")
    if isinstance(content, dict) and content.get("mime"):
        return str(content["mime"])
    if isinstance(content, str) and content.lower().endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    return "image/png"


def tool_result_of(content: Any) -> Optional[Dict[str, Any]]:
    """``{ok, text, images}`` from an ActionReturn (or its dict form); None for other content."""
    ret = _as_action_return(content)
    if ret is None:
        return None
    texts, images = [], []
    for item in ret.get("result") or []:
        if str(item.get("type", "")).startswith("image"):
            data = _image_data(item)
            if data:
                images.append({"mime": _image_mime(item), "data": data})
        else:
            texts.append(str(item.get("content", "")))
    ok = ret.get("state", 0) == ActionStatusCode.SUCCESS
    if not ok and ret.get("errmsg"):
        texts.append(str(ret["errmsg"]))
    return {"ok": ok, "text": "\n".join(texts), "images": images}


def tool_call_of(formatted: Any, content: Any = None) -> Optional[Dict[str, str]]:
    """``{name, arguments}`` when a message asks for a tool, whatever parser produced it."""
    call = formatted if formatted is not None else content
    if isinstance(call, FunctionCall):
        return {"name": call.name, "arguments": _arguments_text(call.parameters)}
    if not isinstance(call, dict):
        return None
    if "name" in call and "parameters" in call:
        return {"name": str(call["name"]), "arguments": _arguments_text(call["parameters"])}
    if call.get("status") == _VALID_TOOL and call.get("action") is not None:  # ToolParser
        return {"name": str(call.get("tool_type")), "arguments": _arguments_text(call["action"])}
    action = call.get("action")
    if isinstance(action, dict) and "name" in action:  # ReAct's JSON format
        return {"name": str(action["name"]), "arguments": _arguments_text(action.get("parameters"))}
    return None


def _arguments_text(parameters: Any) -> str:
    if isinstance(parameters, str):
        return parameters
    if isinstance(parameters, dict) and set(parameters) == {"command"}:
        return str(parameters["command"])  # interpreters: show the code itself
    return json.dumps(parameters, ensure_ascii=False, default=str)


def _content_text(msg: Any, tool_call: Optional[Dict[str, str]]) -> str:
    content = getattr(msg, "content", "")
    formatted = getattr(msg, "formatted", None)
    if tool_call and isinstance(formatted, dict) and isinstance(formatted.get("thought"), str):
        return formatted["thought"]  # the raw text repeats the call between tool markers
    if isinstance(content, str):
        return content
    if tool_call:
        return ""  # structured content that is the call itself: shown folded, not twice
    if isinstance(content, (dict, list)):
        return fenced(json.dumps(content, ensure_ascii=False, indent=2, default=str), "json")
    return str(content)


def transcript_entry(msg: Any) -> Dict[str, Any]:
    """One message in the transcript shape (version 1)."""
    content = getattr(msg, "content", "")
    result = tool_result_of(content)
    call = None if result else tool_call_of(getattr(msg, "formatted", None), content)
    return {
        "sender": str(getattr(msg, "sender", "user")),
        "role": role_of(msg),
        "content": "" if result else _content_text(msg, call),
        "tool_call": call,
        "tool_result": result,
        "streaming": getattr(msg, "stream_state", AgentStatusCode.END)
        == AgentStatusCode.STREAM_ING,
    }


def fenced(text: str, lang: str = "") -> str:
    """A Markdown code block whose fence is longer than any backtick run inside ``text``."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def entry_markdown(entry: Dict[str, Any]) -> str:
    """Markdown for one transcript entry; tool calls and result text fold into ``<details>``."""
    parts = [f"**{entry['sender']}**" + (" …" if entry.get("streaming") else "")]
    if entry["content"]:
        parts.append(entry["content"])
    call = entry.get("tool_call")
    if call:
        lang = "python" if "interpreter" in call["name"].lower() else ""
        parts.append(
            f"<details><summary>tool call: {html.escape(call['name'])}</summary>\n\n"
            f"{fenced(call['arguments'], lang)}\n\n</details>"
        )
    result = entry.get("tool_result")
    if result:
        status = "ok" if result["ok"] else "error"
        body = fenced(result["text"]) if result["text"] else ""
        images = "\n\n".join(
            f"![output image](data:{img['mime']};base64,{img['data']})" for img in result["images"]
        )
        parts.append(f"<details><summary>tool result ({status})</summary>\n\n{body}\n\n</details>")
        if images:  # pictures stay visible; the text output folds away
            parts.append(images)
    return "\n\n".join(parts)


def entry_text(entry: Dict[str, Any]) -> str:
    """Plain text for one transcript entry (terminals, logs)."""
    lines = [f"{entry['sender']}: {entry['content']}".rstrip()]
    call = entry.get("tool_call")
    if call:
        lines.append(f"  [tool call {call['name']}]\n{call['arguments']}")
    result = entry.get("tool_result")
    if result:
        status = "ok" if result["ok"] else "error"
        lines.append(f"  [tool result {status}] {result['text']}")
        lines.extend(f"  [{img['mime']}]" for img in result["images"])
    return "\n".join(lines)


def transcript(messages: Iterable[Any], title: str = "", session_id: Any = 0) -> Dict[str, Any]:
    """The transcript JSON of a sequence of messages (version 1 of the mime type)."""
    return {
        "version": TRANSCRIPT_VERSION,
        "title": str(title),
        "session_id": str(session_id),
        "messages": [transcript_entry(m) for m in messages],
    }


def transcript_mimebundle(data: Dict[str, Any]) -> Dict[str, Any]:
    """All three representations of a transcript, so every front end can show it."""
    entries = data["messages"]
    return {
        "text/plain": "\n".join(entry_text(e) for e in entries),
        "text/markdown": "\n\n---\n\n".join(entry_markdown(e) for e in entries),
        TRANSCRIPT_MIME: data,
    }


def message_mimebundle(msg: Any) -> Dict[str, Any]:
    """The bundle of a single message (``AgentMessage._repr_mimebundle_`` calls this)."""
    return transcript_mimebundle(transcript([msg], title=getattr(msg, "sender", "")))


def images_of(entry: Dict[str, Any]) -> List[Dict[str, str]]:
    """The images a transcript entry carries (widgets show them as separate outputs)."""
    result = entry.get("tool_result") or {}
    return list(result.get("images", []))


class Transcript:
    """A displayable conversation: ``Transcript(agent.memory.get(0).get_memory(), 'coder')``.

    Holds the rendered data, not the messages, so it shows the conversation as it was when
    it was made even if the memory changes later.
    """

    def __init__(self, messages: Iterable[Any], title: str = "", session_id: Any = 0):
        self.data = transcript(messages, title, session_id)

    def _repr_mimebundle_(self, include=None, exclude=None) -> Dict[str, Any]:
        return transcript_mimebundle(self.data)

    def __repr__(self) -> str:
        return transcript_mimebundle(self.data)["text/plain"]
